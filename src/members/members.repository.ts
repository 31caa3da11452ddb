// SQL for organization memberships.
import { sql, type Kysely } from 'kysely';
import type { Database, MemberRole, MemberRow } from '../db/schema.ts';

export type MemberSortBy = 'email' | 'role' | 'joined_at';
export type SortOrder = 'asc' | 'desc';
export type MemberWithEmail = MemberRow & { user_email: string };

export function findMember(
  db: Kysely<Database>,
  orgId: string,
  memberId: string,
): Promise<MemberRow | undefined> {
  return db
    .selectFrom('members')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('id', '=', memberId)
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

export async function countAdmins(db: Kysely<Database>, orgId: string): Promise<number> {
  const r = await db
    .selectFrom('members')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('org_id', '=', orgId)
    .where('role', '=', 'admin')
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function insertMember(db: Kysely<Database>, row: MemberRow): Promise<void> {
  await db.insertInto('members').values(row).execute();
}

export async function updateMemberRole(
  db: Kysely<Database>,
  memberId: string,
  role: MemberRole,
): Promise<void> {
  await db.updateTable('members').set({ role }).where('id', '=', memberId).execute();
}

export async function deleteMember(db: Kysely<Database>, memberId: string): Promise<void> {
  await db.deleteFrom('members').where('id', '=', memberId).execute();
}

/**
 * One page of members in keyset order (sort column, then id), strictly after `after` when given.
 * Fetches limit + 1 rows so the caller knows whether another page exists.
 */
export function listMembersPage(
  db: Kysely<Database>,
  orgId: string,
  opts: {
    sortBy: MemberSortBy;
    order: SortOrder;
    limit: number;
    after?: { value: string; id: string } | undefined;
  },
): Promise<MemberWithEmail[]> {
  const col = `m.${opts.sortBy}` as const;
  let q = db
    .selectFrom('members as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .selectAll('m')
    .select('u.email as user_email')
    .where('m.org_id', '=', orgId);
  if (opts.after) {
    const { value, id } = opts.after;
    q = q.where(
      sql<boolean>`(${sql.ref(col)}, m.id) ${sql.raw(opts.order === 'asc' ? '>' : '<')} (${value}, ${id})`,
    );
  }
  return q
    .orderBy(col, opts.order)
    .orderBy('m.id', opts.order)
    .limit(opts.limit + 1)
    .execute();
}
