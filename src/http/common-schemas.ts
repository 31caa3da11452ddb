// Shared TypeBox primitives: ids, timestamps, Neon's GeneralError, and the error responses every route declares.
import { Type } from 'typebox';
import { MEMBER_ROLES } from '../domain/roles.ts';

/** Neon's pattern for org, project, branch and endpoint ids. */
export const NeonIdSchema = Type.String({ pattern: '^[a-z0-9-]{1,60}$' });
export const UuidSchema = Type.String({ format: 'uuid' });
export const TimestampSchema = Type.String({ format: 'date-time' });
/** Neon's MemberRole enum, every value offered (src/policy/index.ts says what each may do). */
export const MemberRoleSchema = Type.Union(MEMBER_ROLES.map((r) => Type.Literal(r)));

export const GeneralErrorSchema = Type.Object(
  {
    code: Type.String(),
    message: Type.String(),
    request_id: Type.Optional(Type.String()),
  },
  { $id: 'GeneralError', description: "Neon's error body" },
);

export const ErrorResponses = {
  '4xx': Type.Ref('GeneralError'),
  '5xx': Type.Ref('GeneralError'),
} as const;

export const OrgParamsSchema = Type.Object({ org_id: NeonIdSchema });
export const EmptyResponseSchema = Type.Object({});
