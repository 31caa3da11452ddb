// The authentication step of every /api/v2 request: a bearer API key (or, for the console, its
// session cookie) becomes request.principal through the Authenticator (src/auth/authenticator.ts).
// 401 (one identical body) only for missing, malformed, unknown, revoked or canary keys (an
// expired key's 401 says it expired): Neon's CLI
// deletes its stored login on 401, so permission problems are 403.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hooksForRoutes } from './route-hooks.ts';
import type { Authenticator } from '../auth/authenticator.ts';
import { AppError, MESSAGES } from '../domain/errors.ts';
import { hashToken, isWellFormedToken } from '../domain/ids.ts';
import type { Principal } from '../domain/principal.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** The bearer token's hash once computed ('' when there is no well-formed token; null: not yet). */
    tokenHash: string | null;
  }
  interface FastifyContextConfig {
    /** false: the route is public (no API key). */
    auth?: boolean;
    /**
     * false: a write that cannot change access (the serverless data plane's queries run on a
     * compute, not on orgplane's database), so it leaves the principal cache alone.
     */
    changesAccess?: boolean;
  }
}

/** Extra ways to authenticate (the console's session cookie), tried when no Authorization header is sent. */
export type PrincipalResolver = (request: FastifyRequest) => Promise<Principal | null>;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1] ?? null;
}

/** Register on the root app, before the rate limiter: the token is hashed once per request. */
export function bearerTokenHashes(app: FastifyInstance): void {
  app.decorateRequest('tokenHash', null);
}

/** The hash of the request's well-formed bearer token ('' when there is none), computed once. */
export function tokenHashOf(request: FastifyRequest): string {
  if (request.tokenHash === null) {
    const token = bearerToken(request.headers.authorization);
    request.tokenHash = token && isWellFormedToken(token) ? hashToken(token) : '';
  }
  return request.tokenHash;
}

/** The client address chain, client first; X-Forwarded-For counts only from trusted proxies. */
export function clientAddressChain(request: FastifyRequest): string {
  const ips = request.ips;
  if (ips && ips.length > 1) return [...ips].reverse().join(',');
  return request.ip ?? '';
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('UNAUTHORIZED', MESSAGES.unauthorized);
  return request.principal;
}

export function authentication(
  app: FastifyInstance,
  access: Authenticator,
  extra: readonly PrincipalResolver[],
): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.auth === false) return;
    const token = bearerToken(request.headers.authorization);
    if (token) {
      request.principal = await access.authenticate(
        token,
        clientAddressChain(request),
        request.headers['user-agent'] ?? '',
        tokenHashOf(request),
      );
    } else if (request.headers.authorization === undefined) {
      for (const resolve of extra) {
        request.principal = await resolve(request);
        if (request.principal) break;
      }
    }
    if (!request.principal) throw new AppError('UNAUTHORIZED', MESSAGES.unauthorized);
  });
}

/**
 * Any unsafe request (API, console, invitation pages) may have changed access: the authenticator
 * hears of it before the answer leaves, so the caller's next request is decided on the new state
 * (see authenticator.ts). Registered at the root, on every route of an unsafe method.
 */
export function reportUnsafeRequests(app: FastifyInstance, access: Authenticator): void {
  hooksForRoutes(app, (method, route) => !SAFE_METHODS.has(method) && route.config?.changesAccess !== false, {
    onSend: async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      // A refused request (4xx) changed nothing: its transaction, if any, rolled back.
      const refused = reply.statusCode >= 400 && reply.statusCode < 500;
      if (!SAFE_METHODS.has(request.method) && !refused) access.changed();
      return payload;
    },
  });
}
