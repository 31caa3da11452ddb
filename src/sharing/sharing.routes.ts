// Project sharing: Neon's listProjectPermissions, grantPermissionToProject, revokePermissionFromProject
// and listSharedProjects.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../http/authenticate.ts';
import { ErrorResponses } from '../http/common-schemas.ts';
import { presentListItem } from '../projects/projects.presenter.ts';
import { ProjectParamsSchema } from '../projects/projects.schemas.ts';
import { auditOf } from '../audit/audit.hook.ts';
import { presentPermission } from './sharing.presenter.ts';
import {
  GrantPermissionSchema,
  PermissionParamsSchema,
  ProjectPermissionsSchema,
  SharedProjectsQuerySchema,
  SharedProjectsResponseSchema,
} from './sharing.schemas.ts';
import type { SharingService } from './sharing.service.ts';

export const sharingRoutes: FastifyPluginAsyncTypebox<{ sharing: SharingService }> = async (
  app,
  { sharing },
) => {
  // A static path: find-my-way prefers it to GET /projects/:project_id whatever the order.
  app.get(
    '/projects/shared',
    {
      schema: {
        operationId: 'listSharedProjects',
        tags: ['Project'],
        summary:
          'List projects shared with your account, newest first (keys are not users: an empty list; cursor = last project id)',
        querystring: SharedProjectsQuerySchema,
        response: { 200: SharedProjectsResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const page = await sharing.listShared(principalOf(req), req.query);
      return {
        projects: page.projects.map(presentListItem),
        ...(page.cursor ? { pagination: { cursor: page.cursor } } : {}),
      };
    },
  );

  app.get(
    '/projects/:project_id/permissions',
    {
      schema: {
        operationId: 'listProjectPermissions',
        tags: ['Project'],
        summary: 'List project access: the live grants (email and date) of the project',
        params: ProjectParamsSchema,
        response: { 200: ProjectPermissionsSchema, ...ErrorResponses },
      },
    },
    async (req) => ({
      project_permissions: (await sharing.list(principalOf(req), req.params.project_id)).map(
        presentPermission,
      ),
    }),
  );

  app.post(
    '/projects/:project_id/permissions',
    {
      config: { audit: 'project_permission.granted' },
      schema: {
        operationId: 'grantPermissionToProject',
        tags: ['Project'],
        summary:
          'Grant project access to an email address (an account gets access at once; an address without one gets a sign-up link). Granting a live grant again answers it',
        params: ProjectParamsSchema,
        body: GrantPermissionSchema,
        response: { 200: Type.Ref('ProjectPermission'), ...ErrorResponses },
      },
    },
    async (req) =>
      presentPermission(
        await sharing.grant(principalOf(req), req.params.project_id, req.body.email, auditOf(req)),
      ),
  );

  app.delete(
    '/projects/:project_id/permissions/:permission_id',
    {
      config: { audit: 'project_permission.revoked' },
      schema: {
        operationId: 'revokePermissionFromProject',
        tags: ['Project'],
        summary: 'Revoke project access; the holder finds no project on their next request',
        params: PermissionParamsSchema,
        response: { 200: Type.Ref('ProjectPermission'), ...ErrorResponses },
      },
    },
    async (req) =>
      presentPermission(
        await sharing.revoke(principalOf(req), req.params.project_id, req.params.permission_id, auditOf(req)),
      ),
  );
};
