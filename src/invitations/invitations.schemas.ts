import { Type, type Static } from 'typebox';
import { MemberRoleSchema, NeonIdSchema, TimestampSchema, UuidSchema } from '../http/common-schemas.ts';

export const MAX_INVITATIONS_PER_REQUEST = 100;

/** Neon's Invitation, plus orgplane's extensions (status, expiry, email delivery). */
export const InvitationSchema = Type.Object(
  {
    id: UuidSchema,
    email: Type.String(),
    org_id: Type.String(),
    invited_by: UuidSchema,
    invited_at: TimestampSchema,
    role: MemberRoleSchema,
    status: Type.Union([
      Type.Literal('pending'),
      Type.Literal('accepted'),
      Type.Literal('revoked'),
      Type.Literal('expired'),
    ]),
    expires_at: TimestampSchema,
    accepted_at: Type.Optional(TimestampSchema),
    email_status: Type.Union([
      Type.Literal('pending'),
      Type.Literal('sent'),
      Type.Literal('failed'),
      Type.Literal('cancelled'),
    ]),
    /** Extension (admins): why the email has not been delivered, while it has not. */
    email_error: Type.Optional(Type.String()),
    /** Extension (admins): the join link to pass on yourself while the email is undelivered. */
    join_url: Type.Optional(Type.String()),
  },
  { $id: 'Invitation' },
);

export const InvitationsResponseSchema = Type.Object({ invitations: Type.Array(Type.Ref('Invitation')) });

// Emails are plain strings here so a bad one gets our message naming it (see normalizeEmail).
export const InvitationsCreateSchema = Type.Object({
  invitations: Type.Array(
    Type.Object({ email: Type.String({ minLength: 1, maxLength: 256 }), role: MemberRoleSchema }),
    { minItems: 1, maxItems: MAX_INVITATIONS_PER_REQUEST },
  ),
});
export type InvitationsCreate = Static<typeof InvitationsCreateSchema>;

export const InvitationsListQuerySchema = Type.Object({
  /** Extension: also list revoked and expired invitations. */
  include_inactive: Type.Optional(Type.Boolean({ default: false })),
});

export const InvitationParamsSchema = Type.Object({ org_id: NeonIdSchema, invitation_id: UuidSchema });
