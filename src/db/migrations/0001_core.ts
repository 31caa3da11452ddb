// Users, organizations, members, API keys and a minimal projects table.
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../connect.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema of their time
export async function up(db: Kysely<any>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('email_lower', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('last_name', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('image', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('password_hash', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('organizations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('handle', 'text', (c) => c.notNull())
    .addColumn('plan', 'text', (c) => c.notNull().defaultTo('free'))
    .addColumn('managed_by', 'text', (c) => c.notNull().defaultTo('console'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('members')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    // The classic model: admin | member. The database refuses anything else.
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('admin', 'member')`))
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('joined_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('members_org_user_unique', ['org_id', 'user_id'])
    .execute();
  // Keyset pagination for each sort_by: (org, sort column, id).
  await db.schema
    .createIndex('members_org_joined')
    .on('members')
    .columns(['org_id', 'joined_at', 'id'])
    .execute();
  await db.schema.createIndex('members_org_email').on('members').columns(['org_id', 'email', 'id']).execute();
  await db.schema.createIndex('members_org_role').on('members').columns(['org_id', 'role', 'id']).execute();
  await db.schema.createIndex('members_user').on('members').column('user_id').execute();

  await db.schema
    .createTable('projects')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id'))
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('deleted_at', 'text')
    .execute();
  await db.schema.createIndex('projects_org').on('projects').columns(['org_id', 'id']).execute();

  let keys = db.schema.createTable('api_keys');
  keys =
    dialect === 'postgres'
      ? keys.addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
      : keys.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
  await keys
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('personal', 'org', 'project')`))
    .addColumn('name', 'text', (c) => c.notNull())
    // SHA-256 hex of the token. The token itself is shown once and never stored.
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('org_id', 'text', (c) => c.references('organizations.id').onDelete('cascade'))
    .addColumn('project_id', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_used_at', 'text')
    .addColumn('last_used_from_addr', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('revoked_at', 'text')
    // Each kind has exactly the owner columns it needs.
    .addCheckConstraint(
      'api_keys_kind_owner',
      sql`(kind = 'personal' and user_id is not null and org_id is null and project_id is null)
       or (kind = 'org' and org_id is not null and user_id is null and project_id is null)
       or (kind = 'project' and org_id is not null and user_id is null and project_id is not null)`,
    )
    .execute();
  await db.schema.createIndex('api_keys_user').on('api_keys').columns(['user_id', 'id']).execute();
  await db.schema.createIndex('api_keys_org').on('api_keys').columns(['org_id', 'id']).execute();
  await db.schema.createIndex('api_keys_project').on('api_keys').column('project_id').execute();
}
