// SQL for the audit log. Appends run inside the caller's transaction (the change and its event
// commit together) and serialize per chain on the chain's head row: the UPDATE that takes the next
// sequence number holds that row's lock until commit (PostgreSQL), so two writers of one chain
// queue; SQLite transactions never interleave. Writers to an organization's chain already hold the
// organization's lock (lockOrganization), always taken first, so the two locks cannot deadlock.
import { PostgresAdapter, sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/schema.ts';
import { SERVER_PREPARED } from '../db/server-prepared.ts';
import { newUuid } from '../domain/ids.ts';
import { nowIso } from '../domain/time.ts';
import {
  canonicalJson,
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
 * PostgreSQL: the whole append in one statement (one round trip, under the head row's lock, which
 * it takes): read the chain head, take the next position, compute the event's hash, insert the
 * event and move the head, and read the acting user's email when the actor needs it. The hash is
 * the same SHA-256 over the same canonical JSON as eventHash (verification is unchanged): the JSON
 * is built here with markers where the position, the previous hash and the email go, and PostgreSQL
 * puts their JSON text in their place (to_json, whose escaping matches JSON.stringify for text and
 * integers). Answers undefined when the chain has no head row yet (its first event).
 */
async function appendInOneStatement(
  db: Kysely<Database>,
  chain: string,
  event: Omit<AuditEvent, 'seq' | 'prev_hash' | 'hash'>,
  needEmail: boolean,
): Promise<AuditEvent | undefined> {
  const tag = newUuid();
  const PREV = `@orgplane-prev-${tag}@`;
  const SEQ = `@orgplane-seq-${tag}@`;
  const EMAIL = `@orgplane-email-${tag}@`;
  const actor = needEmail ? ({ ...event.actor, email: EMAIL } as Actor) : event.actor;
  const changes = scrub(event.changes) as Record<string, unknown>;
  const marked = { ...event, actor, changes, seq: SEQ as unknown as number, prev_hash: PREV };
  const json = {
    [`"${PREV}"`]: sql`to_json(cur.head_hash)::text`,
    [`"${SEQ}"`]: sql`(cur.seq + 1)::text`,
    [`"${EMAIL}"`]: sql`coalesce(to_json(who.email)::text, 'null')`,
  };
  /** text with each quoted marker replaced by its SQL expression, as one SQL text expression. */
  const filled = (text: string) => {
    const parts: RawBuilder<unknown>[] = [];
    const re = new RegExp(
      Object.keys(json)
        .map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('|'),
      'g',
    );
    let last = 0;
    for (const m of text.matchAll(re)) {
      parts.push(sql`${text.slice(last, m.index)}::text`, json[m[0]] as RawBuilder<unknown>);
      last = m.index + m[0].length;
    }
    parts.push(sql`${text.slice(last)}::text`);
    return sql.join(parts, sql` || `);
  };
  const actorId = event.actor.id;
  const knownEmail =
    event.actor.type === 'user' && !needEmail ? (event.actor.email?.toLowerCase() ?? null) : null;
  // A fixed text for each needEmail (the values are parameters): prepared once per connection.
  const r = await sql<{
    seq: number;
    prev: string;
    hash: string;
    email: string | null;
  }>`${sql.raw(SERVER_PREPARED)}
    with cur as (select seq, head_hash from audit_chains where chain = ${chain} for update),
    who as (select ${needEmail ? sql`(select email from users where id = ${actorId})` : sql`null::text`} as email),
    nxt as (
      select cur.seq + 1 as seq, cur.head_hash as prev, who.email as email,
        encode(sha256(convert_to(cur.head_hash || ${filled(canonicalJson(marked))}, 'UTF8')), 'hex') as hash,
        ${filled(JSON.stringify(actor))} as actor
      from cur, who
    ),
    up as (
      update audit_chains c set seq = nxt.seq, head_hash = nxt.hash from nxt where c.chain = ${chain}
    ),
    ins as (
      insert into audit_events (id, chain, seq, at, org_id, action, actor_id, actor_email, actor,
        target_type, target_id, request_id, client_addr, outcome, status, changes, prev_hash, hash)
      select ${event.id}::text, ${chain}::text, nxt.seq, ${event.at}::text, ${event.org_id}::text,
        ${event.action}::text, ${actorId}::text,
        ${needEmail ? sql`lower(nxt.email)` : sql`${knownEmail}::text`}, nxt.actor,
        ${event.target.type}::text, ${event.target.id}::text, ${event.request_id}::text,
        ${event.client_addr}::text, ${event.outcome}::text, ${event.status}::integer,
        ${JSON.stringify(changes)}::text, nxt.prev, nxt.hash
      from nxt
    )
    select seq, prev, hash, email from nxt`.execute(db);
  const row = r.rows[0];
  if (!row) return undefined;
  const finalActor = needEmail ? ({ ...event.actor, email: row.email } as Actor) : event.actor;
  return { ...event, actor: finalActor, changes, seq: Number(row.seq), prev_hash: row.prev, hash: row.hash };
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
  const base = {
    id: newUuid(),
    chain,
    at: nowIso(),
    org_id: input.org_id,
    action: input.action,
    actor,
    target: input.target,
    request_id: input.request_id,
    client_addr: input.client_addr,
    outcome: input.outcome,
    status: input.status,
    changes: input.changes,
  };
  if (pg) {
    const done = await appendInOneStatement(db, chain, base, needEmail);
    if (done) return done;
  }
  // SQLite (statements there are calls into the same process, not round trips), and a chain's
  // first event on PostgreSQL.
  if (actor.type === 'user' && actor.email === undefined) {
    const u = await db.selectFrom('users').select('email').where('id', '=', actor.id).executeTakeFirst();
    actor = { ...actor, email: u?.email ?? null };
  }
  const { seq, prev } = await nextPosition(db, chain);
  const body: Omit<AuditEvent, 'hash'> = {
    ...base,
    actor,
    seq,
    changes: scrub(input.changes) as Record<string, unknown>,
    prev_hash: prev,
  };
  const event: AuditEvent = { ...body, hash: eventHash(body) };
  await db
    .insertInto('audit_events')
    .values({
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
    })
    .execute();
  await db.updateTable('audit_chains').set({ head_hash: event.hash }).where('chain', '=', chain).execute();
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
  /**
   * Leave out every trace of canary keys (their uses, and events about them): for readers who may
   * not see canaries, the log must not tell them apart from keys that do not exist.
   */
  withoutCanaries?: boolean | undefined;
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
  if (f.withoutCanaries) {
    q = q.where('action', '!=', 'api_key.canary_used').where((eb) =>
      eb.or([
        eb('target_type', '!=', 'api_key'),
        eb('target_id', 'is', null),
        eb(
          'target_id',
          'not in',
          eb
            .selectFrom('api_keys')
            .select(sql<string>`cast(id as text)`.as('id'))
            .where('canary', '=', 1),
        ),
      ]),
    );
  }
  const rows = await q
    .orderBy('seq', 'desc')
    .limit(limit + 1)
    .execute();
  return rows.map(toEvent);
}

export async function listChains(db: Kysely<Database>): Promise<Database['audit_chains'][]> {
  return db.selectFrom('audit_chains').selectAll().orderBy('chain').execute();
}

/** The hash of one chain position, undefined when that event is missing. */
export async function findEventHash(
  db: Kysely<Database>,
  chain: string,
  seq: number,
): Promise<string | undefined> {
  const e = await db
    .selectFrom('audit_events')
    .select('hash')
    .where('chain', '=', chain)
    .where('seq', '=', seq)
    .executeTakeFirst();
  return e?.hash;
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

/** The distinct actions recorded in a chain, alphabetically (the audit log's action filter). */
export async function listAuditActions(db: Kysely<Database>, chain: string): Promise<string[]> {
  const rows = await db
    .selectFrom('audit_events')
    .select('action')
    .distinct()
    .where('chain', '=', chain)
    .orderBy('action')
    .execute();
  return rows.map((r) => r.action);
}

/**
 * The organization a refused request was aimed at, from the first id its URL named: the
 * organization itself, a project's or a member's. Null when that id names nothing (a probe must
 * not attach its record to a tenant by guessing).
 */
export async function refusalOrgId(
  db: Kysely<Database>,
  d: { orgId?: string | undefined; projectId?: string | undefined; memberId?: string | undefined },
): Promise<string | null> {
  if (d.orgId !== undefined) {
    const o = await db.selectFrom('organizations').select('id').where('id', '=', d.orgId).executeTakeFirst();
    return o?.id ?? null;
  }
  if (d.projectId !== undefined) {
    const p = await db
      .selectFrom('projects')
      .select('org_id')
      .where('id', '=', d.projectId)
      .executeTakeFirst();
    return p?.org_id ?? null;
  }
  if (d.memberId !== undefined) {
    const m = await db.selectFrom('members').select('org_id').where('id', '=', d.memberId).executeTakeFirst();
    return m?.org_id ?? null;
  }
  return null;
}

/** Names of keys by id (revoked ones too), for showing who acted in an audit log. */
export async function keyNames(db: Kysely<Database>, ids: readonly number[]): Promise<Map<number, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('api_keys').select(['id', 'name']).where('id', 'in', ids).execute();
  return new Map(rows.map((r) => [Number(r.id), r.name]));
}
