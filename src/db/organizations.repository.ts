// The organization row every feature hangs off: read it, and lock it to serialize changes to its
// memberships, roles and projects. Here, below the features, so that each of them can lock without
// importing the organizations folder (which itself builds on members and projects).
import type { Kysely, Transaction } from 'kysely';
import { preparedQuery } from './prepared.ts';
import type { Database, OrganizationRow } from './schema.ts';

const organizationById = preparedQuery((db, _shape, id: string) =>
  db.selectFrom('organizations').selectAll().where('id', '=', id),
);

export async function findOrganization(
  db: Kysely<Database>,
  id: string,
): Promise<OrganizationRow | undefined> {
  return (await organizationById(db, '', id))[0];
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
