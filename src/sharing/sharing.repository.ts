// SQL for project grants (project_permissions). Executor first: the caller owns the transaction.
// A grant belongs to an email address: the account with that (lower-cased) address holds it.
import { sql, type Kysely } from 'kysely';
import type { Database, ProjectPermissionRow } from '../db/schema.ts';
import type { ProjectWithOrgName } from '../projects/projects.repository.ts';

/** Whether the user holds a live grant on any project of the organization. */
export async function hasLiveGrantInOrg(
  db: Kysely<Database>,
  userId: string,
  orgId: string,
): Promise<boolean> {
  const r = await db
    .selectFrom('project_permissions as pp')
    .innerJoin('users as u', 'u.email_lower', 'pp.email_lower')
    .innerJoin('projects as p', 'p.id', 'pp.project_id')
    .select('pp.id')
    .where('u.id', '=', userId)
    .where('p.org_id', '=', orgId)
    .where('pp.revoked_at', 'is', null)
    .executeTakeFirst();
  return r !== undefined;
}

/** The project's grants: the base of every lookup of one project's grants. */
function grantsOf(db: Kysely<Database>, projectId: string) {
  return db.selectFrom('project_permissions').selectAll().where('project_id', '=', projectId);
}

/**
 * A grant on project `p` (the outer query's alias) to the user's address, live ones only unless
 * `everShared`: the condition of the shared-projects listing and of its cursor.
 */
function grantToUser(db: Kysely<Database>, userId: string, everShared = false) {
  const q = db
    .selectFrom('project_permissions as pp')
    .innerJoin('users as u', 'u.email_lower', 'pp.email_lower')
    .select('pp.id')
    .where('pp.project_id', '=', sql.ref<string>('p.id'))
    .where('u.id', '=', userId);
  return everShared ? q : q.where('pp.revoked_at', 'is', null);
}

/** The project's live grants, oldest first. */
export function listLiveGrants(db: Kysely<Database>, projectId: string): Promise<ProjectPermissionRow[]> {
  return grantsOf(db, projectId)
    .where('revoked_at', 'is', null)
    .orderBy('granted_at')
    .orderBy('id')
    .execute();
}

export function findGrant(
  db: Kysely<Database>,
  projectId: string,
  id: string,
): Promise<ProjectPermissionRow | undefined> {
  return grantsOf(db, projectId).where('id', '=', id).executeTakeFirst();
}

export function findLiveGrantByEmail(
  db: Kysely<Database>,
  projectId: string,
  emailLower: string,
): Promise<ProjectPermissionRow | undefined> {
  return grantsOf(db, projectId)
    .where('email_lower', '=', emailLower)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

export function findGrantBySignupToken(
  db: Kysely<Database>,
  tokenHash: string,
): Promise<ProjectPermissionRow | undefined> {
  return db
    .selectFrom('project_permissions')
    .selectAll()
    .where('signup_token_hash', '=', tokenHash)
    .executeTakeFirst();
}

export async function insertGrant(db: Kysely<Database>, row: ProjectPermissionRow): Promise<void> {
  await db.insertInto('project_permissions').values(row).execute();
}

/** Ends a grant (and its sign-up link); false when it was no longer live. */
export async function revokeGrant(db: Kysely<Database>, id: string, at: string): Promise<boolean> {
  const r = await db
    .updateTable('project_permissions')
    .set({ revoked_at: at, signup_token_hash: null })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Uses up a grant's sign-up link (compare-and-set on its hash); false when it was already used. */
export async function useSignupToken(db: Kysely<Database>, id: string, tokenHash: string): Promise<boolean> {
  const r = await db
    .updateTable('project_permissions')
    .set({ signup_token_hash: null })
    .where('id', '=', id)
    .where('signup_token_hash', '=', tokenHash)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

function likePattern(s: string): string {
  return `%${s.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * One page of the live (not deleted) projects shared with the user, newest first, keyset on
 * (created_at, id) like GET /projects.
 */
export function listSharedProjectsPage(
  db: Kysely<Database>,
  opts: {
    userId: string;
    search?: string | undefined;
    after?: { created_at: string; id: string } | undefined;
    limit: number;
  },
): Promise<ProjectWithOrgName[]> {
  let q = db
    .selectFrom('projects as p')
    .leftJoin('organizations as o', 'o.id', 'p.org_id')
    .selectAll('p')
    .select('o.name as org_name')
    .where('p.deleted_at', 'is', null)
    .where((eb) => eb.exists(grantToUser(db, opts.userId)));
  if (opts.search) {
    const pattern = likePattern(opts.search);
    q = q.where((eb) =>
      eb.or([
        sql<boolean>`lower(p.name) like ${pattern} escape '\\'`,
        sql<boolean>`lower(p.id) like ${pattern} escape '\\'`,
      ]),
    );
  }
  if (opts.after) {
    q = q.where(sql<boolean>`(p.created_at, p.id) < (${opts.after.created_at}, ${opts.after.id})`);
  }
  return q.orderBy('p.created_at', 'desc').orderBy('p.id', 'desc').limit(opts.limit).execute();
}

/**
 * A /projects/shared cursor: the project's keyset position, only when the project is (or was)
 * shared with the user's address; undefined for any other id, existing or not.
 */
export function findSharedCursor(
  db: Kysely<Database>,
  userId: string,
  projectId: string,
): Promise<{ id: string; created_at: string } | undefined> {
  return db
    .selectFrom('projects as p')
    .select(['p.id', 'p.created_at'])
    .where('p.id', '=', projectId)
    .where((eb) => eb.exists(grantToUser(db, userId, true)))
    .executeTakeFirst();
}
