// A project's children as their own records (issue 19): branches, endpoints, roles and databases,
// one row each, instead of the single default branch kept in the project row. Every existing
// project gets its default branch, endpoint, role and database copied over. Role passwords move
// to roles.password_enc; the plain ones still in projects.role_password are encrypted and cleared
// at start-up by src/branches/secrets.ts (a migration has no server key).
// operations: state of compute work (pending → finished/failed) with its error, so a crash
// between the control-plane write and the engine's is repaired at start (src/operations).
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../connect.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema of their time
export async function up(db: Kysely<any>, _dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('branches')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull())
    .addColumn('parent_id', 'text')
    .addColumn('name', 'text', (c) => c.notNull())
    // 0 | 1
    .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('protected', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expires_at', 'text')
    .addColumn('ttl_interval_seconds', 'integer')
    // 'init' while its data is being made, then 'ready'.
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('ready'))
    .addColumn('creation_source', 'text', (c) => c.notNull().defaultTo('console'))
    .addColumn('last_reset_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('branches_project').on('branches').columns(['project_id', 'name']).execute();

  await db.schema
    .createTable('endpoints')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull())
    .addColumn('branch_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('type', 'text', (c) => c.notNull().defaultTo('read_write'))
    // The loopback port orgplane listens on for this endpoint (null: not allocated, compute off).
    .addColumn('port', 'integer')
    .addColumn('suspend_timeout_seconds', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('autoscaling_limit_min_cu', 'real', (c) => c.notNull().defaultTo(0.25))
    .addColumn('autoscaling_limit_max_cu', 'real', (c) => c.notNull().defaultTo(2))
    .addColumn('pooler_enabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('pooler_mode', 'text', (c) => c.notNull().defaultTo('transaction'))
    // JSON: EndpointSettingsData
    .addColumn('settings', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('creation_source', 'text', (c) => c.notNull().defaultTo('console'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('endpoints_branch').on('endpoints').columns(['branch_id']).execute();
  await db.schema.createIndex('endpoints_project').on('endpoints').columns(['project_id']).execute();

  await db.schema
    .createTable('branch_roles')
    .addColumn('branch_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('project_id', 'text', (c) => c.notNull())
    // AES-256-GCM under the server key (src/branches/secrets.ts); null: not stored.
    .addColumn('password_enc', 'text')
    .addColumn('protected', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('no_login', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('branch_roles_pk', ['branch_id', 'name'])
    .execute();

  await db.schema
    .createTable('branch_databases')
    .addColumn('branch_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('id', 'integer', (c) => c.notNull())
    .addColumn('project_id', 'text', (c) => c.notNull())
    .addColumn('owner_name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('branch_databases_pk', ['branch_id', 'name'])
    .execute();

  await db.schema.alterTable('project_operations').addColumn('error', 'text').execute();
  await db.schema
    .alterTable('project_operations')
    .addColumn('failures_count', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  // What orgplane must redo or undo if it stops mid-operation (src/branches/reconcile.ts), and
  // its arguments (JSON; a password in it is sealed).
  await db.schema.alterTable('project_operations').addColumn('kind', 'text').execute();
  await db.schema.alterTable('project_operations').addColumn('detail', 'text').execute();
  await db.schema
    .createIndex('project_operations_status')
    .on('project_operations')
    .columns(['status'])
    .execute();

  // Every existing project's default branch and its children, as the project row describes them.
  await sql`insert into branches (id, project_id, parent_id, name, is_default, protected, state, creation_source, created_at, updated_at)
            select branch_id, id, null, branch_name, 1, 0, 'ready', creation_source, created_at, created_at
            from projects where branch_id <> ''`.execute(db);
  await sql`insert into endpoints (id, project_id, branch_id, type, port, created_at, updated_at)
            select endpoint_id, id, branch_id, 'read_write', null, created_at, created_at
            from projects where branch_id <> '' and endpoint_id <> ''`.execute(db);
  await sql`insert into branch_roles (branch_id, name, project_id, password_enc, created_at, updated_at)
            select branch_id, role_name, id, null, created_at, created_at from projects where branch_id <> ''`.execute(
    db,
  );
  // Database ids: the same positive 31-bit number connection.ts derived from the project id is
  // not expressible in SQL on both databases, so legacy default databases get id 1 per branch.
  await sql`insert into branch_databases (branch_id, name, id, project_id, owner_name, created_at, updated_at)
            select branch_id, database_name, 1, id, role_name, created_at, created_at from projects where branch_id <> ''`.execute(
    db,
  );
}
