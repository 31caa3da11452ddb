// What an audit event is, who made it (the per-request AuditContext) and how an event is hashed.
// No I/O here: the repository (audit.repository.ts) writes and verifies chains.
import { createHash } from 'node:crypto';
import type { Principal } from '../domain/principal.ts';

/** Who acted: a person (user id, email filled in when written), an API key, or the operator's CLI. */
export type Actor =
  | { type: 'user'; id: string; email?: string | null; key_id: number | null }
  | { type: 'api_key'; id: string; kind: 'org' | 'project'; org_id: string; project_id?: string }
  | { type: 'operator'; id: 'cli' };

export interface AuditTarget {
  type: string;
  id: string | null;
}

/** An event as services describe it; the chain position and hashes are the repository's. */
export interface NewAuditEvent {
  action: string;
  actor: Actor;
  /** The organization the event belongs to; null: the user's own chain (personal keys, projects). */
  org_id: string | null;
  /** For org_id null: whose chain (defaults to the acting user). */
  user_id?: string | undefined;
  target: AuditTarget;
  request_id: string | null;
  client_addr: string | null;
  outcome: 'allowed' | 'denied';
  status: number;
  /** The changed fields. Never a secret: names like token/password/hash are dropped when written. */
  changes: Record<string, unknown>;
}

/** A stored event, as the API, the CLI export and verification see it. */
export interface AuditEvent {
  id: string;
  chain: string;
  seq: number;
  at: string;
  org_id: string | null;
  action: string;
  actor: Actor;
  target: AuditTarget;
  request_id: string | null;
  client_addr: string | null;
  outcome: 'allowed' | 'denied';
  status: number;
  changes: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

/** prev_hash of a chain's first event. */
export const GENESIS_HASH = '0'.repeat(64);

export function actorOf(principal: Principal): Actor {
  switch (principal.kind) {
    case 'user':
      return { type: 'user', id: principal.userId, key_id: principal.keyId };
    case 'org_key':
      return { type: 'api_key', id: String(principal.keyId), kind: 'org', org_id: principal.orgId };
    case 'project_key':
      return {
        type: 'api_key',
        id: String(principal.keyId),
        kind: 'project',
        org_id: principal.orgId,
        project_id: principal.projectId,
      };
  }
}

/**
 * Who is acting, for one request (built by the HTTP layer, src/audit/audit.hook.ts) or one operator
 * command. Services receive it explicitly and turn it into events with event().
 */
export class AuditContext {
  constructor(
    readonly actor: Actor,
    readonly requestId: string | null,
    readonly clientAddr: string | null,
  ) {}

  static forPrincipal(
    principal: Principal,
    requestId: string | null,
    clientAddr: string | null,
  ): AuditContext {
    return new AuditContext(actorOf(principal), requestId, clientAddr);
  }

  /** The operator's CLI (and other calls outside a request: bootstrap, factories in tests). */
  static operator(): AuditContext {
    return new AuditContext({ type: 'operator', id: 'cli' }, null, null);
  }

  event(e: {
    action: string;
    orgId: string | null;
    userId?: string | undefined;
    target: AuditTarget;
    changes?: Record<string, unknown>;
    outcome?: 'allowed' | 'denied';
    status?: number;
  }): NewAuditEvent {
    return {
      action: e.action,
      actor: this.actor,
      org_id: e.orgId,
      user_id: e.userId,
      target: e.target,
      request_id: this.requestId,
      client_addr: this.clientAddr,
      outcome: e.outcome ?? 'allowed',
      status: e.status ?? 200,
      changes: e.changes ?? {},
    };
  }
}

/** The chain an event belongs to: its organization's, else its user's. */
export function chainOf(e: Pick<NewAuditEvent, 'org_id' | 'user_id' | 'actor'>): string {
  if (e.org_id) return `org:${e.org_id}`;
  const user = e.user_id ?? (e.actor.type === 'user' ? e.actor.id : undefined);
  if (user) return `user:${user}`;
  if (e.actor.type === 'api_key') return `org:${e.actor.org_id}`;
  return 'global';
}

const SECRET_NAME = /token|password|secret|hash|^key$/i;
const SECRET_VALUE = /napi_[A-Za-z0-9]+|npg_[A-Za-z0-9]+/g;

/** Drops secret-looking fields and masks token-looking strings, however deep. */
export function scrub(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(SECRET_VALUE, '[redacted]');
  if (Array.isArray(value)) return value.map(scrub);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (SECRET_NAME.test(k) || v === undefined) continue;
      out[k] = scrub(v);
    }
    return out;
  }
  return value;
}

/** JSON with object keys sorted at every level: the same event always gives the same bytes. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** hash = SHA-256(previous event's hash ‖ this event's canonical form without its own hash). */
export function eventHash(e: Omit<AuditEvent, 'hash'>): string {
  const { prev_hash, ...rest } = e;
  return createHash('sha256')
    .update(prev_hash)
    .update(canonicalJson({ ...rest, prev_hash }))
    .digest('hex');
}
