// SQL for API keys. Only hashes are stored; tokens never reach this layer's reads.
import { sql, type Insertable, type Kysely } from 'kysely';
import { preparedQuery } from '../db/prepared.ts';
import type { ApiKeyKind, ApiKeyRow, Database, NewApiKey } from '../db/schema.ts';

export type ApiKeyWithCreator = ApiKeyRow & { creator_name: string | null; creator_image: string | null };

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
// Live keys only: revoked and expired keys are not listed (now: ISO time, the service's clock).
const personalKeys = preparedQuery((db, _shape, userId: string, now: string) =>
  withCreator(db)
    .where('k.user_id', '=', userId)
    .where('k.kind', '=', sql.lit('personal'))
    .where('k.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('k.expires_at', 'is', null), eb('k.expires_at', '>', now)]))
    .orderBy('k.id'),
);

const orgKeys = preparedQuery((db, _shape, orgId: string, now: string) =>
  withCreator(db)
    .where('k.org_id', '=', orgId)
    .where('k.kind', 'in', [sql.lit<ApiKeyKind>('org'), sql.lit<ApiKeyKind>('project')])
    .where('k.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('k.expires_at', 'is', null), eb('k.expires_at', '>', now)]))
    .orderBy('k.id'),
);

export function listPersonalKeys(
  db: Kysely<Database>,
  userId: string,
  now: string,
): Promise<ApiKeyWithCreator[]> {
  return personalKeys(db, '', userId, now);
}

export function listOrgKeys(db: Kysely<Database>, orgId: string, now: string): Promise<ApiKeyWithCreator[]> {
  return orgKeys(db, '', orgId, now);
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

/**
 * Points a live, not yet rotated key at its successor (and ends it, now or after the overlap).
 * False when another rotation or a revocation got there first.
 */
export async function markRotated(
  db: Kysely<Database>,
  id: number,
  set: { rotated_to_id: number; revoked_at?: string; expires_at?: string },
): Promise<boolean> {
  const r = await db
    .updateTable('api_keys')
    .set(set)
    .where('id', '=', id)
    .where('rotated_to_id', 'is', null)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Whether a project-scoped key may name this project: it is the organization's and not deleted. */
export async function isLiveProjectOf(
  db: Kysely<Database>,
  orgId: string,
  projectId: string,
): Promise<boolean> {
  const project = await db
    .selectFrom('projects')
    .select('id')
    .where('id', '=', projectId)
    .where('org_id', '=', orgId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return project !== undefined;
}

/** Writes one key's newest use (the last-used tracker's batched flush). */
export async function setLastUsed(db: Kysely<Database>, id: number, at: string, addr: string): Promise<void> {
  await db
    .updateTable('api_keys')
    .set({ last_used_at: at, last_used_from_addr: addr })
    .where('id', '=', id)
    .execute();
}

/** The live project-scoped keys of these projects, by id (what a transfer will revoke). */
export function listLiveProjectKeys(
  db: Kysely<Database>,
  projectIds: string[],
): Promise<Array<Pick<ApiKeyRow, 'id' | 'name' | 'project_id'>>> {
  return db
    .selectFrom('api_keys')
    .select(['id', 'name', 'project_id'])
    .where('kind', '=', 'project')
    .where('project_id', 'in', projectIds)
    .where('revoked_at', 'is', null)
    .orderBy('id')
    .execute();
}

/** Who created a key (an organization key's projects belong to its creator). */
export async function findKeyCreator(db: Kysely<Database>, id: number): Promise<string> {
  const key = await db
    .selectFrom('api_keys')
    .select('created_by')
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  return key.created_by;
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

/** Records one use of a canary key (the api_key_canary_uses table of migration 0009). */
export async function insertCanaryUse(
  db: Kysely<Database>,
  row: Insertable<Database['api_key_canary_uses']>,
): Promise<void> {
  await db.insertInto('api_key_canary_uses').values(row).execute();
}

/**
 * Claims the canary key's alert: true for the one caller that finds no alert since cutoff (a
 * conditional update, so only one process wins, also across processes).
 */
export async function claimCanaryAlert(
  db: Kysely<Database>,
  keyId: number,
  at: string,
  cutoff: string,
): Promise<boolean> {
  const claimed = await db
    .updateTable('api_keys')
    .set({ canary_alerted_at: at })
    .where('id', '=', keyId)
    .where((eb) => eb.or([eb('canary_alerted_at', 'is', null), eb('canary_alerted_at', '<=', cutoff)]))
    .executeTakeFirst();
  return Number(claimed.numUpdatedRows) === 1;
}

/** Who hears of a canary use: for organization and project keys the organization's admins; for personal keys their owner. */
export async function canaryRecipients(
  db: Kysely<Database>,
  key: Pick<ApiKeyRow, 'kind' | 'user_id' | 'org_id'>,
): Promise<string[]> {
  if (key.kind === 'personal' && key.user_id) {
    const u = await db.selectFrom('users').select('email').where('id', '=', key.user_id).executeTakeFirst();
    return u ? [u.email] : [];
  }
  if (!key.org_id) return [];
  const rows = await db
    .selectFrom('members as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select('u.email')
    .where('m.org_id', '=', key.org_id)
    .where('m.role', '=', 'admin')
    .orderBy('u.email')
    .execute();
  return rows.map((r) => r.email);
}
