// Idempotency keys (Stripe's design) for every POST under /api/v2: a request carrying an
// Idempotency-Key header runs once per principal and key; a retry with the same key and the same
// request (method, URL and body) within 24 hours gets the stored first response (status and body,
// with Idempotent-Replayed: true) without the work being done again. The same key with another
// request → 422; while the first is still running → 409. Requests refused before they started
// (authentication, validation, rate limits) store nothing. 5xx answers are not kept either, so a
// retry after a failure runs again.
//
// State lives in the database, so several processes share it: the claim is a unique insert of
// (principal, key); the response is written before it leaves (onSend), so a client that got an
// answer always gets it again. A claim left running by a process that died is taken over after
// its lease. Stored bodies never hold a secret: a replayed key creation has its token redacted,
// a replayed project creation its role password (Idempotent-Token-Redacted: true) — secrets
// exist only in the first response.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/connect.ts';
import { AppError } from '../domain/errors.ts';
import { redactTokens } from '../domain/ids.ts';
import { hooksForRoutes } from './route-hooks.ts';
import type { Principal } from '../domain/principal.ts';
import type { Clock } from '../domain/time.ts';
import {
  claimKey,
  completeKey,
  deleteExpiredKey,
  deleteExpiredKeys,
  findKey,
  releaseKey,
  takeOverKey,
  type IdempotencyRow,
} from './idempotency.repository.ts';

export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
/** Longer than any request may run (requestTimeout 30 s, statement timeouts 15–20 s). */
const LEASE_MS = 120_000;
const SWEEP_EVERY_MS = 60_000;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: { scope: string; key: string; fingerprint: string } | null;
  }
}

/** Keys are per principal: a user (any of their keys or sessions) or one organization key. */
export function idempotencyScope(p: Principal): string {
  switch (p.kind) {
    case 'user':
      return `user:${p.userId}`;
    case 'org_key':
      return `org_key:${p.keyId}`;
    case 'project_key':
      return `project_key:${p.keyId}`;
  }
}

/** JSON with object keys sorted, so the same body sent with its keys in another order matches. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** What a retry must repeat: method, URL (with query) and body. */
export function fingerprintOf(method: string, url: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method} ${url}\n${canonical(body ?? null)}`)
    .digest('hex');
}

/**
 * Throws the refusal the request would get now, if any: a replay is answered only to a caller who
 * is still allowed what the stored response did (the services' own checks, run without the work).
 */
export type AuthorizeReplay = (
  principal: Principal,
  req: { operation: string; params: Record<string, unknown>; body: unknown },
) => Promise<void>;

export function idempotency(
  api: FastifyInstance,
  db: Db,
  clock: Clock,
  authorizeReplay?: AuthorizeReplay,
): void {
  const k = db.kysely;
  let lastSweep = 0;
  const iso = (ms: number) => new Date(ms).toISOString();

  api.decorateRequest('idempotency', null);

  // The fingerprint is taken from the body as sent, before validation may change it.
  const preValidation = async (request: FastifyRequest) => {
    if (request.method !== 'POST') return;
    const raw = request.headers['idempotency-key'];
    if (raw === undefined) return;
    const key = Array.isArray(raw) ? raw[0] : raw;
    if (key === undefined || !KEY_PATTERN.test(key)) {
      throw new AppError('BAD_REQUEST', 'Idempotency-Key must be 1 to 255 printable ASCII characters');
    }
    if (!request.principal) return;
    const fingerprint = fingerprintOf(request.method, request.url, request.body);
    request.idempotency = { scope: idempotencyScope(request.principal), key, fingerprint };
  };

  // Claimed once the request is valid, right before the work: a rejected request stores nothing.
  const preHandler = async (request: FastifyRequest, reply: FastifyReply) => {
    const idem = request.idempotency;
    if (!idem) return;
    const now = clock();
    if (now - lastSweep > SWEEP_EVERY_MS) {
      lastSweep = now;
      deleteExpiredKeys(k, iso(now)).catch((err: unknown) =>
        request.log.warn({ err }, 'could not delete expired idempotency keys'),
      );
    }
    const fresh = {
      created_at: iso(now),
      locked_until: iso(now + LEASE_MS),
      expires_at: iso(now + IDEMPOTENCY_TTL_MS),
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      const row: IdempotencyRow = {
        scope: idem.scope,
        key: idem.key,
        fingerprint: idem.fingerprint,
        state: 'running',
        status: null,
        response: null,
        token_redacted: 0,
        ...fresh,
      };
      if (await claimKey(k, row)) return;
      const seen = await findKey(k, idem.scope, idem.key);
      if (!seen) continue;
      if (seen.expires_at <= fresh.created_at) {
        await deleteExpiredKey(k, seen);
        continue;
      }
      if (seen.fingerprint !== idem.fingerprint) {
        request.idempotency = null;
        throw new AppError(
          'UNPROCESSABLE',
          'Idempotency-Key was already used with a different request (method, path or body); use a new key',
        );
      }
      if (seen.state === 'running') {
        if (seen.locked_until <= fresh.created_at && (await takeOverKey(k, seen, fresh))) return;
        request.idempotency = null;
        throw new AppError(
          'CONFLICT',
          'a request with this Idempotency-Key is still being processed; retry later',
        );
      }
      request.idempotency = null;
      // Authorization first: a caller who lost access since (member removed, role demoted, a
      // grant revoked) gets the real refusal, not the stored answer.
      if (authorizeReplay && request.principal) {
        const operation = request.routeOptions.schema?.operationId;
        if (operation !== undefined) {
          await authorizeReplay(request.principal, {
            operation,
            params: (request.params ?? {}) as Record<string, unknown>,
            body: request.body,
          });
        }
      }
      return replay(reply, seen);
    }
    request.idempotency = null;
    throw new AppError('CONFLICT', 'a request with this Idempotency-Key is being processed; retry later');
  };

  // The first response is stored before it leaves: a client that received it finds it on retry.
  const onSend = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const idem = request.idempotency;
    if (!idem) return payload;
    request.idempotency = null;
    const text =
      typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : null;
    try {
      if (reply.statusCode >= 500 || text === null) {
        await releaseKey(k, idem.scope, idem.key);
      } else {
        const response = redactSecrets(text);
        await completeKey(k, idem.scope, idem.key, {
          status: reply.statusCode,
          response,
          token_redacted: response === text ? 0 : 1,
        });
      }
    } catch (err) {
      request.log.error({ err }, 'could not store the idempotent response');
      await releaseKey(k, idem.scope, idem.key).catch(() => {});
    }
    return payload;
  };

  // Only POST routes carry these hooks: reads and other writes never touch the store.
  hooksForRoutes(api, (method) => method === 'POST', { preValidation, preHandler, onSend });
}

/** API key tokens and generated database passwords (npg_…) are shown once: never stored. */
function redactSecrets(text: string): string {
  return redactTokens(text).replace(/npg_[A-Za-z0-9]+/g, 'npg_[redacted]');
}

function replay(reply: FastifyReply, row: IdempotencyRow): FastifyReply {
  reply.header('idempotent-replayed', 'true');
  if (row.token_redacted) reply.header('idempotent-token-redacted', 'true');
  return reply
    .code(row.status ?? 200)
    .type('application/json; charset=utf-8')
    .send(row.response ?? '');
}
