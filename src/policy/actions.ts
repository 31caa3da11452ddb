// Which rule decides an action that depends on the target: shared by the request path and
// access/explain, so both always name the same rule.
import type { ApiKeyRow, MemberRow } from '../db/schema.ts';
import type { Principal } from '../domain/principal.ts';

/** Which rule decides removing a member: leaving (the caller's own membership) or removing someone. */
export function removeAction(
  principal: Principal,
  member: Pick<MemberRow, 'user_id'> | undefined,
): 'member:leave' | 'member:remove' {
  return principal.kind === 'user' && member?.user_id === principal.userId ? 'member:leave' : 'member:remove';
}

/** Which rule decides revoking an organization's key: a member's own project-scoped key, or any. */
export function revokeAction(
  principal: Principal,
  key: Pick<ApiKeyRow, 'kind' | 'created_by'>,
): 'org_api_key:revoke_own' | 'org_api_key:revoke' {
  const own = principal.kind === 'user' && key.kind === 'project' && key.created_by === principal.userId;
  return own ? 'org_api_key:revoke_own' : 'org_api_key:revoke';
}

/** Which rule decides creating an organization key: organization-wide, or project-scoped. */
export function createKeyAction(
  projectId: string | undefined,
): 'org_api_key:create' | 'project_api_key:create' {
  return projectId === undefined ? 'org_api_key:create' : 'project_api_key:create';
}

/** Whether the key is a personal key of the calling user (anyone else's does not exist for them). */
export function ownsPersonalKey(principal: Principal, key: Pick<ApiKeyRow, 'kind' | 'user_id'>): boolean {
  return key.kind === 'personal' && principal.kind === 'user' && key.user_id === principal.userId;
}
