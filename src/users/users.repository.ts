// SQL for users. Executor first: the caller decides whether it runs inside a transaction.
import type { Kysely } from 'kysely';
import type { Database, UserRow } from '../db/schema.ts';
import { newUuid } from '../domain/ids.ts';
import { nowIso } from '../domain/time.ts';

export function findUserById(db: Kysely<Database>, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export function findUserByEmail(db: Kysely<Database>, email: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('email_lower', '=', email.toLowerCase()).executeTakeFirst();
}

export async function insertUser(
  db: Kysely<Database>,
  input: { email: string; name?: string; lastName?: string; passwordHash?: string | null },
): Promise<UserRow> {
  const now = nowIso();
  const row: UserRow = {
    id: newUuid(),
    email: input.email,
    email_lower: input.email.toLowerCase(),
    name: input.name ?? '',
    last_name: input.lastName ?? '',
    image: '',
    password_hash: input.passwordHash ?? null,
    created_at: now,
    updated_at: now,
  };
  await db.insertInto('users').values(row).execute();
  return row;
}

export async function countUsers(db: Kysely<Database>): Promise<number> {
  const r = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function setPasswordHash(
  db: Kysely<Database>,
  userId: string,
  passwordHash: string,
  at: string,
): Promise<void> {
  await db
    .updateTable('users')
    .set({ password_hash: passwordHash, updated_at: at })
    .where('id', '=', userId)
    .execute();
}
