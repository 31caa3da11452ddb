// SQL for a project's operations (the project_operations table). Executor first: the caller owns the
// transaction.
import { sql, type Kysely } from 'kysely';
import type { Database, ProjectOperationRow } from '../db/schema.ts';

type K = Kysely<Database>;

export async function insertOperations(db: K, ops: ProjectOperationRow[]): Promise<void> {
  if (ops.length > 0) await db.insertInto('project_operations').values(ops).execute();
}

/** Marks operations finished or failed (with the reason). */
export async function settleOperations(
  db: K,
  ids: string[],
  status: 'finished' | 'failed',
  now: string,
  error: string | null = null,
): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('project_operations')
    .set((eb) => ({
      status,
      updated_at: now,
      error,
      failures_count: status === 'failed' ? eb('failures_count', '+', 1) : eb.ref('failures_count'),
    }))
    .where('id', 'in', ids)
    .execute();
}

/** Operations still running: work a crash may have interrupted (reconciled at start). */
export function runningOperations(db: K): Promise<ProjectOperationRow[]> {
  return db
    .selectFrom('project_operations')
    .selectAll()
    .where('status', 'in', ['running', 'scheduling'])
    .orderBy('created_at')
    .execute();
}

/** One page, newest first; cursor = the last operation's id of the previous page. */
export async function listOperationsPage(
  db: K,
  projectId: string,
  limit: number,
  after?: { created_at: string; id: string },
): Promise<ProjectOperationRow[]> {
  let q = db.selectFrom('project_operations').selectAll().where('project_id', '=', projectId);
  if (after) {
    q = q.where((eb) =>
      eb.or([
        eb('created_at', '<', after.created_at),
        eb.and([eb('created_at', '=', after.created_at), eb('id', '<', after.id)]),
      ]),
    );
  }
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
}

export function findOperation(
  db: K,
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

/** Takes the project's row lock for the rest of the transaction (a no-op update). */
export async function lockProjectRow(db: K, projectId: string): Promise<void> {
  await sql`update projects set updated_at = updated_at where id = ${projectId}`.execute(db);
}

/** One operation of the project still running, if any. */
export function firstRunningOperation(db: K, projectId: string): Promise<{ id: string } | undefined> {
  return db
    .selectFrom('project_operations')
    .select('id')
    .where('project_id', '=', projectId)
    .where('status', '=', 'running')
    .limit(1)
    .executeTakeFirst();
}
