// /projects: list, create, read, update, delete, recover; operations; transfers between organizations.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { auditOf } from '../audit/audit.hook.ts';
import { principalOf } from '../http/authenticate.ts';
import { ErrorResponses } from '../http/common-schemas.ts';
import { acceptEmptyFormBody } from '../http/form-body.ts';
import type { DefaultChildren, ProjectsService } from './projects.service.ts';
import type { TransfersService } from './transfers.service.ts';
import type { ProjectRow } from '../db/schema.ts';
import {
  integrationsOf,
  presentBranch,
  presentDatabase,
  presentEndpoint,
  presentListItem,
  presentOperation,
  presentProject,
  presentRole,
} from './projects.presenter.ts';
import {
  CreatedProjectSchema,
  type CreatedProject,
  LimitsUnsatisfiedSchema,
  OperationParamsSchema,
  OperationResponseSchema,
  ProjectCreateSchema,
  ProjectListQuerySchema,
  ProjectListResponseSchema,
  ProjectParamsSchema,
  ProjectRecoverResponseSchema,
  ProjectResponseSchema,
  ProjectsWithIntegrationSchema,
  ProjectUpdateResponseSchema,
  ProjectUpdateSchema,
  TransferBodySchema,
  TransferQuerySchema,
  TransferResponseSchema,
  TransferSourceParamsSchema,
} from './projects.schemas.ts';
import { connectionUri } from './connection.ts';
import { endpointHost, poolerHost } from './regions.ts';
import type { TransferReport } from './transfers.service.ts';

/**
 * Compute on: the create response's connection URI, role, database, branch and endpoint come from
 * the default branch's records and its real endpoint (src/branches/; src/routes.ts wires it in).
 */
export type PresentComputeDefaults = (
  project: ProjectRow,
  children: DefaultChildren,
  password: string,
) => Pick<CreatedProject, 'connection_uris' | 'roles' | 'databases' | 'branch' | 'endpoints'>;

function integrationMaps(projects: Pick<ProjectRow, 'id' | 'integrations'>[]) {
  const map: Record<string, string[]> = {};
  for (const p of projects) {
    const list = integrationsOf(p);
    if (list.length > 0) map[p.id] = list;
  }
  return { applications: map, integrations: map };
}

const transferResponses = {
  200: TransferResponseSchema,
  406: LimitsUnsatisfiedSchema,
  422: ProjectsWithIntegrationSchema,
  ...ErrorResponses,
};

function transferReply(report: TransferReport, dryRun: boolean) {
  if (!dryRun) return {};
  return {
    dry_run: true,
    would_succeed: report.limits.length === 0 && report.integrations.length === 0,
    ...report,
  };
}

export const projectsRoutes: FastifyPluginAsyncTypebox<{
  projects: ProjectsService;
  transfers: TransfersService;
  /** Compute on: the create response shows the default branch's real endpoint and URI. */
  computeDefaults?: PresentComputeDefaults | undefined;
}> = async (app, { projects, transfers, computeDefaults }) => {
  acceptEmptyFormBody(app);

  app.get(
    '/projects',
    {
      schema: {
        operationId: 'listProjects',
        tags: ['Project'],
        summary:
          "List an organization's projects, newest first (org_id required with a personal key; cursor = last project id)",
        querystring: ProjectListQuerySchema,
        response: { 200: ProjectListResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const page = await projects.list(principalOf(req), req.query);
      return {
        projects: page.projects.map(presentListItem),
        ...(page.cursor ? { pagination: { cursor: page.cursor } } : {}),
        ...integrationMaps(page.projects),
      };
    },
  );

  app.post(
    '/projects',
    {
      config: { audit: 'project.created' },
      schema: {
        operationId: 'createProject',
        tags: ['Project'],
        summary: 'Create a project (org_id required with a personal key; plan limits apply)',
        body: ProjectCreateSchema,
        response: { 201: CreatedProjectSchema, ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const r = await projects.create(principalOf(req), req.body.project, auditOf(req));
      const p = r.project;
      if (computeDefaults) {
        const c = computeDefaults(p, r.children, r.password);
        return reply.code(201).send({
          project: presentProject({ ...p, permission: r.permission }),
          connection_uris: c.connection_uris,
          roles: c.roles,
          databases: c.databases,
          operations: r.operations.map(presentOperation),
          branch: c.branch,
          endpoints: c.endpoints,
        });
      }
      return reply.code(201).send({
        project: presentProject({ ...p, permission: r.permission }),
        connection_uris: [
          {
            connection_uri: connectionUri(p, r.password),
            connection_parameters: {
              database: p.database_name,
              password: r.password,
              role: p.role_name,
              host: endpointHost(p.endpoint_id, p.region_id),
              pooler_host: poolerHost(p.endpoint_id, p.region_id),
            },
          },
        ],
        // The one place a role's password appears in a response besides reveal_password.
        roles: [{ ...presentRole(p), password: r.password }],
        databases: [presentDatabase(p)],
        operations: r.operations.map(presentOperation),
        branch: presentBranch(p),
        endpoints: [presentEndpoint(p)],
      });
    },
  );

  app.get(
    '/projects/:project_id',
    {
      schema: {
        operationId: 'getProject',
        tags: ['Project'],
        summary: 'Retrieve project details',
        params: ProjectParamsSchema,
        response: { 200: ProjectResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => ({
      project: presentProject(await projects.get(principalOf(req), req.params.project_id)),
    }),
  );

  app.patch(
    '/projects/:project_id',
    {
      config: { audit: 'project.updated' },
      schema: {
        operationId: 'updateProject',
        tags: ['Project'],
        summary: "Update a project's name, settings, default endpoint settings or history retention",
        params: ProjectParamsSchema,
        body: ProjectUpdateSchema,
        response: { 200: ProjectUpdateResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => ({
      project: presentProject(
        await projects.update(principalOf(req), req.params.project_id, req.body.project, auditOf(req)),
      ),
      operations: [],
    }),
  );

  app.delete(
    '/projects/:project_id',
    {
      config: { audit: 'project.deleted' },
      schema: {
        operationId: 'deleteProject',
        tags: ['Project'],
        summary: 'Delete a project (recoverable for 7 days; admins and organization keys)',
        params: ProjectParamsSchema,
        response: { 200: ProjectResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => ({
      project: presentProject(await projects.remove(principalOf(req), req.params.project_id, auditOf(req))),
    }),
  );

  app.post(
    '/projects/:project_id/recover',
    {
      config: { audit: 'project.recovered' },
      schema: {
        operationId: 'recoverProject',
        tags: ['Project'],
        summary: 'Recover a project deleted less than 7 days ago',
        params: ProjectParamsSchema,
        response: { 200: ProjectRecoverResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const p = await projects.recover(principalOf(req), req.params.project_id, auditOf(req));
      return { project: presentProject(p), branches: [presentBranch(p)] };
    },
  );

  app.get(
    '/projects/:project_id/operations/:operation_id',
    {
      schema: {
        operationId: 'getProjectOperation',
        tags: ['Operation'],
        summary: 'Retrieve operation details (orgplane operations are always finished)',
        params: OperationParamsSchema,
        response: { 200: OperationResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => ({
      operation: presentOperation(
        await projects.operation(principalOf(req), req.params.project_id, req.params.operation_id),
      ),
    }),
  );

  app.post(
    '/organizations/:source_org_id/projects/transfer',
    {
      config: { audit: 'project.transferred' },
      schema: {
        operationId: 'transferProjectsFromOrgToOrg',
        tags: ['Organizations'],
        summary:
          'Transfer projects between organizations, all or nothing (personal key; admin of the source, member of the destination). ?dry_run=true reports without changing anything (orgplane extension)',
        params: TransferSourceParamsSchema,
        querystring: TransferQuerySchema,
        body: TransferBodySchema,
        response: transferResponses,
      },
    },
    async (req) => {
      const report = await transfers.fromOrganization(
        principalOf(req),
        req.params.source_org_id,
        req.body,
        req.query.dry_run,
        auditOf(req),
      );
      return transferReply(report, req.query.dry_run);
    },
  );

  app.post(
    '/users/me/projects/transfer',
    {
      config: { audit: 'project.transferred' },
      schema: {
        operationId: 'transferProjectsFromUserToOrg',
        tags: ['Users'],
        summary:
          "DEPRECATED in Neon, still served: transfer the caller's personal projects into an organization the caller belongs to",
        querystring: TransferQuerySchema,
        body: TransferBodySchema,
        response: transferResponses,
      },
    },
    async (req) => {
      const report = await transfers.fromPersonalAccount(
        principalOf(req),
        req.body,
        req.query.dry_run,
        auditOf(req),
      );
      return transferReply(report, req.query.dry_run);
    },
  );
};
