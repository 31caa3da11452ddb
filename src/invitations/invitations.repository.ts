// SQL for invitations. Executor first: the caller owns the transaction.
import { sql, type Kysely } from 'kysely';
import { preparedQuery } from '../db/prepared.ts';
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

/** Ends an invitation: its link stops working, and an email not yet sent is not sent. */
export async function markRevoked(
  db: Kysely<Database>,
  id: string,
  set: { revoked_at: string; email_status: InvitationRow['email_status']; updated_at: string },
): Promise<void> {
  await db
    .updateTable('invitations')
    .set({
      status: 'revoked',
      revoked_at: set.revoked_at,
      token_hash: null,
      email_status: set.email_status,
      updated_at: set.updated_at,
    })
    .where('id', '=', id)
    .execute();
}

/** Makes an invitation pending again with a new link and expiry (resend). */
export async function renewInvitation(
  db: Kysely<Database>,
  id: string,
  set: { expires_at: string; token_hash: string | null; updated_at: string },
): Promise<void> {
  await db
    .updateTable('invitations')
    .set({
      status: 'pending',
      expires_at: set.expires_at,
      token_hash: set.token_hash,
      email_status: 'pending',
      updated_at: set.updated_at,
    })
    .where('id', '=', id)
    .execute();
}

/** Marks a pending invitation accepted by a user. False when it is no longer pending. */
export async function markAccepted(
  db: Kysely<Database>,
  id: string,
  userId: string,
  now: string,
): Promise<boolean> {
  const r = await db
    .updateTable('invitations')
    .set({
      status: 'accepted',
      accepted_at: now,
      accepted_user_id: userId,
      token_hash: null,
      updated_at: now,
    })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
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
// The statuses are literals: the partial index on pending invitations is chosen when the SQL is
// prepared, and a bound constant would make SQLite plan the statement again on every run.
const expireQuery = preparedQuery((db, _shape, orgId: string, now: string) =>
  db
    .updateTable('invitations')
    .set({ status: sql.lit('expired'), updated_at: now })
    .where('org_id', '=', orgId)
    .where('status', '=', sql.lit('pending'))
    .where('expires_at', '<=', now)
    .returning('id'),
);

export async function expireStale(db: Kysely<Database>, orgId: string, now: string): Promise<void> {
  await expireQuery(db, '', orgId, now);
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
    .where('status', '=', sql.lit('pending'))
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

const minuteOf = (iso: string) => iso.slice(0, 16);

const sendsSince = preparedQuery((db, _shape, orgId: string, since: string) =>
  db
    .selectFrom('invitation_sends')
    .select(['minute', 'n'])
    .where('org_id', '=', orgId)
    .where('minute', '>=', since)
    .orderBy('minute'),
);

/**
 * Invitation emails the organization queued in the last hour (whole minutes: a minute that began
 * within the hour counts in full), and when the oldest of those minutes began.
 */
export async function invitationSendsInLastHour(
  db: Kysely<Database>,
  orgId: string,
  now: number,
): Promise<{ n: number; oldestMinute: string | undefined }> {
  const rows = await sendsSince(db, '', orgId, minuteOf(new Date(now - 3600_000).toISOString()));
  let n = 0;
  for (const r of rows) n += Number(r.n);
  return { n, oldestMinute: rows[0]?.minute };
}

const sendsUpsert = preparedQuery((db, _shape, orgId: string, minute: string, n: number) =>
  db
    .insertInto('invitation_sends')
    .values({ org_id: orgId, minute, n })
    .onConflict((oc) =>
      oc
        .columns(['org_id', 'minute'])
        .doUpdateSet((eb) => ({ n: eb('invitation_sends.n', '+', eb.ref('excluded.n')) })),
    )
    .returning('n'),
);

const sendsCleanup = preparedQuery((db, _shape, orgId: string, before: string) =>
  db
    .deleteFrom('invitation_sends')
    .where('org_id', '=', orgId)
    .where('minute', '<', before)
    .returning('minute'),
);

/** Counts n invitation emails queued now, in the caller's transaction. */
export async function recordInvitationSends(
  db: Kysely<Database>,
  orgId: string,
  n: number,
  now: number,
): Promise<void> {
  await sendsUpsert(db, '', orgId, minuteOf(new Date(now).toISOString()), n);
}

/** Forgets the organization's minutes older than the hour (they no longer count). */
export async function forgetOldInvitationSends(
  db: Kysely<Database>,
  orgId: string,
  now: number,
): Promise<void> {
  await sendsCleanup(db, '', orgId, minuteOf(new Date(now - 3600_000).toISOString()));
}
