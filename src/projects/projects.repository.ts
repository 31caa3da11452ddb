// SQL for projects and their operations. Executor first: the caller owns the transaction.
import { sql, type Kysely } from 'kysely';
import { preparedQuery } from '../db/prepared.ts';
import type { Database, NewProject, ProjectOperationRow, ProjectRow } from '../db/schema.ts';

export function findProject(db: Kysely<Database>, id: string): Promise<ProjectRow | undefined> {
  return db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function insertProject(db: Kysely<Database>, row: NewProject): Promise<ProjectRow> {
  return db.insertInto('projects').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function insertOperations(db: Kysely<Database>, ops: ProjectOperationRow[]): Promise<void> {
  if (ops.length > 0) await db.insertInto('project_operations').values(ops).execute();
}

export function findOperation(
  db: Kysely<Database>,
  projectId: string,
  operationId: string,
): Promise<ProjectOperationRow | undefined> {
  return db
    .selectFrom('project_operations')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('id', '=', operationId)
    .executeTakeFirst();
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

// Shape "live|recoverable all|one any|search first|after limit"; arguments in that order: orgId,
// then the recovery cutoff, the only project id, the search pattern and the cursor, when used.
// LIMIT is a literal (SQLite plans a bound LIMIT again on every run).
const projectsPage = preparedQuery((db, shape, ...args: string[]) => {
  const [deleted, only, search, from, limit] = shape.split(' ');
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
  if (opts.search) args.push(likePattern(opts.search));
  if (opts.after) args.push(opts.after.created_at, opts.after.id);
  const shape = [
    opts.deletedSince === undefined ? 'live' : 'recoverable',
    opts.onlyProjectId === undefined ? 'all' : 'one',
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
