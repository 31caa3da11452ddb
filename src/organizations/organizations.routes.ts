// GET /users/me/organizations, GET /organizations/{org_id}; PATCH /organizations/{org_id}, POST /organizations and
// GET /organizations/{org_id}/capabilities (extensions).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { auditOf } from '../audit/audit.hook.ts';
import { badRequest, forbidden } from '../domain/errors.ts';
import { principalOf } from '../http/authenticate.ts';
import { ErrorResponses, OrgParamsSchema } from '../http/common-schemas.ts';
import type { OrganizationsService } from './organizations.service.ts';
import { presentOrganization } from './organizations.presenter.ts';
import {
  CapabilitiesSchema,
  NOTHING_TO_CHANGE,
  ORGANIZATION_UPDATE_FIELDS,
  OrganizationCreateSchema,
  OrganizationsResponseSchema,
  OrganizationUpdateSchema,
  PLAN_REFUSED,
} from './organizations.schemas.ts';

export const organizationsRoutes: FastifyPluginAsyncTypebox<{ organizations: OrganizationsService }> = async (
  app,
  { organizations },
) => {
  app.get(
    '/users/me/organizations',
    {
      schema: {
        operationId: 'getCurrentUserOrganizations',
        tags: ['Users', 'Organizations'],
        summary: "Retrieve current user's organizations (or the one owning an organization key)",
        response: { 200: OrganizationsResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => ({
      organizations: (await organizations.ofCaller(principalOf(req))).map(presentOrganization),
    }),
  );

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

  app.get(
    '/organizations/:org_id/capabilities',
    {
      schema: {
        operationId: 'getOrganizationCapabilities',
        tags: ['Organizations'],
        summary:
          "What the caller may do in the organization: every action of the permission policy, allowed or not and why, plus the plan's project limit (orgplane extension)",
        params: OrgParamsSchema,
        response: { 200: CapabilitiesSchema, ...ErrorResponses },
      },
    },
    async (req) => organizations.capabilities(principalOf(req), req.params.org_id),
  );

  app.patch(
    '/organizations/:org_id',
    {
      config: { audit: 'organization.updated' },
      schema: {
        operationId: 'updateOrganization',
        tags: ['Organizations'],
        summary:
          'Change organization settings: name, max_api_key_lifetime_days (orgplane extension; admins with a personal key; audited as organization.updated)',
        params: OrgParamsSchema,
        body: OrganizationUpdateSchema,
        response: { 200: Type.Ref('Organization'), ...ErrorResponses },
      },
      // Before validation (which drops unknown properties): a field we do not change is named in a
      // 400, never answered with a 200 that changed nothing.
      preValidation: async (req) => {
        const body = req.body as Record<string, unknown> | null;
        if (!body || typeof body !== 'object') return;
        const unknown = Object.keys(body).filter(
          (k) => !(ORGANIZATION_UPDATE_FIELDS as readonly string[]).includes(k),
        );
        if (unknown.length > 0) {
          throw badRequest(
            `${unknown.join(', ')} cannot be changed here; ${NOTHING_TO_CHANGE.replace(/^nothing to change: /, '')}`,
          );
        }
      },
    },
    async (req) =>
      presentOrganization(
        await organizations.update(principalOf(req), req.params.org_id, req.body, auditOf(req)),
      ),
  );

  app.post(
    '/organizations',
    {
      config: { audit: 'organization.created' },
      schema: {
        operationId: 'createOrganization',
        tags: ['Organizations'],
        summary:
          'Create an organization with the caller as its admin (orgplane extension; personal keys only)',
        body: OrganizationCreateSchema,
        response: { 201: Type.Ref('Organization'), ...ErrorResponses },
      },
      // Before validation, so the refusal says why instead of "unknown property".
      preValidation: async (req) => {
        const body = req.body as Record<string, unknown> | null;
        if (body && typeof body === 'object' && Object.hasOwn(body, 'plan')) throw forbidden(PLAN_REFUSED);
      },
    },
    async (req, reply) => {
      const org = await organizations.create(principalOf(req), req.body, auditOf(req));
      return reply.code(201).send(presentOrganization(org));
    },
  );
};
