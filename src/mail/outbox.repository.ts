// SQL for the transactional mail outbox. Executor first: enqueue runs inside the caller's
// transaction, so a message exists exactly when the business row it belongs to does.
import { sql, type Kysely } from 'kysely';
import type { Db } from '../db/connect.ts';
import { withTransaction } from '../db/connect.ts';
import type { Database, OutboxRow } from '../db/schema.ts';
import { newUuid } from '../domain/ids.ts';
import { nowIso } from '../domain/time.ts';

export interface OutgoingMessage {
  kind: string;
  recipient: string;
  subject: string;
  text: string;
  html: string;
  orgId?: string | undefined;
  invitationId?: string | undefined;
}

/** Writes one message; messageDomain names the Message-ID's right side (the public host). */
export async function enqueueMessage(
  db: Kysely<Database>,
  msg: OutgoingMessage,
  messageDomain: string,
): Promise<OutboxRow> {
  const id = newUuid();
  const now = nowIso();
  const row: OutboxRow = {
    id,
    kind: msg.kind,
    org_id: msg.orgId ?? null,
    invitation_id: msg.invitationId ?? null,
    recipient: msg.recipient,
    subject: msg.subject,
    text_body: msg.text,
    html_body: msg.html,
    message_id: `<${id}@${messageDomain}>`,
    status: 'pending',
    attempts: 0,
    permanent_failures: 0,
    next_attempt_at: now,
    locked_until: null,
    last_error: null,
    sent_at: null,
    created_at: now,
  };
  await db.insertInto('mail_outbox').values(row).execute();
  return row;
}

/** Pending messages of an invitation are cancelled when it is revoked or re-sent (their link is dead). */
export async function cancelPendingForInvitation(db: Kysely<Database>, invitationId: string): Promise<void> {
  await db
    .updateTable('mail_outbox')
    .set({ status: 'cancelled', locked_until: null })
    .where('invitation_id', '=', invitationId)
    .where('status', '=', sql.lit('pending'))
    .execute();
}

/**
 * Claims up to `limit` due messages for this sender: marks them 'sending' with a lease and commits
 * before any SMTP traffic, so no transaction is held open while talking to a mail server.
 * On PostgreSQL FOR UPDATE SKIP LOCKED lets several server processes claim disjoint rows; SQLite
 * has one writer. A row whose lease ran out (its sender crashed mid-send) is claimed again.
 */
export async function claimDue(
  db: Db,
  opts: { limit: number; leaseMs: number; ignoreBackoff: boolean },
): Promise<OutboxRow[]> {
  return withTransaction(db, async (trx) => {
    const now = nowIso();
    let q = trx
      .selectFrom('mail_outbox')
      .select('id')
      .where((eb) =>
        eb.or([
          opts.ignoreBackoff
            ? eb('status', '=', sql.lit('pending'))
            : eb.and([eb('status', '=', sql.lit('pending')), eb('next_attempt_at', '<=', now)]),
          eb.and([eb('status', '=', sql.lit('sending')), eb('locked_until', '<=', now)]),
        ]),
      )
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(sql.lit(Math.trunc(opts.limit)));
    if (db.dialect === 'postgres') q = q.forUpdate().skipLocked();
    const ids = (await q.execute()).map((r) => r.id);
    if (ids.length === 0) return [];
    return (
      trx
        .updateTable('mail_outbox')
        .set((eb) => ({
          status: 'sending',
          locked_until: new Date(Date.now() + opts.leaseMs).toISOString(),
          attempts: eb('attempts', '+', 1),
        }))
        .where('id', 'in', ids)
        // Re-checked on the locked row: a row another sender claimed meanwhile is not claimed twice.
        .where((eb) =>
          eb.or([
            eb('status', '=', sql.lit('pending')),
            eb.and([eb('status', '=', sql.lit('sending')), eb('locked_until', '<=', now)]),
          ]),
        )
        .returningAll()
        .execute()
    );
  });
}

// Once delivered, the stored copy no longer needs the join link's secret.
const TOKEN_IN_LINK = /([?&]token=)[A-Za-z0-9_-]+/g;
export const scrubTokens = (s: string): string => s.replace(TOKEN_IN_LINK, '$1(removed-after-delivery)');

export async function markSent(db: Kysely<Database>, row: OutboxRow): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const r = await trx
      .updateTable('mail_outbox')
      .set({
        status: 'sent',
        sent_at: nowIso(),
        locked_until: null,
        last_error: null,
        text_body: scrubTokens(row.text_body),
        html_body: scrubTokens(row.html_body),
      })
      .where('id', '=', row.id)
      .where('status', '=', sql.lit('sending'))
      .executeTakeFirst();
    if (row.invitation_id && Number(r.numUpdatedRows) === 1) {
      await trx
        .updateTable('invitations')
        .set({ email_status: 'sent' })
        .where('id', '=', row.invitation_id)
        .where('email_status', '=', sql.lit('pending'))
        .execute();
    }
  });
}

export async function markFailed(
  db: Kysely<Database>,
  row: OutboxRow,
  opts: { error: string; permanent: boolean; dead: boolean; nextAttemptAt: string },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('mail_outbox')
      .set((eb) => ({
        status: opts.dead ? 'dead' : 'pending',
        locked_until: null,
        last_error: opts.error.slice(0, 1000),
        next_attempt_at: opts.nextAttemptAt,
        permanent_failures: opts.permanent ? eb('permanent_failures', '+', 1) : eb.ref('permanent_failures'),
      }))
      .where('id', '=', row.id)
      .where('status', '=', sql.lit('sending'))
      .execute();
    if (opts.dead && row.invitation_id) {
      await trx
        .updateTable('invitations')
        .set({ email_status: 'failed' })
        .where('id', '=', row.invitation_id)
        .execute();
    }
  });
}

export function listMessages(db: Kysely<Database>, limit: number): Promise<OutboxRow[]> {
  return db
    .selectFrom('mail_outbox')
    .selectAll()
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}

export function findMessage(db: Kysely<Database>, id: string): Promise<OutboxRow | undefined> {
  return db.selectFrom('mail_outbox').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The latest message of each invitation that has not been delivered (pending, sending or dead). */
export async function undeliveredForInvitations(
  db: Kysely<Database>,
  invitationIds: readonly string[],
): Promise<Map<string, OutboxRow>> {
  if (invitationIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('mail_outbox')
    .selectAll()
    .where('invitation_id', 'in', invitationIds)
    .where('status', 'in', ['pending', 'sending', 'dead'])
    .orderBy('created_at')
    .execute();
  const out = new Map<string, OutboxRow>();
  for (const r of rows) if (r.invitation_id) out.set(r.invitation_id, r);
  return out;
}
