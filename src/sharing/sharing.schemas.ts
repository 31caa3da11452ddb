// TypeBox schemas for project sharing, exactly Neon's: ProjectPermission(s), GrantPermissionToProjectRequest,
// and listSharedProjects' query and response.
import { Type, type Static } from 'typebox';
import { NeonIdSchema, TimestampSchema } from '../http/common-schemas.ts';
import { ProjectListItemSchema } from '../projects/projects.schemas.ts';

export const ProjectPermissionSchema = Type.Object(
  {
    id: Type.String(),
    granted_to_email: Type.String({ format: 'email', minLength: 1, maxLength: 256 }),
    granted_at: TimestampSchema,
    revoked_at: Type.Optional(TimestampSchema),
  },
  { $id: 'ProjectPermission' },
);

export const ProjectPermissionsSchema = Type.Object({
  project_permissions: Type.Array(Type.Ref('ProjectPermission')),
});

// The address is checked by the service (one message for every malformed form), not by ajv here.
export const GrantPermissionSchema = Type.Object({ email: Type.String({ minLength: 1, maxLength: 256 }) });
export type GrantPermission = Static<typeof GrantPermissionSchema>;

export const PermissionParamsSchema = Type.Object({ project_id: NeonIdSchema, permission_id: Type.String() });

export const SharedProjectsQuerySchema = Type.Object({
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 60 })),
  limit: Type.Integer({ minimum: 1, maximum: 400, default: 10 }),
  search: Type.Optional(Type.String({ maxLength: 256 })),
  /** Accepted for compatibility; every page here is complete, so no project is ever unavailable. */
  timeout: Type.Optional(Type.Integer({ minimum: 100, maximum: 30000 })),
});

export const SharedProjectsResponseSchema = Type.Object({
  projects: Type.Array(ProjectListItemSchema),
  unavailable_project_ids: Type.Optional(Type.Array(NeonIdSchema)),
  pagination: Type.Optional(Type.Object({ cursor: Type.String({ minLength: 1 }) })),
});
