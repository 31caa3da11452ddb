// The API's table of contents: every area's routes under /api/v2, each given only the services it
// uses. Beside app.ts, which composes it with the HTTP plumbing in src/http/.
import type { FastifyInstance } from 'fastify';
import type { TSchema } from 'typebox';
import type { Config } from './config.ts';
import type { Services } from './services.ts';
import { accessRoutes } from './access/access.routes.ts';
import { apiKeysRoutes } from './api-keys/api-keys.routes.ts';
import { auditRoutes } from './audit/audit.routes.ts';
import { invitationsRoutes } from './invitations/invitations.routes.ts';
import { InvitationSchema } from './invitations/invitations.schemas.ts';
import { membersRoutes } from './members/members.routes.ts';
import { MemberSchema } from './members/members.schemas.ts';
import { organizationsRoutes } from './organizations/organizations.routes.ts';
import { OrganizationSchema } from './organizations/organizations.schemas.ts';
import { childrenRoutes } from './projects/children.routes.ts';
import { projectCapabilitiesRoutes } from './projects/project-capabilities.routes.ts';
import { projectsRoutes } from './projects/projects.routes.ts';
import { transferRequestsRoutes } from './projects/transfer-requests.routes.ts';
import { OperationSchema, ProjectSchema } from './projects/projects.schemas.ts';
import { sharingRoutes } from './sharing/sharing.routes.ts';
import { ProjectPermissionSchema } from './sharing/sharing.schemas.ts';
import { usersRoutes } from './users/users.routes.ts';
import { branchesRoutes } from './branches/branches.routes.ts';
import { presentDefaultChildren } from './branches/branches.presenter.ts';
import { operationsRoutes } from './operations/operations.routes.ts';

/** Schemas referenced by $id from several routes (published as OpenAPI components). */
export const sharedSchemas: TSchema[] = [
  OrganizationSchema,
  MemberSchema,
  ProjectSchema,
  OperationSchema,
  InvitationSchema,
  ProjectPermissionSchema,
];

export async function apiRoutes(api: FastifyInstance, services: Services, config: Config): Promise<void> {
  await api.register(usersRoutes, { users: services.users });
  await api.register(apiKeysRoutes, { apiKeys: services.apiKeys, config });
  await api.register(organizationsRoutes, { organizations: services.organizations });
  await api.register(membersRoutes, { members: services.members });
  // Before the projects routes: GET /projects/shared is not a project id.
  await api.register(sharingRoutes, { sharing: services.sharing });
  const branches = services.branches;
  await api.register(projectsRoutes, {
    projects: services.projects,
    transfers: services.transfers,
    computeDefaults: branches
      ? (p, children, password) =>
          presentDefaultChildren(branches.view(p, children.endpoint), children, password)
      : undefined,
  });
  // Compute on: branches, endpoints, roles and databases run on the engine; off: read-only records.
  if (services.branches) await api.register(branchesRoutes, { branches: services.branches });
  else await api.register(childrenRoutes, { children: services.children });
  await api.register(operationsRoutes, { operations: services.operations });
  await api.register(projectCapabilitiesRoutes, { projectCapabilities: services.projectCapabilities });
  await api.register(transferRequestsRoutes, { transferRequests: services.transferRequests, config });
  await api.register(invitationsRoutes, { invitations: services.invitations });
  await api.register(auditRoutes, { audit: services.audit });
  await api.register(accessRoutes, { explain: services.explain });
}
