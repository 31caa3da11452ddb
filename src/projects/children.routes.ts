// A project's children, read-only (branches, endpoints, databases, roles, connection URI), and a
// refusal route for every write on them: orgplane manages organizations, not compute.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { principalOf } from '../http/authenticate.ts';
import { ErrorResponses } from '../http/common-schemas.ts';
import { acceptEmptyFormBody } from '../http/form-body.ts';
import type { ChildrenService } from './children.service.ts';
import {
  BranchesResponseSchema,
  BranchListQuerySchema,
  ConnectionUriQuerySchema,
  ConnectionUriResponseSchema,
  EndpointParamsSchema,
  EndpointResponseSchema,
  EndpointsResponseSchema,
  ReadRouteSchemas,
  RoleParamsSchema,
  RolePasswordResponseSchema,
} from './children.schemas.ts';
import {
  emptyAnnotation,
  presentBranch,
  presentDatabase,
  presentEndpoint,
  presentRole,
} from './projects.presenter.ts';
import { ProjectParamsSchema } from './projects.schemas.ts';
import { refusalRoutes } from './refusal.routes.ts';
import { UNSUPPORTED_OPERATIONS } from './unsupported.ts';

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
      schema: ReadRouteSchemas.countProjectBranches,
    },
    async (req) => ({
      count: await children.countBranches(principalOf(req), req.params.project_id, req.query.search),
    }),
  );

  app.get(
    '/projects/:project_id/branches/:branch_id',
    {
      schema: ReadRouteSchemas.getProjectBranch,
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
      schema: ReadRouteSchemas.listProjectBranchEndpoints,
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
      schema: ReadRouteSchemas.listProjectBranchDatabases,
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
      schema: ReadRouteSchemas.getProjectBranchDatabase,
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
      schema: ReadRouteSchemas.listProjectBranchRoles,
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
      schema: ReadRouteSchemas.getProjectBranchRole,
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
  acceptEmptyFormBody(app);
  refusalRoutes(
    app,
    UNSUPPORTED_OPERATIONS,
    (op) => `orgplane manages organizations, not compute: ${op.doing} is not supported (${op.operationId})`,
  );
};
