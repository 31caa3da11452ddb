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
import { findOrganization, lockOrganization } from '../db/organizations.repository.ts';
import { findUserById } from '../users/users.repository.ts';
import { findKeyById } from '../api-keys/api-keys.repository.ts';
import { authorize, type Subject } from '../policy/index.ts';
import { type SubjectSource, projectSubject } from '../policy/subjects.ts';
import { findProject } from './projects.repository.ts';
import {
  findTransferRequest,
  insertTransferRequest,
  markAccepted,
  markCancelled,
} from './transfer-requests.repository.ts';
import { destinationPlan, PERSONAL_PLAN, type TransfersService } from './transfers.service.ts';

export interface TransferRequestView {
  request: ProjectTransferRequestRow;
  projectName: string;
  senderEmail: string | null;
  sourceOrgName: string | null;
  /**
   * moved: the project left the organization it was offered from, so the link no longer works.
   * cancelled: an admin of the source organization cancelled it. withdrawn: whoever made it can no
   * longer transfer the project (the user is no longer an admin there, or the key was revoked).
   */
  status: 'pending' | 'accepted' | 'expired' | 'moved' | 'cancelled' | 'withdrawn';
}

/** Neon's default lifetime of a request: 24 hours. */
export const DEFAULT_TTL_SECONDS = 86_400;

export class TransferRequestsService {
  constructor(
    private readonly db: Db,
    private readonly access: SubjectSource,
    private readonly transfers: TransfersService,
  ) {}

  /** The user a key acts for: the person, or the creator of an organization key. */
  private async actingUser(db: Kysely<Database>, principal: Principal): Promise<string> {
    if (principal.kind === 'user') return principal.userId;
    const key = await findKeyById(db, principal.keyId);
    if (!key) throw new Error(`the authenticated key ${principal.keyId} has no row`);
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
        cancelled_at: null,
        cancelled_by: null,
        created_by_key_id: principal.kind === 'org_key' ? principal.keyId : null,
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
   * A request works only while whoever made it could still make it: an organization key that is
   * still live, or a user who is still an admin of the source organization (of a personal
   * project: its owner, which the "moved" check already covers). Why not, or undefined.
   */
  private async withdrawnReason(
    db: Kysely<Database>,
    req: ProjectTransferRequestRow,
    now: string,
  ): Promise<string | undefined> {
    if (req.created_by_key_id !== null) {
      const key = await findKeyById(db, req.created_by_key_id);
      const live = key && key.revoked_at === null && (key.expires_at === null || key.expires_at > now);
      return live ? undefined : 'the organization API key that made it was revoked or has expired';
    }
    if (req.source_org_id === null) return undefined;
    const role = await this.access.roleOf(req.created_by, req.source_org_id, undefined, db);
    return role === 'admin' ? undefined : 'the user who made it is no longer an admin of the organization';
  }

  /**
   * Extension: cancels a pending request, so its link no longer works. Admins of the source
   * organization and its organization keys (whoever may make requests there; a request's creator
   * is one while the request works). Cancelling twice answers the same; an accepted request: 409.
   * Unknown requests, another project's, or a caller the source organization is hidden from: 404.
   */
  async cancel(principal: Principal, projectId: string, requestId: string, ctx: AuditContext): Promise<void> {
    const first = await findTransferRequest(this.db.kysely, requestId);
    if (!first || first.project_id !== projectId) throw notFound('transfer request');
    await withTransaction(this.db, async (trx) => {
      if (first.source_org_id !== null) await lockOrganization(trx, first.source_org_id);
      // Decided against the organization the request was made in, wherever the project is now.
      const subject: Subject =
        first.source_org_id !== null
          ? await this.access.subjectFor(principal, first.source_org_id, projectId, trx)
          : principal.kind === 'user' && principal.userId === first.created_by
            ? { kind: 'user', role: 'admin' }
            : principal.kind === 'user'
              ? { kind: 'user', role: null }
              : { kind: principal.kind, sameOrg: false };
      try {
        authorize('project:transfer_request_cancel', subject);
      } catch (err) {
        if (err instanceof AppError && err.code === 'NOT_FOUND') throw notFound('transfer request');
        throw err;
      }
      const req = await findTransferRequest(trx, requestId);
      if (!req || req.project_id !== projectId) throw notFound('transfer request');
      if (req.accepted_at !== null) {
        throw conflict(`transfer request ${req.id} was already accepted; it can no longer be cancelled`);
      }
      if (req.cancelled_at !== null) return;
      const actor = await this.actingUser(trx, principal);
      if (!(await markCancelled(trx, req.id, { at: nowIso(), userId: actor }))) {
        throw conflict(`transfer request ${req.id} was just accepted; it can no longer be cancelled`);
      }
      await appendAuditEvent(
        trx,
        ctx.event({
          action: 'project.transfer_request_cancelled',
          orgId: req.source_org_id,
          userId: req.source_org_id === null ? req.created_by : undefined,
          target: { type: 'project', id: req.project_id },
          changes: { transfer_request_id: req.id },
          status: 204,
        }),
      );
    });
  }

  /**
   * Extension: what a claim link offers, for the person holding it (the request id is the
   * capability, as for accepting): the project's name, who sent it, from which organization,
   * until when, and whether it can still be used. Unknown requests, or another project's: 404.
   */
  async describe(_principal: Principal, projectId: string, requestId: string): Promise<TransferRequestView> {
    const k = this.db.kysely;
    const req = await findTransferRequest(k, requestId);
    if (!req || req.project_id !== projectId) throw notFound('transfer request');
    const p = await findProject(k, projectId);
    if (!p || p.deleted_at !== null) throw notFound('transfer request');
    const sender = await findUserById(k, req.created_by);
    const source = req.source_org_id === null ? undefined : await findOrganization(k, req.source_org_id);
    const now = nowIso();
    const status =
      req.accepted_at !== null
        ? 'accepted'
        : req.cancelled_at !== null
          ? 'cancelled'
          : req.expires_at <= now
            ? 'expired'
            : p.org_id !== req.source_org_id
              ? 'moved'
              : (await this.withdrawnReason(k, req, now)) !== undefined
                ? 'withdrawn'
                : 'pending';
    return {
      request: req,
      projectName: p.name,
      senderEmail: sender?.email ?? null,
      sourceOrgName: source?.name ?? null,
      status,
    };
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
      if (req.cancelled_at !== null) {
        throw new AppError(
          'GONE',
          `transfer request ${req.id} was cancelled; ask for a new transfer request`,
        );
      }
      const now = nowIso();
      if (req.expires_at <= now) {
        throw new AppError(
          'GONE',
          `transfer request ${req.id} expired at ${req.expires_at}; ask for a new transfer request`,
        );
      }
      // Read under the source organization's lock: a demotion that committed first wins.
      const withdrawn = await this.withdrawnReason(trx, req, now);
      if (withdrawn !== undefined) {
        throw conflict(
          `transfer request ${req.id} no longer works: ${withdrawn}; ask for a new transfer request`,
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
        const src = await findOrganization(trx, req.source_org_id);
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
