// SQL for a project's branches, endpoints, roles and databases. Executor first: the caller owns
// the transaction.
import type { Kysely, Updateable } from 'kysely';
import type {
  BranchDatabaseRow,
  BranchesTable,
  BranchRoleRow,
  BranchRow,
  Database,
  EndpointRow,
  EndpointsTable,
} from '../db/schema.ts';

type K = Kysely<Database>;

// ---- branches
export function findBranch(db: K, projectId: string, branchId: string): Promise<BranchRow | undefined> {
  return db
    .selectFrom('branches')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('id', '=', branchId)
    .executeTakeFirst();
}

export function findBranchById(db: K, branchId: string): Promise<BranchRow | undefined> {
  return db.selectFrom('branches').selectAll().where('id', '=', branchId).executeTakeFirst();
}

export function listBranches(db: K, projectId: string): Promise<BranchRow[]> {
  return db
    .selectFrom('branches')
    .selectAll()
    .where('project_id', '=', projectId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export function allBranches(
  db: K,
): Promise<Array<Pick<BranchRow, 'id' | 'project_id' | 'parent_id' | 'state'>>> {
  return db
    .selectFrom('branches')
    .select(['id', 'project_id', 'parent_id', 'state'])
    .orderBy('created_at')
    .execute();
}

export function branchByName(db: K, projectId: string, name: string): Promise<BranchRow | undefined> {
  return db
    .selectFrom('branches')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('name', '=', name)
    .executeTakeFirst();
}

/** Branches whose expires_at has passed, in live projects (the expiry sweep deletes them). */
export function expiredBranches(db: K, nowIso: string): Promise<{ id: string; project_id: string }[]> {
  return db
    .selectFrom('branches as b')
    .innerJoin('projects as p', 'p.id', 'b.project_id')
    .select(['b.id as id', 'b.project_id as project_id'])
    .where('b.expires_at', 'is not', null)
    .where('b.expires_at', '<=', nowIso)
    .where('p.deleted_at', 'is', null)
    .orderBy('b.expires_at')
    .execute();
}

export async function insertBranch(db: K, row: BranchRow): Promise<void> {
  await db.insertInto('branches').values(row).execute();
}

export async function updateBranch(db: K, id: string, patch: Updateable<BranchesTable>): Promise<void> {
  await db.updateTable('branches').set(patch).where('id', '=', id).execute();
}

export async function countChildren(db: K, branchId: string): Promise<number> {
  const r = await db
    .selectFrom('branches')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('parent_id', '=', branchId)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Removes a branch with its endpoints, roles and databases. */
export async function deleteBranchRecords(db: K, branchId: string): Promise<void> {
  await db.deleteFrom('endpoints').where('branch_id', '=', branchId).execute();
  await db.deleteFrom('branch_roles').where('branch_id', '=', branchId).execute();
  await db.deleteFrom('branch_databases').where('branch_id', '=', branchId).execute();
  await db.deleteFrom('branches').where('id', '=', branchId).execute();
}

/** A restore's preserved state adopts the restored branch's children. */
export async function moveChildren(db: K, fromParent: string, toParent: string, now: string): Promise<void> {
  await db
    .updateTable('branches')
    .set({ parent_id: toParent, updated_at: now })
    .where('parent_id', '=', fromParent)
    .where('id', '<>', toParent)
    .execute();
}

/** The project row names its default branch too (the organizations half reads it). */
export async function setProjectDefaultBranch(
  db: K,
  projectId: string,
  branch: { id: string; name: string },
  now: string,
): Promise<void> {
  await db
    .updateTable('projects')
    .set({ branch_id: branch.id, branch_name: branch.name, updated_at: now })
    .where('id', '=', projectId)
    .execute();
}

/** Ids of projects not deleted (their endpoints listen). */
export async function liveProjectIds(db: K): Promise<Set<string>> {
  const rows = await db.selectFrom('projects').select('id').where('deleted_at', 'is', null).execute();
  return new Set(rows.map((p) => p.id));
}

/** Branches of projects deleted before the cutoff (their recovery window is over). */
export async function branchesOfProjectsDeletedBefore(db: K, cutoff: string): Promise<string[]> {
  const rows = await db
    .selectFrom('branches as b')
    .innerJoin('projects as p', 'p.id', 'b.project_id')
    .select(['b.id as id'])
    .where('p.deleted_at', 'is not', null)
    .where('p.deleted_at', '<', cutoff)
    .execute();
  return rows.map((r) => r.id);
}

export async function endpointIdsOfBranch(db: K, branchId: string): Promise<string[]> {
  const rows = await db.selectFrom('endpoints').select('id').where('branch_id', '=', branchId).execute();
  return rows.map((e) => e.id);
}

/** Undoes an interrupted project creation: its row (its branch's records go separately). */
export async function deleteProjectRow(db: K, projectId: string): Promise<void> {
  await db.deleteFrom('projects').where('id', '=', projectId).execute();
}

/** Projects whose default role's password is stored (sealed or, before sealing, plain). */
export function projectsWithRolePassword(
  db: K,
): Promise<{ id: string; role_password: string | null; branch_id: string; role_name: string }[]> {
  return db
    .selectFrom('projects')
    .select(['id', 'role_password', 'branch_id', 'role_name'])
    .where('role_password', 'is not', null)
    .execute();
}

/** The key id of the last complete reseal of stored role passwords (undefined: never, or before 0014). */
export async function lastResealKeyId(db: K): Promise<string | undefined> {
  const row = await db.selectFrom('secret_reseals').select('key_id').where('id', '=', 1).executeTakeFirst();
  return row?.key_id;
}

export async function recordReseal(db: K, keyId: string, now: string): Promise<void> {
  await db
    .insertInto('secret_reseals')
    .values({ id: 1, key_id: keyId, resealed_at: now })
    .onConflict((oc) => oc.column('id').doUpdateSet({ key_id: keyId, resealed_at: now }))
    .execute();
}

/** The project's default role password, and the role record's where it has none yet. */
export async function setProjectRolePassword(
  db: K,
  project: { id: string; branch_id: string; role_name: string },
  sealed: string,
): Promise<void> {
  await db.updateTable('projects').set({ role_password: sealed }).where('id', '=', project.id).execute();
  await db
    .updateTable('branch_roles')
    .set({ password_enc: sealed })
    .where('branch_id', '=', project.branch_id)
    .where('name', '=', project.role_name)
    .where('password_enc', 'is', null)
    .execute();
}

export async function setDefaultBranch(
  db: K,
  projectId: string,
  branchId: string,
  now: string,
): Promise<void> {
  await db
    .updateTable('branches')
    .set({ is_default: 0, updated_at: now })
    .where('project_id', '=', projectId)
    .where('is_default', '=', 1)
    .execute();
  await db
    .updateTable('branches')
    .set({ is_default: 1, updated_at: now })
    .where('id', '=', branchId)
    .execute();
}

// ---- endpoints
export function findEndpoint(db: K, projectId: string, endpointId: string): Promise<EndpointRow | undefined> {
  return db
    .selectFrom('endpoints')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('id', '=', endpointId)
    .executeTakeFirst();
}

export function listEndpoints(db: K, projectId: string, branchId?: string): Promise<EndpointRow[]> {
  let q = db.selectFrom('endpoints').selectAll().where('project_id', '=', projectId);
  if (branchId !== undefined) q = q.where('branch_id', '=', branchId);
  return q.orderBy('created_at').orderBy('id').execute();
}

export function allEndpoints(db: K): Promise<EndpointRow[]> {
  return db.selectFrom('endpoints').selectAll().execute();
}

export async function insertEndpoint(db: K, row: EndpointRow): Promise<void> {
  await db.insertInto('endpoints').values(row).execute();
}

export async function updateEndpoint(db: K, id: string, patch: Updateable<EndpointsTable>): Promise<void> {
  await db.updateTable('endpoints').set(patch).where('id', '=', id).execute();
}

export async function deleteEndpoint(db: K, id: string): Promise<void> {
  await db.deleteFrom('endpoints').where('id', '=', id).execute();
}

// ---- roles
export function listRoles(db: K, branchId: string): Promise<BranchRoleRow[]> {
  return db
    .selectFrom('branch_roles')
    .selectAll()
    .where('branch_id', '=', branchId)
    .orderBy('created_at')
    .orderBy('name')
    .execute();
}

export function findRole(db: K, branchId: string, name: string): Promise<BranchRoleRow | undefined> {
  return db
    .selectFrom('branch_roles')
    .selectAll()
    .where('branch_id', '=', branchId)
    .where('name', '=', name)
    .executeTakeFirst();
}

export async function insertRoles(db: K, rows: BranchRoleRow[]): Promise<void> {
  if (rows.length > 0) await db.insertInto('branch_roles').values(rows).execute();
}

export async function setRolePassword(
  db: K,
  branchId: string,
  name: string,
  sealed: string | null,
  now: string,
): Promise<void> {
  await db
    .updateTable('branch_roles')
    .set({ password_enc: sealed, updated_at: now })
    .where('branch_id', '=', branchId)
    .where('name', '=', name)
    .execute();
}

export async function deleteRole(db: K, branchId: string, name: string): Promise<void> {
  await db.deleteFrom('branch_roles').where('branch_id', '=', branchId).where('name', '=', name).execute();
}

/** Every sealed (or still plain) role password, for resealing under the current key at start. */
export function storedRolePasswords(
  db: K,
): Promise<Array<Pick<BranchRoleRow, 'branch_id' | 'name' | 'password_enc'>>> {
  return db
    .selectFrom('branch_roles')
    .select(['branch_id', 'name', 'password_enc'])
    .where('password_enc', 'is not', null)
    .execute();
}

// ---- databases
export function listDatabases(db: K, branchId: string): Promise<BranchDatabaseRow[]> {
  return db
    .selectFrom('branch_databases')
    .selectAll()
    .where('branch_id', '=', branchId)
    .orderBy('created_at')
    .orderBy('name')
    .execute();
}

export function findDatabase(db: K, branchId: string, name: string): Promise<BranchDatabaseRow | undefined> {
  return db
    .selectFrom('branch_databases')
    .selectAll()
    .where('branch_id', '=', branchId)
    .where('name', '=', name)
    .executeTakeFirst();
}

export async function insertDatabases(db: K, rows: BranchDatabaseRow[]): Promise<void> {
  if (rows.length > 0) await db.insertInto('branch_databases').values(rows).execute();
}

export async function updateDatabase(
  db: K,
  branchId: string,
  name: string,
  patch: { name?: string; owner_name?: string; updated_at: string },
): Promise<void> {
  await db
    .updateTable('branch_databases')
    .set(patch)
    .where('branch_id', '=', branchId)
    .where('name', '=', name)
    .execute();
}

export async function deleteDatabase(db: K, branchId: string, name: string): Promise<void> {
  await db
    .deleteFrom('branch_databases')
    .where('branch_id', '=', branchId)
    .where('name', '=', name)
    .execute();
}

export async function databasesOwnedBy(db: K, branchId: string, owner: string): Promise<string[]> {
  const rows = await db
    .selectFrom('branch_databases')
    .select('name')
    .where('branch_id', '=', branchId)
    .where('owner_name', '=', owner)
    .execute();
  return rows.map((r) => r.name);
}

/** Copies a branch's roles and databases onto a new branch (a branch carries its parent's). */
export async function copyRolesAndDatabases(
  db: K,
  fromBranch: string,
  toBranch: string,
  now: string,
): Promise<void> {
  const roles = await listRoles(db, fromBranch);
  await insertRoles(
    db,
    roles.map((r) => ({ ...r, branch_id: toBranch, created_at: now, updated_at: now })),
  );
  const dbs = await listDatabases(db, fromBranch);
  await insertDatabases(
    db,
    dbs.map((d) => ({ ...d, branch_id: toBranch, created_at: now, updated_at: now })),
  );
}

export async function deleteRolesAndDatabases(db: K, branchId: string): Promise<void> {
  await db.deleteFrom('branch_roles').where('branch_id', '=', branchId).execute();
  await db.deleteFrom('branch_databases').where('branch_id', '=', branchId).execute();
}
