// SQL for projects (their operations: operations.repository.ts). Executor first: the caller owns
// the transaction.
import { sql, type Kysely } from 'kysely';
import { preparedQuery } from '../db/prepared.ts';
import type { Database, NewProject, ProjectRow } from '../db/schema.ts';

export function findProject(db: Kysely<Database>, id: string): Promise<ProjectRow | undefined> {
  return db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function insertProject(db: Kysely<Database>, row: NewProject): Promise<ProjectRow> {
  return db.insertInto('projects').values(row).returningAll().executeTakeFirstOrThrow();
}

/** Deletes a project and its operations outright (a create whose compute failed: nothing was made). */
export async function deleteProjectRecords(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom('project_operations').where('project_id', '=', id).execute();
  await db.deleteFrom('projects').where('id', '=', id).execute();
}

export async function updateProject(
  db: Kysely<Database>,
  id: string,
  changes: Partial<ProjectRow>,
): Promise<void> {
  await db.updateTable('projects').set(changes).where('id', '=', id).execute();
}

/** Soft delete; a project already deleted keeps its first deletion time. */
export async function markProjectDeleted(db: Kysely<Database>, id: string, at: string): Promise<void> {
  await db
    .updateTable('projects')
    .set({ deleted_at: at, updated_at: at })
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .execute();
}

export async function markProjectRecovered(db: Kysely<Database>, id: string, at: string): Promise<void> {
  await db.updateTable('projects').set({ deleted_at: null, updated_at: at }).where('id', '=', id).execute();
}

/** The default branch is ready once the engine has made it (a project created with compute). */
export async function markBranchReady(db: Kysely<Database>, branchId: string, at: string): Promise<void> {
  await db
    .updateTable('branches')
    .set({ state: 'ready', updated_at: at })
    .where('id', '=', branchId)
    .execute();
}

/**
 * A list cursor's project, among those of the organization (and only that project, for a
 * project-scoped key): any other id answers like a missing one.
 */
export function findCursorProject(
  db: Kysely<Database>,
  orgId: string,
  cursor: string,
  onlyProjectId: string | undefined,
): Promise<{ id: string; created_at: string } | undefined> {
  let c = db
    .selectFrom('projects')
    .select(['id', 'created_at'])
    .where('id', '=', cursor)
    .where('org_id', '=', orgId);
  if (onlyProjectId !== undefined) c = c.where('id', '=', onlyProjectId);
  return c.executeTakeFirst();
}

/** The rows a transfer checks and moves. */
export function findProjectsForTransfer(
  db: Kysely<Database>,
  ids: string[],
): Promise<Array<Pick<ProjectRow, 'id' | 'org_id' | 'owner_id' | 'deleted_at' | 'integrations'>>> {
  return db
    .selectFrom('projects')
    .select(['id', 'org_id', 'owner_id', 'deleted_at', 'integrations'])
    .where('id', 'in', ids)
    .execute();
}

/**
 * Compare-and-set move of live projects from the source (null: a personal account) to the
 * destination. Answers how many moved: fewer than asked means another change won.
 */
export async function moveProjects(
  db: Kysely<Database>,
  ids: string[],
  sourceOrgId: string | null,
  destId: string,
  at: string,
): Promise<number> {
  const moved = await db
    .updateTable('projects')
    .set({ org_id: destId, updated_at: at })
    .where('id', 'in', ids)
    .where((eb) => (sourceOrgId === null ? eb('org_id', 'is', null) : eb('org_id', '=', sourceOrgId)))
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return Number(moved.numUpdatedRows);
}

/** Live (not deleted) projects of an organization: what plan limits count. */
export async function countLiveProjects(db: Kysely<Database>, orgId: string): Promise<number> {
  const r = await db
    .selectFrom('projects')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('org_id', '=', orgId)
    .where('deleted_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

function likePattern(s: string): string {
  return `%${s.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The columns a project list item is presented from (src/projects/projects.presenter.ts). */
export const LIST_COLUMNS = [
  'p.id',
  'p.org_id',
  'p.owner_id',
  'p.name',
  'p.region_id',
  'p.pg_version',
  'p.provisioner',
  'p.store_passwords',
  'p.history_retention_seconds',
  'p.settings',
  'p.default_endpoint_settings',
  'p.creation_source',
  'p.integrations',
  'p.created_at',
  'p.updated_at',
  'p.deleted_at',
] as const;
/** A whole project row with its organization's name. */
export type ProjectWithOrgName = ProjectRow & { org_name: string | null };

export type ProjectListRow = Pick<
  ProjectRow,
  | 'id'
  | 'org_id'
  | 'owner_id'
  | 'name'
  | 'region_id'
  | 'pg_version'
  | 'provisioner'
  | 'store_passwords'
  | 'history_retention_seconds'
  | 'settings'
  | 'default_endpoint_settings'
  | 'creation_source'
  | 'integrations'
  | 'created_at'
  | 'updated_at'
  | 'deleted_at'
> & { org_name: string | null };

// Shape "live|recoverable all|one everyone|shared any|search first|after limit"; arguments in that
// order: orgId, then the recovery cutoff, the only project id, the grantee's user id, the search
// pattern and the cursor, when used.
// LIMIT is a literal (SQLite plans a bound LIMIT again on every run).
const projectsPage = preparedQuery((db, shape, ...args: string[]) => {
  const [deleted, only, shared, search, from, limit] = shape.split(' ');
  let i = 0;
  const next = () => args[i++] as string;
  let q = db
    .selectFrom('projects as p')
    .leftJoin('organizations as o', 'o.id', 'p.org_id')
    .select(LIST_COLUMNS)
    .select('o.name as org_name')
    .where('p.org_id', '=', next());
  q =
    deleted === 'live'
      ? q.where('p.deleted_at', 'is', null)
      : q.where('p.deleted_at', 'is not', null).where('p.deleted_at', '>', next());
  if (only === 'one') q = q.where('p.id', '=', next());
  if (shared === 'shared') {
    const userId = next();
    // Only projects this user holds a live grant on (a collaborator's view of the organization).
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('project_permissions as pp')
          .innerJoin('users as u', 'u.email_lower', 'pp.email_lower')
          .select('pp.id')
          .whereRef('pp.project_id', '=', 'p.id')
          .where('u.id', '=', userId)
          .where('pp.revoked_at', 'is', null),
      ),
    );
  }
  if (search === 'search') {
    const pattern = next();
    q = q.where((eb) =>
      eb.or([
        sql<boolean>`lower(p.name) like ${pattern} escape '\\'`,
        sql<boolean>`lower(p.id) like ${pattern} escape '\\'`,
      ]),
    );
  }
  if (from === 'after') {
    const [createdAt, id] = [next(), next()];
    q = q.where(sql<boolean>`(p.created_at, p.id) < (${createdAt}, ${id})`);
  }
  return q
    .orderBy('p.created_at', 'desc')
    .orderBy('p.id', 'desc')
    .limit(sql.lit(Number(limit)));
});

/**
 * One page of an organization's projects, newest first, keyset on (created_at, id).
 * `after` is the last project of the previous page (the cursor).
 */
export function listProjectsPage(
  db: Kysely<Database>,
  opts: {
    orgId: string;
    onlyProjectId?: string | undefined;
    /** Only projects this user holds a live grant on (a collaborator's view of the organization). */
    sharedWithUserId?: string | undefined;
    search?: string | undefined;
    /** true: only deleted projects deleted after this instant (still recoverable). */
    deletedSince?: string | undefined;
    after?: { created_at: string; id: string } | undefined;
    limit: number;
  },
): Promise<ProjectListRow[]> {
  const args = [opts.orgId];
  if (opts.deletedSince !== undefined) args.push(opts.deletedSince);
  if (opts.onlyProjectId !== undefined) args.push(opts.onlyProjectId);
  if (opts.sharedWithUserId !== undefined) args.push(opts.sharedWithUserId);
  if (opts.search) args.push(likePattern(opts.search));
  if (opts.after) args.push(opts.after.created_at, opts.after.id);
  const shape = [
    opts.deletedSince === undefined ? 'live' : 'recoverable',
    opts.onlyProjectId === undefined ? 'all' : 'one',
    opts.sharedWithUserId === undefined ? 'everyone' : 'shared',
    opts.search ? 'search' : 'any',
    opts.after ? 'after' : 'first',
    Math.trunc(opts.limit),
  ].join(' ');
  return projectsPage(db, shape, ...args);
}

export async function setIntegrations(db: Kysely<Database>, id: string, json: string): Promise<boolean> {
  const r = await db
    .updateTable('projects')
    .set({ integrations: json })
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/**
 * A transfer ends the project grants that the source organization's principals made: its keys
 * (granted_by null: an organization or project key granted it) and its members at the time of
 * the move. Here rather than in the sharing repository: transfers own this write, and sharing
 * already reads projects (no import loop). Returns the ended grants' ids.
 */
export async function endGrantsOfSourceOrg(
  db: Kysely<Database>,
  projectIds: string[],
  sourceOrgId: string,
  at: string,
): Promise<string[]> {
  if (projectIds.length === 0) return [];
  const rows = await db
    .selectFrom('project_permissions')
    .select('id')
    .where('project_id', 'in', projectIds)
    .where('revoked_at', 'is', null)
    .where((eb) =>
      eb.or([
        eb('granted_by', 'is', null),
        eb('granted_by', 'in', eb.selectFrom('members').select('user_id').where('org_id', '=', sourceOrgId)),
      ]),
    )
    .orderBy('id')
    .execute();
  const ids = rows.map((r) => r.id);
  if (ids.length > 0) {
    await db
      .updateTable('project_permissions')
      .set({ revoked_at: at, signup_token_hash: null })
      .where('id', 'in', ids)
      .execute();
  }
  return ids;
}

/** Which of these projects the user holds a live grant on (a grant: sharing/, read here for listings). */
export async function liveGrantProjectIds(
  db: Kysely<Database>,
  userId: string,
  projectIds: string[],
): Promise<Set<string>> {
  if (projectIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('project_permissions as pp')
    .innerJoin('users as u', 'u.email_lower', 'pp.email_lower')
    .select('pp.project_id')
    .where('u.id', '=', userId)
    .where('pp.project_id', 'in', projectIds)
    .where('pp.revoked_at', 'is', null)
    .execute();
  return new Set(rows.map((r) => r.project_id));
}
