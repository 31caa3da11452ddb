// SQL for API keys. Only hashes are stored; tokens never reach this layer's reads.
import type { Kysely } from 'kysely';
import { preparedQuery } from '../db/prepared.ts';
import type { ApiKeyKind, ApiKeyRow, Database, NewApiKey } from '../db/schema.ts';

export type ApiKeyWithCreator = ApiKeyRow & { creator_name: string | null; creator_image: string | null };

/** What authentication reads of a key. */
export type AuthKey = Pick<
  ApiKeyRow,
  'id' | 'kind' | 'name' | 'user_id' | 'org_id' | 'project_id' | 'expires_at' | 'canary'
>;

const activeKeyByHash = preparedQuery((db, _shape, tokenHash: string) =>
  db
    .selectFrom('api_keys')
    .select(['id', 'kind', 'name', 'user_id', 'org_id', 'project_id', 'expires_at', 'canary'])
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null),
);

/** The authentication lookup: one indexed read by token hash. */
export async function findActiveKeyByHash(
  db: Kysely<Database>,
  tokenHash: string,
): Promise<AuthKey | undefined> {
  return (await activeKeyByHash(db, '', tokenHash))[0];
}

export async function insertApiKey(db: Kysely<Database>, key: NewApiKey): Promise<ApiKeyRow> {
  return db.insertInto('api_keys').values(key).returningAll().executeTakeFirstOrThrow();
}

function withCreator(db: Kysely<Database>) {
  return db
    .selectFrom('api_keys as k')
    .leftJoin('users as u', 'u.id', 'k.created_by')
    .selectAll('k')
    .select(['u.name as creator_name', 'u.image as creator_image']);
}

/** Live keys only: revoked and expired keys are not listed (now: ISO time, the service's clock). */
export function listPersonalKeys(
  db: Kysely<Database>,
  userId: string,
  now: string,
): Promise<ApiKeyWithCreator[]> {
  return withCreator(db)
    .where('k.user_id', '=', userId)
    .where('k.kind', '=', 'personal')
    .where('k.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('k.expires_at', 'is', null), eb('k.expires_at', '>', now)]))
    .orderBy('k.id')
    .execute();
}

export function listOrgKeys(db: Kysely<Database>, orgId: string, now: string): Promise<ApiKeyWithCreator[]> {
  return withCreator(db)
    .where('k.org_id', '=', orgId)
    .where('k.kind', 'in', ['org', 'project'] as ApiKeyKind[])
    .where('k.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('k.expires_at', 'is', null), eb('k.expires_at', '>', now)]))
    .orderBy('k.id')
    .execute();
}

export function findKeyById(db: Kysely<Database>, id: number): Promise<ApiKeyRow | undefined> {
  return db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Marks a key revoked; returns false if it was already revoked (a concurrent revoke won). */
export async function revokeKey(db: Kysely<Database>, id: number, at: string): Promise<boolean> {
  const r = await db
    .updateTable('api_keys')
    .set({ revoked_at: at })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Revokes every live project-scoped key of these projects (a transfer moved them out). Returns the ids. */
export async function revokeProjectKeys(
  db: Kysely<Database>,
  projectIds: string[],
  at: string,
): Promise<number[]> {
  if (projectIds.length === 0) return [];
  const rows = await db
    .updateTable('api_keys')
    .set({ revoked_at: at })
    .where('kind', '=', 'project')
    .where('project_id', 'in', projectIds)
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}
