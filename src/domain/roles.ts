// Neon's MemberRole enum: the one role list (db columns, policy, schemas and the CLI read it here).
import { badRequest } from './errors.ts';

/** The classic admin | member and the newer model's editor | viewer | collaborator (src/policy/index.ts). */
export const MEMBER_ROLES = ['admin', 'member', 'editor', 'viewer', 'collaborator'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

/** Roles organizations offer: all of Neon's MemberRole enum. */
export const AVAILABLE_ROLES: readonly MemberRole[] = MEMBER_ROLES;

/** A role of Neon's MemberRole enum; every one is offered (src/policy/index.ts says what each may do). */
export function parseRole(role: string): MemberRole {
  if ((MEMBER_ROLES as readonly string[]).includes(role)) return role as MemberRole;
  throw badRequest(`role "${role}" is not valid; use one of ${MEMBER_ROLES.join(', ')}`);
}
