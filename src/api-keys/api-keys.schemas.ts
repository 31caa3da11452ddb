import { Type, type Static } from 'typebox';
import { NeonIdSchema, TimestampSchema, UuidSchema } from '../http/common-schemas.ts';

const KeyId = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

// Extensions beyond Neon's shapes, all optional: keys without them look exactly like Neon's.
const KeyExtensions = {
  /** Extension: when the key stops working (absent: never). */
  expires_at: Type.Optional(TimestampSchema),
  /** Extension: a honeytoken; shown to admins only. */
  canary: Type.Optional(Type.Boolean()),
};

export const ApiKeyListItemSchema = Type.Object({
  id: KeyId,
  name: Type.String(),
  created_at: TimestampSchema,
  created_by: Type.Object({ id: UuidSchema, name: Type.String(), image: Type.String() }),
  last_used_at: Type.Union([TimestampSchema, Type.Null()]),
  last_used_from_addr: Type.String(),
  ...KeyExtensions,
});

export const OrgApiKeyListItemSchema = Type.Object({
  ...ApiKeyListItemSchema.properties,
  project_id: Type.Optional(NeonIdSchema),
});

const CreateExtensions = {
  expires_at: Type.Optional(
    Type.String({
      format: 'date-time',
      description: 'Extension: RFC 3339 time after which the key answers 401 (whole seconds; future only)',
    }),
  ),
  canary: Type.Optional(
    Type.Boolean({
      description:
        'Extension: a honeytoken key; every use answers 401 and alerts (organization keys: admins only)',
    }),
  ),
};

export const ApiKeyCreateSchema = Type.Object({
  key_name: Type.String({ minLength: 1, maxLength: 64 }),
  ...CreateExtensions,
});
export type ApiKeyCreate = Static<typeof ApiKeyCreateSchema>;

export const OrgApiKeyCreateSchema = Type.Object({
  key_name: Type.String({ minLength: 1, maxLength: 64 }),
  project_id: Type.Optional(NeonIdSchema),
  ...CreateExtensions,
});
export type OrgApiKeyCreate = Static<typeof OrgApiKeyCreateSchema>;

export const ApiKeyCreateResponseSchema = Type.Object({
  id: KeyId,
  key: Type.String(),
  name: Type.String(),
  created_at: TimestampSchema,
  created_by: UuidSchema,
  project_id: Type.Optional(NeonIdSchema),
  ...KeyExtensions,
});

export const ApiKeyRevokeResponseSchema = Type.Object({
  id: KeyId,
  name: Type.String(),
  created_at: TimestampSchema,
  created_by: UuidSchema,
  last_used_at: Type.Union([TimestampSchema, Type.Null()]),
  last_used_from_addr: Type.String(),
  revoked: Type.Boolean(),
  project_id: Type.Optional(NeonIdSchema),
  ...KeyExtensions,
});

/** Extension: POST …/api_keys/{key_id}/rotate. */
export const MAX_OVERLAP_SECONDS = 7 * 24 * 3600;
export const ApiKeyRotateSchema = Type.Object({
  overlap_seconds: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: MAX_OVERLAP_SECONDS,
      description: 'How long the old key keeps working (default 0: revoked at once; at most 7 days)',
    }),
  ),
  expires_at: CreateExtensions.expires_at,
});
export type ApiKeyRotate = Static<typeof ApiKeyRotateSchema>;

/** The create response, plus what became of the old key. */
export const ApiKeyRotateResponseSchema = Type.Object({
  ...ApiKeyCreateResponseSchema.properties,
  rotated_from: Type.Object({
    id: KeyId,
    /** When the old key stops working (absent when revoked at once). */
    expires_at: Type.Optional(TimestampSchema),
    revoked: Type.Boolean(),
  }),
});

export const KeyIdParamsSchema = Type.Object({ key_id: KeyId });
export const OrgKeyIdParamsSchema = Type.Object({ org_id: NeonIdSchema, key_id: KeyId });
