// SQL for organizations.
import type { Kysely, Transaction } from 'kysely';
import { preparedQuery } from '../db/prepared.ts';
import type { Database, OrganizationRow } from '../db/schema.ts';

const organizationById = preparedQuery((db, _shape, id: string) =>
  db.selectFrom('organizations').selectAll().where('id', '=', id),
);

export async function findOrganization(
  db: Kysely<Database>,
  id: string,
): Promise<OrganizationRow | undefined> {
  return (await organizationById(db, '', id))[0];
}

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

/**
 * Serializes every change to an organization's memberships, roles and projects.
 * On PostgreSQL the no-op UPDATE takes the row lock (like SELECT … FOR UPDATE) until commit, so
 * a concurrent transaction waits here and then re-reads committed data (READ COMMITTED).
 * SQLite transactions never interleave, so there it is merely harmless. Returns false if the
 * organization does not exist.
 */
const lockQuery = preparedQuery((db, _shape, id: string) =>
  db
    .updateTable('organizations')
    .set((eb) => ({ updated_at: eb.ref('updated_at') }))
    .where('id', '=', id)
    .returningAll(),
);

export async function lockOrganization(trx: Transaction<Database>, id: string): Promise<boolean> {
  return (await lockQuery(trx, '', id)).length === 1;
}

/** lockOrganization, answering the organization's row (undefined: no such organization). */
export async function lockOrganizationRow(
  trx: Transaction<Database>,
  id: string,
): Promise<OrganizationRow | undefined> {
  return (await lockQuery(trx, '', id))[0];
}
