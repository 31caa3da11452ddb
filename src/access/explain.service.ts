// "Can this key (member, address) do X?": the answer comes from the same code that decides real
// requests — the services' subject and action selection (subjectFor, projectSubject, revokeAction,
// removeAction, createKeyAction, ownsPersonalKey) and the policy's decide() — run for another
// principal. Nothing is written. OPERATIONS lists, per OpenAPI operation id, the checks its service
// makes in order; a test fails when a route's operation id is missing here.
import type { Authenticator } from '../auth/authenticator.ts';
import type { Db } from '../db/connect.ts';
import type { ApiKeyRow } from '../db/schema.ts';
import { badRequest, notFound } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import { accountSubject, authorize, decide, type Action, type Subject } from '../policy/index.ts';
import { findKeyById } from '../api-keys/api-keys.repository.ts';
import { createKeyAction, ownsPersonalKey, revokeAction } from '../api-keys/api-keys.service.ts';
import { findMember } from '../members/members.repository.ts';
import { removeAction } from '../members/members.service.ts';
import { findProject } from '../projects/projects.repository.ts';
import { projectSubject } from '../projects/projects.service.ts';
import { UNSUPPORTED_OPERATIONS } from '../projects/unsupported.ts';
import { findUserByEmail } from '../users/users.repository.ts';

export interface Explanation {
  allowed: boolean;
  status: number;
  rule: string;
  reason: string;
}

/** One check of an operation: the policy's (action, subject), or a service-side refusal. */
type Step = { action: Action; subject: Subject } | Explanation;

interface Env {
  principal: Principal;
  orgId: string;
  target: string | undefined;
  access: Authenticator;
  db: Db;
}

type Resolver = (env: Env) => Promise<Array<Step | (() => Promise<Step[]>)>>;

const org =
  (action: Action): Resolver =>
  async (e) => [{ action, subject: await e.access.subjectFor(e.principal, e.orgId) }];
const account =
  (action: Action): Resolver =>
  async (e) => [{ action, subject: accountSubject(e.principal) }];

const hidden = (rule: string, what: string): Explanation => ({
  allowed: false,
  status: 404,
  rule,
  reason: `${what} not found`,
});

function needTarget(e: Env, what: string): string {
  if (e.target === undefined) throw badRequest(`this operation needs target: the ${what}`);
  return e.target;
}

/** A project-level operation on the target project, as ProjectsService.load decides it. */
const project =
  (action: Action): Resolver =>
  async (e) => {
    const id = needTarget(e, 'project id');
    const p = await findProject(e.db.kysely, id);
    if (!p || (p.org_id !== null && p.org_id !== e.orgId)) {
      return [hidden(`${action}: no such project in this organization`, 'project')];
    }
    return [{ action, subject: await projectSubject(e.access, e.principal, p) }];
  };

export const OPERATIONS: Readonly<Record<string, Resolver>> = {
  getAuthDetails: account('auth:read'),
  getCurrentUserInfo: account('user:read'),
  getCurrentUserOrganizations: account('user:list_organizations'),
  listApiKeys: account('personal_api_key:list'),
  createApiKey: account('personal_api_key:create'),
  revokeApiKey: async (e) => [
    { action: 'personal_api_key:revoke', subject: accountSubject(e.principal) },
    async () => {
      const key = await findKeyById(e.db.kysely, Number(needTarget(e, 'API key id')));
      return key && ownsPersonalKey(e.principal, key)
        ? []
        : [hidden("personal_api_key:revoke: not the caller's own key (hidden as not found)", 'API key')];
    },
  ],
  createOrganization: account('organization:create'),
  getOrganization: org('organization:read'),
  listOrgApiKeys: org('org_api_key:list'),
  createOrgApiKey: async (e) => [
    { action: createKeyAction(e.target), subject: await e.access.subjectFor(e.principal, e.orgId) },
  ],
  revokeOrgApiKey: async (e) => {
    const subject = await e.access.subjectFor(e.principal, e.orgId);
    return [
      { action: 'org_api_key:list', subject },
      async () => {
        const key = await findKeyById(e.db.kysely, Number(needTarget(e, 'API key id')));
        if (!key || key.kind === 'personal' || key.org_id !== e.orgId) {
          return [hidden('org_api_key:revoke: no such key in this organization', 'API key')];
        }
        return [{ action: revokeAction(e.principal, key), subject }];
      },
    ];
  },
  getOrganizationMembers: org('member:list'),
  getOrganizationMember: org('member:read'),
  updateOrganizationMember: org('member:update'),
  updateOrganizationMemberByMemberId: org('member:update'),
  removeOrganizationMember: async (e) => {
    const m = await findMember(e.db.kysely, e.orgId, needTarget(e, 'member id'));
    return [
      { action: removeAction(e.principal, m), subject: await e.access.subjectFor(e.principal, e.orgId) },
    ];
  },
  getOrganizationInvitations: org('invitation:list'),
  getOrganizationInvitationsForKey: async (e) =>
    e.principal.kind === 'user'
      ? [
          {
            allowed: false,
            status: 400,
            rule: 'invitation:list: personal keys name the organization in the path',
            reason: 'with a personal API key use GET /organizations/{org_id}/invitations',
          },
        ]
      : org('invitation:list')(e),
  createOrganizationInvitations: org('invitation:create'),
  revokeOrganizationInvitation: org('invitation:revoke'),
  resendOrganizationInvitation: org('invitation:resend'),
  listProjects: org('project:list'),
  createProject: org('project:create'),
  getProject: project('project:read'),
  updateProject: project('project:update'),
  deleteProject: project('project:delete'),
  recoverProject: project('project:recover'),
  getProjectOperation: project('project:operation_read'),
  transferProjectsFromOrgToOrg: async (e) => [
    { action: 'project:transfer', subject: accountSubject(e.principal) },
    { action: 'project:transfer_out', subject: await e.access.subjectFor(e.principal, e.orgId) },
  ],
  transferProjectsFromUserToOrg: async (e) => [
    { action: 'project:transfer', subject: accountSubject(e.principal) },
    { action: 'project:transfer_in', subject: await e.access.subjectFor(e.principal, e.orgId) },
  ],
  rotateApiKey: async (e) => [
    { action: 'personal_api_key:rotate', subject: accountSubject(e.principal) },
    async () => {
      const key = await findKeyById(e.db.kysely, Number(needTarget(e, 'API key id')));
      return key && ownsPersonalKey(e.principal, key)
        ? []
        : [hidden("personal_api_key:rotate: not the caller's own key (hidden as not found)", 'API key')];
    },
  ],
  rotateOrgApiKey: async (e) => {
    const subject = await e.access.subjectFor(e.principal, e.orgId);
    return [
      { action: 'org_api_key:list', subject },
      async () => {
        const key = await findKeyById(e.db.kysely, Number(needTarget(e, 'API key id')));
        if (!key || key.kind === 'personal' || key.org_id !== e.orgId) {
          return [hidden('org_api_key:rotate: no such key in this organization', 'API key')];
        }
        // A canary is invisible to everyone but admins, as in ApiKeysService.findOrgKey.
        if (key.canary && !decide('org_api_key:list_canaries', subject).allow) {
          return [hidden('org_api_key:list_canaries: canary keys are hidden from non-admins', 'API key')];
        }
        const own = e.principal.kind === 'user' && key.created_by === e.principal.userId;
        const action: Action =
          key.kind === 'org'
            ? 'org_api_key:rotate'
            : own
              ? 'project_api_key:rotate_own'
              : 'project_api_key:rotate';
        const steps: Step[] = [{ action, subject }];
        if (key.canary) steps.push({ action: 'org_api_key:create_canary', subject });
        return steps;
      },
    ];
  },
  updateOrganization: org('organization:update'),
  getOrganizationCapabilities: async (e) => {
    const subject = await e.access.subjectFor(e.principal, e.orgId);
    // As OrganizationsService.capabilities: only callers the organization is hidden from are refused.
    const d = decide('organization:read', subject);
    if (!d.allow && d.code === 'NOT_FOUND') return [{ action: 'organization:read', subject }];
    return [
      {
        allowed: true,
        status: 200,
        rule: 'organization:capabilities: anyone the organization is not hidden from',
        reason: 'Allowed: the answer lists what this caller may do.',
      },
    ];
  },
  listSharedProjects: account('project:list_shared'),
  listProjectPermissions: project('project_permission:list'),
  grantPermissionToProject: project('project_permission:grant'),
  revokePermissionFromProject: project('project_permission:revoke'),
  createProjectTransferRequest: project('project:transfer_request_create'),
  acceptProjectTransferRequest: org('project:transfer_request_accept'),
  listProjectBranches: project('branch:read'),
  countProjectBranches: project('branch:read'),
  getProjectBranch: project('branch:read'),
  listProjectEndpoints: project('branch:read'),
  getProjectEndpoint: project('branch:read'),
  listProjectBranchEndpoints: project('branch:read'),
  listProjectBranchDatabases: project('branch:read'),
  getProjectBranchDatabase: project('branch:read'),
  listProjectBranchRoles: project('branch:read'),
  getProjectBranchRole: project('branch:read'),
  getProjectBranchRolePassword: project('project:connection_read'),
  getConnectionURI: project('project:connection_read'),
  ...Object.fromEntries(
    UNSUPPORTED_OPERATIONS.map((op): [string, Resolver] => [
      op.operationId,
      async () => [
        {
          allowed: false,
          status: 422,
          rule: `${op.operationId}: not supported by orgplane`,
          reason: `orgplane manages organizations, not compute: ${op.doing} is not supported, for every caller.`,
        },
      ],
    ]),
  ),
  getOrganizationAuditLog: org('audit_log:read'),
  explainAccess: org('access:explain'),
};

export interface ExplainInput {
  key_id?: number | undefined;
  member_id?: string | undefined;
  email?: string | undefined;
  operation: string;
  target?: string | undefined;
}

export class ExplainService {
  constructor(
    private readonly db: Db,
    private readonly access: Authenticator,
  ) {}

  async explain(caller: Principal, orgId: string, input: ExplainInput): Promise<Explanation> {
    authorize('access:explain', await this.access.subjectFor(caller, orgId));
    const named = [input.key_id, input.member_id, input.email].filter((x) => x !== undefined).length;
    if (named !== 1) throw badRequest('name exactly one of key_id, member_id or email');
    const resolve = OPERATIONS[input.operation];
    if (!resolve) throw badRequest(`operation "${input.operation}" is not an operation id of this API`);

    const who = await this.principalFor(orgId, input);
    if ('status' in who) return who;
    const steps = await resolve({
      principal: who,
      orgId,
      target: input.target,
      access: this.access,
      db: this.db,
    });
    let last: Explanation | undefined;
    for (const s of steps) {
      for (const step of typeof s === 'function' ? await s() : [s]) {
        if ('status' in step) return step;
        const d = decide(step.action, step.subject);
        if (!d.allow) {
          return {
            allowed: false,
            status: d.code === 'NOT_FOUND' ? 404 : 403,
            rule: d.rule,
            reason: `${d.message.charAt(0).toUpperCase()}${d.message.slice(1)}.`,
          };
        }
        last = { allowed: true, status: 200, rule: d.rule, reason: `Allowed: ${d.reason}.` };
      }
    }
    return last ?? { allowed: true, status: 200, rule: 'none', reason: 'Allowed: no rule restricts it.' };
  }

  /** The principal a key, a member or an address would authenticate as. */
  private async principalFor(orgId: string, input: ExplainInput): Promise<Principal | Explanation> {
    const k = this.db.kysely;
    if (input.key_id !== undefined) {
      const key = await findKeyById(k, input.key_id);
      if (!key) throw notFound('API key');
      if (key.revoked_at !== null) {
        return {
          allowed: false,
          status: 401,
          rule: 'authentication: revoked key',
          reason: 'The key is revoked; every request with it is refused as unauthenticated.',
        };
      }
      return keyPrincipal(key);
    }
    if (input.member_id !== undefined) {
      const m = await findMember(k, orgId, input.member_id);
      if (!m) throw notFound('member');
      return { kind: 'user', userId: m.user_id, keyId: null };
    }
    const user = await findUserByEmail(k, input.email ?? '');
    // No account: answered as any non-member would be (and without saying whether it exists).
    return { kind: 'user', userId: user?.id ?? '00000000-0000-0000-0000-000000000000', keyId: null };
  }
}

function keyPrincipal(key: ApiKeyRow): Principal {
  if (key.kind === 'org' && key.org_id) return { kind: 'org_key', orgId: key.org_id, keyId: key.id };
  if (key.kind === 'project' && key.org_id && key.project_id) {
    return { kind: 'project_key', orgId: key.org_id, projectId: key.project_id, keyId: key.id };
  }
  return { kind: 'user', userId: key.user_id ?? '', keyId: key.id };
}
