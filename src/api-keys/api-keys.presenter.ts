// API key rows → Neon's shapes. The token hash never leaves; the token is only in create responses.
import type { ApiKeyRow } from '../db/schema.ts';
import { toWireTime } from '../domain/time.ts';
import type { ApiKeyWithCreator } from './api-keys.repository.ts';
import type { CreatedKey, RotatedKey } from './api-keys.service.ts';

const projectIdOf = (k: ApiKeyRow) => (k.project_id ? { project_id: k.project_id } : {});
/** Extensions, present only when they apply: a plain key looks exactly like Neon's. */
const extensionsOf = (k: ApiKeyRow) => ({
  ...(k.expires_at ? { expires_at: toWireTime(k.expires_at) } : {}),
  ...(k.canary ? { canary: true } : {}),
});

export function presentKeyListItem(k: ApiKeyWithCreator) {
  return {
    id: k.id,
    name: k.name,
    created_at: toWireTime(k.created_at),
    created_by: { id: k.created_by, name: k.creator_name ?? '', image: k.creator_image ?? '' },
    last_used_at: k.last_used_at ? toWireTime(k.last_used_at) : null,
    last_used_from_addr: k.last_used_from_addr,
    ...projectIdOf(k),
    ...extensionsOf(k),
  };
}

export function presentCreatedKey({ row, token }: CreatedKey) {
  return {
    id: row.id,
    key: token,
    name: row.name,
    created_at: toWireTime(row.created_at),
    created_by: row.created_by,
    ...projectIdOf(row),
    ...extensionsOf(row),
  };
}

export function presentRotatedKey(r: RotatedKey) {
  const old = r.previous;
  return {
    ...presentCreatedKey(r),
    rotated_from: {
      id: old.id,
      ...(old.revoked_at === null && old.expires_at ? { expires_at: toWireTime(old.expires_at) } : {}),
      revoked: old.revoked_at !== null,
    },
  };
}

export function presentRevokedKey(k: ApiKeyRow) {
  return {
    id: k.id,
    name: k.name,
    created_at: toWireTime(k.created_at),
    created_by: k.created_by,
    last_used_at: k.last_used_at ? toWireTime(k.last_used_at) : null,
    last_used_from_addr: k.last_used_from_addr,
    revoked: k.revoked_at !== null,
    ...projectIdOf(k),
    ...extensionsOf(k),
  };
}
