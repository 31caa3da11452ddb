// Project shapes from Neon's spec (Project, ProjectListItem, CreatedProject, Operation, transfer bodies).
import { Type, type Static } from 'typebox';
import { NeonIdSchema, TimestampSchema, UuidSchema } from '../http/common-schemas.ts';
import type { ApplicationType } from '../domain/projects.ts';

/** Neon refuses to transfer projects with these installed. */
export const BLOCKING_INTEGRATIONS: readonly ApplicationType[] = ['github', 'vercel'];

const ComputeUnit = Type.Number({ minimum: 0.25, maximum: 64 });
const SuspendTimeout = Type.Integer({ minimum: -1, maximum: 604800 });
const StringMap = Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 4096 }), {
  maxProperties: 100,
});

export const DefaultEndpointSettingsSchema = Type.Object(
  {
    pg_settings: Type.Optional(StringMap),
    pgbouncer_settings: Type.Optional(StringMap),
    autoscaling_limit_min_cu: Type.Optional(ComputeUnit),
    autoscaling_limit_max_cu: Type.Optional(ComputeUnit),
    suspend_timeout_seconds: Type.Optional(SuspendTimeout),
  },
  { additionalProperties: false },
);
export type DefaultEndpointSettings = Static<typeof DefaultEndpointSettingsSchema>;

const Int64NonNeg = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
export const ProjectSettingsSchema = Type.Object(
  {
    quota: Type.Optional(
      Type.Object(
        {
          active_time_seconds: Type.Optional(Int64NonNeg),
          compute_time_seconds: Type.Optional(Int64NonNeg),
          written_data_bytes: Type.Optional(Int64NonNeg),
          data_transfer_bytes: Type.Optional(Int64NonNeg),
          logical_size_bytes: Type.Optional(Int64NonNeg),
        },
        { additionalProperties: false },
      ),
    ),
    allowed_ips: Type.Optional(
      Type.Object(
        {
          ips: Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 1000 })),
          protected_branches_only: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    enable_logical_replication: Type.Optional(Type.Boolean()),
    maintenance_window: Type.Optional(
      Type.Object(
        {
          weekdays: Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { maxItems: 7 }),
          start_time: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' }),
          end_time: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' }),
        },
        { additionalProperties: false },
      ),
    ),
    block_public_connections: Type.Optional(Type.Boolean()),
    block_vpc_connections: Type.Optional(Type.Boolean()),
    audit_log_level: Type.Optional(
      Type.Union([Type.Literal('base'), Type.Literal('extended'), Type.Literal('full')]),
    ),
    hipaa: Type.Optional(Type.Boolean()),
    preload_libraries: Type.Optional(
      Type.Object(
        {
          use_defaults: Type.Optional(Type.Boolean()),
          enabled_libraries: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { maxItems: 100 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ProjectSettings = Static<typeof ProjectSettingsSchema>;

const HistoryRetention = Type.Integer({ minimum: 0, maximum: 2592000 });
const PgVersion = Type.Integer({ minimum: 14, maximum: 18 });

// Unknown fields in project bodies are ignored (clients such as neonctl send `branch: {}` and more).
export const ProjectCreateSchema = Type.Object({
  project: Type.Object({
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    region_id: Type.Optional(Type.String({ maxLength: 64 })),
    pg_version: Type.Optional(PgVersion),
    org_id: Type.Optional(NeonIdSchema),
    provisioner: Type.Optional(Type.String({ maxLength: 64 })),
    store_passwords: Type.Optional(Type.Boolean()),
    history_retention_seconds: Type.Optional(HistoryRetention),
    settings: Type.Optional(ProjectSettingsSchema),
    default_endpoint_settings: Type.Optional(DefaultEndpointSettingsSchema),
    autoscaling_limit_min_cu: Type.Optional(ComputeUnit),
    autoscaling_limit_max_cu: Type.Optional(ComputeUnit),
    branch: Type.Optional(
      Type.Object({
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
        role_name: Type.Optional(Type.String({ minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9_.-]+$' })),
        database_name: Type.Optional(
          Type.String({ minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9_.-]+$' }),
        ),
      }),
    ),
  }),
});
export type ProjectCreate = Static<typeof ProjectCreateSchema>['project'];

export const ProjectUpdateSchema = Type.Object({
  project: Type.Object({
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    settings: Type.Optional(ProjectSettingsSchema),
    default_endpoint_settings: Type.Optional(DefaultEndpointSettingsSchema),
    history_retention_seconds: Type.Optional(HistoryRetention),
  }),
});
export type ProjectUpdate = Static<typeof ProjectUpdateSchema>['project'];

export const ProjectListQuerySchema = Type.Object({
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 60 })),
  limit: Type.Integer({ minimum: 1, maximum: 400, default: 10 }),
  search: Type.Optional(Type.String({ maxLength: 256 })),
  org_id: Type.Optional(NeonIdSchema),
  timeout: Type.Optional(Type.Integer({ minimum: 100, maximum: 30000 })),
  recoverable: Type.Boolean({ default: false }),
});
export type ProjectListQuery = Static<typeof ProjectListQuerySchema>;

export const ProjectParamsSchema = Type.Object({ project_id: NeonIdSchema });
export const OperationParamsSchema = Type.Object({ project_id: NeonIdSchema, operation_id: UuidSchema });

// --- responses -------------------------------------------------------------------------------

export const ProjectPermissionLevelSchema = Type.Union([
  Type.Literal('CAN_VIEW'),
  Type.Literal('CAN_EDIT'),
  Type.Literal('CAN_MANAGE'),
]);

const ProjectCommon = {
  id: NeonIdSchema,
  platform_id: Type.String(),
  region_id: Type.String(),
  name: Type.String(),
  provisioner: Type.String(),
  default_endpoint_settings: Type.Optional(DefaultEndpointSettingsSchema),
  settings: Type.Optional(ProjectSettingsSchema),
  pg_version: Type.Integer(),
  proxy_host: Type.String(),
  branch_logical_size_limit: Type.Integer(),
  branch_logical_size_limit_bytes: Type.Integer(),
  store_passwords: Type.Boolean(),
  cpu_used_sec: Type.Integer(),
  creation_source: Type.String(),
  history_retention_seconds: Type.Integer(),
  created_at: TimestampSchema,
  updated_at: TimestampSchema,
  owner_id: Type.String(),
  org_id: Type.Optional(NeonIdSchema),
  /** The caller's level (users on organization projects; omitted for keys and personal projects). */
  effective_project_permission: Type.Optional(ProjectPermissionLevelSchema),
};

export const ProjectListItemSchema = Type.Object({
  ...ProjectCommon,
  active_time: Type.Integer(),
  org_name: Type.Optional(Type.String()),
  deleted_at: Type.Optional(TimestampSchema),
  recoverable_until: Type.Optional(TimestampSchema),
});

export const ProjectSchema = Type.Object(
  {
    ...ProjectCommon,
    data_storage_bytes_hour: Type.Integer(),
    data_transfer_bytes: Type.Integer(),
    written_data_bytes: Type.Integer(),
    compute_time_seconds: Type.Integer(),
    active_time_seconds: Type.Integer(),
    consumption_period_start: TimestampSchema,
    consumption_period_end: TimestampSchema,
  },
  { $id: 'Project' },
);

const AppList = Type.Array(Type.String());
export const ProjectListResponseSchema = Type.Object({
  projects: Type.Array(ProjectListItemSchema),
  pagination: Type.Optional(Type.Object({ cursor: Type.String({ minLength: 1 }) })),
  applications: Type.Record(Type.String(), AppList),
  integrations: Type.Record(Type.String(), AppList),
});

export const OperationSchema = Type.Object(
  {
    id: UuidSchema,
    project_id: NeonIdSchema,
    branch_id: Type.Optional(NeonIdSchema),
    endpoint_id: Type.Optional(NeonIdSchema),
    action: Type.String(),
    status: Type.String(),
    error: Type.Optional(Type.String()),
    failures_count: Type.Integer(),
    created_at: TimestampSchema,
    updated_at: TimestampSchema,
    total_duration_ms: Type.Integer(),
  },
  { $id: 'Operation' },
);

export const BranchSchema = Type.Object({
  id: NeonIdSchema,
  project_id: NeonIdSchema,
  parent_id: Type.Optional(NeonIdSchema),
  name: Type.String(),
  current_state: Type.String(),
  pending_state: Type.Optional(Type.String()),
  state_changed_at: TimestampSchema,
  creation_source: Type.String(),
  primary: Type.Boolean(),
  default: Type.Boolean(),
  protected: Type.Boolean(),
  cpu_used_sec: Type.Integer(),
  compute_time_seconds: Type.Integer(),
  active_time_seconds: Type.Integer(),
  written_data_bytes: Type.Integer(),
  data_transfer_bytes: Type.Integer(),
  created_at: TimestampSchema,
  updated_at: TimestampSchema,
  ttl_interval_seconds: Type.Optional(Type.Integer()),
  expires_at: Type.Optional(TimestampSchema),
  last_reset_at: Type.Optional(TimestampSchema),
  init_source: Type.Optional(Type.String()),
});

export const EndpointSchema = Type.Object({
  host: Type.String(),
  id: NeonIdSchema,
  name: Type.Optional(Type.String()),
  project_id: NeonIdSchema,
  branch_id: NeonIdSchema,
  autoscaling_limit_min_cu: Type.Number(),
  autoscaling_limit_max_cu: Type.Number(),
  region_id: Type.String(),
  type: Type.String(),
  current_state: Type.String(),
  settings: Type.Object({ pg_settings: Type.Optional(StringMap) }),
  pooler_enabled: Type.Boolean(),
  pooler_mode: Type.String(),
  disabled: Type.Boolean(),
  passwordless_access: Type.Boolean(),
  creation_source: Type.String(),
  created_at: TimestampSchema,
  updated_at: TimestampSchema,
  proxy_host: Type.String(),
  suspend_timeout_seconds: Type.Integer(),
  provisioner: Type.String(),
});

export const DatabaseSchema = Type.Object({
  id: Type.Integer(),
  branch_id: NeonIdSchema,
  name: Type.String(),
  owner_name: Type.String(),
  created_at: TimestampSchema,
  updated_at: TimestampSchema,
});

/** A role as the responses that make or reset a password show it (with that password). */
export const RoleWithPasswordSchema = Type.Object({
  branch_id: NeonIdSchema,
  name: Type.String(),
  password: Type.Optional(Type.String()),
  protected: Type.Boolean(),
  created_at: TimestampSchema,
  updated_at: TimestampSchema,
});

export const ConnectionDetailsSchema = Type.Object({
  connection_uri: Type.String(),
  connection_parameters: Type.Object({
    database: Type.String(),
    password: Type.String(),
    role: Type.String(),
    host: Type.String(),
    pooler_host: Type.String(),
  }),
});

export const CreatedProjectSchema = Type.Object({
  project: Type.Ref('Project'),
  connection_uris: Type.Array(ConnectionDetailsSchema),
  roles: Type.Array(RoleWithPasswordSchema),
  databases: Type.Array(DatabaseSchema),
  operations: Type.Array(Type.Ref('Operation')),
  branch: BranchSchema,
  endpoints: Type.Array(EndpointSchema),
});
export type CreatedProject = Static<typeof CreatedProjectSchema>;

export const ProjectResponseSchema = Type.Object({ project: Type.Ref('Project') });
export const ProjectUpdateResponseSchema = Type.Object({
  project: Type.Ref('Project'),
  operations: Type.Array(Type.Ref('Operation')),
});
export const ProjectRecoverResponseSchema = Type.Object({
  project: Type.Ref('Project'),
  branches: Type.Array(BranchSchema),
});
export const OperationResponseSchema = Type.Object({ operation: Type.Ref('Operation') });

// --- transfers -------------------------------------------------------------------------------

export const TransferBodySchema = Type.Object({
  destination_org_id: NeonIdSchema,
  project_ids: Type.Array(NeonIdSchema, { minItems: 1, maxItems: 400 }),
});
export type TransferBody = Static<typeof TransferBodySchema>;
export const TransferQuerySchema = Type.Object({ dry_run: Type.Boolean({ default: false }) });
export const TransferSourceParamsSchema = Type.Object({ source_org_id: NeonIdSchema });

const LimitSchema = Type.Object({ name: Type.String(), expected: Type.String(), actual: Type.String() });
const IntegrationBlockerSchema = Type.Object({ id: NeonIdSchema, integration: Type.String() });

/** `{}` on success; with ?dry_run=true (orgplane extension) a report of what would happen. */
export const TransferResponseSchema = Type.Object({
  dry_run: Type.Optional(Type.Boolean()),
  would_succeed: Type.Optional(Type.Boolean()),
  project_ids: Type.Optional(Type.Array(NeonIdSchema)),
  limits: Type.Optional(Type.Array(LimitSchema)),
  integrations: Type.Optional(Type.Array(IntegrationBlockerSchema)),
  api_keys_revoked: Type.Optional(
    Type.Array(Type.Object({ id: Type.Integer(), name: Type.String(), project_id: NeonIdSchema })),
  ),
});
export const LimitsUnsatisfiedSchema = Type.Object({
  code: Type.String(),
  message: Type.String(),
  request_id: Type.Optional(Type.String()),
  limits: Type.Array(LimitSchema),
});
export const ProjectsWithIntegrationSchema = Type.Object({
  code: Type.String(),
  message: Type.String(),
  request_id: Type.Optional(Type.String()),
  projects: Type.Array(IntegrationBlockerSchema),
});
