// Transfer requests can be cancelled (an extension), and remember the organization key that made
// one: a request works only while whoever made it still could (the key live, or the user still an
// admin of the source organization).
import type { Kysely } from 'kysely';
import type { Dialect } from '../connect.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema of their time
export async function up(db: Kysely<any>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable('project_transfer_requests').addColumn('cancelled_at', 'text').execute();
  await db.schema.alterTable('project_transfer_requests').addColumn('cancelled_by', 'text').execute();
  // null: made by a user (personal key or console session), or before this migration.
  await db.schema.alterTable('project_transfer_requests').addColumn('created_by_key_id', 'integer').execute();
}
