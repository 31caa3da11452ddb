// Project sharing (Neon's /projects/{id}/permissions and /projects/shared): grant a project to an
// email address, list and revoke grants, list the projects shared with the caller, and the sign-up
// link for an address without an account. No Fastify here; the policy decides who may act.
//
// A grant belongs to the address: whichever account has it (now, or after signing up) reaches the
// project as a collaborator on it, member of its organization or not. The grant and its email are
// written in one transaction (the outbox); database triggers tell the authenticator's cache.
import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Config } from '../config.ts';
import type { Db } from '../db/connect.ts';
import { isUniqueViolation, withTransaction } from '../db/connect.ts';
import { AuditContext } from '../audit/audit.ts';
import { appendAuditEvent } from '../audit/audit.repository.ts';
import type { Database, OutboxRow, ProjectPermissionRow, ProjectRow, UserRow } from '../db/schema.ts';
import { AppError, badRequest, notFound } from '../domain/errors.ts';
import { hashToken, newUuid } from '../domain/ids.ts';
import { hashPassword } from '../domain/passwords.ts';
import type { Principal } from '../domain/principal.ts';
import { addHours, nowIso } from '../domain/time.ts';
import { createKey } from '../api-keys/api-keys.service.ts';
import { type SubjectSource, projectSubject } from '../policy/subjects.ts';
import { passwordProblem } from '../domain/passwords.ts';
import type { MailWorker } from '../mail/mail.worker.ts';
import { cancelPendingForInvitation, enqueueMessage } from '../mail/outbox.repository.ts';
import { invitationSendsInLastHour, recordInvitationSends } from '../invitations/invitations.repository.ts';
import { findOrganization, lockOrganization } from '../db/organizations.repository.ts';
import {
  accountSubject,
  authorize,
  projectPermissionLevel,
  type ProjectPermissionLevel,
} from '../policy/index.ts';
import { findProject, type ProjectWithOrgName } from '../projects/projects.repository.ts';
import { findUserByEmail, findUserById, insertUser } from '../users/users.repository.ts';
import { shareAdded, shareNewAccount } from './sharing.mail.ts';
import {
  findGrant,
  findGrantBySignupToken,
  findLiveGrantByEmail,
  findSharedCursor,
  insertGrant,
  listLiveGrants,
  listSharedProjectsPage,
  revokeGrant,
  useSignupToken,
} from './sharing.repository.ts';
import { NAME_MAX } from '../domain/names.ts';
import { messageDomainOf, normalizeEmail, SPEC_EMAIL } from '../domain/email.ts';

export interface SharedProjectsPage {
  projects: Array<ProjectWithOrgName & { permission?: ProjectPermissionLevel | undefined }>;
  cursor: string | undefined;
}

export interface SharePreview {
  grant: ProjectPermissionRow;
  projectName: string;
  accountExists: boolean;
}

export type ShareSignupResult =
  | { kind: 'created'; user: UserRow; projectId: string; projectName: string; apiKey: string }
  | { kind: 'existing_account'; email: string; projectId: string; projectName: string };

export class SharingService {
  private readonly messageDomain: string;

  constructor(
    private readonly db: Db,
    private readonly access: SubjectSource,
    private readonly config: Config,
    private readonly mail: MailWorker,
  ) {
    this.messageDomain = messageDomainOf(config.publicUrl);
  }

  /** Links always use the configured PUBLIC_URL, never a request's Host header. */
  signupLink(token: string): string {
    return `${this.config.publicUrl}/shares/accept?token=${token}`;
  }

  /** A live project the caller may act on as `action` (404 before anything is revealed). */
  private async project(
    db: Kysely<Database>,
    principal: Principal,
    projectId: string,
    action: 'project_permission:list' | 'project_permission:grant' | 'project_permission:revoke',
  ): Promise<ProjectRow> {
    const p = await findProject(db, projectId);
    if (!p || p.deleted_at !== null) throw notFound('project');
    // Inside a transaction (under the organization's lock) the caller's role is read there.
    const trx = db.isTransaction ? (db as Transaction<Database>) : undefined;
    authorize(action, await projectSubject(this.access, principal, p, trx));
    return p;
  }

  async list(principal: Principal, projectId: string): Promise<ProjectPermissionRow[]> {
    const k = this.db.kysely;
    const p = await this.project(k, principal, projectId, 'project_permission:list');
    return listLiveGrants(k, p.id);
  }

  /**
   * Shares the project with an address. An account with that address has access at once (and is
   * told by email); an address without one gets a single-use sign-up link. Granting an address
   * that already holds a live grant answers that grant again (nothing new is written or sent).
   */
  async grant(
    principal: Principal,
    projectId: string,
    rawEmail: string,
    audit: AuditContext,
  ): Promise<ProjectPermissionRow> {
    let email: string;
    try {
      email = normalizeEmail(rawEmail);
    } catch (err) {
      throw badRequest(`email: ${(err as Error).message}`);
    }
    if (!SPEC_EMAIL.test(email)) {
      throw badRequest(
        `email: "${email}" is not supported: use an address with an ASCII local part and a dotted domain`,
      );
    }
    const lower = email.toLowerCase();
    const first = await this.project(this.db.kysely, principal, projectId, 'project_permission:grant');
    const queued: OutboxRow[] = [];
    try {
      const row = await withTransaction(this.db, async (trx) => {
        queued.length = 0;
        // Under the organization's lock the caller's role is read again: a demotion or removal
        // that committed first wins.
        if (first.org_id !== null && !(await lockOrganization(trx, first.org_id))) throw notFound('project');
        const p = await this.project(trx, principal, projectId, 'project_permission:grant');
        const existing = await findLiveGrantByEmail(trx, p.id, lower);
        if (existing) return existing;
        const now = nowIso();
        const user = await findUserByEmail(trx, lower);
        const token = user ? null : randomBytes(32).toString('base64url');
        const expiresAt = token ? addHours(now, this.config.invitationTtlHours) : null;
        const grant: ProjectPermissionRow = {
          id: newUuid(),
          project_id: p.id,
          email,
          email_lower: lower,
          granted_by: principal.kind === 'user' ? principal.userId : null,
          granted_at: now,
          revoked_at: null,
          signup_token_hash: token ? hashToken(token) : null,
          signup_expires_at: expiresAt,
        };
        if (p.org_id !== null) await this.checkRate(trx, p.org_id);
        await insertGrant(trx, grant);
        await appendAuditEvent(
          trx,
          audit.event({
            action: 'project_permission.granted',
            orgId: p.org_id,
            userId: p.owner_id,
            target: { type: 'project_permission', id: grant.id },
            changes: { project_id: p.id, email, new_account: token !== null },
          }),
        );
        const ctx = {
          projectId: p.id,
          projectName: p.name,
          granterLabel: await this.granterLabel(trx, principal, p),
          recipient: user ? user.email : email,
          permissionId: grant.id,
          orgId: p.org_id,
          publicUrl: this.config.publicUrl,
        };
        const msg =
          token && expiresAt ? shareNewAccount(ctx, this.signupLink(token), expiresAt) : shareAdded(ctx);
        queued.push(await enqueueMessage(trx, msg, this.messageDomain));
        return grant;
      });
      this.mail.queued(queued);
      return row;
    } catch (err) {
      // The partial unique index: another request granted the same address at the same moment.
      if (isUniqueViolation(err)) {
        const winner = await findLiveGrantByEmail(this.db.kysely, projectId, lower);
        if (winner) return winner;
      }
      throw err;
    }
  }

  /** Revokes a grant: the next request of its holder finds no project. Revoking twice answers it again. */
  async revoke(
    principal: Principal,
    projectId: string,
    permissionId: string,
    audit: AuditContext,
  ): Promise<ProjectPermissionRow> {
    const first = await this.project(this.db.kysely, principal, projectId, 'project_permission:revoke');
    return withTransaction(this.db, async (trx) => {
      if (first.org_id !== null) await lockOrganization(trx, first.org_id);
      const p = await this.project(trx, principal, projectId, 'project_permission:revoke');
      const grant = await findGrant(trx, p.id, permissionId);
      if (!grant) throw notFound('permission');
      const event = audit.event({
        action: 'project_permission.revoked',
        orgId: p.org_id,
        userId: p.owner_id,
        target: { type: 'project_permission', id: grant.id },
        changes: {
          project_id: p.id,
          email: grant.email,
          already_revoked: grant.revoked_at !== null || undefined,
        },
      });
      if (grant.revoked_at !== null) {
        await appendAuditEvent(trx, event);
        return grant;
      }
      const now = nowIso();
      await revokeGrant(trx, grant.id, now);
      await appendAuditEvent(trx, event);
      // An unsent sign-up email must not go out with a link that no longer gives anything.
      await cancelPendingForInvitation(trx, grant.id);
      return { ...grant, revoked_at: now, signup_token_hash: null };
    });
  }

  /**
   * The projects shared with the calling user, newest first. Keys are not users: nothing is shared
   * with them, so they get an empty list (Neon's CLI calls this after GET /projects whatever key it has).
   */
  async listShared(
    principal: Principal,
    q: { cursor?: string | undefined; limit: number; search?: string | undefined },
  ): Promise<SharedProjectsPage> {
    authorize('project:list_shared', accountSubject(principal));
    if (principal.kind !== 'user') return { projects: [], cursor: undefined };
    const k = this.db.kysely;
    let after: { created_at: string; id: string } | undefined;
    if (q.cursor !== undefined) {
      // Resolved only among projects shared with this user (now or before): any other id, existing
      // or not, gets the same 400, so the cursor tells nobody whether a project exists.
      const c = await findSharedCursor(k, principal.userId, q.cursor);
      if (!c) throw badRequest('cursor is not valid: pass pagination.cursor from the previous page');
      after = c;
    }
    const rows = await listSharedProjectsPage(k, {
      userId: principal.userId,
      search: q.search,
      after,
      limit: q.limit,
    });
    const projects = [];
    for (const p of rows) {
      const role = p.org_id === null ? null : await this.access.roleOf(principal.userId, p.org_id, principal);
      projects.push({
        ...p,
        permission:
          p.org_id === null ? undefined : projectPermissionLevel({ kind: 'user', role, shared: true }),
      });
    }
    return { projects, cursor: rows[rows.length - 1]?.id };
  }

  /** What the sign-up page shows before the form is submitted. */
  async preview(token: string): Promise<SharePreview> {
    const k = this.db.kysely;
    const grant = await this.liveSignup(k, token);
    const p = await findProject(k, grant.project_id);
    if (!p || p.deleted_at !== null) throw new AppError('GONE', 'this project is no longer available');
    return {
      grant,
      projectName: p.name,
      accountExists: (await findUserByEmail(k, grant.email_lower)) !== undefined,
    };
  }

  /**
   * Follows a sign-up link: creates the account (name, password) and a first personal API key
   * (shown once). The grant itself needs nothing more: it follows the address. If an account
   * with the address appeared meanwhile, the link is simply used up.
   */
  async accept(
    token: string,
    input?: { name: string; password: string },
    request: { requestId: string; clientAddr: string } = { requestId: '', clientAddr: '' },
  ): Promise<ShareSignupResult> {
    let account: { name: string; passwordHash: string } | undefined;
    if (input) {
      const name = input.name.trim();
      if (name.length === 0 || name.length > NAME_MAX) {
        throw badRequest(`name is required (at most ${NAME_MAX} characters)`);
      }
      // eslint-disable-next-line no-control-regex -- control characters are refused in names
      if (/[\u0000-\u001f\u007f]/.test(name)) throw badRequest('name must not contain control characters');
      const problem = passwordProblem(input.password);
      if (problem) {
        throw badRequest(problem);
      }
      await this.liveSignup(this.db.kysely, token);
      account = { name, passwordHash: await hashPassword(input.password) };
    }
    try {
      return await withTransaction(this.db, async (trx) => {
        const grant = await this.liveSignup(trx, token);
        const p = await findProject(trx, grant.project_id);
        if (!p || p.deleted_at !== null) throw new AppError('GONE', 'this project is no longer available');
        if (!(await useSignupToken(trx, grant.id, hashToken(token)))) {
          throw new AppError('GONE', 'this link is no longer valid');
        }
        const existing = await findUserByEmail(trx, grant.email_lower);
        if (existing) {
          return { kind: 'existing_account', email: existing.email, projectId: p.id, projectName: p.name };
        }
        if (!account) throw badRequest('a name and a password are required to create your account');
        const user = await insertUser(trx, {
          email: grant.email,
          name: account.name,
          passwordHash: account.passwordHash,
        });
        // The person following the link is the actor (no key was used).
        const ctx = new AuditContext(
          { type: 'user', id: user.id, email: user.email, key_id: null },
          request.requestId,
          request.clientAddr,
        );
        const { token: apiKey } = await createKey(
          trx,
          'personal',
          { name: 'first key', userId: user.id, createdBy: user.id },
          ctx,
        );
        return { kind: 'created', user, projectId: p.id, projectName: p.name, apiKey };
      });
    } catch (err) {
      if (isUniqueViolation(err))
        throw new AppError('CONFLICT', 'an account with this address was just created');
      throw err;
    }
  }

  private async liveSignup(k: Kysely<Database>, token: string): Promise<ProjectPermissionRow> {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) throw notFound('link');
    const grant = await findGrantBySignupToken(k, hashToken(token));
    if (!grant || grant.revoked_at !== null) {
      throw new AppError('NOT_FOUND', 'this link is not valid; it may have been used or revoked');
    }
    if (grant.signup_expires_at !== null && grant.signup_expires_at <= nowIso()) {
      throw new AppError('GONE', 'this link has expired; ask for the project to be shared again');
    }
    return grant;
  }

  private async granterLabel(trx: Kysely<Database>, principal: Principal, p: ProjectRow): Promise<string> {
    if (principal.kind === 'user') {
      const u = await findUserById(trx, principal.userId);
      if (u) return u.name ? `${u.name} (${u.email})` : u.email;
    }
    const org = p.org_id ? await findOrganization(trx, p.org_id) : undefined;
    return org ? `An administrator of ${org.name}` : 'An administrator';
  }

  /** Sharing emails count against the organization's hourly invitation-email budget. */
  private async checkRate(trx: Kysely<Database>, orgId: string): Promise<void> {
    const limit = this.config.invitationsPerOrgPerHour;
    const now = Date.now();
    const { n } = await invitationSendsInLastHour(trx, orgId, now);
    if (n + 1 > limit) {
      throw new AppError(
        'RATE_LIMITED',
        `this organization may send at most ${limit} invitation and project-sharing emails per hour; try again later`,
      );
    }
    await recordInvitationSends(trx, orgId, 1, now);
  }
}
