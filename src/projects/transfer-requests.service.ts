// Project transfer requests (Neon's claimable projects): whoever may move a project out makes a
// one-time, expiring request; whoever may take projects into an organization accepts it, and the
// project moves through the same code as every other transfer (TransfersService.moveLocked: the
// organizations locked in sorted order, plan rule and project limits re-checked under the locks,
// a compare-and-set UPDATE, the project's project-scoped keys revoked in the same commit).
// No Fastify here. Who may act is decided by the policy; this module computes the Subject.
import type { Kysely } from 'kysely';
import type { Db } from '../db/connect.ts';
import { withTransaction } from '../db/connect.ts';
import type { Database, ProjectTransferRequestRow } from '../db/schema.ts';
import { AppError, badRequest, conflict, MESSAGES, notFound } from '../domain/errors.ts';
import { newUuid } from '../domain/ids.ts';
import type { Principal } from '../domain/principal.ts';
import { nowIso } from '../domain/time.ts';
import type { AuditContext } from '../audit/audit.ts';
import { appendAuditEvent } from '../audit/audit.repository.ts';
import { lockOrganization } from '../organizations/organizations.repository.ts';
import { authorize } from '../policy/index.ts';
import type { Authenticator } from '../auth/authenticator.ts';
import { findProject } from './projects.repository.ts';
import { projectSubject } from './projects.service.ts';
import { findTransferRequest, insertTransferRequest, markAccepted } from './transfer-requests.repository.ts';
import { destinationPlan, PERSONAL_PLAN, type TransfersService } from './transfers.service.ts';

/** Neon's default lifetime of a request: 24 hours. */
export const DEFAULT_TTL_SECONDS = 86_400;

export class TransferRequestsService {
  constructor(
    private readonly db: Db,
    private readonly access: Authenticator,
    private readonly transfers: TransfersService,
  ) {}

  /** The user a key acts for: the person, or the creator of an organization key. */
  private async actingUser(db: Kysely<Database>, principal: Principal): Promise<string> {
    if (principal.kind === 'user') return principal.userId;
    const key = await db
      .selectFrom('api_keys')
      .select('created_by')
      .where('id', '=', principal.keyId)
      .executeTakeFirstOrThrow();
    return key.created_by;
  }

  async create(
    principal: Principal,
    projectId: string,
    ttlSeconds: number | undefined,
    ctx: AuditContext,
  ): Promise<ProjectTransferRequestRow> {
    const k = this.db.kysely;
    const p = await findProject(k, projectId);
    if (!p) throw notFound('project');
    authorize('project:transfer_request_create', await projectSubject(this.access, principal, p));
    if (p.deleted_at !== null) throw notFound('project');
    const now = new Date();
    const createdBy = await this.actingUser(k, principal);
    return withTransaction(this.db, async (trx) => {
      const row = await insertTransferRequest(trx, {
        id: newUuid(),
        project_id: p.id,
        source_org_id: p.org_id,
        created_by: createdBy,
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + (ttlSeconds ?? DEFAULT_TTL_SECONDS) * 1000).toISOString(),
        accepted_at: null,
        accepted_by: null,
        accepted_org_id: null,
      });
      await appendAuditEvent(
        trx,
        ctx.event({
          action: 'project.transfer_request_created',
          orgId: p.org_id,
          userId: p.owner_id,
          target: { type: 'project', id: p.id },
          changes: { transfer_request_id: row.id, expires_at: row.expires_at },
          status: 201,
        }),
      );
      return row;
    });
  }

  /**
   * Moves the project into orgId (default: the organization of an organization key; a personal
   * key must name it). Unknown requests, or requests for another project: 404; used: 409;
   * expired: 410; the project moved since the request was made: 409; plan or limits: 406.
   */
  async accept(
    principal: Principal,
    projectId: string,
    requestId: string,
    orgId: string | undefined,
    ctx: AuditContext,
  ) {
    const destId = orgId ?? (principal.kind === 'user' ? undefined : principal.orgId);
    if (destId === undefined) throw badRequest(MESSAGES.orgIdRequired);
    const first = await findTransferRequest(this.db.kysely, requestId);
    if (!first || first.project_id !== projectId) throw notFound('transfer request');

    await withTransaction(this.db, async (trx) => {
      // The same lock order as every transfer: the organizations, sorted.
      const orgs = [...new Set([first.source_org_id, destId].filter((x): x is string => x !== null))].sort();
      for (const id of orgs) await lockOrganization(trx, id);
      // Authorization is decided under the locks, so a concurrent demotion cannot slip through.
      try {
        authorize(
          'project:transfer_request_accept',
          await this.access.subjectFor(principal, destId, undefined, trx),
        );
      } catch (err) {
        if (err instanceof AppError && err.code === 'NOT_FOUND') throw notFound('destination organization');
        throw err;
      }
      const req = await findTransferRequest(trx, requestId);
      if (!req || req.project_id !== projectId) throw notFound('transfer request');
      if (req.accepted_at !== null) {
        throw conflict(`transfer request ${req.id} was already accepted; each request can be used once`);
      }
      const now = nowIso();
      if (req.expires_at <= now) {
        throw new AppError(
          'GONE',
          `transfer request ${req.id} expired at ${req.expires_at}; ask for a new transfer request`,
        );
      }
      const p = await findProject(trx, projectId);
      if (!p || p.deleted_at !== null) throw notFound('project');
      if (p.org_id !== req.source_org_id) {
        throw conflict(
          `project ${p.id} has moved since transfer request ${req.id} was made; ask for a new transfer request`,
        );
      }
      if (p.org_id === destId) throw badRequest(`project ${p.id} is already in organization ${destId}`);

      let sourcePlan = PERSONAL_PLAN;
      if (req.source_org_id !== null) {
        const src = await trx
          .selectFrom('organizations')
          .select('plan')
          .where('id', '=', req.source_org_id)
          .executeTakeFirst();
        if (!src) throw notFound('project');
        sourcePlan = src.plan;
      }
      const accepted = await markAccepted(trx, req.id, {
        at: now,
        userId: await this.actingUser(trx, principal),
        orgId: destId,
      });
      // Compare-and-set: of two concurrent accepts, one marks the request and moves the project.
      if (!accepted)
        throw conflict(`transfer request ${req.id} was already accepted; each request can be used once`);
      await this.transfers.moveLocked(
        trx,
        {
          sourceOrgId: req.source_org_id,
          sourcePlan,
          destId,
          destPlan: await destinationPlan(trx, destId),
          rows: [p],
          dryRun: false,
          changes: { transfer_request_id: req.id },
          status: 204,
          // Neon's AcceptProjectTransferRequestSatisfiesPlanError.
          refuseLimits: (limits) =>
            new AppError(
              'NOT_ACCEPTABLE',
              `project ${p.id} was not transferred: organization ${destId} does not satisfy the plan requirements to own it`,
              {
                reasons: limits.map((l) => ({
                  code: l.name,
                  message:
                    l.name === 'projects_count'
                      ? `organization ${destId} would have ${l.actual} projects; its plan allows ${l.expected}`
                      : `the project needs the ${l.expected} plan or higher; organization ${destId} is on ${l.actual}`,
                })),
              },
            ),
        },
        ctx,
      );
    });
  }
}
