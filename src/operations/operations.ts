// Compute work as Neon's operations, all or nothing: the control-plane records and a 'running'
// operation are written first (one transaction, under the project's row lock), then the engine
// works, then the operation is settled. A failure undoes what was written; a crash leaves a
// 'running' operation that start-up reconciliation (src/branches/reconcile.ts) redoes or undoes
// by its kind. No Fastify here.
import type { Transaction } from 'kysely';
import type { Db } from '../db/connect.ts';
import { withTransaction } from '../db/connect.ts';
import type { Database, ProjectOperationRow } from '../db/schema.ts';
import { AppError } from '../domain/errors.ts';
import { newUuid } from '../domain/ids.ts';
import { nowIso } from '../domain/time.ts';
import {
  firstRunningOperation,
  insertOperations,
  lockProjectRow,
  settleOperations,
} from '../projects/operations.repository.ts';

export interface PlannedOperation {
  /** Neon's OperationAction. */
  action: string;
  branch_id: string | null;
  endpoint_id?: string | null;
}

export interface OperationPlan<T> {
  value: T;
  operations: PlannedOperation[];
  /** What a restart does with a running operation (reconcile.ts); detail: its JSON arguments. */
  kind: string;
  detail?: Record<string, unknown>;
}

export type Trx = Transaction<Database>;

/** Takes the project's row lock and refuses while another compute operation runs (Neon: 423). */
export async function lockProjectForOperation(trx: Trx, projectId: string): Promise<void> {
  await lockProjectRow(trx, projectId);
  const busy = await firstRunningOperation(trx, projectId);
  if (busy) {
    throw new AppError(
      'LOCKED',
      `project ${projectId} already has running operations (operation ${busy.id}); try again when it has finished`,
    );
  }
}

export function operationRows(
  projectId: string,
  planned: PlannedOperation[],
  status: string,
  now: string,
  kind: string | null = null,
  detail: string | null = null,
): ProjectOperationRow[] {
  return planned.map((o) => ({
    id: newUuid(),
    project_id: projectId,
    branch_id: o.branch_id,
    endpoint_id: o.endpoint_id ?? null,
    action: o.action,
    status,
    created_at: now,
    updated_at: now,
    error: null,
    failures_count: 0,
    kind,
    detail,
  }));
}

export function engineFailure(err: unknown, what: string): AppError {
  if (err instanceof AppError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new AppError('UNAVAILABLE', `${what} failed in the compute engine: ${msg}; nothing was changed`);
}

/**
 * Runs one compute operation: prepare (records + running operations, in a transaction under the
 * project's lock) → work (the engine) → commit (records that follow the engine, operations
 * finished). On a failure of work: undo (records) and the operations are marked failed.
 */
export async function runOperation<T>(
  db: Db,
  projectId: string,
  steps: {
    prepare: (trx: Trx, now: string) => Promise<OperationPlan<T>>;
    work: (value: T) => Promise<void>;
    commit?: (trx: Trx, value: T, now: string) => Promise<void>;
    undo?: (trx: Trx, value: T) => Promise<void>;
    /** Best effort after a failed work (e.g. remove half-made data). */
    undoEngine?: (value: T) => Promise<void>;
    what: string;
  },
): Promise<{ value: T; operations: ProjectOperationRow[] }> {
  const { value, ops } = await withTransaction(db, async (trx) => {
    await lockProjectForOperation(trx, projectId);
    const now = nowIso();
    const plan = await steps.prepare(trx, now);
    const rows = operationRows(
      projectId,
      plan.operations,
      'running',
      now,
      plan.kind,
      plan.detail ? JSON.stringify(plan.detail) : null,
    );
    await insertOperations(trx, rows);
    return { value: plan.value, ops: rows };
  });
  const ids = ops.map((o) => o.id);
  try {
    await steps.work(value);
  } catch (err) {
    const failure = engineFailure(err, steps.what);
    if (steps.undoEngine) await steps.undoEngine(value).catch(() => undefined);
    await withTransaction(db, async (trx) => {
      if (steps.undo) await steps.undo(trx, value);
      await settleOperations(trx, ids, 'failed', nowIso(), failure.message);
    });
    throw failure;
  }
  const done = nowIso();
  await withTransaction(db, async (trx) => {
    if (steps.commit) await steps.commit(trx, value, done);
    await settleOperations(trx, ids, 'finished', done);
  });
  return { value, operations: ops.map((o) => ({ ...o, status: 'finished', updated_at: done })) };
}
