import { Type, type Static } from 'typebox';
import { MemberRoleSchema, NeonIdSchema, TimestampSchema, UuidSchema } from '../http/common-schemas.ts';

export const MemberSchema = Type.Object(
  {
    id: UuidSchema,
    user_id: UuidSchema,
    org_id: Type.String(),
    role: MemberRoleSchema,
    joined_at: Type.Optional(TimestampSchema),
  },
  { $id: 'Member' },
);

export const MemberWithUserSchema = Type.Object({
  member: Type.Ref('Member'),
  user: Type.Object({
    email: Type.String(),
    has_mfa: Type.Optional(Type.Boolean()),
    deactivated_at: Type.Optional(TimestampSchema),
  }),
});

export const MembersListQuerySchema = Type.Object({
  sort_by: Type.Optional(
    Type.Union([Type.Literal('email'), Type.Literal('role'), Type.Literal('joined_at')], {
      default: 'joined_at',
    }),
  ),
  sort_order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'desc' })),
  cursor: Type.Optional(Type.String({ maxLength: 1024 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
});
export type MembersListQuery = Static<typeof MembersListQuerySchema>;

export const MembersListResponseSchema = Type.Object({
  members: Type.Array(MemberWithUserSchema),
  pagination: Type.Optional(
    Type.Object({
      next: Type.Optional(Type.String()),
      sort_by: Type.Optional(Type.String()),
      sort_order: Type.Optional(Type.String()),
    }),
  ),
});

export const MemberParamsSchema = Type.Object({ org_id: NeonIdSchema, member_id: UuidSchema });
export const MemberOnlyParamsSchema = Type.Object({ member_id: UuidSchema });
export const MemberUpdateSchema = Type.Object({ role: MemberRoleSchema });
export type MemberUpdate = Static<typeof MemberUpdateSchema>;
