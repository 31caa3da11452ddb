// Request ids: a client's X-Request-ID is kept for tracing when it is a plain identifier, and
// replaced by a fresh one when it could be a secret (it is echoed in headers, bodies and logs).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { setSecurityHeaders } from './security-headers.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** A longer run of letters and digits than a 32-hex trace id is treated as secret-like. */
const LONG_RUN = /[A-Za-z0-9]{33,}/;
/** Longer than a UUID and mixing upper case, lower case and digits: base62/base64url randomness. */
const looksRandom = (s: string) => s.length > 36 && /[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9]/.test(s);

/** 32 lowercase hex characters, like Neon's X-Neon-Ret-Request-Id. */
export function newRequestId(): string {
  return randomUUID().replace(/-/g, '');
}

/** The id for a request: the client's when it is safe to echo, else a new one. */
export function requestIdFor(given: string | string[] | undefined): string {
  if (typeof given !== 'string' || !REQUEST_ID.test(given)) return newRequestId();
  // API keys (napi_…, or their body without the prefix) and other long random strings.
  if (/napi/i.test(given) || LONG_RUN.test(given) || looksRandom(given)) return newRequestId();
  return given;
}

/**
 * Every answer names its request, under both our header and Neon's, and carries the security
 * headers (precomputed, see security-headers.ts): one hook for every header every answer has.
 */
export function requestIdHeaders(app: FastifyInstance, security: readonly [string, string][]): void {
  app.addHook('onRequest', (request, reply, done) => {
    setSecurityHeaders(reply.raw, security);
    reply.header('x-request-id', request.id);
    reply.header('x-neon-ret-request-id', request.id);
    done();
  });
}
