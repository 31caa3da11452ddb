// GET /projects/{project_id}/capabilities (orgplane extension): the caller's project-level actions.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../http/authenticate.ts';
import { ErrorResponses } from '../http/common-schemas.ts';
import { ProjectParamsSchema, ProjectPermissionLevelSchema } from './projects.schemas.ts';
import type { ProjectCapabilitiesService } from './project-capabilities.service.ts';

const ProjectCapabilitiesSchema = Type.Object({
  project_id: Type.String(),
  org_id: Type.Union([Type.String(), Type.Null()]),
  effective_project_permission: Type.Optional(ProjectPermissionLevelSchema),
  actions: Type.Record(
    Type.String(),
    Type.Object({ allowed: Type.Boolean(), reason: Type.Optional(Type.String()) }),
  ),
});

export const projectCapabilitiesRoutes: FastifyPluginAsyncTypebox<{
  projectCapabilities: ProjectCapabilitiesService;
}> = async (app, { projectCapabilities }) => {
  app.get(
    '/projects/:project_id/capabilities',
    {
      schema: {
        operationId: 'getProjectCapabilities',
        tags: ['Project'],
        summary:
          'What the caller may do on this project: every project-level action of the permission policy, allowed or not and why (orgplane extension)',
        params: ProjectParamsSchema,
        response: { 200: ProjectCapabilitiesSchema, ...ErrorResponses },
      },
    },
    async (req) => projectCapabilities.get(principalOf(req), req.params.project_id),
  );
};
