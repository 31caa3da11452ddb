// The one place that decides allow or deny. Services describe the caller's relation to the
// organization (and project) as a Subject, then call authorize(); routes hold no role checks.
// docs/permissions.md is generated from RULES (npm run docs:permissions); a test fails when stale.
import { AppError, MESSAGES } from '../domain/errors.ts';
import { MEMBER_ROLES, type MemberRole } from '../domain/roles.ts';
import type { Principal } from '../domain/principal.ts';

/** The caller as the policy sees it, relative to the organization (and project) being acted on. */
export type Subject =
  /**
   * role null: a user who is not a member of this organization. shared: for project-level
   * actions, the user holds a live grant on that project (POST /projects/{id}/permissions),
   * whatever their role; undefined when not looked up (organization-level actions, or a role
   * whose organization-wide access already covers every project action a grant could add).
   */
  | { kind: 'user'; role: MemberRole | null; shared?: boolean }
  | { kind: 'org_key'; sameOrg: boolean }
  /** sameProject: the key's project is the one acted on (undefined for organization-level actions). */
  | { kind: 'project_key'; sameOrg: boolean; sameProject?: boolean };

/**
 * Who a rule admits. 'user': any person (account-level rules). The five organization roles of
 * Neon's MemberRole. 'shared': a user holding a live grant on the project acted on (project-level
 * rules only; Neon's classic "collaborator" access, which needs no organization role at all).
 */
type Grantee =
  'user' | 'admin' | 'member' | 'editor' | 'viewer' | 'collaborator' | 'shared' | 'org_key' | 'project_key';
type Scope = 'account' | 'organization' | 'project';

interface Rule {
  scope: Scope;
  allow: readonly Grantee[];
  /** Completes "only organization admins can …" when a member is refused. */
  what: string;
  /** Refusal for a project-scoped key acting on its own project (member-level access). */
  projectKeyMessage?: string;
  /**
   * Account level: keys are refused with 404 instead of 403, because what is asked for (the
   * user behind the key) does not exist for them (Neon answers GET /users/me so).
   */
  keysNotFound?: boolean;
  method: string;
  path: string;
}

// Neon's two documented models share one enum (spec: "some role values may not be available for
// all organizations"); each role keeps the meaning of the model it comes from:
//   classic: admin, member (all projects, create, no delete, no member management, transfer in
//     only), plus collaborators who reach shared projects only;
//   new (early access): admin, editor ("members become editors"; only admins transfer projects
//     or create project-scoped keys, and managing project access is project-admin only), viewer
//     (read-only on the organization's projects and members), collaborator (no organization-level
//     access: only projects shared with them; other projects answer as though they do not exist).
/** Roles that may read the organization, its members and all its projects. */
const ORG_READERS = ['admin', 'member', 'editor', 'viewer', 'org_key'] as const;
/** Roles with write access to every project of the organization. */
const ORG_WRITERS = ['admin', 'member', 'editor', 'org_key'] as const;

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
    keysNotFound: true,
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
  'personal_api_key:rotate': {
    scope: 'account',
    allow: ['user'],
    what: 'rotate personal API keys',
    method: 'POST',
    path: '/api_keys/{key_id}/rotate (extension)',
  },
  'project:transfer': {
    scope: 'account',
    allow: ['user'],
    what: 'transfer projects',
    method: 'POST',
    path: '/organizations/{source_org_id}/projects/transfer, /users/me/projects/transfer',
  },
  'project:list_shared': {
    scope: 'account',
    allow: ['user', 'org_key', 'project_key'],
    what: 'list shared projects',
    method: 'GET',
    path: '/projects/shared (keys are not users: always an empty list)',
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
    allow: ORG_READERS,
    what: 'read the organization',
    method: 'GET',
    path: '/organizations/{org_id}',
  },
  'org_api_key:list': {
    scope: 'organization',
    allow: ORG_WRITERS,
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
  'org_api_key:create_canary': {
    scope: 'organization',
    allow: ['admin'],
    what: 'create or rotate canary API keys',
    method: 'POST',
    path: '/organizations/{org_id}/api_keys with canary: true (extension); …/rotate of a canary key',
  },
  'org_api_key:list_canaries': {
    scope: 'organization',
    allow: ['admin'],
    what: 'see canary API keys',
    method: 'GET',
    path: '/organizations/{org_id}/api_keys (canary keys are listed; hidden from everyone else)',
  },
  'org_api_key:rotate': {
    scope: 'organization',
    allow: ['admin'],
    what: 'rotate organization API keys',
    method: 'POST',
    path: '/organizations/{org_id}/api_keys/{key_id}/rotate (an organization-wide key; extension)',
  },
  'project_api_key:rotate': {
    scope: 'organization',
    allow: ['admin'],
    what: "rotate other people's project-scoped API keys",
    method: 'POST',
    path: '/organizations/{org_id}/api_keys/{key_id}/rotate (a project-scoped key; extension)',
  },
  'project_api_key:rotate_own': {
    scope: 'organization',
    allow: ['admin', 'member'],
    what: 'rotate project-scoped API keys',
    method: 'POST',
    path: '/organizations/{org_id}/api_keys/{key_id}/rotate (a project-scoped key the caller created; extension)',
  },
  'organization:update': {
    scope: 'organization',
    allow: ['admin'],
    what: 'change organization settings',
    method: 'PATCH',
    path: '/organizations/{org_id} (extension: name, max_api_key_lifetime_days)',
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
    allow: ORG_WRITERS,
    what: 'revoke API keys',
    method: 'DELETE',
    path: '/organizations/{org_id}/api_keys/{key_id} (a project-scoped key the caller created)',
  },
  'member:list': {
    scope: 'organization',
    allow: ORG_READERS,
    what: 'list members',
    method: 'GET',
    path: '/organizations/{org_id}/members',
  },
  'member:read': {
    scope: 'organization',
    allow: ORG_READERS,
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
    allow: ['admin', 'member', 'editor', 'viewer', 'collaborator'],
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
    allow: ORG_WRITERS,
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
    allow: [...ORG_READERS, 'collaborator', 'project_key'],
    what: 'list projects',
    method: 'GET',
    path: '/projects',
  },
  'project:create': {
    scope: 'organization',
    allow: ORG_WRITERS,
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

  'project:transfer_request_accept': {
    scope: 'organization',
    allow: ['admin', 'member', 'org_key'],
    what: 'accept project transfer requests into the organization',
    method: 'PUT',
    path: '/projects/{project_id}/transfer_requests/{request_id} (destination organization)',
  },

  // Project level: a project-scoped key reaches only its own project.
  'project:read': {
    scope: 'project',
    allow: [...ORG_READERS, 'shared', 'project_key'],
    what: 'read projects',
    method: 'GET',
    path: '/projects/{project_id}',
  },
  'project:operation_read': {
    scope: 'project',
    allow: [...ORG_READERS, 'shared', 'project_key'],
    what: 'read project operations',
    method: 'GET',
    path: '/projects/{project_id}/operations/{operation_id}',
  },
  'project:update': {
    scope: 'project',
    allow: [...ORG_WRITERS, 'shared', 'project_key'],
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
  'branch:read': {
    scope: 'project',
    allow: [...ORG_READERS, 'shared', 'project_key'],
    what: "read a project's branches, endpoints, databases and roles",
    method: 'GET',
    path: '/projects/{project_id}/branches…, /projects/{project_id}/endpoints… (read-only)',
  },
  'branch:write': {
    scope: 'project',
    allow: [...ORG_WRITERS, 'shared', 'project_key'],
    what: "create, change and delete a project's branches, endpoints, databases and roles",
    method: 'POST',
    path: '/projects/{project_id}/branches…, /projects/{project_id}/endpoints… (writes; compute on)',
  },
  // New model: viewers "can't see connection strings" (Editor and up).
  'project:connection_read': {
    scope: 'project',
    allow: [...ORG_WRITERS, 'shared', 'project_key'],
    what: 'read connection strings and role passwords',
    method: 'GET',
    path: '/projects/{project_id}/connection_uri, …/roles/{role_name}/reveal_password',
  },
  'project:transfer_request_create': {
    scope: 'project',
    allow: ['admin', 'org_key'],
    what: 'create project transfer requests',
    projectKeyMessage:
      'project-scoped API keys have member-level access and cannot transfer their project out of the organization',
    method: 'POST',
    path: '/projects/{project_id}/transfer_requests',
  },
  // Extension (Neon has no cancel): whoever may make requests in the organization they were made in.
  'project:transfer_request_cancel': {
    scope: 'project',
    allow: ['admin', 'org_key'],
    what: 'cancel project transfer requests',
    projectKeyMessage: 'project-scoped API keys cannot cancel transfer requests',
    method: 'DELETE',
    path: '/projects/{project_id}/transfer_requests/{request_id} (orgplane extension; source organization)',
  },
  'project:recover': {
    scope: 'project',
    allow: ['admin', 'org_key'],
    what: 'recover projects',
    projectKeyMessage: 'project-scoped API keys cannot recover projects',
    method: 'POST',
    path: '/projects/{project_id}/recover',
  },
  // Project sharing (Neon's classic model: admins, members and the users a project is shared with
  // "can also invite other users"; nobody but an organization admin deletes it). Editors follow
  // the new model, where managing access is project-admin only; viewers only read.
  'project_permission:list': {
    scope: 'project',
    allow: [...ORG_WRITERS, 'shared', 'project_key'],
    what: 'list project access',
    method: 'GET',
    path: '/projects/{project_id}/permissions',
  },
  // Not project-scoped keys (Neon: project and organization admins grant): a key confined to one
  // project must not hand out access to people, which would outlive the key itself.
  'project_permission:grant': {
    scope: 'project',
    allow: ['admin', 'member', 'shared', 'org_key'],
    what: 'share projects',
    method: 'POST',
    path: '/projects/{project_id}/permissions',
  },
  'project_permission:revoke': {
    scope: 'project',
    allow: ['admin', 'member', 'shared', 'org_key', 'project_key'],
    what: 'revoke project access',
    method: 'DELETE',
    path: '/projects/{project_id}/permissions/{permission_id}',
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
  editor: 'organization editors',
  viewer: 'organization viewers',
  collaborator: 'organization collaborators',
  shared: 'people the project is shared with',
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
  const notFound = (what: string, clause: string, message?: string): Decision => ({
    allow: false,
    code: 'NOT_FOUND',
    message: message ?? `${what} not found`,
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
    if (rule.keysNotFound && subject.kind !== 'user') {
      return notFound(
        '',
        `${subject.kind} on an account-level action (hidden as not found)`,
        subject.kind === 'project_key' ? MESSAGES.projectKeyOutsideProject : MESSAGES.orgKeyHasNoUser,
      );
    }
    return forbidden(
      subject.kind === 'project_key' ? MESSAGES.projectKeyNotAllowed : MESSAGES.orgKeyNotAllowed,
      `deny ${subject.kind} (account-level)`,
    );
  }
  const resource = rule.scope === 'project' ? 'project' : 'organization';
  switch (subject.kind) {
    case 'user': {
      const { role } = subject;
      if (rule.scope === 'project') {
        if (subject.shared === true && allowed.includes('shared')) return allow('shared');
        if (role !== null && allowed.includes(role)) return allow(role);
        // A project neither in reach of the role nor shared does not exist for this caller.
        if ((role === null || role === 'collaborator') && subject.shared !== true) {
          return notFound(resource, `${role ?? 'not a member'}, not shared (hidden as not found)`);
        }
        return forbidden(refusal(rule, role), `deny ${role ?? 'shared'}`);
      }
      // Not a member: the organization and its projects do not exist for this caller.
      if (role === null) return notFound(resource, 'not a member (hidden as not found)');
      if (allowed.includes(role)) return allow(role);
      return forbidden(refusal(rule, role), `deny ${role}`);
    }
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

/** E.g. "viewers have read-only access: only organization admins, members and editors (and users the project is shared with) can update projects". */
function refusal(rule: Rule, role: MemberRole | null): string {
  const allowed = rule.allow;
  const roles = MEMBER_ROLES.filter((r) => allowed.includes(r)).map((r) => `${r}s`);
  const list =
    roles.length <= 1 ? (roles[0] ?? 'admins') : `${roles.slice(0, -1).join(', ')} and ${roles.at(-1)}`;
  const who = `organization ${list}${allowed.includes('shared') ? ' (and users the project is shared with)' : ''}`;
  const why =
    role === 'viewer'
      ? 'viewers have read-only access: '
      : role === 'collaborator'
        ? 'collaborators have no organization-level access: '
        : '';
  return `${why}only ${who} can ${rule.what}`;
}

/** Throws the decision's AppError when the subject may not perform the action. */
export function authorize(action: Action, subject: Subject): void {
  const d = decide(action, subject);
  if (!d.allow) throw new AppError(d.code, d.message);
}

/** A decision as the console shows it: allowed, or why not. */
export interface Capability {
  allowed: boolean;
  /** Why not, in the words the API would refuse with (absent when allowed). */
  reason?: string;
}

export function can(action: Action, subject: Subject): boolean {
  return decide(action, subject).allow;
}

/** Neon's ProjectPermissionLevel. */
export type ProjectPermissionLevel = 'CAN_VIEW' | 'CAN_EDIT' | 'CAN_MANAGE';

/**
 * A user's effective_project_permission on an organization's project, read off the same RULES:
 * may delete it → CAN_MANAGE, may change it → CAN_EDIT, may read it → CAN_VIEW. Neon omits it
 * for keys ("non-user subjects") and personal projects; so does undefined here.
 */
export function projectPermissionLevel(subject: Subject): ProjectPermissionLevel | undefined {
  if (subject.kind !== 'user') return undefined;
  if (can('project:delete', subject)) return 'CAN_MANAGE';
  if (can('project:update', subject)) return 'CAN_EDIT';
  if (can('project:read', subject)) return 'CAN_VIEW';
  return undefined;
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
