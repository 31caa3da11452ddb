// Role passwords are resealed at start only when the server key changed: the key id of the last
// complete reseal is remembered in one row, so a start no longer reads every project to find none.
import type { Kysely } from 'kysely';
import type { Dialect } from '../connect.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema of their time
export async function up(db: Kysely<any>, _dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('secret_reseals')
    // Always 1: one row.
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('resealed_at', 'text', (c) => c.notNull())
    .execute();
}
