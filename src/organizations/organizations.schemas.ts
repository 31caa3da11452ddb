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
