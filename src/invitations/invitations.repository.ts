// SQL for invitations. Executor first: the caller owns the transaction.
import type { Kysely } from 'kysely';
import type { Database, InvitationRow } from '../db/schema.ts';

export async function insertInvitation(db: Kysely<Database>, row: InvitationRow): Promise<void> {
  await db.insertInto('invitations').values(row).execute();
}

export function findInvitation(
  db: Kysely<Database>,
  orgId: string,
  id: string,
): Promise<InvitationRow | undefined> {
  return db
    .selectFrom('invitations')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export function findInvitationByTokenHash(
  db: Kysely<Database>,
  tokenHash: string,
): Promise<InvitationRow | undefined> {
  return db.selectFrom('invitations').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

/**
 * Records expiry of the organization's stale pending invitations, freeing their addresses for a new
 * one. The token hash stays so the join page can say "expired" rather than "unknown link".
 */
export async function expireStale(db: Kysely<Database>, orgId: string, now: string): Promise<void> {
  await db
    .updateTable('invitations')
    .set({ status: 'expired', updated_at: now })
    .where('org_id', '=', orgId)
    .where('status', '=', 'pending')
    .where('expires_at', '<=', now)
    .execute();
}

export function findPendingByEmails(
  db: Kysely<Database>,
  orgId: string,
  emailsLower: string[],
): Promise<Array<{ email: string }>> {
  if (emailsLower.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('invitations')
    .select('email')
    .where('org_id', '=', orgId)
    .where('status', '=', 'pending')
    .where('email_lower', 'in', emailsLower)
    .execute();
}

export function findMembersByEmails(
  db: Kysely<Database>,
  orgId: string,
  emailsLower: string[],
): Promise<Array<{ email: string }>> {
  if (emailsLower.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('members')
    .select('email')
    .where('org_id', '=', orgId)
    .where('email', 'in', emailsLower)
    .execute();
}

export function listInvitations(
  db: Kysely<Database>,
  orgId: string,
  opts: { includeInactive: boolean; now: string },
): Promise<InvitationRow[]> {
  let q = db.selectFrom('invitations').selectAll().where('org_id', '=', orgId);
  if (!opts.includeInactive) {
    q = q.where((eb) =>
      eb.or([
        eb('status', '=', 'accepted'),
        eb.and([eb('status', '=', 'pending'), eb('expires_at', '>', opts.now)]),
      ]),
    );
  }
  return q.orderBy('invited_at', 'desc').orderBy('id', 'desc').execute();
}
