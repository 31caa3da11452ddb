// Shapes of a project's read-only children from Neon's spec: branches (with annotations and
// cursor pagination), endpoints, databases, roles, role passwords and connection URIs.
import { Type, type Static } from 'typebox';
import { ErrorResponses, NeonIdSchema, TimestampSchema } from '../http/common-schemas.ts';
import { BranchSchema, DatabaseSchema, EndpointSchema, ProjectParamsSchema } from './projects.schemas.ts';

export const BranchParamsSchema = Type.Object({ project_id: NeonIdSchema, branch_id: NeonIdSchema });
export const EndpointParamsSchema = Type.Object({ project_id: NeonIdSchema, endpoint_id: NeonIdSchema });
export const DatabaseParamsSchema = Type.Object({
  project_id: NeonIdSchema,
  branch_id: NeonIdSchema,
  database_name: Type.String({ minLength: 1, maxLength: 256 }),
});
export const RoleParamsSchema = Type.Object({
  project_id: NeonIdSchema,
  branch_id: NeonIdSchema,
  role_name: Type.String({ minLength: 1, maxLength: 256 }),
});

export const BranchListQuerySchema = Type.Object({
  search: Type.Optional(Type.String({ maxLength: 256 })),
  sort_by: Type.Optional(
    Type.Union([Type.Literal('name'), Type.Literal('created_at'), Type.Literal('updated_at')]),
  ),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  sort_order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
  include_deleted: Type.Optional(Type.Boolean()),
});
export type BranchListQueryInput = Static<typeof BranchListQuerySchema>;
export const BranchCountQuerySchema = Type.Object({ search: Type.Optional(Type.String({ maxLength: 256 })) });

const AnnotationSchema = Type.Object({
  object: Type.Object({ type: Type.String(), id: Type.String() }),
  value: Type.Record(Type.String(), Type.String()),
  created_at: Type.Optional(TimestampSchema),
  updated_at: Type.Optional(TimestampSchema),
});

export const BranchesResponseSchema = Type.Object({
  branches: Type.Array(BranchSchema),
  /** Required by Neon's CLI (it indexes it by branch id); orgplane keeps no annotations. */
  annotations: Type.Record(Type.String(), AnnotationSchema),
  pagination: Type.Optional(
    Type.Object({
      next: Type.Optional(Type.String()),
      sort_by: Type.Optional(Type.String()),
      sort_order: Type.Optional(Type.String()),
    }),
  ),
});
export const BranchResponseSchema = Type.Object({ branch: BranchSchema, annotation: AnnotationSchema });
export const BranchCountResponseSchema = Type.Object({ count: Type.Integer() });

export const EndpointsResponseSchema = Type.Object({ endpoints: Type.Array(EndpointSchema) });
export const EndpointResponseSchema = Type.Object({ endpoint: EndpointSchema });

export const DatabasesResponseSchema = Type.Object({ databases: Type.Array(DatabaseSchema) });
export const DatabaseResponseSchema = Type.Object({ database: DatabaseSchema });

export const RoleSchema = Type.Object({
  branch_id: NeonIdSchema,
  name: Type.String(),
  protected: Type.Boolean(),
  created_at: TimestampSchema,
  updated_at: TimestampSchema,
});
export const RolesResponseSchema = Type.Object({ roles: Type.Array(RoleSchema) });
export const RoleResponseSchema = Type.Object({ role: RoleSchema });
export const RolePasswordResponseSchema = Type.Object({ password: Type.String() });

export const ConnectionUriQuerySchema = Type.Object({
  branch_id: Type.Optional(NeonIdSchema),
  endpoint_id: Type.Optional(NeonIdSchema),
  database_name: Type.String({ minLength: 1, maxLength: 256 }),
  role_name: Type.String({ minLength: 1, maxLength: 256 }),
  pooled: Type.Optional(Type.Boolean()),
});
export const ConnectionUriResponseSchema = Type.Object({ uri: Type.String() });

/** The read routes served alike with compute on (branches.routes) and off (children.routes). */
export const ReadRouteSchemas = {
  countProjectBranches: {
    operationId: 'countProjectBranches',
    tags: ['Branch'],
    summary: "Count a project's branches",
    params: ProjectParamsSchema,
    querystring: BranchCountQuerySchema,
    response: { 200: BranchCountResponseSchema, ...ErrorResponses },
  },
  getProjectBranch: {
    operationId: 'getProjectBranch',
    tags: ['Branch'],
    summary: 'Retrieve branch details',
    params: BranchParamsSchema,
    response: { 200: BranchResponseSchema, ...ErrorResponses },
  },
  listProjectBranchEndpoints: {
    operationId: 'listProjectBranchEndpoints',
    tags: ['Branch'],
    summary: "List a branch's compute endpoints",
    params: BranchParamsSchema,
    response: { 200: EndpointsResponseSchema, ...ErrorResponses },
  },
  listProjectBranchDatabases: {
    operationId: 'listProjectBranchDatabases',
    tags: ['Branch'],
    summary: "List a branch's databases",
    params: BranchParamsSchema,
    response: { 200: DatabasesResponseSchema, ...ErrorResponses },
  },
  getProjectBranchDatabase: {
    operationId: 'getProjectBranchDatabase',
    tags: ['Branch'],
    summary: 'Retrieve database details',
    params: DatabaseParamsSchema,
    response: { 200: DatabaseResponseSchema, ...ErrorResponses },
  },
  listProjectBranchRoles: {
    operationId: 'listProjectBranchRoles',
    tags: ['Branch'],
    summary: "List a branch's Postgres roles (passwords are never listed)",
    params: BranchParamsSchema,
    response: { 200: RolesResponseSchema, ...ErrorResponses },
  },
  getProjectBranchRole: {
    operationId: 'getProjectBranchRole',
    tags: ['Branch'],
    summary: 'Retrieve role details',
    params: RoleParamsSchema,
    response: { 200: RoleResponseSchema, ...ErrorResponses },
  },
};
