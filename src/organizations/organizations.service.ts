// Organization use cases. No Fastify here: the CLI and tests call these directly.
import type { Db } from '../db/connect.ts';
import { withTransaction } from '../db/connect.ts';
import type { OrganizationRow } from '../db/schema.ts';
import { badRequest, notFound } from '../domain/errors.ts';
import { newOrgId, newUuid } from '../domain/ids.ts';
import type { Principal } from '../domain/principal.ts';
import { nowIso } from '../domain/time.ts';
import { authorize, accountSubject } from '../policy/index.ts';
import type { Authenticator } from '../auth/authenticator.ts';
import { PLANS, type Plan } from '../config.ts';
import { insertMember } from '../members/members.repository.ts';
import { findUserByEmail, findUserById } from '../users/users.repository.ts';
import { findOrganization, insertOrganization } from './organizations.repository.ts';
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
  ) {}

  async get(principal: Principal, orgId: string): Promise<OrganizationRow> {
    const k = this.db.kysely;
    authorize('organization:read', await this.access.subjectFor(principal, orgId));
    const org = await findOrganization(k, orgId);
    if (!org) throw notFound('organization');
    return org;
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
