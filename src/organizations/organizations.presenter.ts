// Organization row → Neon's Organization object.
import type { OrganizationRow } from '../db/schema.ts';
import { toWireTime } from '../domain/time.ts';

export function presentOrganization(o: OrganizationRow) {
  return {
    id: o.id,
    name: o.name,
    handle: o.handle,
    plan: o.plan,
    created_at: toWireTime(o.created_at),
    managed_by: o.managed_by,
    updated_at: toWireTime(o.updated_at),
    ...(o.max_api_key_lifetime_days !== null && o.max_api_key_lifetime_days !== undefined
      ? { max_api_key_lifetime_days: o.max_api_key_lifetime_days }
      : {}),
  };
}
