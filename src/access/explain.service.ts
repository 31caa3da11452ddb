// "Can this key (member, address) do X?": the answer comes from the same code that decides real
// requests — the services' subject and action selection (subjectFor, projectSubject, revokeAction,
// removeAction, createKeyAction, ownsPersonalKey) and the policy's decide() — run for another
// principal. Nothing is written. OPERATIONS lists, per OpenAPI operation id, the checks its service
// makes in order; a test fails when a route's operation id is missing here.
import { type SubjectSource, projectSubject } from '../policy/subjects.ts';
import type { Db } from '../db/connect.ts';
import type { ApiKeyRow } from '../db/schema.ts';
import { AppError, badRequest, ERROR_STATUS, notFound, type ErrorCode } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import { accountSubject, authorize, decide, type Action, type Subject } from '../policy/index.ts';
import { findKeyById } from '../api-keys/api-keys.repository.ts';
import { findMember } from '../members/members.repository.ts';
import { findProject } from '../projects/projects.repository.ts';
import { UNSUPPORTED_OPERATIONS } from '../projects/unsupported.ts';
import { SERVED_WITH_COMPUTE } from '../branches/coverage.ts';
import { hasLiveGrantInOrg } from '../sharing/sharing.repository.ts';
import { findUserByEmail } from '../users/users.repository.ts';
import { findRole } from '../auth/auth.repository.ts';
import { createKeyAction, ownsPersonalKey, revokeAction, removeAction } from '../policy/actions.ts';

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
  /** The request's body (explain: the body of the request explained; {} when none). */
  body: Record<string, unknown>;
  /** Whether branch and endpoint operations are served (ORGPLANE_COMPUTE on) or answer 422. */
  computeOn: boolean;
  access: SubjectSource;
  db: Db;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

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
  createOrgApiKey: async (e) => {
    // As ApiKeysService.createOrg: the body's project_id picks the rule, canary adds one, and the
    // project must be a live one of this organization.
    const projectId = str(e.body.project_id) ?? e.target;
    const subject = await e.access.subjectFor(e.principal, e.orgId);
    const steps: Array<Step | (() => Promise<Step[]>)> = [{ action: createKeyAction(projectId), subject }];
    if (e.body.canary === true) steps.push({ action: 'org_api_key:create_canary', subject });
    if (projectId !== undefined) {
      steps.push(async () => {
        const p = await findProject(e.db.kysely, projectId);
        return p && p.org_id === e.orgId && p.deleted_at === null
          ? []
          : [hidden('project_api_key:create: no such project in this organization', 'project')];
      });
    }
    return steps;
  },
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
  createProject: async (e) => {
    const project = e.body.project as Record<string, unknown> | undefined;
    const orgId = str(project?.org_id) ?? e.orgId;
    return [{ action: 'project:create', subject: await e.access.subjectFor(e.principal, orgId) }];
  },
  getProject: project('project:read'),
  updateProject: project('project:update'),
  deleteProject: project('project:delete'),
  recoverProject: project('project:recover'),
  getProjectOperation: project('project:operation_read'),
  transferProjectsFromOrgToOrg: async (e) => {
    const dest = str(e.body.destination_org_id);
    const steps: Step[] = [
      { action: 'project:transfer', subject: accountSubject(e.principal) },
      { action: 'project:transfer_out', subject: await e.access.subjectFor(e.principal, e.orgId) },
    ];
    // As TransfersService: the destination's rule too (its 404 names the destination).
    if (dest !== undefined) {
      const d = decide('project:transfer_in', await e.access.subjectFor(e.principal, dest));
      steps.push(
        !d.allow && d.code === 'NOT_FOUND'
          ? hidden('project:transfer_in: destination hidden as not found', 'destination organization')
          : { action: 'project:transfer_in', subject: await e.access.subjectFor(e.principal, dest) },
      );
    }
    return steps;
  },
  transferProjectsFromUserToOrg: async (e) => [
    { action: 'project:transfer', subject: accountSubject(e.principal) },
    {
      action: 'project:transfer_in',
      subject: await e.access.subjectFor(e.principal, str(e.body.destination_org_id) ?? e.orgId),
    },
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
  acceptProjectTransferRequest: async (e) => {
    // The destination: the body's org_id, else an organization key's own organization.
    const dest = str(e.body.org_id) ?? (e.principal.kind === 'user' ? e.orgId : e.principal.orgId);
    const d = decide('project:transfer_request_accept', await e.access.subjectFor(e.principal, dest));
    if (!d.allow && d.code === 'NOT_FOUND') {
      return [
        hidden(
          'project:transfer_request_accept: destination hidden as not found',
          'destination organization',
        ),
      ];
    }
    return [
      { action: 'project:transfer_request_accept', subject: await e.access.subjectFor(e.principal, dest) },
    ];
  },
  cancelProjectTransferRequest: project('project:transfer_request_cancel'),
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
    UNSUPPORTED_OPERATIONS.map((op): [string, Resolver] => {
      const refused: Resolver = async () => [
        {
          allowed: false,
          status: 422,
          rule: `${op.operationId}: not supported by orgplane`,
          reason: `orgplane manages organizations, not compute: ${op.doing} is not supported, for every caller.`,
        },
      ];
      if (!SERVED_WITH_COMPUTE.has(op.operationId)) return [op.operationId, refused];
      // Served with compute on, by BranchesService: schema reads need branch:read, the rest write.
      const served = project(op.operationId.includes('Schema') ? 'branch:read' : 'branch:write');
      return [op.operationId, (e) => (e.computeOn ? served(e) : refused(e))];
    }),
  ),
  getOrganizationAuditLog: org('audit_log:read'),
  getOrganizationAuditLogActions: org('audit_log:read'),
  getProjectCapabilities: project('project:read'),
  listProjectOperations: project('project:operation_read'),
  getActiveRegions: async () => [
    {
      allowed: true,
      status: 200,
      rule: 'regions: every authenticated caller',
      reason: 'Allowed: the regions this server accepts are the same for everyone.',
    },
  ],
  getProjectTransferRequest: async () => [
    {
      allowed: true,
      status: 200,
      rule: 'project:transfer_request_read: anyone holding the claim link',
      reason: 'Allowed: the request id in the link is what grants it.',
    },
  ],
  explainAccess: org('access:explain'),
};

export interface ExplainInput {
  key_id?: number | undefined;
  member_id?: string | undefined;
  email?: string | undefined;
  operation: string;
  target?: string | undefined;
  /** The body the request would carry (it can decide the rule: project_id, canary, org_id…). */
  body?: Record<string, unknown> | undefined;
}

/** A real request, as authorizeReplay sees it: its operation id, path parameters and body. */
export interface RequestShape {
  operation: string;
  params: Record<string, unknown>;
  body: unknown;
}

export class ExplainService {
  constructor(
    private readonly db: Db,
    private readonly access: SubjectSource,
    /** The clock of key expiry (the authenticator's). */
    private readonly clock: () => number = Date.now,
    private readonly computeOn = false,
  ) {}

  async explain(caller: Principal, orgId: string, input: ExplainInput): Promise<Explanation> {
    authorize('access:explain', await this.access.subjectFor(caller, orgId));
    const named = [input.key_id, input.member_id, input.email].filter((x) => x !== undefined).length;
    if (named !== 1) throw badRequest('name exactly one of key_id, member_id or email');
    const resolve = OPERATIONS[input.operation];
    if (!resolve) throw badRequest(`operation "${input.operation}" is not an operation id of this API`);

    const who = await this.principalFor(orgId, input);
    if ('status' in who) return who;
    return (await this.verdict(resolve, who, orgId, input.target, input.body ?? {})).explanation;
  }

  /**
   * Before an idempotent replay: the caller must still be allowed what the stored response did
   * (key revoked, member removed, role demoted → the real refusal, not the stored answer). The
   * same checks as explain, in the order the services make them; throws the refusal.
   */
  async authorizeReplay(principal: Principal, req: RequestShape): Promise<void> {
    const resolve = OPERATIONS[req.operation];
    if (!resolve) return;
    const params = req.params;
    const body =
      req.body && typeof req.body === 'object' && !Array.isArray(req.body)
        ? (req.body as Record<string, unknown>)
        : {};
    const projectId = str(params.project_id);
    let orgId = str(params.org_id) ?? str(params.source_org_id);
    if (orgId === undefined && projectId !== undefined) {
      orgId = (await findProject(this.db.kysely, projectId))?.org_id ?? undefined;
    }
    orgId ??= str(body.org_id) ?? (principal.kind === 'user' ? '' : principal.orgId);
    const keyId = typeof params.key_id === 'number' ? String(params.key_id) : str(params.key_id);
    const target = projectId ?? keyId ?? str(params.member_id) ?? str(params.invitation_id);
    const { refusal } = await this.verdict(resolve, principal, orgId, target, body);
    if (refusal) throw refusal;
  }

  private async verdict(
    resolve: Resolver,
    who: Principal,
    orgId: string,
    target: string | undefined,
    body: Record<string, unknown>,
  ): Promise<{ explanation: Explanation; refusal?: AppError }> {
    const steps = await resolve({
      principal: who,
      orgId,
      target,
      body,
      computeOn: this.computeOn,
      access: this.access,
      db: this.db,
    });
    let last: Explanation | undefined;
    for (const s of steps) {
      for (const step of typeof s === 'function' ? await s() : [s]) {
        if ('status' in step) {
          if (step.allowed) continue;
          const code = (Object.keys(ERROR_STATUS) as ErrorCode[]).find(
            (c) => ERROR_STATUS[c] === step.status,
          );
          const message = step.status === 404 ? step.reason : step.reason.replace(/\.$/, '');
          return { explanation: step, refusal: new AppError(code ?? 'FORBIDDEN', message) };
        }
        const d = decide(step.action, step.subject);
        if (!d.allow) {
          return {
            explanation: {
              allowed: false,
              status: d.code === 'NOT_FOUND' ? 404 : 403,
              rule: d.rule,
              reason: `${d.message.charAt(0).toUpperCase()}${d.message.slice(1)}.`,
            },
            refusal: new AppError(d.code, d.message),
          };
        }
        last = { allowed: true, status: 200, rule: d.rule, reason: `Allowed: ${d.reason}.` };
      }
    }
    return {
      explanation: last ?? {
        allowed: true,
        status: 200,
        rule: 'none',
        reason: 'Allowed: no rule restricts it.',
      },
    };
  }

  /**
   * The principal a key, a member or an address would authenticate as. Only keys and people of
   * this organization are explained: its organization and project keys, and the personal keys
   * and addresses of its members and of collaborators on its projects. Anything else answers the
   * same 404 as a key or person that does not exist, so explain tells nothing about the rest of
   * the installation.
   */
  private async principalFor(orgId: string, input: ExplainInput): Promise<Principal | Explanation> {
    const k = this.db.kysely;
    if (input.key_id !== undefined) {
      const key = await findKeyById(k, input.key_id);
      const ours =
        key !== undefined &&
        (key.kind === 'personal'
          ? key.user_id !== null && (await this.isPersonOf(orgId, key.user_id))
          : key.org_id === orgId);
      if (!key || !ours) throw notFound('API key');
      // Explain is for admins, who may see canaries; a canary answers every request with 401.
      if (key.canary) {
        return {
          allowed: false,
          status: 401,
          rule: 'authentication: canary key',
          reason: 'The key is a canary: every request with it is refused as unauthenticated (and reported).',
        };
      }
      if (key.expires_at !== null && key.expires_at <= new Date(this.clock()).toISOString()) {
        return {
          allowed: false,
          status: 401,
          rule: 'authentication: expired key',
          reason: 'The key has expired; every request with it is refused as unauthenticated.',
        };
      }
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
    if (!user || !(await this.isPersonOf(orgId, user.id))) throw notFound('member or collaborator');
    return { kind: 'user', userId: user.id, keyId: null };
  }

  /** A member of the organization, or a collaborator on one of its projects. */
  private async isPersonOf(orgId: string, userId: string): Promise<boolean> {
    const k = this.db.kysely;
    return (await findRole(k, orgId, userId)) !== null || (await hasLiveGrantInOrg(k, userId, orgId));
  }
}

function keyPrincipal(key: ApiKeyRow): Principal {
  if (key.kind === 'org' && key.org_id) return { kind: 'org_key', orgId: key.org_id, keyId: key.id };
  if (key.kind === 'project' && key.org_id && key.project_id) {
    return { kind: 'project_key', orgId: key.org_id, projectId: key.project_id, keyId: key.id };
  }
  return { kind: 'user', userId: key.user_id ?? '', keyId: key.id };
}
