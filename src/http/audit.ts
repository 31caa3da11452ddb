// The audit log's HTTP side: every authenticated /api/v2 request gets an explicit AuditContext
// (who, request id, client address) that routes pass to services; and every mutating request that
// ends in a 4xx is recorded once, as denied, right after the refusal (before the response leaves).
// Allowed outcomes are the services' to write, inside their transactions.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuditContext } from '../audit/audit.ts';
import type { AuditLog } from '../audit/audit.service.ts';
import { AUDITED_ROUTES, MUTATING_METHODS } from '../audit/routes.ts';
import { AppError, MESSAGES } from '../domain/errors.ts';
import { clientAddressChain } from './authenticate.ts';

declare module 'fastify' {
  interface FastifyRequest {
    audit: AuditContext | null;
  }
}

/** The request's audit context; only authenticated routes have one. */
export function auditOf(request: FastifyRequest): AuditContext {
  if (!request.audit) throw new AppError('UNAUTHORIZED', MESSAGES.unauthorized);
  return request.audit;
}

/** Register after authentication: its onRequest hook must have set request.principal. */
export function auditContexts(api: FastifyInstance, audit: AuditLog): void {
  api.decorateRequest('audit', null);
  api.addHook('onRequest', async (request) => {
    if (request.principal) {
      request.audit = AuditContext.forPrincipal(request.principal, request.id, clientAddressChain(request));
    }
  });
  api.addHook('onSend', async (request, reply, payload) => {
    const status = reply.statusCode;
    // 401 has no actor to name (and must not let anyone write rows).
    if (status < 400 || status >= 500 || !request.audit) return payload;
    if (!MUTATING_METHODS.has(request.method)) return payload;
    const action = AUDITED_ROUTES[`${request.method} ${request.routeOptions.url ?? ''}`];
    if (!action) return payload;
    // Path parameters may arrive coerced (key ids are numbers): the log stores text.
    const params: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries((request.params ?? {}) as Record<string, unknown>)) {
      if (typeof v === 'string' || typeof v === 'number') params[k] = String(v);
    }
    let code: string | undefined;
    if (typeof payload === 'string') {
      try {
        code = (JSON.parse(payload) as { code?: string }).code;
      } catch {
        code = undefined;
      }
    }
    try {
      await audit.recordDenial(request.audit, {
        action,
        status,
        code,
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
  });
}
