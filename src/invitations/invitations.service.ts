// Invitation use cases: invite (existing accounts join at once; others get a single-use join link),
// list, revoke, resend, and accepting a link (creating the account). Every invitation and its
// email are written in one transaction (the outbox); the mail worker sends after commit.
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.ts';
import type { Db } from '../db/connect.ts';
import { isUniqueViolation, withTransaction } from '../db/connect.ts';
import type { Kysely } from 'kysely';
import type {
  Database,
  InvitationRow,
  MemberRole,
  OrganizationRow,
  OutboxRow,
  UserRow,
} from '../db/schema.ts';
import { AppError, badRequest, conflict, MESSAGES, notFound } from '../domain/errors.ts';
import { hashToken, newUuid } from '../domain/ids.ts';
import type { Principal } from '../domain/principal.ts';
import { addHours, nowIso } from '../domain/time.ts';
import { createKey } from '../api-keys/api-keys.service.ts';
import { AuditContext } from '../audit/audit.ts';
import { appendAuditEvent } from '../audit/audit.repository.ts';
import { firstLink, type MailWorker } from '../mail/mail.worker.ts';
import {
  cancelPendingForInvitation,
  enqueueMessage,
  undeliveredForInvitations,
} from '../mail/outbox.repository.ts';
import { findMembershipOfUser, insertMember } from '../members/members.repository.ts';
import { findOrganization, lockOrganization, lockOrganizationRow } from '../db/organizations.repository.ts';
import { authorize, can } from '../policy/index.ts';
import type { SubjectSource } from '../policy/subjects.ts';
import { findUserByEmail, findUserById, insertUser } from '../users/users.repository.ts';
import { addedToOrganization, newAccountInvitation, type InvitationMailContext } from './invitations.mail.ts';
import { effectiveStatus } from './invitations.presenter.ts';
import {
  expireStale,
  findInvitation,
  findInvitationByTokenHash,
  findMembersByEmails,
  findPendingByEmails,
  forgetOldInvitationSends,
  insertInvitation,
  invitationSendsInLastHour,
  listInvitations,
  markAccepted,
  markRevoked,
  recordInvitationSends,
  renewInvitation,
} from './invitations.repository.ts';
import { hashPassword, passwordProblem } from '../domain/passwords.ts';
import { parseRole } from '../domain/roles.ts';
import { messageDomainOf, normalizeEmail, SPEC_EMAIL } from '../domain/email.ts';
import { NAME_MAX } from '../domain/names.ts';

export interface InvitationInput {
  email: string;
  role: string;
}

export interface JoinPreview {
  invitation: InvitationRow;
  orgName: string;
  inviter: string;
  accountExists: boolean;
}

export type JoinResult =
  | { kind: 'created'; user: UserRow; orgId: string; orgName: string; apiKey: string }
  | { kind: 'existing_account'; email: string; orgId: string; orgName: string };

/** An invitation with the delivery extension fields (see InvitationsService.withDelivery). */
export type InvitationView = InvitationRow & { email_error?: string; join_url?: string };

/** 429 with the seconds until the hourly budget has room again (sent as Retry-After). */
export class InvitationRateLimited extends AppError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('RATE_LIMITED', message);
  }
}

const newJoinToken = (): string => randomBytes(32).toString('base64url');

function listOf(emails: string[]): string {
  return emails.length <= 5
    ? emails.join(', ')
    : `${emails.slice(0, 5).join(', ')} and ${emails.length - 5} more`;
}

export class InvitationsService {
  private readonly messageDomain: string;
  /** Organization → the minute its old invitation_sends rows were last dropped by this process. */
  private readonly cleaned = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly access: SubjectSource,
    private readonly config: Config,
    private readonly mail: MailWorker,
  ) {
    this.messageDomain = messageDomainOf(config.publicUrl);
  }

  /** Links always use the configured PUBLIC_URL, never a request's Host header. */
  joinLink(token: string): string {
    return `${this.config.publicUrl}/invitations/accept?token=${token}`;
  }

  /** Validates the whole batch, then writes every invitation, membership and email in one transaction. */
  async create(
    principal: Principal,
    orgId: string,
    entries: InvitationInput[],
    ctx: AuditContext,
  ): Promise<InvitationView[]> {
    if (entries.length === 0) throw badRequest('invitations must contain at least one entry');
    if (entries.length > 100) throw badRequest('invitations may contain at most 100 entries per request');
    const seen = new Set<string>();
    const items = entries.map((e, i) => {
      let email: string;
      try {
        email = normalizeEmail(e.email);
      } catch (err) {
        throw badRequest(`invitations[${i}].email: ${(err as Error).message}`);
      }
      if (!SPEC_EMAIL.test(email)) {
        throw badRequest(
          `invitations[${i}].email: "${email}" is not supported: use an address with an ASCII local part and a dotted domain`,
        );
      }
      const lower = email.toLowerCase();
      if (seen.has(lower)) {
        throw badRequest(`invitations[${i}].email: ${email} appears more than once in this request`);
      }
      seen.add(lower);
      let role: MemberRole;
      try {
        role = parseRole(e.role);
      } catch (err) {
        throw badRequest(`invitations[${i}].role: ${(err as Error).message}`);
      }
      return { email, lower, role };
    });

    authorize('invitation:create', await this.access.subjectFor(principal, orgId));
    if (principal.kind !== 'user') throw new Error('unreachable: policy admits users only');

    const queued: OutboxRow[] = [];
    let rows: InvitationRow[];
    try {
      rows = await withTransaction(this.db, async (trx) => {
        queued.length = 0;
        const org = await lockOrganizationRow(trx, orgId);
        if (!org) throw notFound('organization');
        // Re-checked under the lock: the caller may have been demoted meanwhile.
        authorize('invitation:create', await this.access.subjectFor(principal, orgId, undefined, trx));
        const now = nowIso();
        await expireStale(trx, orgId, now);
        const lowers = items.map((i) => i.lower);

        const members = (await findMembersByEmails(trx, orgId, lowers)).map((m) => m.email);
        if (members.length > 0) {
          throw conflict(
            `${listOf(members)} ${members.length === 1 ? 'is' : 'are'} already a member of this organization; nothing was invited`,
          );
        }
        const pending = (await findPendingByEmails(trx, orgId, lowers)).map((p) => p.email);
        if (pending.length > 0) {
          throw conflict(
            `${listOf(pending)} already ${pending.length === 1 ? 'has' : 'have'} a pending invitation to this organization; resend it with POST /organizations/${orgId}/invitations/{invitation_id}/resend. Nothing was invited`,
          );
        }
        await this.checkRate(trx, orgId, items.length);

        const inviter = await findUserById(trx, principal.userId);
        if (!inviter) throw notFound('organization');
        const expiresAt = addHours(now, this.config.invitationTtlHours);
        const out: InvitationRow[] = [];
        for (const item of items) {
          const user = await findUserByEmail(trx, item.lower);
          const id = newUuid();
          const token = user ? null : newJoinToken();
          const row: InvitationRow = {
            id,
            org_id: orgId,
            email: item.email,
            email_lower: item.lower,
            role: item.role,
            invited_by: inviter.id,
            invited_at: now,
            status: user ? 'accepted' : 'pending',
            expires_at: expiresAt,
            accepted_at: user ? now : null,
            accepted_user_id: user ? user.id : null,
            revoked_at: null,
            token_hash: token ? hashToken(token) : null,
            email_status: 'pending',
            updated_at: now,
          };
          await insertInvitation(trx, row);
          if (user) {
            // An existing account joins at once.
            await insertMember(trx, { orgId, user, role: item.role, joinedAt: now });
          }
          const ctx = this.mailContext(org, inviter, item.role, user ? user.email : item.email, id);
          const msg = token
            ? newAccountInvitation(ctx, this.joinLink(token), expiresAt)
            : addedToOrganization(ctx);
          queued.push(await enqueueMessage(trx, msg, this.messageDomain));
          out.push(row);
        }
        // One request, one event, listing every invitation it made.
        await appendAuditEvent(
          trx,
          ctx.event({
            action: 'invitation.created',
            orgId,
            target: { type: 'invitation', id: out.map((r) => r.id).join(',') },
            changes: {
              invitations: out.map((r) => ({ id: r.id, email: r.email, role: r.role, status: r.status })),
            },
          }),
        );
        return out;
      });
    } catch (err) {
      // The partial unique index: another request invited the same address at the same moment.
      if (isUniqueViolation(err)) {
        throw conflict(
          'an address in this request was just invited or added by another request; nothing was invited',
        );
      }
      throw err;
    }
    this.mail.queued(queued);
    return this.withDelivery(rows);
  }

  async list(principal: Principal, orgId: string, includeInactive = false): Promise<InvitationView[]> {
    const k = this.db.kysely;
    const subject = await this.access.subjectFor(principal, orgId);
    authorize('invitation:list', subject);
    const rows = await listInvitations(k, orgId, { includeInactive, now: nowIso() });
    return can('invitation:resend', subject) ? this.withDelivery(rows) : rows;
  }

  /**
   * Extension: for pending invitations whose email has not left the server (no SMTP_URL, or the
   * mail server refused or could not be reached), why not (`email_error`) and the join link
   * (`join_url`) an admin can pass on themselves. Only for callers who may resend invitations,
   * who could mint a new link anyway; a delivered message no longer holds its link.
   */
  async withDelivery(rows: InvitationRow[]): Promise<InvitationView[]> {
    const pending = rows.filter((r) => r.status === 'pending' && r.email_status !== 'sent');
    const messages = await undeliveredForInvitations(
      this.db.kysely,
      pending.map((r) => r.id),
    );
    const smtp = this.config.smtpUrl !== undefined;
    return rows.map((r) => {
      const m = messages.get(r.id);
      if (!m || r.status !== 'pending') return r;
      const error = !smtp
        ? 'mail delivery is not configured on this server (SMTP_URL is not set)'
        : m.status === 'dead' || m.last_error !== null
          ? `the mail server did not take it (${m.last_error ?? 'refused'})`
          : undefined;
      if (error === undefined) return r;
      const link = r.token_hash ? firstLink(m.text_body) : undefined;
      return { ...r, email_error: error, ...(link ? { join_url: link } : {}) };
    });
  }

  /** The seed's GET /organizations/invitations: the organization comes from an organization key. */
  async listForKey(principal: Principal, includeInactive = false): Promise<InvitationRow[]> {
    if (principal.kind === 'user') {
      throw badRequest(
        `${MESSAGES.orgIdRequired}: with a personal API key use GET /organizations/{org_id}/invitations`,
      );
    }
    return this.list(principal, principal.orgId, includeInactive);
  }

  /** Revokes a pending (or expired) invitation: its link stops working and an unsent email is cancelled. */
  async revoke(
    principal: Principal,
    orgId: string,
    invitationId: string,
    ctx: AuditContext,
  ): Promise<InvitationRow> {
    return withTransaction(this.db, async (trx) => {
      await lockOrganization(trx, orgId);
      authorize('invitation:revoke', await this.access.subjectFor(principal, orgId, undefined, trx));
      const inv = await findInvitation(trx, orgId, invitationId);
      if (!inv) throw notFound('invitation');
      if (inv.status === 'accepted') {
        throw conflict('the invitation was already accepted; remove the member instead');
      }
      const event = ctx.event({
        action: 'invitation.revoked',
        orgId,
        target: { type: 'invitation', id: inv.id },
        changes: { email: inv.email, role: inv.role, already_revoked: inv.status === 'revoked' || undefined },
      });
      if (inv.status === 'revoked') {
        await appendAuditEvent(trx, event);
        return inv;
      }
      const now = nowIso();
      const updated: InvitationRow = {
        ...inv,
        status: 'revoked',
        revoked_at: now,
        token_hash: null,
        email_status: inv.email_status === 'pending' ? 'cancelled' : inv.email_status,
        updated_at: now,
      };
      await markRevoked(trx, inv.id, {
        revoked_at: now,
        email_status: updated.email_status,
        updated_at: now,
      });
      await cancelPendingForInvitation(trx, inv.id);
      await appendAuditEvent(trx, event);
      return updated;
    });
  }

  /** Sends a pending or expired invitation again: a new link, a fresh expiry; the old link stops working. */
  async resend(
    principal: Principal,
    orgId: string,
    invitationId: string,
    audit: AuditContext,
  ): Promise<InvitationView> {
    const queued: OutboxRow[] = [];
    let row: InvitationRow;
    try {
      row = await withTransaction(this.db, async (trx) => {
        queued.length = 0;
        await lockOrganization(trx, orgId);
        authorize('invitation:resend', await this.access.subjectFor(principal, orgId, undefined, trx));
        if (principal.kind !== 'user') throw new Error('unreachable: policy admits users only');
        const inv = await findInvitation(trx, orgId, invitationId);
        if (!inv) throw notFound('invitation');
        if (inv.status === 'accepted') throw conflict('the invitation was already accepted');
        if (inv.status === 'revoked') {
          throw conflict('the invitation was revoked; create a new invitation instead');
        }
        await this.checkRate(trx, orgId, 1);
        const org = await findOrganization(trx, orgId);
        const inviter =
          (await findUserById(trx, inv.invited_by)) ?? (await findUserById(trx, principal.userId));
        if (!org || !inviter) throw notFound('organization');
        const now = nowIso();
        const token = newJoinToken();
        const updated: InvitationRow = {
          ...inv,
          status: 'pending',
          expires_at: addHours(now, this.config.invitationTtlHours),
          token_hash: hashToken(token),
          email_status: 'pending',
          updated_at: now,
        };
        await cancelPendingForInvitation(trx, inv.id);
        await renewInvitation(trx, inv.id, {
          expires_at: updated.expires_at,
          token_hash: updated.token_hash,
          updated_at: now,
        });
        const ctx = this.mailContext(org, inviter, inv.role, inv.email, inv.id);
        queued.push(
          await enqueueMessage(
            trx,
            newAccountInvitation(ctx, this.joinLink(token), updated.expires_at),
            this.messageDomain,
          ),
        );
        await appendAuditEvent(
          trx,
          audit.event({
            action: 'invitation.resent',
            orgId,
            target: { type: 'invitation', id: inv.id },
            changes: { email: inv.email, expires_at: updated.expires_at },
          }),
        );
        return updated;
      });
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw conflict('this address already has a newer pending invitation to this organization');
      }
      throw err;
    }
    this.mail.queued(queued);
    return (await this.withDelivery([row]))[0] ?? row;
  }

  /** What the join page shows before the form is submitted. Throws NOT_FOUND or GONE for a dead link. */
  async preview(token: string): Promise<JoinPreview> {
    const k = this.db.kysely;
    const inv = await this.liveInvitation(k, token);
    const org = await findOrganization(k, inv.org_id);
    if (!org) throw notFound('invitation');
    const inviter = await findUserById(k, inv.invited_by);
    return {
      invitation: inv,
      orgName: org.name,
      inviter: inviter ? inviter.name || inviter.email : 'an administrator',
      accountExists: (await findUserByEmail(k, inv.email_lower)) !== undefined,
    };
  }

  /**
   * Follows a join link: creates the account (name, password), makes it a member with the
   * invited role, marks the invitation accepted, and returns a first personal API key (shown once).
   * If an account with the address appeared meanwhile, that account joins instead (no key is minted).
   */
  async accept(
    token: string,
    input?: { name: string; password: string },
    request: { requestId: string | null; clientAddr: string | null } = { requestId: null, clientAddr: null },
  ): Promise<JoinResult> {
    let account: { name: string; passwordHash: string } | undefined;
    if (input) {
      const name = input.name.trim();
      if (name.length === 0 || name.length > NAME_MAX) {
        throw badRequest(`name is required (at most ${NAME_MAX} characters)`);
      }
      // eslint-disable-next-line no-control-regex -- control characters are refused in names
      if (/[\u0000-\u001f\u007f]/.test(name)) throw badRequest('name must not contain control characters');
      // The one password rule of every form that sets a password (console setup, join page).
      const problem = passwordProblem(input.password);
      if (problem) throw badRequest(problem);
      await this.liveInvitation(this.db.kysely, token);
      account = { name, passwordHash: await hashPassword(input.password) };
    }
    const first = await this.liveInvitation(this.db.kysely, token);
    try {
      return await withTransaction(this.db, async (trx) => {
        await lockOrganization(trx, first.org_id);
        // Re-read under the lock: a concurrent accept or revoke may have won.
        const inv = await this.liveInvitation(trx, token);
        const org = await findOrganization(trx, inv.org_id);
        if (!org) throw notFound('invitation');
        const now = nowIso();
        let user = await findUserByEmail(trx, inv.email_lower);
        const existed = user !== undefined;
        if (!user) {
          if (!account) throw badRequest('a name and a password are required to create your account');
          user = await insertUser(trx, {
            email: inv.email,
            name: account.name,
            passwordHash: account.passwordHash,
          });
        }
        const already = await findMembershipOfUser(trx, inv.org_id, user.id);
        if (!already) {
          await insertMember(trx, { orgId: inv.org_id, user, role: inv.role, joinedAt: now });
        }
        if (!(await markAccepted(trx, inv.id, user.id, now)))
          throw new AppError('GONE', 'this invitation is no longer valid');
        // The person following the link is the actor (no key was used).
        const ctx = new AuditContext(
          { type: 'user', id: user.id, email: user.email, key_id: null },
          request.requestId,
          request.clientAddr,
        );
        await appendAuditEvent(
          trx,
          ctx.event({
            action: 'invitation.accepted',
            orgId: inv.org_id,
            target: { type: 'invitation', id: inv.id },
            changes: { email: inv.email, role: inv.role, account_created: !existed, member_added: !already },
          }),
        );
        if (existed) return { kind: 'existing_account', email: user.email, orgId: org.id, orgName: org.name };
        const { token: apiKey } = await createKey(
          trx,
          'personal',
          { name: 'first key', userId: user.id, createdBy: user.id },
          ctx,
        );
        return { kind: 'created', user, orgId: org.id, orgName: org.name, apiKey };
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('this invitation was just accepted by another request');
      throw err;
    }
  }

  private async liveInvitation(k: Parameters<typeof findInvitationByTokenHash>[0], token: string) {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) throw notFound('invitation');
    const inv = await findInvitationByTokenHash(k, hashToken(token));
    if (!inv) {
      throw new AppError('NOT_FOUND', 'this invitation link is not valid; it may have been used already');
    }
    const status = effectiveStatus(inv, nowIso());
    if (status === 'expired') {
      throw new AppError('GONE', 'this invitation has expired; ask an administrator to send it again');
    }
    if (status !== 'pending') throw new AppError('GONE', `this invitation was ${status}`);
    return inv;
  }

  /**
   * The hourly limit: refuses when `adding` more invitation emails would exceed it, else counts
   * them (same transaction, so a rolled-back request counts nothing). Reads at most 60 per-minute
   * counters of migration 0011, however many invitations the organization has sent.
   */
  private async checkRate(trx: Kysely<Database>, orgId: string, adding: number): Promise<void> {
    const limit = this.config.invitationsPerOrgPerHour;
    const now = Date.now();
    const used = await invitationSendsInLastHour(trx, orgId, now);
    if (used.n + adding > limit) {
      const retryAfter = used.oldestMinute
        ? Math.max(1, Math.ceil((Date.parse(`${used.oldestMinute}:00.000Z`) + 3600_000 - now) / 1000))
        : 60;
      throw new InvitationRateLimited(
        `this organization may send at most ${limit} invitations per hour; ${Math.max(0, limit - used.n)} remain in the current hour`,
        retryAfter,
      );
    }
    await recordInvitationSends(trx, orgId, adding, now);
    // Minutes past the hour are dropped at most once a minute per organization and process.
    const minute = Math.floor(now / 60_000);
    if (this.cleaned.get(orgId) !== minute) {
      if (this.cleaned.size >= 10_000) this.cleaned.clear();
      this.cleaned.set(orgId, minute);
      await forgetOldInvitationSends(trx, orgId, now);
    }
  }

  private mailContext(
    org: OrganizationRow,
    inviter: UserRow,
    role: MemberRole,
    recipient: string,
    invitationId: string,
  ): InvitationMailContext {
    return {
      orgId: org.id,
      orgName: org.name,
      inviterName: inviter.name,
      inviterEmail: inviter.email,
      role,
      recipient,
      invitationId,
      publicUrl: this.config.publicUrl,
    };
  }
}
