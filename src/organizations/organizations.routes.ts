// GET /organizations/{org_id}; POST /organizations (extension).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { auditOf } from '../http/audit.ts';
import { principalOf } from '../http/authenticate.ts';
import { ErrorResponses, OrgParamsSchema } from '../http/common-schemas.ts';
import type { OrganizationsService } from './organizations.service.ts';
import { presentOrganization } from './organizations.presenter.ts';
import { OrganizationCreateSchema } from './organizations.schemas.ts';

export const organizationsRoutes: FastifyPluginAsyncTypebox<{ organizations: OrganizationsService }> = async (
  app,
  { organizations },
) => {
  app.get(
    '/organizations/:org_id',
    {
      schema: {
        operationId: 'getOrganization',
        tags: ['Organizations'],
        summary: 'Retrieve organization details',
        params: OrgParamsSchema,
        response: { 200: Type.Ref('Organization'), ...ErrorResponses },
      },
    },
    async (req) => presentOrganization(await organizations.get(principalOf(req), req.params.org_id)),
  );

  app.post(
    '/organizations',
    {
      schema: {
        operationId: 'createOrganization',
        tags: ['Organizations'],
        summary:
          'Create an organization with the caller as its admin (orgplane extension; personal keys only)',
        body: OrganizationCreateSchema,
        response: { 201: Type.Ref('Organization'), ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const org = await organizations.create(principalOf(req), req.body, auditOf(req));
      return reply.code(201).send(presentOrganization(org));
    },
  );
};
