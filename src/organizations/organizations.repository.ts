// SQL for organizations.
import type { Kysely } from 'kysely';
import type { Database, OrganizationRow } from '../db/schema.ts';

export async function insertOrganization(db: Kysely<Database>, row: OrganizationRow): Promise<void> {
  await db.insertInto('organizations').values(row).execute();
}

/** Organizations the user belongs to, oldest first. */
export function listOrganizationsOfUser(db: Kysely<Database>, userId: string): Promise<OrganizationRow[]> {
  return db
    .selectFrom('organizations as o')
    .innerJoin('members as m', 'm.org_id', 'o.id')
    .selectAll('o')
    .where('m.user_id', '=', userId)
    .orderBy('o.created_at')
    .orderBy('o.id')
    .execute();
}

/** The one write of an organization's settings (name, key lifetime limit; the plan, by the operator). */
export async function updateOrganization(
  db: Kysely<Database>,
  id: string,
  patch: Partial<Pick<OrganizationRow, 'name' | 'plan' | 'max_api_key_lifetime_days' | 'updated_at'>>,
): Promise<void> {
  await db.updateTable('organizations').set(patch).where('id', '=', id).execute();
}
