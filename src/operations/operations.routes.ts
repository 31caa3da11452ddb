// GET /projects/{id}/operations (Neon's listProjectOperations) and GET /regions. Operations have
// real statuses: 'running' while the compute engine works, then 'finished' or 'failed' (error).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { principalOf } from '../http/authenticate.ts';
import { ErrorResponses } from '../http/common-schemas.ts';
import { presentOperation } from '../projects/projects.presenter.ts';
import { ProjectParamsSchema } from '../projects/projects.schemas.ts';
import { DEFAULT_REGION, REGIONS } from '../projects/regions.ts';
import { OperationsPageSchema, OperationsQuerySchema, RegionsResponseSchema } from './operations.schemas.ts';
import type { OperationsService } from './operations.service.ts';

export const operationsRoutes: FastifyPluginAsyncTypebox<{ operations: OperationsService }> = async (
  app,
  { operations },
) => {
  app.get(
    '/projects/:project_id/operations',
    {
      schema: {
        operationId: 'listProjectOperations',
        tags: ['Operation'],
        summary: "List a project's operations, newest first (cursor = pagination.cursor)",
        params: ProjectParamsSchema,
        querystring: OperationsQuerySchema,
        response: { 200: OperationsPageSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const page = await operations.list(principalOf(req), req.params.project_id, req.query);
      return {
        operations: page.operations.map(presentOperation),
        ...(page.cursor ? { pagination: { cursor: page.cursor } } : {}),
      };
    },
  );

  app.get(
    '/regions',
    {
      schema: {
        operationId: 'getActiveRegions',
        tags: ['Region'],
        summary: 'The regions orgplane accepts (every compute runs on this machine)',
        response: { 200: RegionsResponseSchema, ...ErrorResponses },
      },
    },
    async () => ({
      regions: REGIONS.map((r) => ({
        region_id: r,
        name: r,
        default: r === DEFAULT_REGION,
        geo_lat: '',
        geo_long: '',
      })),
    }),
  );
};
