// GET /auth, GET /users/me, GET /users/me/organizations
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { principalOf } from '../http/authenticate.ts';
import { ErrorResponses } from '../http/common-schemas.ts';
import { presentOrganization } from '../organizations/organizations.presenter.ts';
import type { Services } from '../services.ts';
import { presentCurrentUser } from './users.presenter.ts';
import { AuthDetailsSchema, CurrentUserInfoSchema, OrganizationsResponseSchema } from './users.schemas.ts';

export const usersRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/auth',
    {
      schema: {
        operationId: 'getAuthDetails',
        tags: ['Users'],
        summary: 'Return auth details',
        response: { 200: AuthDetailsSchema, ...ErrorResponses },
      },
    },
    async (req) => services.users.auth(principalOf(req)),
  );

  app.get(
    '/users/me',
    {
      schema: {
        operationId: 'getCurrentUserInfo',
        tags: ['Users'],
        summary: 'Retrieve current user details',
        response: { 200: CurrentUserInfoSchema, ...ErrorResponses },
      },
    },
    async (req) => presentCurrentUser(await services.users.me(principalOf(req))),
  );

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
      organizations: (await services.users.organizations(principalOf(req))).map(presentOrganization),
    }),
  );
};
