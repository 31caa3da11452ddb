import { Type, type Static } from 'typebox';
import { NeonIdSchema, TimestampSchema } from '../http/common-schemas.ts';

export const OrganizationSchema = Type.Object(
  {
    id: NeonIdSchema,
    name: Type.String(),
    handle: Type.String(),
    plan: Type.String(),
    created_at: TimestampSchema,
    managed_by: Type.String(),
    updated_at: TimestampSchema,
    allow_hipaa_projects: Type.Optional(Type.Boolean()),
    require_mfa: Type.Optional(Type.Boolean()),
    /** Extension: present when set (PATCH /organizations/{org_id}). */
    max_api_key_lifetime_days: Type.Optional(Type.Integer()),
  },
  { $id: 'Organization' },
);

export const PlanSchema = Type.Union([
  Type.Literal('free'),
  Type.Literal('launch'),
  Type.Literal('scale'),
  Type.Literal('business'),
  Type.Literal('enterprise'),
]);

/**
 * Extension: Neon creates organizations only in its console. No `plan`: billing plans are the
 * operator's (`orgplane orgs create --plan`, `orgs set-plan`); a new organization is on free.
 */
export const OrganizationCreateSchema = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);

export const PLAN_REFUSED =
  'plan cannot be chosen through the API: a new organization is on the free plan, and only the operator changes plans (npx orgplane orgs set-plan)';
export type OrganizationCreate = Static<typeof OrganizationCreateSchema>;

/** Extension: GET /organizations/{org_id}/capabilities — what the caller may do, from the policy. */
export const CapabilitiesSchema = Type.Object({
  org_id: Type.String(),
  role: Type.Union([Type.String(), Type.Null()]),
  principal: Type.Union([Type.Literal('user'), Type.Literal('org_key'), Type.Literal('project_key')]),
  /** Only for callers who may read the organization (as GET /organizations/{org_id}). */
  plan: Type.Optional(Type.String()),
  roles: Type.Array(Type.String()),
  projects: Type.Object({
    count: Type.Optional(Type.Integer()),
    limit: Type.Optional(Type.Integer()),
    recovery_window_days: Type.Number(),
  }),
  regions: Type.Object({ ids: Type.Array(Type.String()), default: Type.String() }),
  actions: Type.Record(
    Type.String(),
    Type.Object({ allowed: Type.Boolean(), reason: Type.Optional(Type.String()) }),
  ),
  /** Whether invitation and sharing mail can leave the server (SMTP_URL set). */
  mail: Type.Optional(Type.Object({ smtp_configured: Type.Boolean() })),
});

export const MAX_KEY_LIFETIME_DAYS = 3650;

/** Extension: PATCH /organizations/{org_id} (Neon has no such operation). */
export const OrganizationUpdateSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'The new name (admins)' })),
    max_api_key_lifetime_days: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: MAX_KEY_LIFETIME_DAYS }), Type.Null()], {
        description:
          'Keys created in this organization must set expires_at within this many days; null removes the limit',
      }),
    ),
  },
  { additionalProperties: false },
);
export type OrganizationUpdate = Static<typeof OrganizationUpdateSchema>;
export const ORGANIZATION_UPDATE_FIELDS = ['name', 'max_api_key_lifetime_days'] as const;
export const NOTHING_TO_CHANGE = `nothing to change: send ${ORGANIZATION_UPDATE_FIELDS.join(' or ')}`;

export const OrganizationsResponseSchema = Type.Object({
  organizations: Type.Array(Type.Ref('Organization')),
});
