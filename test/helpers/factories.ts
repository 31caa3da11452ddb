// Factories: users with ready personal keys, organizations, members, keys and projects.
import { randomBytes } from 'node:crypto';
import type { MemberRole } from '../../src/db/schema.ts';
import { nowIso } from '../../src/domain/time.ts';
import type { Services } from '../../src/services.ts';

export interface TestUser {
  id: string;
  email: string;
  token: string;
  keyId: number;
}

const uniq = () => randomBytes(4).toString('hex');

export async function createUser(s: Services, name = 'user'): Promise<TestUser> {
  const email = `${name}-${uniq()}@example.com`;
  const u = await s.users.create({ email, name });
  const { row, token } = await s.apiKeys.createPersonalFor(u.id, `${name}-key`);
  return { id: u.id, email: u.email, token, keyId: row.id };
}

export async function createOrg(
  s: Services,
  admin: TestUser,
  name = 'Org',
  plan: 'free' | 'launch' | 'scale' | 'business' | 'enterprise' = 'scale',
) {
  return s.organizations.createWithAdmin(admin.id, { name, plan });
}

export async function addMember(s: Services, orgId: string, user: TestUser, role: MemberRole = 'member') {
  return s.members.add(orgId, user.email, role);
}

export async function createOrgKey(s: Services, orgId: string, createdBy: TestUser, projectId?: string) {
  const { row, token } = await s.apiKeys.createOrgFor(
    createdBy.id,
    orgId,
    projectId ? 'project-key' : 'org-key',
    projectId,
  );
  return { id: row.id, token };
}

/** A project made by the projects service (org null: a personal project of ownerId). */
export async function createProjectRecord(
  s: Services,
  orgId: string | null,
  ownerId: string,
  name = 'project',
): Promise<string> {
  const { project } = await s.projects.createRecord(orgId, ownerId, { name });
  return project.id;
}

/** n projects in one organization, ids in creation order. */
export async function createProjects(
  s: Services,
  orgId: string,
  ownerId: string,
  n: number,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await createProjectRecord(s, orgId, ownerId, `p${i}`));
  return ids;
}

/**
 * The principal set of the authorization matrix (see ../shared/reference/security.md §1):
 * org A with an admin, a member, a removed member, projects A1 and A2, an org key and a project key;
 * org B with its own admin and org key; plus a revoked key.
 */
export async function buildWorld(s: Services) {
  const admin = await createUser(s, 'admin');
  const member = await createUser(s, 'member');
  const removed = await createUser(s, 'removed');
  const outsider = await createUser(s, 'outsider');
  const orgA = await createOrg(s, admin, 'Org A', 'scale');
  const orgB = await createOrg(s, outsider, 'Org B', 'scale');
  const memberRow = await addMember(s, orgA.id, member, 'member');
  const removedRow = await addMember(s, orgA.id, removed, 'member');
  await s.db.kysely.deleteFrom('members').where('id', '=', removedRow.id).execute();
  const projectA1 = await createProjectRecord(s, orgA.id, admin.id, 'a1');
  const projectA2 = await createProjectRecord(s, orgA.id, admin.id, 'a2');
  const projectB1 = await createProjectRecord(s, orgB.id, outsider.id, 'b1');
  const orgKeyA = await createOrgKey(s, orgA.id, admin);
  const orgKeyB = await createOrgKey(s, orgB.id, outsider);
  const projectKeyA1 = await createOrgKey(s, orgA.id, admin, projectA1);
  const revokedUser = await createUser(s, 'revoked');
  await s.db.kysely
    .updateTable('api_keys')
    .set({ revoked_at: nowIso() })
    .where('id', '=', revokedUser.keyId)
    .execute();
  const adminMember = await s.db.kysely
    .selectFrom('members')
    .selectAll()
    .where('org_id', '=', orgA.id)
    .where('user_id', '=', admin.id)
    .executeTakeFirstOrThrow();
  return {
    admin,
    member,
    removed,
    outsider,
    orgA,
    orgB,
    adminMember,
    memberRow,
    projectA1,
    projectA2,
    projectB1,
    orgKeyA,
    orgKeyB,
    projectKeyA1,
    revokedToken: revokedUser.token,
  };
}
export type World = Awaited<ReturnType<typeof buildWorld>>;

/** A user who can sign in to the console with `password`. */
export async function createUserWithPassword(
  s: Services,
  name = 'person',
  password = 'correct horse battery',
): Promise<{ id: string; email: string; password: string }> {
  const { hashPassword } = await import('../../src/domain/passwords.ts');
  const email = `${name}-${uniq()}@example.com`;
  const u = await s.users.create({ email, name, passwordHash: await hashPassword(password) });
  return { id: u.id, email: u.email, password };
}
