// A project's children, read-only (branches, endpoints, databases, roles, connection URI), and a
// refusal route for every write on them: orgplane manages organizations, not compute.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../domain/errors.ts';
import { principalOf } from '../http/authenticate.ts';
import { ErrorResponses } from '../http/common-schemas.ts';
import type { ChildrenService } from './children.service.ts';
import {
  BranchCountQuerySchema,
  BranchCountResponseSchema,
  BranchesResponseSchema,
  BranchListQuerySchema,
  BranchParamsSchema,
  BranchResponseSchema,
  ConnectionUriQuerySchema,
  ConnectionUriResponseSchema,
  DatabaseParamsSchema,
  DatabaseResponseSchema,
  DatabasesResponseSchema,
  EndpointParamsSchema,
  EndpointResponseSchema,
  EndpointsResponseSchema,
  RoleParamsSchema,
  RolePasswordResponseSchema,
  RoleResponseSchema,
  RolesResponseSchema,
} from './children.schemas.ts';
import { presentBranch, presentDatabase, presentEndpoint, presentRole } from './projects.presenter.ts';
import { ProjectParamsSchema } from './projects.schemas.ts';
import { UNSUPPORTED_OPERATIONS } from './unsupported.ts';

/** orgplane keeps no branch annotations; Neon's spec requires the field, so it is empty. */
const emptyAnnotation = (branchId: string) => ({
  object: { type: 'console/branch', id: branchId },
  value: {},
});

export const childrenRoutes: FastifyPluginAsyncTypebox<{ children: ChildrenService }> = async (
  app,
  { children },
) => {
  app.get(
    '/projects/:project_id/branches',
    {
      schema: {
        operationId: 'listProjectBranches',
        tags: ['Branch'],
        summary: "List a project's branches (orgplane: the default branch); cursor = pagination.next",
        params: ProjectParamsSchema,
        querystring: BranchListQuerySchema,
        response: { 200: BranchesResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const page = await children.listBranches(principalOf(req), req.params.project_id, req.query);
      return {
        branches: page.projects.map(presentBranch),
        annotations: {},
        pagination: { sort_by: page.sortBy, sort_order: page.sortOrder },
      };
    },
  );

  app.get(
    '/projects/:project_id/branches/count',
    {
      schema: {
        operationId: 'countProjectBranches',
        tags: ['Branch'],
        summary: "Count a project's branches",
        params: ProjectParamsSchema,
        querystring: BranchCountQuerySchema,
        response: { 200: BranchCountResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => ({
      count: await children.countBranches(principalOf(req), req.params.project_id, req.query.search),
    }),
  );

  app.get(
    '/projects/:project_id/branches/:branch_id',
    {
      schema: {
        operationId: 'getProjectBranch',
        tags: ['Branch'],
        summary: 'Retrieve branch details',
        params: BranchParamsSchema,
        response: { 200: BranchResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const p = await children.branch(principalOf(req), req.params.project_id, req.params.branch_id);
      return { branch: presentBranch(p), annotation: emptyAnnotation(p.branch_id) };
    },
  );

  app.get(
    '/projects/:project_id/endpoints',
    {
      schema: {
        operationId: 'listProjectEndpoints',
        tags: ['Endpoint'],
        summary: "List a project's compute endpoints (orgplane: the default branch's read-write endpoint)",
        params: ProjectParamsSchema,
        response: { 200: EndpointsResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => ({
      endpoints: [presentEndpoint(await children.project(principalOf(req), req.params.project_id))],
    }),
  );

  app.get(
    '/projects/:project_id/endpoints/:endpoint_id',
    {
      schema: {
        operationId: 'getProjectEndpoint',
        tags: ['Endpoint'],
        summary: 'Retrieve compute endpoint details',
        params: EndpointParamsSchema,
        response: { 200: EndpointResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => ({
      endpoint: presentEndpoint(
        await children.endpoint(principalOf(req), req.params.project_id, req.params.endpoint_id),
      ),
    }),
  );

  app.get(
    '/projects/:project_id/branches/:branch_id/endpoints',
    {
      schema: {
        operationId: 'listProjectBranchEndpoints',
        tags: ['Branch'],
        summary: "List a branch's compute endpoints",
        params: BranchParamsSchema,
        response: { 200: EndpointsResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => ({
      endpoints: [
        presentEndpoint(await children.branch(principalOf(req), req.params.project_id, req.params.branch_id)),
      ],
    }),
  );

  app.get(
    '/projects/:project_id/branches/:branch_id/databases',
    {
      schema: {
        operationId: 'listProjectBranchDatabases',
        tags: ['Branch'],
        summary: "List a branch's databases",
        params: BranchParamsSchema,
        response: { 200: DatabasesResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => ({
      databases: [
        presentDatabase(await children.branch(principalOf(req), req.params.project_id, req.params.branch_id)),
      ],
    }),
  );

  app.get(
    '/projects/:project_id/branches/:branch_id/databases/:database_name',
    {
      schema: {
        operationId: 'getProjectBranchDatabase',
        tags: ['Branch'],
        summary: 'Retrieve database details',
        params: DatabaseParamsSchema,
        response: { 200: DatabaseResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const { project_id, branch_id, database_name } = req.params;
      return {
        database: presentDatabase(
          await children.database(principalOf(req), project_id, branch_id, database_name),
        ),
      };
    },
  );

  app.get(
    '/projects/:project_id/branches/:branch_id/roles',
    {
      schema: {
        operationId: 'listProjectBranchRoles',
        tags: ['Branch'],
        summary: "List a branch's Postgres roles (passwords are never listed)",
        params: BranchParamsSchema,
        response: { 200: RolesResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => ({
      roles: [
        presentRole(await children.branch(principalOf(req), req.params.project_id, req.params.branch_id)),
      ],
    }),
  );

  app.get(
    '/projects/:project_id/branches/:branch_id/roles/:role_name',
    {
      schema: {
        operationId: 'getProjectBranchRole',
        tags: ['Branch'],
        summary: 'Retrieve role details',
        params: RoleParamsSchema,
        response: { 200: RoleResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const { project_id, branch_id, role_name } = req.params;
      return { role: presentRole(await children.role(principalOf(req), project_id, branch_id, role_name)) };
    },
  );

  app.get(
    '/projects/:project_id/branches/:branch_id/roles/:role_name/reveal_password',
    {
      schema: {
        operationId: 'getProjectBranchRolePassword',
        tags: ['Branch'],
        summary: "Retrieve a role's password (412 when the project does not store passwords)",
        params: RoleParamsSchema,
        response: { 200: RolePasswordResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const { project_id, branch_id, role_name } = req.params;
      return { password: await children.rolePassword(principalOf(req), project_id, branch_id, role_name) };
    },
  );

  app.get(
    '/projects/:project_id/connection_uri',
    {
      schema: {
        operationId: 'getConnectionURI',
        tags: ['Project'],
        summary:
          'Retrieve the connection URI of a database (the create response’s URI; -pooler host when pooled)',
        params: ProjectParamsSchema,
        querystring: ConnectionUriQuerySchema,
        response: { 200: ConnectionUriResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => ({
      uri: await children.connectionUri(principalOf(req), req.params.project_id, req.query),
    }),
  );

  // Everything else Neon defines on branches and endpoints: a clear refusal, the same for every
  // caller (nothing is read or changed, so there is nothing to authorize). Neon's SDK sends
  // bodiless POSTs (…/start, …/reset_password) as an empty form body: accepted, as in projects.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    if (body === '') done(null, undefined);
    else done(new AppError('UNSUPPORTED_MEDIA_TYPE', 'request body must be application/json'), undefined);
  });
  for (const op of UNSUPPORTED_OPERATIONS) {
    const message = `orgplane manages organizations, not compute: ${op.doing} is not supported (${op.operationId})`;
    app.route({
      method: op.method,
      url: op.path.replace(/\{([a-z_]+)\}/g, ':$1'),
      schema: {
        operationId: op.operationId,
        tags: ['Not supported'],
        summary: `Not supported by orgplane: always 422 (${op.doing})`,
        response: ErrorResponses,
      },
      handler: async () => {
        throw new AppError('UNPROCESSABLE', message);
      },
    });
  }
};
