// Organization use cases. No Fastify here: the CLI and tests call these directly.
import type { Db } from '../db/connect.ts';
import { withTransaction } from '../db/connect.ts';
import type { OrganizationRow } from '../db/schema.ts';
import { badRequest, notFound } from '../domain/errors.ts';
import { newOrgId, newUuid } from '../domain/ids.ts';
import type { Principal } from '../domain/principal.ts';
import { nowIso } from '../domain/time.ts';
import { authorize, accountSubject, decide, RULES, type Action, type Subject } from '../policy/index.ts';
import type { Authenticator } from '../auth/authenticator.ts';
import { PLANS, type Config, type Plan } from '../config.ts';
import { countAdmins, insertMember } from '../members/members.repository.ts';
import { AVAILABLE_ROLES } from '../members/members.service.ts';
import { countLiveProjects } from '../projects/projects.repository.ts';
import { planLimit } from '../projects/projects.service.ts';
import { RECOVERY_WINDOW_MS } from '../projects/projects.presenter.ts';
import { REGIONS, DEFAULT_REGION } from '../projects/regions.ts';
import { findUserByEmail, findUserById } from '../users/users.repository.ts';
import { findOrganization, insertOrganization, lockOrganization } from './organizations.repository.ts';

export interface Capability {
  allowed: boolean;
  /** Why not, in the words the API would refuse with (absent when allowed). */
  reason?: string;
}

export interface Capabilities {
  org_id: string;
  /** The caller's role; null for API keys (they are not members). */
  role: string | null;
  principal: 'user' | 'org_key' | 'project_key';
  plan: string;
  /** Roles members and invitations may be given in this organization. */
  roles: readonly string[];
  projects: { count: number; limit: number; recovery_window_days: number };
  regions: { ids: readonly string[]; default: string };
  actions: Record<Action, Capability>;
}
import { AuditContext } from '../audit/audit.ts';
import { appendAuditEvent } from '../audit/audit.repository.ts';

export function slugify(name: string): string {
  const s = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return s || 'org';
}

export class OrganizationsService {
  constructor(
    private readonly db: Db,
    private readonly access: Authenticator,
    private readonly config: Config,
  ) {}

  /**
   * Extension: what the caller may do in this organization, one entry per action of the policy's
   * RULES, each answered by decide() for the caller's own subject — so the console offers exactly
   * what the API will accept and keeps no second copy of the rules. Project-level actions are
   * answered for a project of the organization (for a project-scoped key: its own project).
   * One state-dependent refusal is folded in: the only admin cannot leave.
   */
  async capabilities(principal: Principal, orgId: string): Promise<Capabilities> {
    const k = this.db.kysely;
    const subject = await this.access.subjectFor(principal, orgId);
    // Outsiders get the 404 of every other request; a project-scoped key (it may not read the
    // organization) still learns what it may do.
    const read = decide('organization:read', subject);
    if (!read.allow && read.code === 'NOT_FOUND') authorize('organization:read', subject);
    const org = await findOrganization(k, orgId);
    if (!org) throw notFound('organization');
    const forProject: Subject = subject.kind === 'project_key' ? { ...subject, sameProject: true } : subject;
    const actions = {} as Record<Action, Capability>;
    for (const action of Object.keys(RULES) as Action[]) {
      const d = decide(action, RULES[action].scope === 'project' ? forProject : subject);
      actions[action] = d.allow ? { allowed: true } : { allowed: false, reason: d.message };
    }
    if (subject.kind === 'user' && subject.role === 'admin' && actions['member:leave'].allowed) {
      if ((await countAdmins(k, orgId)) <= 1) {
        actions['member:leave'] = {
          allowed: false,
          reason: 'you are the only admin of the organization; make another member admin first',
        };
      }
    }
    return {
      org_id: org.id,
      role: subject.kind === 'user' ? subject.role : null,
      principal: principal.kind,
      plan: org.plan,
      roles: AVAILABLE_ROLES,
      projects: {
        count: await countLiveProjects(k, orgId),
        limit: planLimit(this.config, org.plan),
        recovery_window_days: RECOVERY_WINDOW_MS / 86_400_000,
      },
      regions: { ids: REGIONS, default: DEFAULT_REGION },
      actions,
    };
  }

  async get(principal: Principal, orgId: string): Promise<OrganizationRow> {
    const k = this.db.kysely;
    authorize('organization:read', await this.access.subjectFor(principal, orgId));
    const org = await findOrganization(k, orgId);
    if (!org) throw notFound('organization');
    return org;
  }

  /**
   * Extension: organization settings (the maximum API key lifetime), admins with a personal key.
   * Existing keys keep their expiry; the limit applies to keys created or rotated afterwards.
   */
  async update(
    principal: Principal,
    orgId: string,
    input: { max_api_key_lifetime_days?: number | null | undefined },
    ctx: AuditContext,
  ): Promise<OrganizationRow> {
    return withTransaction(this.db, async (trx) => {
      authorize('organization:update', await this.access.subjectFor(principal, orgId, undefined, trx));
      if (!(await lockOrganization(trx, orgId))) throw notFound('organization');
      if (input.max_api_key_lifetime_days !== undefined) {
        await trx
          .updateTable('organizations')
          .set({ max_api_key_lifetime_days: input.max_api_key_lifetime_days, updated_at: nowIso() })
          .where('id', '=', orgId)
          .execute();
      }
      const org = await findOrganization(trx, orgId);
      if (!org) throw notFound('organization');
      await appendAuditEvent(
        trx,
        ctx.event({
          action: 'organization.updated',
          orgId,
          target: { type: 'organization', id: orgId },
          changes: { max_api_key_lifetime_days: input.max_api_key_lifetime_days },
        }),
      );
      return org;
    });
  }

  /** Extension: a personal key creates an organization with its user as the only admin. */
  async create(principal: Principal, input: { name: string }, ctx: AuditContext): Promise<OrganizationRow> {
    authorize('organization:create', accountSubject(principal));
    if (principal.kind !== 'user') throw new Error('unreachable: policy admits users only');
    // Always the free plan: plans are the operator's (createForEmail, setPlan).
    return this.createWithAdmin(principal.userId, { name: input.name, plan: 'free' }, ctx);
  }

  /** Creates an organization and makes userId its admin, in one transaction. */
  async createWithAdmin(
    userId: string,
    input: { name: string; plan?: Plan | undefined },
    ctx = AuditContext.operator(),
  ): Promise<OrganizationRow> {
    const name = input.name.trim();
    if (!name) throw badRequest('name must not be empty');
    const plan = input.plan ?? 'free';
    if (!PLANS.includes(plan)) throw badRequest(`plan must be one of ${PLANS.join(', ')}`);
    return withTransaction(this.db, async (trx) => {
      const user = await findUserById(trx, userId);
      if (!user) throw notFound('user');
      const now = nowIso();
      const id = newOrgId();
      const org: OrganizationRow = {
        id,
        name,
        handle: `${slugify(name)}-${id}`,
        plan,
        managed_by: 'console',
        created_at: now,
        updated_at: now,
        max_api_key_lifetime_days: null,
      };
      await insertOrganization(trx, org);
      await insertMember(trx, {
        id: newUuid(),
        org_id: id,
        user_id: userId,
        role: 'admin',
        email: user.email_lower,
        joined_at: now,
      });
      await appendAuditEvent(
        trx,
        ctx.event({
          action: 'organization.created',
          status: 201,
          orgId: id,
          target: { type: 'organization', id },
          changes: { name, plan, admin: { user_id: userId, email: user.email_lower } },
        }),
      );
      return org;
    });
  }

  /** Operator path (CLI): the admin is named by email. */
  async createForEmail(
    adminEmail: string,
    input: { name: string; plan?: Plan | undefined },
  ): Promise<OrganizationRow> {
    const user = await findUserByEmail(this.db.kysely, adminEmail);
    if (!user) throw notFound(`user ${adminEmail}`);
    return this.createWithAdmin(user.id, input);
  }

  async setPlan(orgId: string, plan: Plan, ctx = AuditContext.operator()): Promise<OrganizationRow> {
    if (!PLANS.includes(plan)) throw badRequest(`plan must be one of ${PLANS.join(', ')}`);
    await withTransaction(this.db, async (trx) => {
      const before = await findOrganization(trx, orgId);
      if (!before) return;
      await trx
        .updateTable('organizations')
        .set({ plan, updated_at: nowIso() })
        .where('id', '=', orgId)
        .execute();
      await appendAuditEvent(
        trx,
        ctx.event({
          action: 'organization.updated',
          orgId,
          target: { type: 'organization', id: orgId },
          changes: { plan: { from: before.plan, to: plan } },
        }),
      );
    });
    const org = await findOrganization(this.db.kysely, orgId);
    if (!org) throw notFound('organization');
    return org;
  }
}
