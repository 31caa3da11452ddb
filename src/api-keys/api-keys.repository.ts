// SQL for API keys. Only hashes are stored; tokens never reach this layer's reads.
import { sql, type Kysely } from 'kysely';
import { preparedQuery } from '../db/prepared.ts';
import type { ApiKeyKind, ApiKeyRow, Database, NewApiKey } from '../db/schema.ts';

export type ApiKeyWithCreator = ApiKeyRow & { creator_name: string | null; creator_image: string | null };

const activeKeyByHash = preparedQuery((db, _shape, tokenHash: string) =>
  db
    .selectFrom('api_keys')
    .select(['id', 'kind', 'user_id', 'org_id', 'project_id'])
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null),
);

/** The authentication lookup: one indexed read by token hash. */
export async function findActiveKeyByHash(
  db: Kysely<Database>,
  tokenHash: string,
): Promise<Pick<ApiKeyRow, 'id' | 'kind' | 'user_id' | 'org_id' | 'project_id'> | undefined> {
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

// Kinds are literals: constant filters bound as parameters are planned again on every run.
const personalKeys = preparedQuery((db, _shape, userId: string) =>
  withCreator(db)
    .where('k.user_id', '=', userId)
    .where('k.kind', '=', sql.lit('personal'))
    .where('k.revoked_at', 'is', null)
    .orderBy('k.id'),
);

const orgKeys = preparedQuery((db, _shape, orgId: string) =>
  withCreator(db)
    .where('k.org_id', '=', orgId)
    .where('k.kind', 'in', [sql.lit<ApiKeyKind>('org'), sql.lit<ApiKeyKind>('project')])
    .where('k.revoked_at', 'is', null)
    .orderBy('k.id'),
);

export function listPersonalKeys(db: Kysely<Database>, userId: string): Promise<ApiKeyWithCreator[]> {
  return personalKeys(db, '', userId);
}

export function listOrgKeys(db: Kysely<Database>, orgId: string): Promise<ApiKeyWithCreator[]> {
  return orgKeys(db, '', orgId);
}

const keyById = preparedQuery((db, _shape, id: number) =>
  db.selectFrom('api_keys').selectAll().where('id', '=', id),
);

export async function findKeyById(db: Kysely<Database>, id: number): Promise<ApiKeyRow | undefined> {
  return (await keyById(db, '', id))[0];
}

const revokeQuery = preparedQuery((db, _shape, id: number, at: string) =>
  db
    .updateTable('api_keys')
    .set({ revoked_at: at })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returningAll(),
);

/** Marks a key revoked and answers its row; undefined if it was already revoked (a concurrent revoke won). */
export async function revokeKey(
  db: Kysely<Database>,
  id: number,
  at: string,
): Promise<ApiKeyRow | undefined> {
  return (await revokeQuery(db, '', id, at))[0];
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
    .where('kind', '=', sql.lit('project'))
    .where('project_id', 'in', projectIds)
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}
