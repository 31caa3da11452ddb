// Organization use cases. No Fastify here: the CLI and tests call these directly.
import type { Db } from '../db/connect.ts';
import { withTransaction } from '../db/connect.ts';
import type { OrganizationRow } from '../db/schema.ts';
import { badRequest, notFound } from '../domain/errors.ts';
import { newOrgId } from '../domain/ids.ts';
import type { Principal } from '../domain/principal.ts';
import { nowIso } from '../domain/time.ts';
import { authorize, accountSubject, decide, RULES, type Action, type Subject } from '../policy/index.ts';
import type { SubjectSource } from '../policy/subjects.ts';
import { PLANS, type Config, type Plan } from '../config.ts';
import { countAdmins, insertMember } from '../members/members.repository.ts';
import type { Capability } from '../policy/index.ts';
import { countLiveProjects } from '../projects/projects.repository.ts';
import { REGIONS, DEFAULT_REGION } from '../projects/regions.ts';
import { findUserByEmail, findUserById } from '../users/users.repository.ts';
import { findOrganization, lockOrganizationRow } from '../db/organizations.repository.ts';
import {
  insertOrganization,
  listOrganizationsOfUser,
  updateOrganization,
} from './organizations.repository.ts';
import { NOTHING_TO_CHANGE } from './organizations.schemas.ts';

export interface Capabilities {
  org_id: string;
  /** The caller's role; null for API keys (they are not members). */
  role: string | null;
  principal: 'user' | 'org_key' | 'project_key';
  /** Left out for callers who may not read the organization (collaborators, project-scoped keys). */
  plan?: string;
  /** Roles members and invitations may be given in this organization. */
  roles: readonly string[];
  /** count and limit: left out like plan. */
  projects: { count?: number; limit?: number; recovery_window_days: number };
  regions: { ids: readonly string[]; default: string };
  actions: Record<Action, Capability>;
  /** Whether mail leaves the server (SMTP_URL set); without it, messages wait in the outbox. */
  mail: { smtp_configured: boolean };
}
import { AuditContext } from '../audit/audit.ts';
import { appendAuditEvent } from '../audit/audit.repository.ts';
import { AVAILABLE_ROLES } from '../domain/roles.ts';
import { planLimit } from '../domain/plans.ts';
import { RECOVERY_WINDOW_MS } from '../domain/projects.ts';

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
    private readonly access: SubjectSource,
    private readonly config: Config,
  ) {}

  /** A user's organizations; for an organization or project-scoped key, the one organization owning it. */
  async ofCaller(principal: Principal): Promise<OrganizationRow[]> {
    authorize('user:list_organizations', accountSubject(principal));
    if (principal.kind === 'user') return listOrganizationsOfUser(this.db.kysely, principal.userId);
    const org = await findOrganization(this.db.kysely, principal.orgId);
    return org ? [org] : [];
  }

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
    // The plan and the project count are the organization's: only those who may read it (GET
    // /organizations/{id}) see them; collaborators and project-scoped keys get their actions only.
    const usage = read.allow
      ? { count: await countLiveProjects(k, orgId), limit: planLimit(this.config, org.plan) }
      : {};
    return {
      org_id: org.id,
      role: subject.kind === 'user' ? subject.role : null,
      principal: principal.kind,
      ...(read.allow ? { plan: org.plan } : {}),
      roles: AVAILABLE_ROLES,
      projects: { ...usage, recovery_window_days: RECOVERY_WINDOW_MS / 86_400_000 },
      regions: { ids: REGIONS, default: DEFAULT_REGION },
      actions,
      mail: { smtp_configured: this.config.smtpUrl !== undefined },
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
   * Extension: organization settings (name, maximum API key lifetime), admins with a personal key.
   * Existing keys keep their expiry; the limit applies to keys created or rotated afterwards.
   * A body that changes nothing is refused (400), never answered with a silent 200.
   */
  async update(
    principal: Principal,
    orgId: string,
    input: { name?: string | undefined; max_api_key_lifetime_days?: number | null | undefined },
    ctx: AuditContext,
  ): Promise<OrganizationRow> {
    const name = input.name === undefined ? undefined : input.name.trim();
    return withTransaction(this.db, async (trx) => {
      authorize('organization:update', await this.access.subjectFor(principal, orgId, undefined, trx));
      const before = await lockOrganizationRow(trx, orgId);
      if (!before) throw notFound('organization');
      if (name === undefined && input.max_api_key_lifetime_days === undefined) {
        throw badRequest(NOTHING_TO_CHANGE);
      }
      if (name !== undefined && !name) throw badRequest('name must not be empty');
      const changes: Record<string, unknown> = {};
      if (name !== undefined && name !== before.name) changes.name = { from: before.name, to: name };
      if (input.max_api_key_lifetime_days !== undefined) {
        changes.max_api_key_lifetime_days = input.max_api_key_lifetime_days;
      }
      await updateOrganization(trx, orgId, {
        ...(name !== undefined ? { name } : {}),
        ...(input.max_api_key_lifetime_days !== undefined
          ? { max_api_key_lifetime_days: input.max_api_key_lifetime_days }
          : {}),
        updated_at: nowIso(),
      });
      const org = await findOrganization(trx, orgId);
      if (!org) throw notFound('organization');
      await appendAuditEvent(
        trx,
        ctx.event({
          action: 'organization.updated',
          orgId,
          target: { type: 'organization', id: orgId },
          changes,
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
      await insertMember(trx, { orgId: id, user, role: 'admin', joinedAt: now });
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
      await updateOrganization(trx, orgId, { plan, updated_at: nowIso() });
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
