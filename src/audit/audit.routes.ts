// GET /organizations/{org_id}/audit_log (orgplane extension): the organization's audit events,
// newest first, cursor-paginated, filtered by action, actor, since and until.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../http/authenticate.ts';
import { ErrorResponses, OrgParamsSchema } from '../http/common-schemas.ts';
import type { AuditLog } from './audit.service.ts';
import type { AuditEvent } from './audit.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const AuditEventSchema = Type.Object({
  id: Type.String(),
  seq: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  org_id: Nullable(Type.String()),
  action: Type.String(),
  actor: Type.Object({}, { additionalProperties: true }),
  target: Type.Object({ type: Type.String(), id: Nullable(Type.String()) }),
  request_id: Nullable(Type.String()),
  client_addr: Nullable(Type.String()),
  outcome: Type.Union([Type.Literal('allowed'), Type.Literal('denied')]),
  status: Type.Integer(),
  changes: Type.Object({}, { additionalProperties: true }),
  prev_hash: Type.String(),
  hash: Type.String(),
});

const AuditQuerySchema = Type.Object({
  action: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  actor: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  since: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  until: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
});

/**
 * The wire form: the chain name is implied by the path. An API key actor also gets its `name`
 * (extension, not part of the hashed event) when the key is known.
 */
export function presentAuditEvent(e: AuditEvent, keyNames?: ReadonlyMap<number, string>) {
  const keyName = e.actor.type === 'api_key' ? keyNames?.get(Number(e.actor.id)) : undefined;
  return {
    id: e.id,
    seq: e.seq,
    at: e.at,
    org_id: e.org_id,
    action: e.action,
    actor: keyName === undefined ? e.actor : { ...e.actor, name: keyName },
    target: e.target,
    request_id: e.request_id,
    client_addr: e.client_addr,
    outcome: e.outcome,
    status: e.status,
    changes: e.changes,
    prev_hash: e.prev_hash,
    hash: e.hash,
  };
}

export const auditRoutes: FastifyPluginAsyncTypebox<{ audit: AuditLog }> = async (app, { audit }) => {
  app.get(
    '/organizations/:org_id/audit_log',
    {
      schema: {
        operationId: 'getOrganizationAuditLog',
        tags: ['Organizations'],
        summary:
          "The organization's audit log, newest first (orgplane extension; admins and organization keys)",
        params: OrgParamsSchema,
        querystring: AuditQuerySchema,
        response: {
          200: Type.Object({
            events: Type.Array(AuditEventSchema),
            pagination: Type.Object({ next: Type.Optional(Type.String()) }),
          }),
          ...ErrorResponses,
        },
      },
    },
    async (req) => {
      const page = await audit.list(principalOf(req), req.params.org_id, req.query);
      return {
        events: page.events.map((e) => presentAuditEvent(e, page.keyNames)),
        pagination: page.next ? { next: page.next } : {},
      };
    },
  );

  app.get(
    '/organizations/:org_id/audit_log/actions',
    {
      schema: {
        operationId: 'getOrganizationAuditLogActions',
        tags: ['Organizations'],
        summary:
          "The actions recorded in the organization's audit log, for filtering (orgplane extension; admins and organization keys)",
        params: OrgParamsSchema,
        response: { 200: Type.Object({ actions: Type.Array(Type.String()) }), ...ErrorResponses },
      },
    },
    async (req) => ({ actions: await audit.actions(principalOf(req), req.params.org_id) }),
  );
};
