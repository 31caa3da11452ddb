// Member rows → Neon's Member and MemberWithUser objects.
import type { MemberRow } from '../db/schema.ts';
import { toWireTime } from '../domain/time.ts';
import type { MemberWithEmail } from './members.repository.ts';

export function presentMember(m: MemberRow) {
  return { id: m.id, user_id: m.user_id, org_id: m.org_id, role: m.role, joined_at: toWireTime(m.joined_at) };
}

export function presentMemberWithUser(m: MemberWithEmail) {
  return { member: presentMember(m), user: { email: m.user_email } };
}
