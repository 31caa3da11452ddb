// SQL of the idempotency-key store (migration 0009). The primary key (scope, key) is the claim:
// whichever request inserts the row first runs; every other one reads it.
import type { Kysely } from 'kysely';
import type { Database, IdempotencyKeysTable } from '../db/schema.ts';

export type IdempotencyRow = IdempotencyKeysTable;

/** True when this call inserted the row (and so owns the key). */
export async function claimKey(db: Kysely<Database>, row: IdempotencyRow): Promise<boolean> {
  const r = await db
    .insertInto('idempotency_keys')
    .values(row)
    .onConflict((oc) => oc.columns(['scope', 'key']).doNothing())
    .returning('scope')
    .execute();
  return r.length === 1;
}

export function findKey(
  db: Kysely<Database>,
  scope: string,
  key: string,
): Promise<IdempotencyRow | undefined> {
  return db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('scope', '=', scope)
    .where('key', '=', key)
    .executeTakeFirst();
}

/** Takes over a running claim whose lease ran out (its process died mid-request). */
export async function takeOverKey(
  db: Kysely<Database>,
  old: IdempotencyRow,
  fresh: Pick<IdempotencyRow, 'created_at' | 'locked_until' | 'expires_at'>,
): Promise<boolean> {
  const r = await db
    .updateTable('idempotency_keys')
    .set(fresh)
    .where('scope', '=', old.scope)
    .where('key', '=', old.key)
    .where('state', '=', 'running')
    .where('locked_until', '=', old.locked_until)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function completeKey(
  db: Kysely<Database>,
  scope: string,
  key: string,
  result: { status: number; response: string; token_redacted: number },
): Promise<void> {
  await db
    .updateTable('idempotency_keys')
    .set({ state: 'done', ...result })
    .where('scope', '=', scope)
    .where('key', '=', key)
    .execute();
}

export async function releaseKey(db: Kysely<Database>, scope: string, key: string): Promise<void> {
  await db
    .deleteFrom('idempotency_keys')
    .where('scope', '=', scope)
    .where('key', '=', key)
    .where('state', '=', 'running')
    .execute();
}

/** Removes one expired row (exactly the one seen, so a fresh claim is never deleted). */
export async function deleteExpiredKey(db: Kysely<Database>, row: IdempotencyRow): Promise<void> {
  await db
    .deleteFrom('idempotency_keys')
    .where('scope', '=', row.scope)
    .where('key', '=', row.key)
    .where('expires_at', '=', row.expires_at)
    .execute();
}

export async function deleteExpiredKeys(db: Kysely<Database>, now: string): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('expires_at', '<=', now).execute();
}
