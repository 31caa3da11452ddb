// SQL for project transfer requests. Executor first: the caller owns the transaction.
import type { Kysely } from 'kysely';
import type { Database, ProjectTransferRequestRow } from '../db/schema.ts';

export async function insertTransferRequest(
  db: Kysely<Database>,
  row: ProjectTransferRequestRow,
): Promise<ProjectTransferRequestRow> {
  return db.insertInto('project_transfer_requests').values(row).returningAll().executeTakeFirstOrThrow();
}

export function findTransferRequest(
  db: Kysely<Database>,
  id: string,
): Promise<ProjectTransferRequestRow | undefined> {
  return db.selectFrom('project_transfer_requests').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Marks a request used; false when it already was (another accept won). */
export async function markAccepted(
  db: Kysely<Database>,
  id: string,
  by: { at: string; userId: string; orgId: string },
): Promise<boolean> {
  const r = await db
    .updateTable('project_transfer_requests')
    .set({ accepted_at: by.at, accepted_by: by.userId, accepted_org_id: by.orgId })
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .where('cancelled_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Cancels a pending request; false when it was already accepted or cancelled. */
export async function markCancelled(
  db: Kysely<Database>,
  id: string,
  by: { at: string; userId: string },
): Promise<boolean> {
  const r = await db
    .updateTable('project_transfer_requests')
    .set({ cancelled_at: by.at, cancelled_by: by.userId })
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .where('cancelled_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
