// Request and response shapes of Neon's branch, endpoint, role, database and schema routes, as its
// spec defines them (bodies accept fields Neon's clients add, e.g. annotation_value).
import { Type, type Static } from 'typebox';
import { NeonIdSchema } from '../http/common-schemas.ts';
import { BranchParamsSchema, RoleSchema as ReadRoleSchema } from '../projects/children.schemas.ts';
import {
  BranchSchema,
  ConnectionDetailsSchema,
  DatabaseSchema,
  EndpointSchema,
  RoleWithPasswordSchema,
} from '../projects/projects.schemas.ts';

const ComputeUnit = Type.Number({ minimum: 0.25, maximum: 64 });
const SuspendTimeout = Type.Integer({ minimum: -1, maximum: 604800 });
const EndpointType = Type.Union([Type.Literal('read_write'), Type.Literal('read_only')]);
const EndpointSettings = Type.Object({
  pg_settings: Type.Optional(Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 4096 }))),
  pgbouncer_settings: Type.Optional(
    Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 4096 })),
  ),
});
const Operations = Type.Array(Type.Ref('Operation'));
// Fields an endpoint is created and updated with (in Neon's order).
const EndpointSizing = {
  autoscaling_limit_min_cu: Type.Optional(ComputeUnit),
  autoscaling_limit_max_cu: Type.Optional(ComputeUnit),
  provisioner: Type.Optional(Type.String({ maxLength: 64 })),
};
const EndpointFlags = {
  pooler_enabled: Type.Optional(Type.Boolean()),
  pooler_mode: Type.Optional(Type.String({ maxLength: 32 })),
  disabled: Type.Optional(Type.Boolean()),
  passwordless_access: Type.Optional(Type.Boolean()),
  suspend_timeout_seconds: Type.Optional(SuspendTimeout),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
};

export const EndpointOptionsSchema = Type.Object({
  type: EndpointType,
  settings: Type.Optional(EndpointSettings),
  autoscaling_limit_min_cu: Type.Optional(ComputeUnit),
  autoscaling_limit_max_cu: Type.Optional(ComputeUnit),
  provisioner: Type.Optional(Type.String({ maxLength: 64 })),
  suspend_timeout_seconds: Type.Optional(SuspendTimeout),
});

export const BranchCreateSchema = Type.Object({
  endpoints: Type.Optional(Type.Array(EndpointOptionsSchema, { maxItems: 10 })),
  branch: Type.Optional(
    Type.Object({
      parent_id: Type.Optional(Type.String({ pattern: '^[a-z0-9-]{0,60}$' })),
      name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
      parent_lsn: Type.Optional(Type.String({ maxLength: 64 })),
      parent_timestamp: Type.Optional(Type.String({ format: 'date-time' })),
      protected: Type.Optional(Type.Boolean()),
      archived: Type.Optional(Type.Boolean()),
      init_source: Type.Optional(Type.String({ maxLength: 64 })),
      expires_at: Type.Optional(Type.String({ format: 'date-time' })),
    }),
  ),
});
export type BranchCreateBody = Static<typeof BranchCreateSchema>;

export const BranchUpdateSchema = Type.Object({
  branch: Type.Object({
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    protected: Type.Optional(Type.Boolean()),
    expires_at: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
  }),
});

export const BranchRestoreSchema = Type.Object({
  source_branch_id: NeonIdSchema,
  source_lsn: Type.Optional(Type.String({ maxLength: 64 })),
  source_timestamp: Type.Optional(Type.String({ format: 'date-time' })),
  preserve_under_name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
});

export const EndpointCreateSchema = Type.Object({
  endpoint: Type.Object({
    branch_id: NeonIdSchema,
    region_id: Type.Optional(Type.String({ maxLength: 64 })),
    type: EndpointType,
    settings: Type.Optional(EndpointSettings),
    ...EndpointSizing,
    ...EndpointFlags,
  }),
});

export const EndpointUpdateSchema = Type.Object({
  endpoint: Type.Object({
    branch_id: Type.Optional(NeonIdSchema),
    ...EndpointSizing,
    settings: Type.Optional(EndpointSettings),
    ...EndpointFlags,
  }),
});

export const RoleCreateSchema = Type.Object({
  role: Type.Object({
    name: Type.String({ minLength: 1, maxLength: 63 }),
    no_login: Type.Optional(Type.Boolean()),
  }),
});

export const DatabaseCreateSchema = Type.Object({
  database: Type.Object({
    name: Type.String({ minLength: 1, maxLength: 63 }),
    owner_name: Type.String({ minLength: 1, maxLength: 63 }),
  }),
});

export const DatabaseUpdateSchema = Type.Object({
  database: Type.Object({
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
    owner_name: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
  }),
});

export const SchemaQuerySchema = Type.Object({
  db_name: Type.String({ minLength: 1, maxLength: 63 }),
  lsn: Type.Optional(Type.String({ maxLength: 64 })),
  timestamp: Type.Optional(Type.String({ format: 'date-time' })),
  format: Type.Optional(Type.Union([Type.Literal('sql'), Type.Literal('json')])),
});

export const CompareSchemaQuerySchema = Type.Object({
  base_branch_id: Type.Optional(NeonIdSchema),
  db_name: Type.String({ minLength: 1, maxLength: 63 }),
  lsn: Type.Optional(Type.String({ maxLength: 64 })),
  timestamp: Type.Optional(Type.String({ format: 'date-time' })),
  base_lsn: Type.Optional(Type.String({ maxLength: 64 })),
  base_timestamp: Type.Optional(Type.String({ format: 'date-time' })),
});

// ---- responses

export const BranchCreatedSchema = Type.Object({
  branch: BranchSchema,
  endpoints: Type.Array(EndpointSchema),
  operations: Operations,
  roles: Type.Array(RoleWithPasswordSchema),
  databases: Type.Array(DatabaseSchema),
  connection_uris: Type.Optional(Type.Array(ConnectionDetailsSchema)),
});
export const BranchOperationsSchema = Type.Object({ branch: BranchSchema, operations: Operations });
export const EndpointOperationsSchema = Type.Object({ endpoint: EndpointSchema, operations: Operations });
export const RoleOperationsSchema = Type.Object({ role: RoleWithPasswordSchema, operations: Operations });
export const DatabaseOperationsSchema = Type.Object({ database: DatabaseSchema, operations: Operations });
export const BranchSchemaResponseSchema = Type.Object({ sql: Type.Optional(Type.String()) });
export const BranchSchemaCompareResponseSchema = Type.Object({ diff: Type.Optional(Type.String()) });

export { BranchParamsSchema, ReadRoleSchema };
