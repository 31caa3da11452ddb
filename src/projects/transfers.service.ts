// Project transfers: organization → organization, and (deprecated in Neon) personal account → organization.
// One transaction: both organizations locked in sorted order, every check re-done under the locks,
// a compare-and-set UPDATE that must move exactly the requested rows, and the moved projects'
// project-scoped keys revoked in the same commit. A crash anywhere leaves all or nothing.
import type { Transaction } from 'kysely';
import type { Config } from '../config.ts';
import { PLANS } from '../config.ts';
import type { Db } from '../db/connect.ts';
import type { Database } from '../db/schema.ts';
import { withTransaction } from '../db/connect.ts';
import { listLiveProjectKeys, revokeProjectKeys } from '../api-keys/api-keys.repository.ts';
import { AppError, badRequest, notFound } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import { nowIso } from '../domain/time.ts';
import type { AuditContext } from '../audit/audit.ts';
import { appendAuditEvent } from '../audit/audit.repository.ts';
import { findOrganization, lockOrganization } from '../db/organizations.repository.ts';
import { authorize, type Action, accountSubject } from '../policy/index.ts';
import type { SubjectSource } from '../policy/subjects.ts';
import { integrationsOf } from './projects.presenter.ts';
import {
  countLiveProjects,
  endGrantsOfSourceOrg,
  findProjectsForTransfer,
  moveProjects,
} from './projects.repository.ts';
import { BLOCKING_INTEGRATIONS } from './projects.schemas.ts';
import { planLimit } from '../domain/plans.ts';

export interface Limit {
  name: string;
  expected: string;
  actual: string;
}

export interface TransferReport {
  project_ids: string[];
  limits: Limit[];
  integrations: Array<{ id: string; integration: string }>;
  api_keys_revoked: Array<{ id: number; name: string; project_id: string }>;
}

/** A personal account counts as the free plan when plans are compared. */
export const PERSONAL_PLAN = 'free';

function tier(plan: string): number {
  const i = PLANS.indexOf(plan as (typeof PLANS)[number]);
  return i < 0 ? 0 : i;
}

export class TransfersService {
  /**
   * A seam for crash and race tests: runs inside the transfer's transaction, after every change
   * and before the commit (it gets the transaction, e.g. to learn its PostgreSQL backend). Production
   * code never sets it.
   */
  beforeCommit: ((trx: Transaction<Database>) => Promise<void>) | undefined;

  constructor(
    private readonly db: Db,
    private readonly access: SubjectSource,
    private readonly config: Config,
  ) {}

  /** POST /organizations/{source_org_id}/projects/transfer */
  fromOrganization(
    principal: Principal,
    sourceOrgId: string,
    body: { destination_org_id: string; project_ids: string[] },
    dryRun: boolean,
    ctx: AuditContext,
  ): Promise<TransferReport> {
    if (sourceOrgId === body.destination_org_id) {
      throw badRequest('destination_org_id is the source organization; nothing to transfer');
    }
    return this.run(principal, sourceOrgId, body, dryRun, ctx);
  }

  /** POST /users/me/projects/transfer: the caller's personal projects into an organization. */
  fromPersonalAccount(
    principal: Principal,
    body: { destination_org_id: string; project_ids: string[] },
    dryRun: boolean,
    ctx: AuditContext,
  ): Promise<TransferReport> {
    return this.run(principal, null, body, dryRun, ctx);
  }

  private async run(
    principal: Principal,
    sourceOrgId: string | null,
    body: { destination_org_id: string; project_ids: string[] },
    dryRun: boolean,
    ctx: AuditContext,
  ): Promise<TransferReport> {
    // A transfer needs a person with rights in both places: organization keys never qualify.
    authorize('project:transfer', accountSubject(principal));
    if (principal.kind !== 'user') throw new Error('unreachable: policy admits users only');
    const ids = body.project_ids;
    const seen = new Set<string>();
    const dupes = new Set<string>();
    for (const id of ids) (seen.has(id) ? dupes : seen).add(id);
    if (dupes.size > 0) {
      throw badRequest(`project_ids lists these projects more than once: ${[...dupes].join(', ')}`);
    }
    const destId = body.destination_org_id;

    return withTransaction(this.db, async (trx) => {
      // Sorted lock order: two transfers between the same organizations queue instead of deadlocking.
      for (const orgId of [sourceOrgId, destId].filter((x): x is string => x !== null).sort()) {
        await lockOrganization(trx, orgId);
      }
      // Authorization is decided under the locks, so a concurrent demotion cannot slip through.
      const check = async (action: Action, orgId: string, label: string) => {
        try {
          authorize(action, await this.access.subjectFor(principal, orgId, undefined, trx));
        } catch (err) {
          if (err instanceof AppError && err.code === 'NOT_FOUND') throw notFound(`${label} organization`);
          throw err;
        }
      };
      let sourcePlan = PERSONAL_PLAN;
      if (sourceOrgId !== null) {
        await check('project:transfer_out', sourceOrgId, 'source');
        const src = await findOrganization(trx, sourceOrgId);
        if (!src) throw notFound('source organization');
        sourcePlan = src.plan;
      }
      await check('project:transfer_in', destId, 'destination');
      const destPlan = await destinationPlan(trx, destId);

      // Every id must name a live project of the source; otherwise nothing moves.
      const rows = await findProjectsForTransfer(trx, ids);
      const byId = new Map(rows.map((r) => [r.id, r]));
      const offending = ids.filter((id) => {
        const r = byId.get(id);
        if (!r || r.deleted_at !== null) return true;
        return sourceOrgId === null
          ? r.org_id !== null || r.owner_id !== principal.userId
          : r.org_id !== sourceOrgId;
      });
      if (offending.length > 0) {
        const where = sourceOrgId === null ? 'your personal account' : `organization ${sourceOrgId}`;
        throw new AppError(
          'NOT_FOUND',
          `no project was transferred: these projects are not in ${where} (unknown, deleted or elsewhere): ${offending.join(', ')}`,
        );
      }
      const ordered = ids.map((id) => byId.get(id)).filter((r) => r !== undefined);
      return this.moveLocked(trx, { sourceOrgId, sourcePlan, destId, destPlan, rows: ordered, dryRun }, ctx);
    });
  }

  /**
   * The move itself, shared by every kind of transfer: inside the caller's transaction, under the
   * organizations' locks, after authorization and after `rows` were checked to be live projects
   * of the source. Plan rules and project limits, integrations, the compare-and-set UPDATE and
   * the revocation of the projects' project-scoped keys. `refuseLimits` shapes the 406.
   */
  async moveLocked(
    trx: Transaction<Database>,
    m: {
      sourceOrgId: string | null;
      sourcePlan: string;
      destId: string;
      destPlan: string;
      rows: ReadonlyArray<{ id: string; integrations: string }>;
      dryRun: boolean;
      refuseLimits?: (limits: Limit[]) => AppError;
      /** Extra audit fields (a transfer request's id) and the answer's status (default 200). */
      changes?: Record<string, unknown>;
      status?: number;
    },
    ctx: AuditContext,
  ): Promise<TransferReport> {
    const { sourceOrgId, sourcePlan, destId, dryRun } = m;
    const dest = { plan: m.destPlan };
    const ids = m.rows.map((r) => r.id);
    const byId = new Map(m.rows.map((r) => [r.id, r]));
    const report: TransferReport = { project_ids: ids, limits: [], integrations: [], api_keys_revoked: [] };
    for (const id of ids) {
      const r = byId.get(id);
      for (const integration of r ? integrationsOf(r) : []) {
        if (BLOCKING_INTEGRATIONS.includes(integration)) report.integrations.push({ id, integration });
      }
    }
    const limit = planLimit(this.config, dest.plan);
    const after = (await countLiveProjects(trx, destId)) + ids.length;
    if (after > limit)
      report.limits.push({ name: 'projects_count', expected: String(limit), actual: String(after) });
    // Projects may move to the same or a higher tier, never down: "upgrade the organization".
    if (tier(dest.plan) < tier(sourcePlan)) {
      report.limits.push({ name: 'subscription_type', expected: sourcePlan, actual: dest.plan });
    }
    report.api_keys_revoked = (await listLiveProjectKeys(trx, ids)).map((k) => ({
      id: k.id,
      name: k.name,
      project_id: k.project_id ?? '',
    }));
    if (dryRun) return report;

    if (report.integrations.length > 0) {
      throw new AppError(
        'UNPROCESSABLE',
        'no project was transferred: projects with GitHub or Vercel integrations cannot be transferred; remove the integrations first',
        { projects: report.integrations },
      );
    }
    if (report.limits.length > 0) {
      if (m.refuseLimits) throw m.refuseLimits(report.limits);
      throw new AppError(
        'NOT_ACCEPTABLE',
        `no project was transferred: organization ${destId} does not satisfy ${report.limits.map((l) => `${l.name} (expected ${l.expected}, actual ${l.actual})`).join(' and ')}`,
        { limits: report.limits },
      );
    }

    const now = nowIso();
    if ((await moveProjects(trx, ids, sourceOrgId, destId, now)) !== ids.length) {
      // Another transfer or a delete won between the checks and here: roll everything back.
      throw new AppError('CONFLICT', 'no project was transferred: the projects changed concurrently; retry');
    }
    await revokeProjectKeys(trx, ids, now);
    // Access the old organization handed out leaves with it, as its keys do.
    const grantsEnded = sourceOrgId === null ? [] : await endGrantsOfSourceOrg(trx, ids, sourceOrgId, now);
    // One event, in the source organization's chain (a personal source: the destination's).
    await appendAuditEvent(
      trx,
      ctx.event({
        action: 'project.transferred',
        orgId: sourceOrgId ?? destId,
        target: { type: 'project', id: ids.join(',') },
        changes: {
          source_org_id: sourceOrgId,
          destination_org_id: destId,
          project_ids: ids,
          api_keys_revoked: report.api_keys_revoked.map((k) => k.id),
          ...(grantsEnded.length > 0 ? { grants_ended: grantsEnded } : {}),
          ...m.changes,
        },
        ...(m.status !== undefined ? { status: m.status } : {}),
      }),
    );
    await this.beforeCommit?.(trx);
    return report;
  }
}

/** The destination's plan, under its lock; only console-managed organizations take transfers. */
export async function destinationPlan(trx: Transaction<Database>, destId: string): Promise<string> {
  const dest = await findOrganization(trx, destId);
  if (!dest) throw notFound('destination organization');
  if (dest.managed_by !== 'console') {
    throw badRequest(
      `organization ${destId} is managed by ${dest.managed_by}; transfers into it are not supported`,
    );
  }
  return dest.plan;
}
