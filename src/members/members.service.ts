// Membership use cases: list, read, change role, remove; the last admin is always kept.
import type { Db } from '../db/connect.ts';
import { isUniqueViolation, withTransaction } from '../db/connect.ts';
import type { MemberRow } from '../db/schema.ts';
import { MEMBER_ROLES, parseRole, type MemberRole } from '../domain/roles.ts';
import { AppError, badRequest, conflict, notFound } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import { nowIso } from '../domain/time.ts';
import { authorize, can } from '../policy/index.ts';
import type { SubjectSource } from '../policy/subjects.ts';
import { findOrganization, lockOrganization } from '../db/organizations.repository.ts';
import { findUserByEmail } from '../users/users.repository.ts';
import { AuditContext } from '../audit/audit.ts';
import { appendAuditEvent } from '../audit/audit.repository.ts';
import {
  countAdmins,
  deleteMember,
  findMember,
  findMemberOrg,
  findMembershipOfUser,
  insertMember,
  listMembersPage,
  setMemberRoleLocked,
  updateMemberRole,
  type MemberSortBy,
  type MemberWithEmail,
  type SortOrder,
} from './members.repository.ts';
import { removeAction } from '../policy/actions.ts';

const DEFAULT_PAGE = 100;
const LAST_ADMIN_ROLE =
  'cannot change the role of the only admin of the organization; make another member admin first';
/** Roles ('' for none) the policy lets change member roles, for the one-statement path. */
const ALLOWED_TO_UPDATE = [...MEMBER_ROLES, ''].filter((r) =>
  can('member:update', { kind: 'user', role: r === '' ? null : (r as MemberRole) }),
);

export interface MembersPage {
  members: MemberWithEmail[];
  next: string | undefined;
  sortBy: MemberSortBy;
  sortOrder: SortOrder;
}

interface Cursor {
  /** The organization the cursor was issued for: it is valid there only. */
  g: string;
  s: MemberSortBy;
  o: SortOrder;
  v: string;
  i: string;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(
  raw: string,
  orgId: string,
  sortBy: MemberSortBy,
  order: SortOrder,
): { value: string; id: string } {
  let c: Partial<Cursor> | null = null;
  try {
    c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<Cursor>;
  } catch {
    c = null;
  }
  // Another organization's cursor is refused exactly like a malformed one.
  if (!c || typeof c.v !== 'string' || typeof c.i !== 'string' || c.g !== orgId) {
    throw badRequest('cursor is not valid');
  }
  if (c.s !== sortBy || c.o !== order) {
    throw badRequest(
      'cursor was issued for another sort_by or sort_order; repeat the request with the same sorting',
    );
  }
  return { value: c.v, id: c.i };
}

export class MembersService {
  constructor(
    private readonly db: Db,
    private readonly access: SubjectSource,
  ) {}

  async list(
    principal: Principal,
    orgId: string,
    q: {
      sort_by?: MemberSortBy | undefined;
      sort_order?: SortOrder | undefined;
      cursor?: string | undefined;
      limit?: number | undefined;
    },
  ): Promise<MembersPage> {
    const k = this.db.kysely;
    authorize('member:list', await this.access.subjectFor(principal, orgId));
    const sortBy = q.sort_by ?? 'joined_at';
    const sortOrder = q.sort_order ?? 'desc';
    const limit = q.limit ?? DEFAULT_PAGE;
    const after = q.cursor ? decodeCursor(q.cursor, orgId, sortBy, sortOrder) : undefined;
    const rows = await listMembersPage(k, orgId, { sortBy, order: sortOrder, limit, after });
    const more = rows.length > limit;
    const members = more ? rows.slice(0, limit) : rows;
    const last = members[members.length - 1];
    const next =
      more && last
        ? encodeCursor({ g: orgId, s: sortBy, o: sortOrder, v: String(last[sortBy]), i: last.id })
        : undefined;
    return { members, next, sortBy, sortOrder };
  }

  async get(principal: Principal, orgId: string, memberId: string): Promise<MemberRow> {
    const k = this.db.kysely;
    authorize('member:read', await this.access.subjectFor(principal, orgId));
    const m = await findMember(k, orgId, memberId);
    if (!m) throw notFound('member');
    return m;
  }

  /**
   * Changes a member's role. Runs under the organization's lock, and re-checks the caller's own
   * role inside it, so two admins demoting each other at once leave exactly one admin.
   * Rolls back with 409 when it would leave the organization without an admin.
   */
  async updateRole(
    principal: Principal,
    orgId: string,
    memberId: string,
    requested: string,
    ctx: AuditContext,
  ): Promise<MemberRow> {
    const role = parseRole(requested);
    if (this.db.dialect === 'postgres')
      return this.updateRoleInOneStatement(principal, orgId, memberId, role, ctx);
    return withTransaction(this.db, async (trx) => {
      await lockOrganization(trx, orgId);
      authorize('member:update', await this.access.subjectFor(principal, orgId, undefined, trx));
      const m = await findMember(trx, orgId, memberId);
      if (!m) throw notFound('member');
      const event = ctx.event({
        action: 'member.role_changed',
        orgId,
        target: { type: 'member', id: m.id },
        changes: { user_id: m.user_id, email: m.email, role: { from: m.role, to: role } },
      });
      if (m.role === role) {
        await appendAuditEvent(trx, event);
        return m;
      }
      if (m.role === 'admin' && (await countAdmins(trx, orgId)) <= 1) {
        throw conflict(LAST_ADMIN_ROLE);
      }
      await updateMemberRole(trx, memberId, role);
      await appendAuditEvent(trx, event);
      return { ...m, role };
    });
  }

  /**
   * PostgreSQL: migration 0011's function does the organization lock, the caller's role under it,
   * the member, the last-admin check and the write in one statement. The policy still decides:
   * the function is given the roles the policy allows, and a refusal is explained by the policy
   * from the role the function read. It runs inside a transaction with the audit event, so the
   * change and its event commit together; the member's previous role is read under the same lock
   * first (the lock is the organization row's, held to commit, so the function's own lock is free).
   */
  private async updateRoleInOneStatement(
    principal: Principal,
    orgId: string,
    memberId: string,
    role: MemberRole,
    ctx: AuditContext,
  ): Promise<MemberRow> {
    let callerUserId: string | null = null;
    if (principal.kind === 'user') callerUserId = principal.userId;
    // Keys: the decision needs no role, so it is made before the lock.
    else authorize('member:update', await this.access.subjectFor(principal, orgId));
    return withTransaction(this.db, async (trx) => {
      await lockOrganization(trx, orgId);
      const before = await findMember(trx, orgId, memberId);
      const r = await setMemberRoleLocked(trx, {
        orgId,
        callerUserId,
        memberId,
        role,
        allowedRoles: ALLOWED_TO_UPDATE,
      });
      switch (r.outcome) {
        case 'denied':
          authorize('member:update', { kind: 'user', role: r.callerRole });
          throw new Error('unreachable: the policy allows the role the function refused');
        case 'not_found':
          throw notFound('member');
        case 'last_admin':
          throw conflict(LAST_ADMIN_ROLE);
        case 'unchanged':
        case 'updated': {
          if (!r.member) throw new Error('orgplane_set_member_role: no member row');
          const m = r.member;
          await appendAuditEvent(
            trx,
            ctx.event({
              action: 'member.role_changed',
              orgId,
              target: { type: 'member', id: m.id },
              changes: {
                user_id: m.user_id,
                email: m.email,
                role: { from: before?.role ?? (r.outcome === 'unchanged' ? role : null), to: role },
              },
            }),
          );
          return m;
        }
      }
    });
  }

  /** The seed's path PATCH /organizations/members/{member_id}: the organization comes from the member. */
  async updateRoleByMemberId(
    principal: Principal,
    memberId: string,
    requested: string,
    ctx: AuditContext,
  ): Promise<MemberRow> {
    const orgId = await findMemberOrg(this.db.kysely, memberId);
    if (!orgId) throw notFound('member');
    try {
      return await this.updateRole(principal, orgId, memberId, requested, ctx);
    } catch (err) {
      // Outsiders learn nothing about which member ids exist.
      if (err instanceof AppError && err.code === 'NOT_FOUND') throw notFound('member');
      throw err;
    }
  }

  /** Removes a member (admins), or the caller's own membership (leaving). Never the last admin. */
  async remove(principal: Principal, orgId: string, memberId: string, ctx: AuditContext): Promise<void> {
    await withTransaction(this.db, async (trx) => {
      await lockOrganization(trx, orgId);
      const subject = await this.access.subjectFor(principal, orgId, undefined, trx);
      const m = await findMember(trx, orgId, memberId);
      const action = removeAction(principal, m);
      authorize(action, subject);
      if (!m) throw notFound('member');
      if (m.role === 'admin' && (await countAdmins(trx, orgId)) <= 1) {
        throw conflict('cannot remove the only admin of the organization; make another member admin first');
      }
      await deleteMember(trx, memberId);
      await appendAuditEvent(
        trx,
        ctx.event({
          action: action === 'member:leave' ? 'member.left' : 'member.removed',
          orgId,
          target: { type: 'member', id: m.id },
          changes: { user_id: m.user_id, email: m.email, role: m.role },
        }),
      );
    });
  }

  /** Operator path (CLI): changes a member's role by email, under the same last-admin rule. */
  async setRoleByEmail(orgId: string, email: string, requested: string): Promise<MemberRow> {
    const role = parseRole(requested);
    return withTransaction(this.db, async (trx) => {
      if (!(await lockOrganization(trx, orgId))) throw notFound('organization');
      const user = await findUserByEmail(trx, email);
      const m = user ? await findMembershipOfUser(trx, orgId, user.id) : undefined;
      if (!m) throw notFound(`member ${email}`);
      if (m.role === role) return m;
      if (m.role === 'admin' && (await countAdmins(trx, orgId)) <= 1) {
        throw conflict(
          'cannot change the role of the only admin of the organization; make another member admin first',
        );
      }
      await updateMemberRole(trx, m.id, role);
      return { ...m, role };
    });
  }

  /** Operator path (CLI) and invitations: adds an existing user with a role. */
  async add(
    orgId: string,
    email: string,
    requested: string,
    ctx = AuditContext.operator(),
  ): Promise<MemberRow> {
    const role = parseRole(requested);
    const k = this.db.kysely;
    const user = await findUserByEmail(k, email);
    if (!user) throw notFound(`user ${email}`);
    if (!(await findOrganization(k, orgId))) throw notFound('organization');
    let row: MemberRow;
    try {
      row = await withTransaction(this.db, async (trx) => {
        const row = await insertMember(trx, { orgId, user, role, joinedAt: nowIso() });
        await appendAuditEvent(
          trx,
          ctx.event({
            action: 'member.added',
            orgId,
            target: { type: 'member', id: row.id },
            changes: { user_id: row.user_id, email: row.email, role },
          }),
        );
        return row;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`${email} is already a member of ${orgId}`);
      throw err;
    }
    return row;
  }
}
