// SQL for the audit log. Appends run inside the caller's transaction (the change and its event
// commit together) and serialize per chain on the chain's head row: the UPDATE that takes the next
// sequence number holds that row's lock until commit (PostgreSQL), so two writers of one chain
// queue; SQLite transactions never interleave. Writers to an organization's chain already hold the
// organization's lock (lockOrganization), always taken first, so the two locks cannot deadlock.
import { PostgresAdapter, sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { newUuid } from '../domain/ids.ts';
import { nowIso } from '../domain/time.ts';
import {
  chainOf,
  eventHash,
  GENESIS_HASH,
  scrub,
  type Actor,
  type AuditEvent,
  type NewAuditEvent,
} from './audit.ts';

type Row = Database['audit_events'];

function toEvent(r: Row): AuditEvent {
  return {
    id: r.id,
    chain: r.chain,
    seq: Number(r.seq),
    at: r.at,
    org_id: r.org_id,
    action: r.action,
    actor: JSON.parse(r.actor) as Actor,
    target: { type: r.target_type, id: r.target_id },
    request_id: r.request_id,
    client_addr: r.client_addr,
    outcome: r.outcome,
    status: Number(r.status),
    changes: JSON.parse(r.changes) as Record<string, unknown>,
    prev_hash: r.prev_hash,
    hash: r.hash,
  };
}

/** Takes the chain's next position under its head row's lock (creating the head on first use). */
async function nextPosition(db: Kysely<Database>, chain: string): Promise<{ seq: number; prev: string }> {
  for (;;) {
    const moved = await db
      .updateTable('audit_chains')
      .set((eb) => ({ seq: eb('seq', '+', 1) }))
      .where('chain', '=', chain)
      .returning(['seq', 'head_hash'])
      .executeTakeFirst();
    if (moved) return { seq: Number(moved.seq), prev: moved.head_hash };
    const created = await db
      .insertInto('audit_chains')
      .values({ chain, seq: 1, head_hash: GENESIS_HASH, anchor_seq: 0, anchor_hash: GENESIS_HASH })
      .onConflict((oc) => oc.column('chain').doNothing())
      .executeTakeFirst();
    if (Number(created.numInsertedOrUpdatedRows ?? 0) === 1) return { seq: 1, prev: GENESIS_HASH };
    // Another transaction created it meanwhile: take the next position behind it.
  }
}

/**
 * Appends one event to its chain. Call it inside the transaction that makes the change, as its
 * last write; the event then exists if and only if the change does.
 */
export async function appendAuditEvent(db: Kysely<Database>, input: NewAuditEvent): Promise<AuditEvent> {
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  let actor = input.actor;
  const needEmail = actor.type === 'user' && actor.email === undefined;
  const chain = chainOf(input);
  let position: { seq: number; prev: string } | undefined;
  if (pg && needEmail) {
    // One round trip for the next position and the actor's email (every round trip is held
    // under the organization's lock).
    const r = await sql<{ seq: number; head_hash: string; email: string | null }>`
      with head as (
        update audit_chains set seq = seq + 1 where chain = ${chain} returning seq, head_hash
      )
      select head.seq, head.head_hash, (select email from users where id = ${actor.id}) as email from head`.execute(
      db,
    );
    const row = r.rows[0];
    if (row) {
      position = { seq: Number(row.seq), prev: row.head_hash };
      actor = { ...actor, email: row.email } as typeof actor;
    }
  }
  if (actor.type === 'user' && actor.email === undefined) {
    const u = await db.selectFrom('users').select('email').where('id', '=', actor.id).executeTakeFirst();
    actor = { ...actor, email: u?.email ?? null };
  }
  const { seq, prev } = position ?? (await nextPosition(db, chain));
  const body: Omit<AuditEvent, 'hash'> = {
    id: newUuid(),
    chain,
    seq,
    at: nowIso(),
    org_id: input.org_id,
    action: input.action,
    actor,
    target: input.target,
    request_id: input.request_id,
    client_addr: input.client_addr,
    outcome: input.outcome,
    status: input.status,
    changes: scrub(input.changes) as Record<string, unknown>,
    prev_hash: prev,
  };
  const event: AuditEvent = { ...body, hash: eventHash(body) };
  const insert = db.insertInto('audit_events').values({
    id: event.id,
    chain,
    seq,
    at: event.at,
    org_id: event.org_id,
    action: event.action,
    actor_id: actor.id,
    actor_email: actor.type === 'user' ? (actor.email?.toLowerCase() ?? null) : null,
    actor: JSON.stringify(actor),
    target_type: event.target.type,
    target_id: event.target.id,
    request_id: event.request_id,
    client_addr: event.client_addr,
    outcome: event.outcome,
    status: event.status,
    changes: JSON.stringify(event.changes),
    prev_hash: prev,
    hash: event.hash,
  });
  if (pg) {
    // PostgreSQL: the event and the new head in one statement.
    await db
      .with('ins', () => insert.returning('hash'))
      .updateTable('audit_chains')
      .set({ head_hash: event.hash })
      .where('chain', '=', chain)
      .execute();
  } else {
    await insert.execute();
    await db.updateTable('audit_chains').set({ head_hash: event.hash }).where('chain', '=', chain).execute();
  }
  return event;
}

export interface AuditFilter {
  action?: string | undefined;
  /** A user id, an email, or an API key id. */
  actor?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  /** Only events before this sequence number (the cursor). */
  beforeSeq?: number | undefined;
}

/** A chain's events, newest first; limit + 1 rows are read to tell whether more follow. */
export async function listAuditEvents(
  db: Kysely<Database>,
  chain: string,
  f: AuditFilter,
  limit: number,
): Promise<AuditEvent[]> {
  let q = db.selectFrom('audit_events').selectAll().where('chain', '=', chain);
  if (f.action !== undefined) q = q.where('action', '=', f.action);
  if (f.actor !== undefined) {
    const a = f.actor;
    q = q.where((eb) => eb.or([eb('actor_id', '=', a), eb('actor_email', '=', a.toLowerCase())]));
  }
  if (f.since !== undefined) q = q.where('at', '>=', f.since);
  if (f.until !== undefined) q = q.where('at', '<', f.until);
  if (f.beforeSeq !== undefined) q = q.where('seq', '<', f.beforeSeq);
  const rows = await q
    .orderBy('seq', 'desc')
    .limit(limit + 1)
    .execute();
  return rows.map(toEvent);
}

export async function listChains(db: Kysely<Database>): Promise<Database['audit_chains'][]> {
  return db.selectFrom('audit_chains').selectAll().orderBy('chain').execute();
}

/** Every event of a chain (or of all chains), oldest first, in pages (export and verification). */
export async function* scanAuditEvents(
  db: Kysely<Database>,
  chain: string,
  pageSize = 1000,
): AsyncGenerator<AuditEvent> {
  let after = -1;
  for (;;) {
    const rows = await db
      .selectFrom('audit_events')
      .selectAll()
      .where('chain', '=', chain)
      .where('seq', '>', after)
      .orderBy('seq')
      .limit(pageSize)
      .execute();
    for (const r of rows) yield toEvent(r);
    if (rows.length < pageSize) return;
    after = Number(rows[rows.length - 1]?.seq);
  }
}

export type VerifyResult =
  | { ok: true; chain: string; events: number }
  | { ok: false; chain: string; events: number; eventId: string | null; seq: number; problem: string };

/** Walks a chain from its anchor: every position present, every link and hash intact, head matching. */
export async function verifyChain(db: Kysely<Database>, chain: string): Promise<VerifyResult> {
  const head = await db.selectFrom('audit_chains').selectAll().where('chain', '=', chain).executeTakeFirst();
  if (!head) return { ok: true, chain, events: 0 };
  let prevHash = head.anchor_hash;
  let expect = Number(head.anchor_seq) + 1;
  let n = 0;
  let last: AuditEvent | undefined;
  for await (const e of scanAuditEvents(db, chain)) {
    n++;
    const bad = (problem: string): VerifyResult => ({
      ok: false,
      chain,
      events: n,
      eventId: e.id,
      seq: e.seq,
      problem,
    });
    if (e.seq < expect) return bad(`sequence ${e.seq} is at or before the retention anchor (${expect - 1})`);
    if (e.seq > expect) {
      return bad(`the event${e.seq - expect > 1 ? 's' : ''} at sequence ${expect}..${e.seq - 1} are missing`);
    }
    if (e.prev_hash !== prevHash)
      return bad('prev_hash does not match the previous event (removed or reordered)');
    const { hash, ...body } = e;
    if (eventHash(body) !== hash) return bad('its content does not match its hash (edited)');
    prevHash = hash;
    expect++;
    last = e;
  }
  if (Number(head.seq) !== expect - 1 || head.head_hash !== prevHash) {
    return {
      ok: false,
      chain,
      events: n,
      eventId: last?.id ?? null,
      seq: expect - 1,
      problem: `the chain head is at sequence ${head.seq} but the log ends at ${expect - 1} (events after it were removed)`,
    };
  }
  return { ok: true, chain, events: n };
}

/**
 * Removes a chain's events older than `before`, keeping the chain verifiable: the last removed
 * event's position and hash become the chain's anchor. Runs under the head row's lock.
 */
export async function pruneChain(db: Kysely<Database>, chain: string, before: string): Promise<number> {
  // Lock the head first (a no-op update), so no append interleaves with the anchor move.
  const locked = await db
    .updateTable('audit_chains')
    .set((eb) => ({ seq: eb.ref('seq') }))
    .where('chain', '=', chain)
    .executeTakeFirst();
  if (Number(locked.numUpdatedRows) !== 1) return 0;
  const last = await db
    .selectFrom('audit_events')
    .select(['seq', 'hash'])
    .where('chain', '=', chain)
    .where('at', '<', before)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!last) return 0;
  const r = await db
    .deleteFrom('audit_events')
    .where('chain', '=', chain)
    .where('seq', '<=', last.seq)
    .executeTakeFirst();
  await db
    .updateTable('audit_chains')
    .set({ anchor_seq: last.seq, anchor_hash: last.hash })
    .where('chain', '=', chain)
    .execute();
  return Number(r.numDeletedRows);
}
