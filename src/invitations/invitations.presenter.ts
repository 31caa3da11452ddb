// Invitation rows → Neon's Invitation (plus the documented extensions). Token hashes never leave.
import type { InvitationRow, InvitationStatus } from '../db/schema.ts';
import { toWireTime } from '../domain/time.ts';

/** A pending invitation past its expiry is expired, whether or not a write has recorded that yet. */
export function effectiveStatus(row: InvitationRow, now: string): InvitationStatus {
  return row.status === 'pending' && row.expires_at <= now ? 'expired' : row.status;
}

export function presentInvitation(
  row: InvitationRow & { email_error?: string; join_url?: string },
  now = new Date().toISOString(),
) {
  return {
    id: row.id,
    email: row.email,
    org_id: row.org_id,
    invited_by: row.invited_by,
    invited_at: toWireTime(row.invited_at),
    role: row.role,
    status: effectiveStatus(row, now),
    expires_at: toWireTime(row.expires_at),
    ...(row.accepted_at ? { accepted_at: toWireTime(row.accepted_at) } : {}),
    email_status: row.email_status,
    ...(row.email_error !== undefined ? { email_error: row.email_error } : {}),
    ...(row.join_url !== undefined ? { join_url: row.join_url } : {}),
  };
}
