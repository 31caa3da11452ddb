// The audit log's use cases: append (for code outside a request too), read an organization's log
// (admins), verify and export chains, prune by retention. No Fastify here.
import type { Kysely } from 'kysely';
import type { Authenticator } from '../auth/authenticator.ts';
import type { Db } from '../db/connect.ts';
import { withTransaction } from '../db/connect.ts';
import type { Database } from '../db/schema.ts';
import { badRequest } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import { authorize } from '../policy/index.ts';
import type { AuditContext, AuditEvent, NewAuditEvent } from './audit.ts';
import {
  appendAuditEvent,
  listAuditEvents,
  listChains,
  pruneChain,
  scanAuditEvents,
  verifyChain,
  type AuditFilter,
  type VerifyResult,
} from './audit.repository.ts';

export interface AuditPage {
  events: AuditEvent[];
  next: string | undefined;
}

const DAY_MS = 86_400_000;

function parseTime(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const t = Date.parse(raw);
  if (Number.isNaN(t)) throw badRequest(`${name} must be an RFC 3339 timestamp, got "${raw}"`);
  return new Date(t).toISOString();
}

export class AuditLog {
  constructor(
    private readonly db: Db,
    private readonly access: Authenticator,
    private readonly retentionDays: number,
  ) {}

  /**
   * Appends one event. Pass the transaction that makes the change (the event commits with it);
   * from outside any transaction pass db.kysely and the event is written on its own.
   */
  append(executor: Kysely<Database>, event: NewAuditEvent): Promise<AuditEvent> {
    if (executor.isTransaction) return appendAuditEvent(executor, event);
    return withTransaction(this.db, (trx) => appendAuditEvent(trx, event));
  }

  /**
   * A refused mutation (any 4xx after authentication), written on its own right after the
   * refusal. It goes to the chain of the organization acted on when that exists (its admins see
   * who tried), else to the actor's own chain, so made-up ids never create chains.
   */
  async recordDenial(
    ctx: AuditContext,
    d: {
      action: string;
      status: number;
      code: string | undefined;
      orgId?: string | undefined;
      projectId?: string | undefined;
      memberId?: string | undefined;
      targetId?: string | undefined;
    },
  ): Promise<void> {
    const k = this.db.kysely;
    let orgId: string | null = null;
    if (d.orgId !== undefined) {
      const o = await k.selectFrom('organizations').select('id').where('id', '=', d.orgId).executeTakeFirst();
      orgId = o?.id ?? null;
    } else if (d.projectId !== undefined) {
      const p = await k
        .selectFrom('projects')
        .select('org_id')
        .where('id', '=', d.projectId)
        .executeTakeFirst();
      orgId = p?.org_id ?? null;
    } else if (d.memberId !== undefined) {
      const m = await k
        .selectFrom('members')
        .select('org_id')
        .where('id', '=', d.memberId)
        .executeTakeFirst();
      orgId = m?.org_id ?? null;
    }
    const type = d.action.slice(0, d.action.indexOf('.'));
    await this.append(
      k,
      ctx.event({
        action: d.action,
        orgId,
        target: { type, id: d.targetId ?? null },
        outcome: 'denied',
        status: d.status,
        changes: d.code ? { error: d.code } : {},
      }),
    );
  }

  async list(
    principal: Principal,
    orgId: string,
    q: {
      action?: string | undefined;
      actor?: string | undefined;
      since?: string | undefined;
      until?: string | undefined;
      cursor?: string | undefined;
      limit?: number | undefined;
    },
  ): Promise<AuditPage> {
    authorize('audit_log:read', await this.access.subjectFor(principal, orgId));
    const limit = q.limit ?? 100;
    let beforeSeq: number | undefined;
    if (q.cursor !== undefined) {
      beforeSeq = /^[1-9][0-9]{0,15}$/.test(q.cursor) ? Number(q.cursor) : NaN;
      if (Number.isNaN(beforeSeq))
        throw badRequest('cursor is not valid: pass pagination.next from the previous page');
    }
    const filter: AuditFilter = {
      action: q.action,
      actor: q.actor,
      since: parseTime('since', q.since),
      until: parseTime('until', q.until),
      beforeSeq,
    };
    const rows = await listAuditEvents(this.db.kysely, `org:${orgId}`, filter, limit);
    const more = rows.length > limit;
    const events = more ? rows.slice(0, limit) : rows;
    const last = events[events.length - 1];
    return { events, next: more && last ? String(last.seq) : undefined };
  }

  /** Operator paths (CLI). */
  async chains(orgId?: string): Promise<string[]> {
    if (orgId !== undefined) return [`org:${orgId}`];
    return (await listChains(this.db.kysely)).map((c) => c.chain);
  }

  verify(chain: string): Promise<VerifyResult> {
    return verifyChain(this.db.kysely, chain);
  }

  scan(chain: string): AsyncGenerator<AuditEvent> {
    return scanAuditEvents(this.db.kysely, chain);
  }

  /** Removes events older than the retention period from every chain; returns how many. */
  async prune(now = Date.now(), days = this.retentionDays): Promise<number> {
    const before = new Date(now - days * DAY_MS).toISOString();
    let removed = 0;
    for (const chain of await this.chains()) {
      removed += await withTransaction(this.db, (trx) => pruneChain(trx, chain, before));
    }
    return removed;
  }
}
