// Projects as full control-plane records, their operations, and personal (organization-less) projects.
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../connect.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema of their time
export async function up(db: Kysely<any>, _dialect: Dialect): Promise<void> {
  // org_id becomes nullable (a personal project has an owner and no organization). SQLite cannot
  // drop NOT NULL in place, so both databases rebuild the table the same way: one code path.
  await db.schema
    .createTable('projects_v2')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.references('organizations.id'))
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('region_id', 'text', (c) => c.notNull().defaultTo('aws-us-east-2'))
    .addColumn('pg_version', 'integer', (c) => c.notNull().defaultTo(17))
    .addColumn('provisioner', 'text', (c) => c.notNull().defaultTo('k8s-neonvm'))
    .addColumn('store_passwords', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('history_retention_seconds', 'integer', (c) => c.notNull().defaultTo(86400))
    // JSON objects (ProjectSettingsData, DefaultEndpointSettings) as TEXT.
    .addColumn('settings', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('default_endpoint_settings', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('creation_source', 'text', (c) => c.notNull().defaultTo('console'))
    // The default branch, compute endpoint, database and role: the project's connection data.
    .addColumn('branch_id', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('branch_name', 'text', (c) => c.notNull().defaultTo('main'))
    .addColumn('endpoint_id', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('database_name', 'text', (c) => c.notNull().defaultTo('neondb'))
    .addColumn('role_name', 'text', (c) => c.notNull().defaultTo('neondb_owner'))
    // JSON array of ApplicationType (github, vercel, …), recorded by the operator CLI.
    .addColumn('integrations', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('deleted_at', 'text')
    .execute();
  await sql`insert into projects_v2 (id, org_id, owner_id, name, created_at, updated_at, deleted_at)
            select id, org_id, owner_id, name, created_at, updated_at, deleted_at from projects`.execute(db);
  await db.schema.dropTable('projects').execute();
  await db.schema.alterTable('projects_v2').renameTo('projects').execute();
  // Keyset pagination of an organization's projects, newest first; personal projects by owner.
  await db.schema
    .createIndex('projects_org_created')
    .on('projects')
    .columns(['org_id', 'created_at', 'id'])
    .execute();
  await db.schema.createIndex('projects_owner').on('projects').columns(['owner_id', 'created_at']).execute();

  await db.schema
    .createTable('project_operations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull())
    .addColumn('branch_id', 'text')
    .addColumn('endpoint_id', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('project_operations_project')
    .on('project_operations')
    .column('project_id')
    .execute();
}
