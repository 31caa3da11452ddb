// SQL for organization memberships.
import { sql, type Kysely } from 'kysely';
import { preparedQuery } from '../db/prepared.ts';
import { newUuid } from '../domain/ids.ts';
import type { Database, MemberRole, MemberRow } from '../db/schema.ts';

export type MemberSortBy = 'email' | 'role' | 'joined_at';
export type SortOrder = 'asc' | 'desc';
export type MemberWithEmail = MemberRow & { user_email: string };

const memberById = preparedQuery((db, _shape, orgId: string, memberId: string) =>
  db.selectFrom('members').selectAll().where('org_id', '=', orgId).where('id', '=', memberId),
);

export async function findMember(
  db: Kysely<Database>,
  orgId: string,
  memberId: string,
): Promise<MemberRow | undefined> {
  return (await memberById(db, '', orgId, memberId))[0];
}

/** The user's membership of the organization, if any. */
export function findMembershipOfUser(
  db: Kysely<Database>,
  orgId: string,
  userId: string,
): Promise<MemberRow | undefined> {
  return db
    .selectFrom('members')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

export function findMemberOrg(db: Kysely<Database>, memberId: string): Promise<string | undefined> {
  return db
    .selectFrom('members')
    .select('org_id')
    .where('id', '=', memberId)
    .executeTakeFirst()
    .then((r) => r?.org_id);
}

// 'admin' is a literal: a constant filter bound as a parameter is planned again on every run.
const adminCount = preparedQuery((db, _shape, orgId: string) =>
  db
    .selectFrom('members')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('org_id', '=', orgId)
    .where('role', '=', sql.lit('admin')),
);

export async function countAdmins(db: Kysely<Database>, orgId: string): Promise<number> {
  return Number((await adminCount(db, '', orgId))[0]?.n ?? 0);
}

/**
 * The one membership insert: the row is assembled here (new id, the user's lower-cased email for
 * paging) so every path that adds a member writes the same row.
 */
export async function insertMember(
  db: Kysely<Database>,
  m: { orgId: string; user: { id: string; email_lower: string }; role: MemberRole; joinedAt: string },
): Promise<MemberRow> {
  const row: MemberRow = {
    id: newUuid(),
    org_id: m.orgId,
    user_id: m.user.id,
    role: m.role,
    email: m.user.email_lower,
    joined_at: m.joinedAt,
  };
  await db.insertInto('members').values(row).execute();
  return row;
}

const roleUpdate = preparedQuery((db, _shape, memberId: string, role: MemberRole) =>
  db.updateTable('members').set({ role }).where('id', '=', memberId).returning('id'),
);

export async function updateMemberRole(
  db: Kysely<Database>,
  memberId: string,
  role: MemberRole,
): Promise<void> {
  await roleUpdate(db, '', memberId, role);
}

export type RoleChangeOutcome = 'denied' | 'not_found' | 'unchanged' | 'last_admin' | 'updated';

/**
 * PostgreSQL: the whole role change under the organization's lock in one round trip (the
 * function of migration 0011). callerUserId: the caller's role must be one of allowedRoles ('' for
 * none) under the lock; null: the caller's access does not depend on a role (checked before).
 */
export async function setMemberRoleLocked(
  db: Kysely<Database>,
  p: {
    orgId: string;
    callerUserId: string | null;
    memberId: string;
    role: MemberRole;
    allowedRoles: string[];
  },
): Promise<{ outcome: RoleChangeOutcome; callerRole: MemberRole | null; member: MemberRow | undefined }> {
  const r = await sql<MemberRow & { outcome: RoleChangeOutcome; caller_role: MemberRole | null }>`
    select * from orgplane_set_member_role(${p.orgId}, ${p.callerUserId}, ${p.memberId}, ${p.role}, ${p.allowedRoles})`.execute(
    db,
  );
  const row = r.rows[0];
  if (!row) throw new Error('orgplane_set_member_role returned no row');
  const { outcome, caller_role, ...member } = row;
  return { outcome, callerRole: caller_role, member: member.id ? member : undefined };
}

export async function deleteMember(db: Kysely<Database>, memberId: string): Promise<void> {
  await db.deleteFrom('members').where('id', '=', memberId).execute();
}

/**
 * One page of members in keyset order (sort column, then id), strictly after `after` when given.
 * Fetches limit + 1 rows so the caller knows whether another page exists.
 */
// Shape "sortBy order first|after limit"; arguments: orgId, then the cursor's value and id. The
// LIMIT is a literal: SQLite plans a bound LIMIT again on every run.
const membersPage = preparedQuery((db, shape, ...args: string[]) => {
  const [sortBy, order, from, limit] = shape.split(' ') as [
    MemberSortBy,
    SortOrder,
    'first' | 'after',
    string,
  ];
  const [orgId, value, id] = args;
  const col = `m.${sortBy}` as const;
  let q = db
    .selectFrom('members as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .selectAll('m')
    .select('u.email as user_email')
    .where('m.org_id', '=', orgId as string);
  if (from === 'after') {
    q = q.where(
      sql<boolean>`(${sql.ref(col)}, m.id) ${sql.raw(order === 'asc' ? '>' : '<')} (${value}, ${id})`,
    );
  }
  return q
    .orderBy(col, order)
    .orderBy('m.id', order)
    .limit(sql.lit(Number(limit)));
});

export async function listMembersPage(
  db: Kysely<Database>,
  orgId: string,
  opts: {
    sortBy: MemberSortBy;
    order: SortOrder;
    limit: number;
    after?: { value: string; id: string } | undefined;
  },
): Promise<MemberWithEmail[]> {
  const limit = Math.trunc(opts.limit) + 1;
  return opts.after
    ? membersPage(db, `${opts.sortBy} ${opts.order} after ${limit}`, orgId, opts.after.value, opts.after.id)
    : membersPage(db, `${opts.sortBy} ${opts.order} first ${limit}`, orgId);
}
