// The audit log's use cases: append (for code outside a request too), read an organization's log
// (admins), verify and export chains, prune by retention. No Fastify here.
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { SubjectSource } from '../policy/subjects.ts';
import type { Db } from '../db/connect.ts';
import { withTransaction } from '../db/connect.ts';
import type { Database } from '../db/schema.ts';
import { badRequest } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import { findRole, hasLiveGrant } from '../auth/auth.repository.ts';
import { authorize, can } from '../policy/index.ts';
import type { AuditContext, AuditEvent, NewAuditEvent } from './audit.ts';
import {
  checkAgainstCheckpoints,
  loadSigningKey,
  readChainHeads,
  signCheckpoint,
  writeCheckpoint,
  type CheckpointProblem,
  type SignedCheckpoint,
} from './checkpoints.ts';
import {
  appendAuditEvent,
  keyNames,
  listAuditActions,
  refusalOrgId,
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
  /** Names of the API keys that acted in these events, by id. */
  keyNames: Map<number, string>;
}

const DAY_MS = 86_400_000;

function parseTime(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const t = Date.parse(raw);
  if (Number.isNaN(t)) throw badRequest(`${name} must be an RFC 3339 timestamp, got "${raw}"`);
  return new Date(t).toISOString();
}

/** Where checkpoints are signed and written (audit/checkpoints.ts). */
export interface CheckpointSettings {
  dataDir: string;
  /** The private key (PEM) from ORGPLANE_AUDIT_KEY; else the key file in dataDir. */
  key?: string | undefined;
  /** Where checkpoints are appended ('-': stdout). */
  file: string;
}

export class AuditLog {
  private key: KeyObject | undefined;

  constructor(
    private readonly db: Db,
    private readonly access: SubjectSource,
    private readonly retentionDays: number,
    private readonly checkpoints?: CheckpointSettings,
  ) {}

  private signingKey(): KeyObject {
    if (!this.checkpoints) throw new Error('audit checkpoints are not configured');
    this.key ??= loadSigningKey(this.checkpoints.dataDir, this.checkpoints.key);
    return this.key;
  }

  /** The public half of the signing key (what verification trusts unless given another). */
  publicKey(): KeyObject {
    return createPublicKey(this.signingKey());
  }

  /** Signs every chain's head now and writes the checkpoint out (file or stdout). */
  async checkpoint(now = Date.now()): Promise<SignedCheckpoint> {
    const c = signCheckpoint(
      this.signingKey(),
      await readChainHeads(this.db.kysely),
      new Date(now).toISOString(),
    );
    writeCheckpoint(this.checkpoints?.file ?? '-', c);
    return c;
  }

  /** The database against exported checkpoints: every problem found (none: it agrees with all). */
  checkCheckpoints(
    list: SignedCheckpoint[],
    publicKey: KeyObject = this.publicKey(),
    now = Date.now(),
  ): Promise<CheckpointProblem[]> {
    return checkAgainstCheckpoints(this.db.kysely, list, publicKey, this.retentionDays, now);
  }

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
    let orgId = await refusalOrgId(k, d);
    // Only a caller related to the organization leaves a trace in its chain: anyone else's
    // refusals go to their own chain, so they can neither flood another organization's log nor
    // learn from where a refusal lands whether an organization, project or member exists.
    if (orgId !== null && !(await this.relatedTo(ctx, orgId, d.projectId))) orgId = null;
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

  private async relatedTo(ctx: AuditContext, orgId: string, projectId: string | undefined): Promise<boolean> {
    const a = ctx.actor;
    if (a.type === 'operator') return true;
    if (a.type === 'api_key') return a.org_id === orgId;
    const k = this.db.kysely;
    if ((await findRole(k, orgId, a.id)) !== null) return true;
    return projectId !== undefined && (await hasLiveGrant(k, a.id, projectId));
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
    const subject = await this.access.subjectFor(principal, orgId);
    authorize('audit_log:read', subject);
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
      withoutCanaries: !can('org_api_key:list_canaries', subject),
    };
    const rows = await listAuditEvents(this.db.kysely, `org:${orgId}`, filter, limit);
    const more = rows.length > limit;
    const events = more ? rows.slice(0, limit) : rows;
    const last = events[events.length - 1];
    // Keys are recorded by id; their names (also of revoked keys) make the log readable.
    const ids = [...new Set(events.flatMap((e) => (e.actor.type === 'api_key' ? [Number(e.actor.id)] : [])))];
    const names = await keyNames(this.db.kysely, ids);
    return { events, next: more && last ? String(last.seq) : undefined, keyNames: names };
  }

  /** The actions this organization's log holds, for a filter that offers only what can match. */
  async actions(principal: Principal, orgId: string): Promise<string[]> {
    authorize('audit_log:read', await this.access.subjectFor(principal, orgId));
    return listAuditActions(this.db.kysely, `org:${orgId}`);
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
