// Project transfer requests (Neon's claimable projects), and the default role's password kept for
// projects that store passwords (store_passwords), so reveal_password and connection_uri answer
// what the create response showed.
import type { Kysely } from 'kysely';
import type { Dialect } from '../connect.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema of their time
export async function up(db: Kysely<any>, _dialect: Dialect): Promise<void> {
  // null: not stored (store_passwords false, or a project created before this migration).
  await db.schema.alterTable('projects').addColumn('role_password', 'text').execute();

  // A request is a one-time capability to move one project out of where it was when the request
  // was made. It decides no access by itself (accepting re-checks the policy under the
  // organizations' locks, and the move changes projects.org_id, which has access triggers), so
  // it needs no access triggers of its own.
  await db.schema
    .createTable('project_transfer_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    /** Where the project was when the request was made (null: a personal project). */
    .addColumn('source_org_id', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('accepted_at', 'text')
    .addColumn('accepted_by', 'text')
    .addColumn('accepted_org_id', 'text')
    .execute();
  await db.schema
    .createIndex('project_transfer_requests_project')
    .on('project_transfer_requests')
    .columns(['project_id', 'created_at'])
    .execute();
}
