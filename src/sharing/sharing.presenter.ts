// Grant rows → Neon's ProjectPermission. Sign-up tokens never leave.
import type { ProjectPermissionRow } from '../db/schema.ts';
import { toWireTime } from '../domain/time.ts';

export function presentPermission(g: ProjectPermissionRow) {
  return {
    id: g.id,
    granted_to_email: g.email,
    granted_at: toWireTime(g.granted_at),
    ...(g.revoked_at ? { revoked_at: toWireTime(g.revoked_at) } : {}),
  };
}
