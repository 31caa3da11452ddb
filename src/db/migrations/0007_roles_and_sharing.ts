// Every role of Neon's MemberRole enum, and project sharing (Neon's ProjectPermission).
// 1. members.role and invitations.role accept admin | member | editor | viewer | collaborator.
//    PostgreSQL replaces the check constraint in place; SQLite cannot alter a check, so it
//    rebuilds both tables (same columns, indexes and access triggers).
// 2. project_permissions: one row per grant; a live grant (revoked_at null) gives the account
//    with that email access to the project. Its triggers tell the authenticator's cache about
//    every grant and revocation, so the next request is decided on the new state.
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../connect.ts';
import { accessTriggers } from '../access-triggers.ts';

const ROLES = sql`role in ('admin', 'member', 'editor', 'viewer', 'collaborator')`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema of their time
async function widenPostgres(db: Kysely<any>, table: string): Promise<void> {
  const r = await sql<{ conname: string }>`
    select conname from pg_constraint
    where conrelid = ${sql.lit(table)}::regclass and contype = 'c' and pg_get_constraintdef(oid) like '%role%'`.execute(
    db,
  );
  for (const row of r.rows) {
    await sql`alter table ${sql.id(table)} drop constraint ${sql.id(row.conname)}`.execute(db);
  }
  await sql`alter table ${sql.id(table)} add constraint ${sql.id(`${table}_role_check`)} check (${ROLES})`.execute(
    db,
  );
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema of their time
async function rebuildSqliteMembers(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('members_v2')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull().check(ROLES))
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('joined_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('members_org_user_unique', ['org_id', 'user_id'])
    .execute();
  await sql`insert into members_v2 (id, org_id, user_id, role, email, joined_at)
            select id, org_id, user_id, role, email, joined_at from members`.execute(db);
  await db.schema.dropTable('members').execute();
  await db.schema.alterTable('members_v2').renameTo('members').execute();
  await db.schema
    .createIndex('members_org_joined')
    .on('members')
    .columns(['org_id', 'joined_at', 'id'])
    .execute();
  await db.schema.createIndex('members_org_email').on('members').columns(['org_id', 'email', 'id']).execute();
  await db.schema.createIndex('members_org_role').on('members').columns(['org_id', 'role', 'id']).execute();
  await db.schema.createIndex('members_user').on('members').column('user_id').execute();
  // Dropping the old table dropped its triggers (0006): the new one reports changes the same way.
  await accessTriggers(db, 'sqlite', 'members', ['insert', 'update of role', 'delete']);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema of their time
async function rebuildSqliteInvitations(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('invitations_v2')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('email_lower', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull().check(ROLES))
    .addColumn('invited_by', 'text', (c) => c.notNull())
    .addColumn('invited_at', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('pending', 'accepted', 'revoked', 'expired')`),
    )
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('accepted_at', 'text')
    .addColumn('accepted_user_id', 'text')
    .addColumn('revoked_at', 'text')
    .addColumn('token_hash', 'text', (c) => c.unique())
    .addColumn('email_status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('pending')
        .check(sql`email_status in ('pending', 'sent', 'failed', 'cancelled')`),
    )
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await sql`insert into invitations_v2 select id, org_id, email, email_lower, role, invited_by, invited_at,
              status, expires_at, accepted_at, accepted_user_id, revoked_at, token_hash, email_status, updated_at
            from invitations`.execute(db);
  await db.schema.dropTable('invitations').execute();
  await db.schema.alterTable('invitations_v2').renameTo('invitations').execute();
  await db.schema
    .createIndex('invitations_one_pending_per_email')
    .on('invitations')
    .columns(['org_id', 'email_lower'])
    .unique()
    .where(sql.ref('status'), '=', sql.lit('pending'))
    .execute();
  await db.schema
    .createIndex('invitations_org_invited')
    .on('invitations')
    .columns(['org_id', 'invited_at', 'id'])
    .execute();
  await db.schema
    .createIndex('invitations_pending_expiry')
    .on('invitations')
    .columns(['org_id', 'expires_at'])
    .where(sql.ref('status'), '=', sql.lit('pending'))
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema of their time
export async function up(db: Kysely<any>, dialect: Dialect): Promise<void> {
  if (dialect === 'postgres') {
    await widenPostgres(db, 'members');
    await widenPostgres(db, 'invitations');
  } else {
    await rebuildSqliteMembers(db);
    await rebuildSqliteInvitations(db);
  }

  await db.schema
    .createTable('project_permissions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('email_lower', 'text', (c) => c.notNull())
    // No foreign key: a grant's history outlives its granter's account.
    .addColumn('granted_by', 'text')
    .addColumn('granted_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .addColumn('signup_token_hash', 'text', (c) => c.unique())
    .addColumn('signup_expires_at', 'text')
    .execute();
  // At most one live grant per project and address, however many requests race.
  await db.schema
    .createIndex('project_permissions_one_live')
    .on('project_permissions')
    .columns(['project_id', 'email_lower'])
    .unique()
    .where(sql.ref('revoked_at'), 'is', sql.lit(null))
    .execute();
  // The caller's live grants (access checks and GET /projects/shared).
  await db.schema
    .createIndex('project_permissions_email_live')
    .on('project_permissions')
    .columns(['email_lower', 'project_id'])
    .where(sql.ref('revoked_at'), 'is', sql.lit(null))
    .execute();
  await accessTriggers(db, dialect, 'project_permissions', ['insert', 'update of revoked_at', 'delete']);
}
