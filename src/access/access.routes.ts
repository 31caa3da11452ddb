// POST /organizations/{org_id}/access/explain (orgplane extension): would this key, member or
// address be allowed an operation? Answered by the policy code that serves requests; changes nothing.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../http/authenticate.ts';
import { ErrorResponses, OrgParamsSchema } from '../http/common-schemas.ts';
import type { ExplainService } from './explain.service.ts';

const ExplainBodySchema = Type.Object(
  {
    key_id: Type.Optional(Type.Integer({ minimum: 1 })),
    member_id: Type.Optional(Type.String({ format: 'uuid' })),
    email: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    operation: Type.String({ minLength: 1, maxLength: 100 }),
    target: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    /** The body of the request explained: it can decide the answer (project_id, canary, org_id…). */
    body: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

export const accessRoutes: FastifyPluginAsyncTypebox<{ explain: ExplainService }> = async (
  app,
  { explain },
) => {
  app.post(
    '/organizations/:org_id/access/explain',
    {
      config: { audit: { none: 'read-only: changes nothing' } },
      schema: {
        operationId: 'explainAccess',
        tags: ['Organizations'],
        summary: 'Would this key, member or address be allowed an operation? (orgplane extension; admins)',
        params: OrgParamsSchema,
        body: ExplainBodySchema,
        response: {
          200: Type.Object({
            allowed: Type.Boolean(),
            status: Type.Integer(),
            rule: Type.String(),
            reason: Type.String(),
          }),
          ...ErrorResponses,
        },
      },
    },
    async (req) => explain.explain(principalOf(req), req.params.org_id, req.body),
  );
};
