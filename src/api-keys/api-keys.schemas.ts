import { Type, type Static } from 'typebox';
import { NeonIdSchema, TimestampSchema, UuidSchema } from '../http/common-schemas.ts';

const KeyId = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const ApiKeyListItemSchema = Type.Object({
  id: KeyId,
  name: Type.String(),
  created_at: TimestampSchema,
  created_by: Type.Object({ id: UuidSchema, name: Type.String(), image: Type.String() }),
  last_used_at: Type.Union([TimestampSchema, Type.Null()]),
  last_used_from_addr: Type.String(),
});
export const OrgApiKeyListItemSchema = Type.Object({
  ...ApiKeyListItemSchema.properties,
  project_id: Type.Optional(NeonIdSchema),
});

export const ApiKeyCreateSchema = Type.Object({ key_name: Type.String({ minLength: 1, maxLength: 64 }) });
export type ApiKeyCreate = Static<typeof ApiKeyCreateSchema>;
export const OrgApiKeyCreateSchema = Type.Object({
  key_name: Type.String({ minLength: 1, maxLength: 64 }),
  project_id: Type.Optional(NeonIdSchema),
});
export type OrgApiKeyCreate = Static<typeof OrgApiKeyCreateSchema>;

export const ApiKeyCreateResponseSchema = Type.Object({
  id: KeyId,
  key: Type.String(),
  name: Type.String(),
  created_at: TimestampSchema,
  created_by: UuidSchema,
  project_id: Type.Optional(NeonIdSchema),
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
});

export const KeyIdParamsSchema = Type.Object({ key_id: KeyId });
export const OrgKeyIdParamsSchema = Type.Object({ org_id: NeonIdSchema, key_id: KeyId });
