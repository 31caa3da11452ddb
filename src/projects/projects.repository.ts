// SQL for projects and their operations. Executor first: the caller owns the transaction.
import { sql, type Kysely } from 'kysely';
import type { Database, NewProject, ProjectOperationRow, ProjectRow } from '../db/schema.ts';

export type ProjectWithOrgName = ProjectRow & { org_name: string | null };

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
): Promise<ProjectWithOrgName[]> {
  let q = db
    .selectFrom('projects as p')
    .leftJoin('organizations as o', 'o.id', 'p.org_id')
    .selectAll('p')
    .select('o.name as org_name')
    .where('p.org_id', '=', opts.orgId);
  q =
    opts.deletedSince === undefined
      ? q.where('p.deleted_at', 'is', null)
      : q.where('p.deleted_at', 'is not', null).where('p.deleted_at', '>', opts.deletedSince);
  if (opts.onlyProjectId !== undefined) q = q.where('p.id', '=', opts.onlyProjectId);
  const sharedWith = opts.sharedWithUserId;
  if (sharedWith !== undefined) {
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('project_permissions as pp')
          .innerJoin('users as u', 'u.email_lower', 'pp.email_lower')
          .select('pp.id')
          .whereRef('pp.project_id', '=', 'p.id')
          .where('u.id', '=', sharedWith)
          .where('pp.revoked_at', 'is', null),
      ),
    );
  }
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

export async function setIntegrations(db: Kysely<Database>, id: string, json: string): Promise<boolean> {
  const r = await db
    .updateTable('projects')
    .set({ integrations: json })
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
