// SQL the authenticator runs on every request that is not already elsewhere (key and role lookups
// live with their tables' repositories).
import type { Kysely } from 'kysely';
import { preparedQuery } from '../db/prepared.ts';
import type { Database } from '../db/schema.ts';

const accessVersion = preparedQuery((db) => db.selectFrom('access_version').select('n').where('id', '=', 1));

/** SQLite: the access version the triggers of migration 0006 maintain. */
export async function readAccessVersion(db: Kysely<Database>): Promise<number> {
  return (await accessVersion(db, ''))[0]?.n ?? 0;
}
