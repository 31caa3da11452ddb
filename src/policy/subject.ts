// Builds the policy Subject: the caller's relation to an organization (and project), read from the database.
import type { Kysely } from 'kysely';
import { preparedQuery } from '../db/prepared.ts';
import { readCacheOf, validatedEpoch } from '../db/read-cache.ts';
import type { Database, MemberRole } from '../db/schema.ts';
import type { Principal } from '../domain/principal.ts';
import type { Subject } from './index.ts';

/**
 * The user's role in the organization, or null. Outside transactions on SQLite it comes from the
 * read cache (read-cache.ts), which forgets everything on any write; inside a transaction (the
 * write paths, under the organization's lock) it is always read.
 */
export function roleOf(
  db: Kysely<Database>,
  orgId: string,
  userId: string,
  principal?: Principal,
): Promise<MemberRole | null> {
  const cache = readCacheOf(db);
  if (cache && principal) {
    const key = `role:${orgId}:${userId}`;
    return cache.getInRequest(key, () => readRole(db, orgId, userId), validatedEpoch(principal));
  }
  return cache
    ? cache.get(`role:${orgId}:${userId}`, () => readRole(db, orgId, userId))
    : readRole(db, orgId, userId);
}

const roleQuery = preparedQuery((db, _shape, orgId: string, userId: string) =>
  db.selectFrom('members').select('role').where('org_id', '=', orgId).where('user_id', '=', userId),
);

async function readRole(db: Kysely<Database>, orgId: string, userId: string): Promise<MemberRole | null> {
  return (await roleQuery(db, '', orgId, userId))[0]?.role ?? null;
}

/** The caller relative to orgId; pass projectId for project-level actions. */
export async function subjectFor(
  db: Kysely<Database>,
  principal: Principal,
  orgId: string,
  projectId?: string,
): Promise<Subject> {
  switch (principal.kind) {
    case 'user':
      return { kind: 'user', role: await roleOf(db, orgId, principal.userId, principal) };
    case 'org_key':
      return { kind: 'org_key', sameOrg: principal.orgId === orgId };
    case 'project_key':
      return {
        kind: 'project_key',
        sameOrg: principal.orgId === orgId,
        ...(projectId === undefined ? {} : { sameProject: principal.projectId === projectId }),
      };
  }
}

/** Account-level actions need no database: the principal's kind decides. */
export function accountSubject(principal: Principal): Subject {
  switch (principal.kind) {
    case 'user':
      return { kind: 'user', role: null };
    case 'org_key':
      return { kind: 'org_key', sameOrg: true };
    case 'project_key':
      return { kind: 'project_key', sameOrg: true };
  }
}
