// GET /auth, GET /users/me (GET /users/me/organizations is served by organizations/)
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { principalOf } from '../http/authenticate.ts';
import { ErrorResponses } from '../http/common-schemas.ts';
import type { UsersService } from './users.service.ts';
import { presentCurrentUser } from './users.presenter.ts';
import { AuthDetailsSchema, CurrentUserInfoSchema } from './users.schemas.ts';

export const usersRoutes: FastifyPluginAsyncTypebox<{ users: UsersService }> = async (app, { users }) => {
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
    async (req) => users.auth(principalOf(req)),
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
    async (req) => presentCurrentUser(await users.me(principalOf(req))),
  );
};
