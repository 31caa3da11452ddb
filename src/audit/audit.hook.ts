// The audit log's HTTP side: every authenticated /api/v2 request gets an explicit AuditContext
// (who, request id, client address) that routes pass to services; and every mutating request that
// ends in a 4xx is recorded once, as denied, right after the refusal (before the response leaves),
// under the action its route declares (`config: { audit }`, beside its schema).
// Allowed outcomes are the services' to write, inside their transactions.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, MESSAGES } from '../domain/errors.ts';
import { clientAddressChain } from '../http/authenticate.ts';
import { hooksForRoutes } from '../http/route-hooks.ts';
import { AuditContext } from './audit.ts';
import type { AuditLog } from './audit.service.ts';

/**
 * What a route records: its audit action, or why it records nothing (a POST that changes nothing,
 * an operation that always answers 422). Every mutating /api/v2 route declares one
 * (test/audit.test.ts fails for a route that does not).
 */
export type AuditDeclaration = string | { none: string };

declare module 'fastify' {
  interface FastifyRequest {
    audit: AuditContext | null;
  }
  interface FastifyContextConfig {
    audit?: AuditDeclaration;
  }
}

export const MUTATING_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The request's audit context, made on first use from the authenticated principal (reads never
 * ask for one, so they build none); only authenticated requests have one.
 */
export function auditOf(request: FastifyRequest): AuditContext {
  const ctx = contextOf(request);
  if (!ctx) throw new AppError('UNAUTHORIZED', MESSAGES.unauthorized);
  return ctx;
}

function contextOf(request: FastifyRequest): AuditContext | null {
  if (!request.audit && request.principal) {
    request.audit = AuditContext.forPrincipal(request.principal, request.id, clientAddressChain(request));
  }
  return request.audit;
}

/**
 * Register after authentication. The denial hook goes only on the routes that declare an action
 * (mutating routes, `config: { audit }`): a read meets none of the audit machinery.
 */
export function auditContexts(api: FastifyInstance, audit: AuditLog): void {
  api.decorateRequest('audit', null);
  hooksForRoutes(
    api,
    (method, route) => MUTATING_METHODS.has(method) && typeof route.config?.audit === 'string',
    {
      onSend: async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
        const status = reply.statusCode;
        // 401 has no actor to name (and must not let anyone write rows).
        if (status < 400 || status >= 500) return payload;
        const ctx = contextOf(request);
        if (!ctx || !MUTATING_METHODS.has(request.method)) return payload;
        const action = request.routeOptions.config.audit;
        if (typeof action !== 'string') return payload;
        // Path parameters may arrive coerced (key ids are numbers): the log stores text. PostgreSQL
        // text cannot hold NUL (a lookup or insert with one fails and the event would be lost); no
        // id contains one, so it becomes U+FFFD, which finds nothing and is stored as it reads.
        const params: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries((request.params ?? {}) as Record<string, unknown>)) {
          if (typeof v === 'string' || typeof v === 'number') params[k] = String(v).replace(/\0/g, '\uFFFD');
        }
        try {
          await audit.recordDenial(ctx, {
            action,
            status,
            code: request.errorCode ?? undefined,
            orgId: params.org_id ?? params.source_org_id,
            projectId: params.project_id,
            memberId: params.member_id,
            targetId:
              params.key_id ?? params.member_id ?? params.invitation_id ?? params.project_id ?? params.org_id,
          });
        } catch (err) {
          request.log.error({ err }, 'could not record a denied request in the audit log');
        }
        return payload;
      },
    },
  );
}
