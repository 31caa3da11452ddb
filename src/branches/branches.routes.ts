// Neon's branch, endpoint, database, role, schema and connection routes, served on the compute
// engine (registered when compute is on; src/projects/children.routes.ts serves the read-only
// records otherwise). Who may call: branch:read, branch:write and project:connection_read in
// src/policy. Audited: each write's action is in config.audit (the allowed outcome is written by
// the service in its transaction; a refusal by src/audit/audit.hook.ts).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { createTwoFilesPatch } from 'diff';
import { AppError } from '../domain/errors.ts';
import { auditOf } from '../audit/audit.hook.ts';
import { principalOf } from '../http/authenticate.ts';
import { ErrorResponses } from '../http/common-schemas.ts';
import { acceptEmptyFormBody } from '../http/form-body.ts';
import {
  BranchesResponseSchema,
  BranchListQuerySchema,
  ConnectionUriQuerySchema,
  ConnectionUriResponseSchema,
  DatabaseParamsSchema,
  EndpointParamsSchema,
  EndpointResponseSchema,
  EndpointsResponseSchema,
  ReadRouteSchemas,
  RoleParamsSchema,
  RolePasswordResponseSchema,
} from '../projects/children.schemas.ts';
import { emptyAnnotation, presentOperation } from '../projects/projects.presenter.ts';
import { ProjectParamsSchema } from '../projects/projects.schemas.ts';
import { refusalRoutes } from '../projects/refusal.routes.ts';
import { HOSTED_ONLY_OPERATIONS, UNSUPPORTED_OPERATIONS } from '../projects/unsupported.ts';
import {
  connectionDetails,
  connectionUriFor,
  pooledHost,
  presentBranch,
  presentDatabase,
  presentEndpoint,
  presentRole,
} from './branches.presenter.ts';
import {
  BranchCreatedSchema,
  BranchCreateSchema,
  BranchOperationsSchema,
  BranchParamsSchema,
  BranchRestoreSchema,
  BranchSchemaCompareResponseSchema,
  BranchSchemaResponseSchema,
  BranchUpdateSchema,
  CompareSchemaQuerySchema,
  DatabaseCreateSchema,
  DatabaseOperationsSchema,
  DatabaseUpdateSchema,
  EndpointCreateSchema,
  EndpointOperationsSchema,
  EndpointUpdateSchema,
  RoleCreateSchema,
  RoleOperationsSchema,
  SchemaQuerySchema,
} from './branches.schemas.ts';
import { POINT_IN_TIME_REFUSAL, type BranchesService } from './branches.service.ts';
import { SERVED_WITH_COMPUTE } from './coverage.ts';

const audit = (action: string) => ({ audit: action });

export const branchesRoutes: FastifyPluginAsyncTypebox<{ branches: BranchesService }> = async (
  app,
  { branches },
) => {
  acceptEmptyFormBody(app);

  // ------------------------------------------------------------------ branches
  app.get(
    '/projects/:project_id/branches',
    {
      schema: {
        operationId: 'listProjectBranches',
        tags: ['Branch'],
        summary: "List a project's branches (search by name or id; one page)",
        params: ProjectParamsSchema,
        querystring: BranchListQuerySchema,
        response: { 200: BranchesResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const { branches: all } = await branches.listBranches(principalOf(req), req.params.project_id);
      const s = req.query.search?.toLowerCase();
      const sortBy = req.query.sort_by ?? 'updated_at';
      const sortOrder = req.query.sort_order ?? 'desc';
      const list = all
        .filter((b) => !s || b.name.toLowerCase().includes(s) || b.id.includes(s))
        .sort((a, b) => {
          const x = sortBy === 'name' ? a.name : sortBy === 'created_at' ? a.created_at : a.updated_at;
          const y = sortBy === 'name' ? b.name : sortBy === 'created_at' ? b.created_at : b.updated_at;
          const c = x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : 1;
          return sortOrder === 'asc' ? c : -c;
        });
      let start = 0;
      if (req.query.cursor !== undefined) {
        const i = list.findIndex((b) => b.id === req.query.cursor);
        if (i < 0)
          throw new AppError(
            'BAD_REQUEST',
            'cursor is not valid: pass pagination.next from the previous page',
          );
        start = i + 1;
      }
      const limit = req.query.limit ?? 10000;
      const page = list.slice(start, start + limit);
      const last = page[page.length - 1];
      return {
        branches: page.map(presentBranch),
        annotations: {},
        pagination: {
          ...(last && start + limit < list.length ? { next: last.id } : {}),
          sort_by: sortBy,
          sort_order: sortOrder,
        },
      };
    },
  );

  app.get(
    '/projects/:project_id/branches/count',
    {
      schema: ReadRouteSchemas.countProjectBranches,
    },
    async (req) => {
      const { branches: all } = await branches.listBranches(principalOf(req), req.params.project_id);
      const s = req.query.search?.toLowerCase();
      return { count: all.filter((b) => !s || b.name.toLowerCase().includes(s) || b.id.includes(s)).length };
    },
  );

  app.post(
    '/projects/:project_id/branches',
    {
      config: audit('branch.created'),
      schema: {
        operationId: 'createProjectBranch',
        tags: ['Branch'],
        summary:
          "Create a branch: a copy of its parent's current data, with or without endpoints (parent_lsn / parent_timestamp: 422, not emulated)",
        params: ProjectParamsSchema,
        body: BranchCreateSchema,
        response: { 201: BranchCreatedSchema, ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const r = await branches.createBranch(
        principalOf(req),
        req.params.project_id,
        req.body ?? {},
        auditOf(req),
      );
      // Neon: the URI only when the branch has an endpoint and one role and one database.
      const [role] = r.roles;
      const [db] = r.databases;
      const [endpoint] = r.endpoints;
      const password = role ? r.passwords.get(role.name) : undefined;
      const uris =
        endpoint && role && db && r.roles.length === 1 && r.databases.length === 1 && password !== undefined
          ? [connectionDetails(endpoint, role.name, password, db.name)]
          : [];
      return reply.code(201).send({
        branch: presentBranch(r.branch),
        endpoints: r.endpoints.map(presentEndpoint),
        operations: r.operations.map(presentOperation),
        roles: r.roles.map((x) => presentRole(x)),
        databases: r.databases.map(presentDatabase),
        connection_uris: uris,
      });
    },
  );

  app.get(
    '/projects/:project_id/branches/:branch_id',
    {
      schema: ReadRouteSchemas.getProjectBranch,
    },
    async (req) => {
      const { branch } = await branches.branch(principalOf(req), req.params.project_id, req.params.branch_id);
      return { branch: presentBranch(branch), annotation: emptyAnnotation(branch.id) };
    },
  );

  app.patch(
    '/projects/:project_id/branches/:branch_id',
    {
      config: audit('branch.updated'),
      schema: {
        operationId: 'updateProjectBranch',
        tags: ['Branch'],
        summary: 'Rename a branch, protect it, or set or clear its expiration',
        params: BranchParamsSchema,
        body: BranchUpdateSchema,
        response: { 200: BranchOperationsSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const b = await branches.updateBranch(
        principalOf(req),
        req.params.project_id,
        req.params.branch_id,
        req.body.branch,
        auditOf(req),
      );
      return { branch: presentBranch(b), operations: [] };
    },
  );

  app.delete(
    '/projects/:project_id/branches/:branch_id',
    {
      config: audit('branch.deleted'),
      schema: {
        operationId: 'deleteProjectBranch',
        tags: ['Branch'],
        summary: 'Delete a branch with its endpoints and data (not the default or a protected branch)',
        params: BranchParamsSchema,
        response: { 200: BranchOperationsSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const r = await branches.deleteBranch(
        principalOf(req),
        req.params.project_id,
        req.params.branch_id,
        auditOf(req),
      );
      return { branch: presentBranch(r.branch), operations: r.operations.map(presentOperation) };
    },
  );

  app.post(
    '/projects/:project_id/branches/:branch_id/set_as_default',
    {
      config: audit('branch.set_default'),
      schema: {
        operationId: 'setDefaultProjectBranch',
        tags: ['Branch'],
        summary: "Set the project's default branch",
        params: BranchParamsSchema,
        response: { 200: BranchOperationsSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const b = await branches.setDefault(
        principalOf(req),
        req.params.project_id,
        req.params.branch_id,
        auditOf(req),
      );
      return { branch: presentBranch(b), operations: [] };
    },
  );

  app.post(
    '/projects/:project_id/branches/:branch_id/restore',
    {
      config: audit('branch.restored'),
      schema: {
        operationId: 'restoreProjectBranch',
        tags: ['Branch'],
        summary:
          'Restore a branch to the head of another branch (reset to parent: source_branch_id = parent); source_lsn / source_timestamp: 422, not emulated',
        params: BranchParamsSchema,
        body: BranchRestoreSchema,
        response: { 200: BranchOperationsSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const r = await branches.restoreBranch(
        principalOf(req),
        req.params.project_id,
        req.params.branch_id,
        req.body,
        auditOf(req),
      );
      return { branch: presentBranch(r.branch), operations: r.operations.map(presentOperation) };
    },
  );

  app.get(
    '/projects/:project_id/branches/:branch_id/schema',
    {
      schema: {
        operationId: 'getProjectBranchSchema',
        tags: ['Branch'],
        summary: "A database's schema as pg_dump --schema-only prints it (format=sql; lsn / timestamp: 422)",
        params: BranchParamsSchema,
        querystring: SchemaQuerySchema,
        response: { 200: BranchSchemaResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      if (req.query.lsn !== undefined || req.query.timestamp !== undefined) {
        throw new AppError('UNPROCESSABLE', POINT_IN_TIME_REFUSAL);
      }
      if (req.query.format === 'json') {
        throw new AppError(
          'UNPROCESSABLE',
          'format=json cannot be emulated: orgplane returns the schema as SQL (format=sql)',
        );
      }
      const sql = await branches.schema(
        principalOf(req),
        req.params.project_id,
        req.params.branch_id,
        req.query.db_name,
      );
      return { sql };
    },
  );

  app.get(
    '/projects/:project_id/branches/:branch_id/compare_schema',
    {
      schema: {
        operationId: 'getProjectBranchSchemaComparison',
        tags: ['Branch'],
        summary:
          "A unified diff of the schemas of a database on two branches (base: the branch's parent by default)",
        params: BranchParamsSchema,
        querystring: CompareSchemaQuerySchema,
        response: { 200: BranchSchemaCompareResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const qy = req.query;
      if (qy.lsn ?? qy.timestamp ?? qy.base_lsn ?? qy.base_timestamp) {
        throw new AppError('UNPROCESSABLE', POINT_IN_TIME_REFUSAL);
      }
      const principal = principalOf(req);
      const { branch } = await branches.branch(principal, req.params.project_id, req.params.branch_id);
      const baseId = qy.base_branch_id ?? branch.parent_id;
      if (!baseId)
        throw new AppError('BAD_REQUEST', `branch ${branch.id} has no parent: pass base_branch_id`);
      const [base, target] = await Promise.all([
        branches.schema(principal, req.params.project_id, baseId, qy.db_name),
        branches.schema(principal, req.params.project_id, branch.id, qy.db_name),
      ]);
      const diff = base === target ? '' : createTwoFilesPatch(`a/${baseId}`, `b/${branch.id}`, base, target);
      return { diff };
    },
  );

  app.get(
    '/projects/:project_id/branches/:branch_id/endpoints',
    {
      schema: ReadRouteSchemas.listProjectBranchEndpoints,
    },
    async (req) => ({
      endpoints: (
        await branches.listEndpoints(principalOf(req), req.params.project_id, req.params.branch_id)
      ).map(presentEndpoint),
    }),
  );

  // ------------------------------------------------------------------ databases
  app.get(
    '/projects/:project_id/branches/:branch_id/databases',
    {
      schema: ReadRouteSchemas.listProjectBranchDatabases,
    },
    async (req) => ({
      databases: (
        await branches.databases(principalOf(req), req.params.project_id, req.params.branch_id)
      ).map(presentDatabase),
    }),
  );

  app.post(
    '/projects/:project_id/branches/:branch_id/databases',
    {
      config: audit('database.created'),
      schema: {
        operationId: 'createProjectBranchDatabase',
        tags: ['Branch'],
        summary: 'Create a database owned by one of the branch’s roles',
        params: BranchParamsSchema,
        body: DatabaseCreateSchema,
        response: { 201: DatabaseOperationsSchema, ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const r = await branches.createDatabase(
        principalOf(req),
        req.params.project_id,
        req.params.branch_id,
        req.body.database,
        auditOf(req),
      );
      return reply
        .code(201)
        .send({ database: presentDatabase(r.database), operations: r.operations.map(presentOperation) });
    },
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
          await branches.database(principalOf(req), project_id, branch_id, database_name),
        ),
      };
    },
  );

  app.patch(
    '/projects/:project_id/branches/:branch_id/databases/:database_name',
    {
      config: audit('database.updated'),
      schema: {
        operationId: 'updateProjectBranchDatabase',
        tags: ['Branch'],
        summary: 'Rename a database or change its owner',
        params: DatabaseParamsSchema,
        body: DatabaseUpdateSchema,
        response: { 200: DatabaseOperationsSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const { project_id, branch_id, database_name } = req.params;
      const r = await branches.updateDatabase(
        principalOf(req),
        project_id,
        branch_id,
        database_name,
        req.body.database,
        auditOf(req),
      );
      return { database: presentDatabase(r.database), operations: r.operations.map(presentOperation) };
    },
  );

  app.delete(
    '/projects/:project_id/branches/:branch_id/databases/:database_name',
    {
      config: audit('database.deleted'),
      schema: {
        operationId: 'deleteProjectBranchDatabase',
        tags: ['Branch'],
        summary: 'Delete a database (its sessions are ended)',
        params: DatabaseParamsSchema,
        response: { 200: DatabaseOperationsSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const { project_id, branch_id, database_name } = req.params;
      const r = await branches.deleteDatabase(
        principalOf(req),
        project_id,
        branch_id,
        database_name,
        auditOf(req),
      );
      return { database: presentDatabase(r.database), operations: r.operations.map(presentOperation) };
    },
  );

  // ------------------------------------------------------------------ roles
  app.get(
    '/projects/:project_id/branches/:branch_id/roles',
    {
      schema: ReadRouteSchemas.listProjectBranchRoles,
    },
    async (req) => ({
      roles: (await branches.roles(principalOf(req), req.params.project_id, req.params.branch_id)).map((r) =>
        presentRole(r),
      ),
    }),
  );

  app.post(
    '/projects/:project_id/branches/:branch_id/roles',
    {
      config: audit('role.created'),
      schema: {
        operationId: 'createProjectBranchRole',
        tags: ['Branch'],
        summary: 'Create a Postgres role (LOGIN with a generated password unless no_login)',
        params: BranchParamsSchema,
        body: RoleCreateSchema,
        response: { 201: RoleOperationsSchema, ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const r = await branches.createRole(
        principalOf(req),
        req.params.project_id,
        req.params.branch_id,
        req.body.role,
        auditOf(req),
      );
      return reply
        .code(201)
        .send({ role: presentRole(r.role, r.password), operations: r.operations.map(presentOperation) });
    },
  );

  app.get(
    '/projects/:project_id/branches/:branch_id/roles/:role_name',
    {
      schema: ReadRouteSchemas.getProjectBranchRole,
    },
    async (req) => {
      const { project_id, branch_id, role_name } = req.params;
      return { role: presentRole(await branches.role(principalOf(req), project_id, branch_id, role_name)) };
    },
  );

  app.delete(
    '/projects/:project_id/branches/:branch_id/roles/:role_name',
    {
      config: audit('role.deleted'),
      schema: {
        operationId: 'deleteProjectBranchRole',
        tags: ['Branch'],
        summary: 'Delete a Postgres role (not while it owns a database)',
        params: RoleParamsSchema,
        response: { 200: RoleOperationsSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const { project_id, branch_id, role_name } = req.params;
      const r = await branches.deleteRole(principalOf(req), project_id, branch_id, role_name, auditOf(req));
      return { role: presentRole(r.role), operations: r.operations.map(presentOperation) };
    },
  );

  app.get(
    '/projects/:project_id/branches/:branch_id/roles/:role_name/reveal_password',
    {
      schema: {
        operationId: 'getProjectBranchRolePassword',
        tags: ['Branch'],
        summary: "Retrieve a role's password (stored sealed with the server key; 412 when not stored)",
        params: RoleParamsSchema,
        response: { 200: RolePasswordResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const { project_id, branch_id, role_name } = req.params;
      return { password: await branches.revealPassword(principalOf(req), project_id, branch_id, role_name) };
    },
  );

  app.post(
    '/projects/:project_id/branches/:branch_id/roles/:role_name/reset_password',
    {
      config: audit('role.password_reset'),
      schema: {
        operationId: 'resetProjectBranchRolePassword',
        tags: ['Branch'],
        summary: 'Give a role a new generated password (the old one stops working)',
        params: RoleParamsSchema,
        response: { 200: RoleOperationsSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const { project_id, branch_id, role_name } = req.params;
      const r = await branches.resetPassword(
        principalOf(req),
        project_id,
        branch_id,
        role_name,
        auditOf(req),
      );
      return { role: presentRole(r.role, r.password), operations: r.operations.map(presentOperation) };
    },
  );

  // ------------------------------------------------------------------ endpoints
  app.get(
    '/projects/:project_id/endpoints',
    {
      schema: {
        operationId: 'listProjectEndpoints',
        tags: ['Endpoint'],
        summary: "List a project's compute endpoints",
        params: ProjectParamsSchema,
        response: { 200: EndpointsResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => ({
      endpoints: (await branches.listEndpoints(principalOf(req), req.params.project_id)).map(presentEndpoint),
    }),
  );

  app.post(
    '/projects/:project_id/endpoints',
    {
      config: audit('endpoint.created'),
      schema: {
        operationId: 'createProjectEndpoint',
        tags: ['Endpoint'],
        summary: 'Create a read_write compute endpoint on a branch (read_only: 422, not emulated)',
        params: ProjectParamsSchema,
        body: EndpointCreateSchema,
        response: { 201: EndpointOperationsSchema, ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const r = await branches.createEndpoint(
        principalOf(req),
        req.params.project_id,
        req.body.endpoint,
        auditOf(req),
      );
      return reply
        .code(201)
        .send({ endpoint: presentEndpoint(r.endpoint), operations: r.operations.map(presentOperation) });
    },
  );

  app.get(
    '/projects/:project_id/endpoints/:endpoint_id',
    {
      schema: {
        operationId: 'getProjectEndpoint',
        tags: ['Endpoint'],
        summary: 'Retrieve compute endpoint details (current_state from the running compute)',
        params: EndpointParamsSchema,
        response: { 200: EndpointResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => ({
      endpoint: presentEndpoint(
        await branches.endpoint(principalOf(req), req.params.project_id, req.params.endpoint_id),
      ),
    }),
  );

  app.patch(
    '/projects/:project_id/endpoints/:endpoint_id',
    {
      config: audit('endpoint.updated'),
      schema: {
        operationId: 'updateProjectEndpoint',
        tags: ['Endpoint'],
        summary: 'Update an endpoint (suspend_timeout_seconds, disabled, branch_id, sizes, settings)',
        params: EndpointParamsSchema,
        body: EndpointUpdateSchema,
        response: { 200: EndpointOperationsSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const r = await branches.updateEndpoint(
        principalOf(req),
        req.params.project_id,
        req.params.endpoint_id,
        req.body.endpoint,
        auditOf(req),
      );
      return { endpoint: presentEndpoint(r.endpoint), operations: r.operations.map(presentOperation) };
    },
  );

  app.delete(
    '/projects/:project_id/endpoints/:endpoint_id',
    {
      config: audit('endpoint.deleted'),
      schema: {
        operationId: 'deleteProjectEndpoint',
        tags: ['Endpoint'],
        summary: 'Delete an endpoint (its port stops answering)',
        params: EndpointParamsSchema,
        response: { 200: EndpointOperationsSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const r = await branches.deleteEndpoint(
        principalOf(req),
        req.params.project_id,
        req.params.endpoint_id,
        auditOf(req),
      );
      return { endpoint: presentEndpoint(r.endpoint), operations: r.operations.map(presentOperation) };
    },
  );

  for (const [act, operationId, what] of [
    ['start', 'startProjectEndpoint', 'Start the compute now'],
    ['suspend', 'suspendProjectEndpoint', 'Suspend the compute (the next connection wakes it)'],
    ['restart', 'restartProjectEndpoint', 'Restart the compute'],
  ] as const) {
    app.post(
      `/projects/:project_id/endpoints/:endpoint_id/${act}`,
      {
        config: audit(
          `endpoint.${act === 'start' ? 'started' : act === 'suspend' ? 'suspended' : 'restarted'}`,
        ),
        schema: {
          operationId,
          tags: ['Endpoint'],
          summary: what,
          params: EndpointParamsSchema,
          response: { 200: EndpointOperationsSchema, ...ErrorResponses },
        },
      },
      async (req) => {
        const r = await branches.endpointAction(
          principalOf(req),
          req.params.project_id,
          req.params.endpoint_id,
          act,
          auditOf(req),
        );
        return { endpoint: presentEndpoint(r.endpoint), operations: r.operations.map(presentOperation) };
      },
    );
  }

  app.get(
    '/projects/:project_id/connection_uri',
    {
      schema: {
        operationId: 'getConnectionURI',
        tags: ['Project'],
        summary:
          "A database's connection URI on an endpoint's real host (the default branch's read_write endpoint by default)",
        params: ProjectParamsSchema,
        querystring: ConnectionUriQuerySchema,
        response: { 200: ConnectionUriResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const c = await branches.connectionUri(principalOf(req), req.params.project_id, req.query);
      const host = req.query.pooled ? pooledHost(c.endpoint.host, c.endpoint.id) : c.endpoint.host;
      return { uri: connectionUriFor(host, c.role, c.password, c.database) };
    },
  );

  // The rest of Neon's branch and endpoint operations: one clear refusal each.
  refusalRoutes(
    app,
    [...UNSUPPORTED_OPERATIONS, ...HOSTED_ONLY_OPERATIONS].filter(
      (op) => !SERVED_WITH_COMPUTE.has(op.operationId),
    ),
    (op) => `orgplane cannot emulate ${op.doing} (${op.operationId}): see docs/neon-coverage.md`,
  );
};
