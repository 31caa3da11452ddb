// SQL the authenticator runs on every request: the key by its hash, the caller's role, live
// grants and the access version. Here (not in the features' repositories) so that auth/ imports
// nothing above it; features that need these reads import them from here.
import type { Kysely } from 'kysely';
import { preparedQuery } from '../db/prepared.ts';
import type { ApiKeyRow, Database, MemberRole } from '../db/schema.ts';

const accessVersion = preparedQuery((db) => db.selectFrom('access_version').select('n').where('id', '=', 1));

/** SQLite: the access version the triggers of migration 0006 maintain. */
export async function readAccessVersion(db: Kysely<Database>): Promise<number> {
  return (await accessVersion(db, ''))[0]?.n ?? 0;
}

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

const roleQuery = preparedQuery((db, _shape, orgId: string, userId: string) =>
  db.selectFrom('members').select('role').where('org_id', '=', orgId).where('user_id', '=', userId),
);

/** The user's role in the organization, or null when not a member. */
export async function findRole(
  db: Kysely<Database>,
  orgId: string,
  userId: string,
): Promise<MemberRole | null> {
  return (await roleQuery(db, '', orgId, userId))[0]?.role ?? null;
}

/** Whether the user holds a live grant on the project. */
export async function hasLiveGrant(
  db: Kysely<Database>,
  userId: string,
  projectId: string,
): Promise<boolean> {
  const r = await db
    .selectFrom('project_permissions as pp')
    .innerJoin('users as u', 'u.email_lower', 'pp.email_lower')
    .select('pp.id')
    .where('u.id', '=', userId)
    .where('pp.project_id', '=', projectId)
    .where('pp.revoked_at', 'is', null)
    .executeTakeFirst();
  return r !== undefined;
}
