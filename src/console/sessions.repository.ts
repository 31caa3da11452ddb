// SQL for console sessions and one-time password-setup links. Only SHA-256 hashes of the secrets
// reach this layer. Executor first: the caller owns the transaction.
import type { Kysely } from 'kysely';
import type { Database, PasswordSetupTokenRow, SessionRow } from '../db/schema.ts';

export async function insertSession(db: Kysely<Database>, row: SessionRow): Promise<void> {
  await db.insertInto('sessions').values(row).execute();
}

/** Housekeeping: sessions of anyone that expired before `now`. */
export async function deleteExpiredSessions(db: Kysely<Database>, now: string): Promise<void> {
  await db.deleteFrom('sessions').where('expires_at', '<', now).execute();
}

export function findSession(db: Kysely<Database>, idHash: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('id_hash', '=', idHash).executeTakeFirst();
}

export async function deleteSession(db: Kysely<Database>, idHash: string): Promise<void> {
  await db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
}

/** Ends every session of a user; returns how many there were. */
export async function deleteSessionsOfUser(db: Kysely<Database>, userId: string): Promise<number> {
  const r = await db.deleteFrom('sessions').where('user_id', '=', userId).executeTakeFirst();
  return Number(r.numDeletedRows);
}

export async function insertSetupToken(db: Kysely<Database>, row: PasswordSetupTokenRow): Promise<void> {
  await db.insertInto('password_setup_tokens').values(row).execute();
}

export function findSetupToken(
  db: Kysely<Database>,
  tokenHash: string,
): Promise<PasswordSetupTokenRow | undefined> {
  return db
    .selectFrom('password_setup_tokens')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst();
}

/** Marks a live token used; returns its user, or undefined when it was unknown, used or expired. */
export async function claimSetupToken(
  db: Kysely<Database>,
  tokenHash: string,
  now: string,
): Promise<string | undefined> {
  const claimed = await db
    .updateTable('password_setup_tokens')
    .set({ used_at: now })
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning('user_id')
    .executeTakeFirst();
  return claimed?.user_id;
}
