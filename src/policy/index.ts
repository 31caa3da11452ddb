// The one place that decides allow or deny. Services describe the caller's relation to the
// organization (and project) as a Subject, then call authorize(); routes hold no role checks.
// docs/permissions.md is generated from RULES (npm run docs:permissions); a test fails when stale.
import { AppError, MESSAGES } from '../domain/errors.ts';
import type { MemberRole } from '../db/schema.ts';
import type { Principal } from '../domain/principal.ts';

/** The caller as the policy sees it, relative to the organization (and project) being acted on. */
export type Subject =
  /** role null: a user who is not a member of this organization. */
  | { kind: 'user'; role: MemberRole | null }
  | { kind: 'org_key'; sameOrg: boolean }
  /** sameProject: the key's project is the one acted on (undefined for organization-level actions). */
  | { kind: 'project_key'; sameOrg: boolean; sameProject?: boolean };

type Grantee = 'user' | 'admin' | 'member' | 'org_key' | 'project_key';
type Scope = 'account' | 'organization' | 'project';

interface Rule {
  scope: Scope;
  allow: readonly Grantee[];
  /** Completes "only organization admins can …" when a member is refused. */
  what: string;
  /** Refusal for a project-scoped key acting on its own project (member-level access). */
  projectKeyMessage?: string;
  method: string;
  path: string;
}

const ALL_MEMBERS = ['admin', 'member', 'org_key'] as const;

export const RULES = {
  // Account level: about the calling user, not an organization.
  'auth:read': {
    scope: 'account',
    allow: ['user', 'org_key', 'project_key'],
    what: 'read auth details',
    method: 'GET',
    path: '/auth',
  },
  'user:read': {
    scope: 'account',
    allow: ['user'],
    what: 'read the current user',
    method: 'GET',
    path: '/users/me',
  },
  'user:list_organizations': {
    scope: 'account',
    allow: ['user', 'org_key', 'project_key'],
    what: 'list organizations',
    method: 'GET',
    path: '/users/me/organizations',
  },
  'personal_api_key:list': {
    scope: 'account',
    allow: ['user'],
    what: 'list personal API keys',
    method: 'GET',
    path: '/api_keys',
  },
  'personal_api_key:create': {
    scope: 'account',
    allow: ['user'],
    what: 'create personal API keys',
    method: 'POST',
    path: '/api_keys',
  },
  'personal_api_key:revoke': {
    scope: 'account',
    allow: ['user'],
    what: 'revoke personal API keys',
    method: 'DELETE',
    path: '/api_keys/{key_id}',
  },
  'project:transfer': {
    scope: 'account',
    allow: ['user'],
    what: 'transfer projects',
    method: 'POST',
    path: '/organizations/{source_org_id}/projects/transfer, /users/me/projects/transfer',
  },
  'organization:create': {
    scope: 'account',
    allow: ['user'],
    what: 'create organizations',
    method: 'POST',
    path: '/organizations (extension)',
  },

  // Organization level.
  'organization:read': {
    scope: 'organization',
    allow: ALL_MEMBERS,
    what: 'read the organization',
    method: 'GET',
    path: '/organizations/{org_id}',
  },
  'org_api_key:list': {
    scope: 'organization',
    allow: ALL_MEMBERS,
    what: 'list API keys',
    method: 'GET',
    path: '/organizations/{org_id}/api_keys',
  },
  'org_api_key:create': {
    scope: 'organization',
    allow: ['admin'],
    what: 'create organization API keys',
    method: 'POST',
    path: '/organizations/{org_id}/api_keys',
  },
  'project_api_key:create': {
    scope: 'organization',
    allow: ['admin', 'member'],
    what: 'create project-scoped API keys',
    method: 'POST',
    path: '/organizations/{org_id}/api_keys (with project_id)',
  },
  'org_api_key:revoke': {
    scope: 'organization',
    allow: ['admin', 'org_key'],
    what: 'revoke organization API keys',
    method: 'DELETE',
    path: '/organizations/{org_id}/api_keys/{key_id}',
  },
  'org_api_key:revoke_own': {
    scope: 'organization',
    allow: ALL_MEMBERS,
    what: 'revoke API keys',
    method: 'DELETE',
    path: '/organizations/{org_id}/api_keys/{key_id} (a project-scoped key the caller created)',
  },
  'member:list': {
    scope: 'organization',
    allow: ALL_MEMBERS,
    what: 'list members',
    method: 'GET',
    path: '/organizations/{org_id}/members',
  },
  'member:read': {
    scope: 'organization',
    allow: ALL_MEMBERS,
    what: 'read members',
    method: 'GET',
    path: '/organizations/{org_id}/members/{member_id}',
  },
  'member:update': {
    scope: 'organization',
    allow: ['admin', 'org_key'],
    what: 'change member roles',
    method: 'PATCH',
    path: '/organizations/{org_id}/members/{member_id}',
  },
  'member:remove': {
    scope: 'organization',
    allow: ['admin'],
    what: 'remove members',
    method: 'DELETE',
    path: '/organizations/{org_id}/members/{member_id}',
  },
  'member:leave': {
    scope: 'organization',
    allow: ['admin', 'member'],
    what: 'leave the organization',
    method: 'DELETE',
    path: "/organizations/{org_id}/members/{member_id} (the caller's own membership)",
  },
  'audit_log:read': {
    scope: 'organization',
    allow: ['admin', 'org_key'],
    what: 'read the audit log',
    method: 'GET',
    path: '/organizations/{org_id}/audit_log (extension)',
  },
  'access:explain': {
    scope: 'organization',
    allow: ['admin', 'org_key'],
    what: 'explain access decisions',
    method: 'POST',
    path: '/organizations/{org_id}/access/explain (extension)',
  },
  'invitation:list': {
    scope: 'organization',
    allow: ALL_MEMBERS,
    what: 'list invitations',
    method: 'GET',
    path: '/organizations/{org_id}/invitations; /organizations/invitations (organization key)',
  },
  'invitation:create': {
    scope: 'organization',
    allow: ['admin'],
    what: 'invite members',
    method: 'POST',
    path: '/organizations/{org_id}/invitations',
  },
  'invitation:revoke': {
    scope: 'organization',
    allow: ['admin'],
    what: 'revoke invitations',
    method: 'DELETE',
    path: '/organizations/{org_id}/invitations/{invitation_id} (extension)',
  },
  'invitation:resend': {
    scope: 'organization',
    allow: ['admin'],
    what: 'resend invitations',
    method: 'POST',
    path: '/organizations/{org_id}/invitations/{invitation_id}/resend (extension)',
  },
  'project:list': {
    scope: 'organization',
    allow: [...ALL_MEMBERS, 'project_key'],
    what: 'list projects',
    method: 'GET',
    path: '/projects',
  },
  'project:create': {
    scope: 'organization',
    allow: ALL_MEMBERS,
    what: 'create projects',
    method: 'POST',
    path: '/projects',
  },
  'project:transfer_out': {
    scope: 'organization',
    allow: ['admin'],
    what: 'transfer projects out of the organization',
    method: 'POST',
    path: '/organizations/{source_org_id}/projects/transfer (source; checked after project:transfer)',
  },
  'project:transfer_in': {
    scope: 'organization',
    allow: ['admin', 'member'],
    what: 'transfer projects into the organization',
    method: 'POST',
    path: '/organizations/{source_org_id}/projects/transfer, /users/me/projects/transfer (destination; checked after project:transfer)',
  },

  // Project level: a project-scoped key reaches only its own project.
  'project:read': {
    scope: 'project',
    allow: [...ALL_MEMBERS, 'project_key'],
    what: 'read projects',
    method: 'GET',
    path: '/projects/{project_id}',
  },
  'project:operation_read': {
    scope: 'project',
    allow: [...ALL_MEMBERS, 'project_key'],
    what: 'read project operations',
    method: 'GET',
    path: '/projects/{project_id}/operations/{operation_id}',
  },
  'project:update': {
    scope: 'project',
    allow: [...ALL_MEMBERS, 'project_key'],
    what: 'update projects',
    method: 'PATCH',
    path: '/projects/{project_id}',
  },
  'project:delete': {
    scope: 'project',
    allow: ['admin', 'org_key'],
    what: 'delete projects',
    projectKeyMessage: 'project-scoped API keys have member-level access and cannot delete their project',
    method: 'DELETE',
    path: '/projects/{project_id}',
  },
  'project:recover': {
    scope: 'project',
    allow: ['admin', 'org_key'],
    what: 'recover projects',
    projectKeyMessage: 'project-scoped API keys cannot recover projects',
    method: 'POST',
    path: '/projects/{project_id}/recover',
  },
} as const satisfies Record<string, Rule>;

export type Action = keyof typeof RULES;

/**
 * rule: which clause of RULES decided, as "<action>: <clause>" (shown by access/explain);
 * reason: one sentence.
 */
export type Decision =
  | { allow: true; rule: string; reason: string }
  | { allow: false; code: 'FORBIDDEN' | 'NOT_FOUND'; message: string; rule: string };

const GRANTEE_NAMES: Record<Grantee, string> = {
  user: 'any user',
  admin: 'organization admins',
  member: 'organization members',
  org_key: 'organization API keys',
  project_key: 'project-scoped API keys',
};

/** Pure decision: no I/O, so it can be enumerated into docs/permissions.md and unit-tested. */
export function decide(action: Action, subject: Subject): Decision {
  const rule: Rule = RULES[action];
  const allowed = rule.allow;
  const allow = (grantee: Grantee): Decision => ({
    allow: true,
    rule: `${action}: allow ${grantee}`,
    reason: `${GRANTEE_NAMES[grantee]} may ${rule.what}`,
  });
  const notFound = (what: string, clause: string): Decision => ({
    allow: false,
    code: 'NOT_FOUND',
    message: `${what} not found`,
    rule: `${action}: ${clause}`,
  });
  const forbidden = (message: string, clause: string): Decision => ({
    allow: false,
    code: 'FORBIDDEN',
    message,
    rule: `${action}: ${clause}`,
  });

  if (rule.scope === 'account') {
    if (allowed.includes(subject.kind)) return allow(subject.kind);
    return forbidden(
      subject.kind === 'project_key' ? MESSAGES.projectKeyNotAllowed : MESSAGES.orgKeyNotAllowed,
      `deny ${subject.kind} (account-level)`,
    );
  }
  const resource = rule.scope === 'project' ? 'project' : 'organization';
  switch (subject.kind) {
    case 'user':
      // Not a member: the organization and its projects do not exist for this caller.
      if (subject.role === null) return notFound(resource, 'not a member (hidden as not found)');
      if (allowed.includes(subject.role)) return allow(subject.role);
      return forbidden(`only organization admins can ${rule.what}`, `deny ${subject.role}`);
    case 'org_key':
      if (!subject.sameOrg) return notFound(resource, 'key of another organization (hidden as not found)');
      return allowed.includes('org_key')
        ? allow('org_key')
        : forbidden(MESSAGES.orgKeyNotAllowed, 'deny org_key');
    case 'project_key':
      if (!subject.sameOrg) return notFound(resource, 'key of another organization (hidden as not found)');
      if (rule.scope === 'project') {
        if (subject.sameProject !== true) {
          return notFound('project', 'project-scoped key outside its project (hidden as not found)');
        }
        return allowed.includes('project_key')
          ? allow('project_key')
          : forbidden(rule.projectKeyMessage ?? MESSAGES.projectKeyNotAllowed, 'deny project_key');
      }
      return allowed.includes('project_key')
        ? allow('project_key')
        : forbidden(MESSAGES.projectKeyNotAllowed, 'deny project_key');
  }
}

/** Throws the decision's AppError when the subject may not perform the action. */
export function authorize(action: Action, subject: Subject): void {
  const d = decide(action, subject);
  if (!d.allow) throw new AppError(d.code, d.message);
}

export function can(action: Action, subject: Subject): boolean {
  return decide(action, subject).allow;
}

/** Account-level actions need no database: the principal's kind decides. */
export function accountSubject(principal: Principal): Subject {
  switch (principal.kind) {
    case 'user':
      return { kind: 'user', role: null };
    case 'org_key':
      return { kind: 'org_key', sameOrg: true };
    case 'project_key':
      return { kind: 'project_key', sameOrg: true };
  }
}
