// Neon's own SDK (@neondatabase/api-client), unchanged, pointed at a listening orgplane with baseURL:
// every issue-2 operation, each response validated against Neon's spec.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createApiClient, MemberRole } from '@neondatabase/api-client';
import { buildTestApp, type TestApp } from './helpers/app.ts';
import { buildWorld, createProjectRecord, createUser, type World } from './helpers/factories.ts';
import { sdkFailure } from './helpers/sdk.ts';
import { assertMatchesSpec } from './helpers/spec.ts';

type Client = ReturnType<typeof createApiClient>;

describe('the Neon SDK against orgplane', () => {
  let t: TestApp;
  let w: World;
  let baseURL: string;
  let admin: Client;
  let member: Client;
  let orgKey: Client;

  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as AddressInfo;
    baseURL = `http://127.0.0.1:${port}/api/v2`;
    admin = createApiClient({ apiKey: w.admin.token, baseURL });
    member = createApiClient({ apiKey: w.member.token, baseURL });
    orgKey = createApiClient({ apiKey: w.orgKeyA.token, baseURL });
  });
  after(() => t.close());

  test('getAuthDetails, getCurrentUserInfo, getCurrentUserOrganizations', async () => {
    const auth = await admin.getAuthDetails();
    assert.equal(auth.status, 200);
    assertMatchesSpec('getAuthDetails', auth.status, auth.data);
    assert.equal(auth.data.account_id, w.admin.id);
    assert.equal(auth.data.auth_method, 'api_key_user');

    const orgAuth = await orgKey.getAuthDetails();
    assertMatchesSpec('getAuthDetails', orgAuth.status, orgAuth.data);
    assert.equal(orgAuth.data.auth_method, 'api_key_org');

    const me = await admin.getCurrentUserInfo();
    assertMatchesSpec('getCurrentUserInfo', me.status, me.data);
    assert.equal(me.data.id, w.admin.id);
    assert.equal(me.data.email, w.admin.email);

    const orgs = await admin.getCurrentUserOrganizations();
    assertMatchesSpec('getCurrentUserOrganizations', orgs.status, orgs.data);
    assert.deepEqual(
      orgs.data.organizations.map((o) => o.id),
      [w.orgA.id],
    );
    const viaKey = await orgKey.getCurrentUserOrganizations();
    assertMatchesSpec('getCurrentUserOrganizations', viaKey.status, viaKey.data);
    assert.deepEqual(
      viaKey.data.organizations.map((o) => o.id),
      [w.orgA.id],
    );
  });

  test('listApiKeys, createApiKey, revokeApiKey', async () => {
    const created = await member.createApiKey({ key_name: 'sdk-key' });
    assert.equal(created.status, 200);
    assertMatchesSpec('createApiKey', created.status, created.data);
    assert.match(created.data.key, /^napi_/);
    assert.equal(created.data.name, 'sdk-key');
    assert.equal(typeof created.data.id, 'number');

    const fresh = createApiClient({ apiKey: created.data.key, baseURL });
    const me = await fresh.getCurrentUserInfo();
    assert.equal(me.data.id, w.member.id);

    const list = await member.listApiKeys();
    assertMatchesSpec('listApiKeys', list.status, list.data);
    const listed = list.data.find((k) => k.id === created.data.id);
    assert.ok(listed);
    assert.equal(listed.name, 'sdk-key');
    assert.ok(!JSON.stringify(list.data).includes(created.data.key));

    const revoked = await member.revokeApiKey(created.data.id);
    assertMatchesSpec('revokeApiKey', revoked.status, revoked.data);
    assert.equal(revoked.data.revoked, true);
    assert.equal(revoked.data.id, created.data.id);

    const denied = await sdkFailure('getCurrentUserInfo', fresh.getCurrentUserInfo());
    assert.equal(denied.status, 401);
    // Revoking is idempotent: the key answers as revoked again.
    const again = await member.revokeApiKey(created.data.id);
    assertMatchesSpec('revokeApiKey', again.status, again.data);
    assert.equal(again.data.revoked, true);
    const unknown = await sdkFailure('revokeApiKey', member.revokeApiKey(987654321));
    assert.equal(unknown.status, 404);
  });

  test('getOrganization', async () => {
    const org = await admin.getOrganization(w.orgA.id);
    assertMatchesSpec('getOrganization', org.status, org.data);
    assert.equal(org.data.id, w.orgA.id);
    assert.match(org.data.id, /^org-[a-z]+-[a-z]+-\d{8}$/);
    assert.match(org.data.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const viaKey = await orgKey.getOrganization(w.orgA.id);
    assert.equal(viaKey.data.id, w.orgA.id);
    const foreign = await sdkFailure('getOrganization', admin.getOrganization(w.orgB.id));
    assert.equal(foreign.status, 404);
  });

  test('listOrgApiKeys, createOrgApiKey (with and without project_id), revokeOrgApiKey', async () => {
    const orgWide = await admin.createOrgApiKey(w.orgA.id, { key_name: 'sdk-org' });
    assertMatchesSpec('createOrgApiKey', orgWide.status, orgWide.data);
    assert.equal(orgWide.data.project_id, undefined);

    const scoped = await member.createOrgApiKey(w.orgA.id, {
      key_name: 'sdk-project',
      project_id: w.projectA1,
    });
    assertMatchesSpec('createOrgApiKey', scoped.status, scoped.data);
    assert.equal(scoped.data.project_id, w.projectA1);
    const scopedAuth = await createApiClient({ apiKey: scoped.data.key, baseURL }).getAuthDetails();
    assertMatchesSpec('getAuthDetails', scopedAuth.status, scopedAuth.data);

    const list = await admin.listOrgApiKeys(w.orgA.id);
    assertMatchesSpec('listOrgApiKeys', list.status, list.data);
    const ids = list.data.map((k) => k.id);
    assert.ok(ids.includes(orgWide.data.id) && ids.includes(scoped.data.id));
    assert.equal(list.data.find((k) => k.id === scoped.data.id)?.project_id, w.projectA1);

    const revoked = await admin.revokeOrgApiKey(w.orgA.id, orgWide.data.id);
    assertMatchesSpec('revokeOrgApiKey', revoked.status, revoked.data);
    assert.equal(revoked.data.revoked, true);
    const revokedScoped = await admin.revokeOrgApiKey(w.orgA.id, scoped.data.id);
    assertMatchesSpec('revokeOrgApiKey', revokedScoped.status, revokedScoped.data);

    const byMember = await sdkFailure(
      'createOrgApiKey',
      member.createOrgApiKey(w.orgA.id, { key_name: 'nope' }),
    );
    assert.equal(byMember.status, 403);
    const byOrgKey = await sdkFailure(
      'createOrgApiKey',
      orgKey.createOrgApiKey(w.orgA.id, { key_name: 'nope' }),
    );
    assert.equal(byOrgKey.status, 403);
    assert.equal(byOrgKey.body.message, 'not allowed for organization API keys');
  });

  test('getOrganizationMembers with sort, limit and cursor; getOrganizationMember', async () => {
    const extra = await Promise.all([1, 2, 3].map((i) => createUser(t.services, `sdk${i}`)));
    for (const u of extra) await t.services.members.add(w.orgA.id, u.email, 'member');

    const all = await orgKey.getOrganizationMembers({
      orgId: w.orgA.id,
      sort_by: 'email',
      sort_order: 'asc',
      limit: 500,
    });
    assertMatchesSpec('getOrganizationMembers', all.status, all.data);
    const emails = all.data.members.map((m) => m.user.email);
    assert.deepEqual(emails, [...emails].sort());
    assert.equal(all.data.pagination?.next, undefined);

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await admin.getOrganizationMembers({
        orgId: w.orgA.id,
        sort_by: 'email',
        sort_order: 'asc',
        limit: 2,
        ...(cursor ? { cursor } : {}),
      });
      assertMatchesSpec('getOrganizationMembers', page.status, page.data);
      assert.ok(page.data.members.length <= 2);
      seen.push(...page.data.members.map((m) => m.member.id));
      cursor = page.data.pagination?.next;
    } while (cursor);
    assert.deepEqual(
      seen,
      all.data.members.map((m) => m.member.id),
    );

    const bad = await sdkFailure(
      'getOrganizationMembers',
      admin.getOrganizationMembers({ orgId: w.orgA.id, limit: 501 }),
    );
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /limit/);

    const one = await member.getOrganizationMember(w.orgA.id, w.memberRow.id);
    assertMatchesSpec('getOrganizationMember', one.status, one.data);
    assert.equal(one.data.user_id, w.member.id);
  });

  test('updateOrganizationMember, removeOrganizationMember', async () => {
    const u = await createUser(t.services, 'sdkrole');
    const row = await t.services.members.add(w.orgA.id, u.email, 'member');

    const up = await admin.updateOrganizationMember(w.orgA.id, row.id, { role: MemberRole.Admin });
    assertMatchesSpec('updateOrganizationMember', up.status, up.data);
    assert.equal(up.data.role, 'admin');
    const down = await orgKey.updateOrganizationMember(w.orgA.id, row.id, { role: MemberRole.Member });
    assertMatchesSpec('updateOrganizationMember', down.status, down.data);
    assert.equal(down.data.role, 'member');

    // Every value of Neon's MemberRole enum is offered.
    for (const role of [MemberRole.Editor, MemberRole.Viewer, MemberRole.Collaborator, MemberRole.Member]) {
      const changed = await admin.updateOrganizationMember(w.orgA.id, row.id, { role });
      assertMatchesSpec('updateOrganizationMember', changed.status, changed.data);
      assert.equal(changed.data.role, role);
    }
    const lastAdmin = await sdkFailure(
      'updateOrganizationMember',
      admin.updateOrganizationMember(w.orgA.id, w.adminMember.id, { role: MemberRole.Member }),
    );
    assert.equal(lastAdmin.status, 409);

    const byKey = await sdkFailure(
      'removeOrganizationMember',
      orgKey.removeOrganizationMember(w.orgA.id, row.id),
    );
    assert.equal(byKey.status, 403);
    const removed = await admin.removeOrganizationMember(w.orgA.id, row.id);
    assertMatchesSpec('removeOrganizationMember', removed.status, removed.data);
    const gone = await sdkFailure('getOrganizationMember', admin.getOrganizationMember(w.orgA.id, row.id));
    assert.equal(gone.status, 404);
  });

  test('grantPermissionToProject, listProjectPermissions, listSharedProjects, revokePermissionFromProject', async () => {
    const guest = await createUser(t.services, 'sdkguest');
    const guestClient = createApiClient({ apiKey: guest.token, baseURL });
    const project = await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'sdk-shared');

    const granted = await member.grantPermissionToProject(project, { email: guest.email });
    assert.equal(granted.status, 200);
    assertMatchesSpec('grantPermissionToProject', granted.status, granted.data);
    assert.equal(granted.data.granted_to_email, guest.email);

    const listed = await admin.listProjectPermissions(project);
    assertMatchesSpec('listProjectPermissions', listed.status, listed.data);
    assert.deepEqual(
      listed.data.project_permissions.map((p) => p.id),
      [granted.data.id],
    );

    const sharedList = await guestClient.listSharedProjects({ limit: 100 });
    assertMatchesSpec('listSharedProjects', sharedList.status, sharedList.data);
    assert.deepEqual(
      sharedList.data.projects.map((p) => p.id),
      [project],
    );
    assert.equal(sharedList.data.projects[0]?.effective_project_permission, 'CAN_EDIT');
    const got = await guestClient.getProject(project);
    assertMatchesSpec('getProject', got.status, got.data);
    assert.equal(got.data.project.effective_project_permission, 'CAN_EDIT');
    // Keys are not users: nothing is shared with them (Neon's CLI still calls this).
    const byKey = await orgKey.listSharedProjects({ limit: 100 });
    assertMatchesSpec('listSharedProjects', byKey.status, byKey.data);
    assert.deepEqual(byKey.data, { projects: [] });

    const revoked = await admin.revokePermissionFromProject(project, granted.data.id);
    assertMatchesSpec('revokePermissionFromProject', revoked.status, revoked.data);
    assert.equal(revoked.data.id, granted.data.id);
    assert.ok(revoked.data.revoked_at);
    const gone = await sdkFailure('getProject', guestClient.getProject(project));
    assert.equal(gone.status, 404);
    const none = await guestClient.listSharedProjects({});
    assert.deepEqual(none.data, { projects: [] });

    const bad = await sdkFailure(
      'grantPermissionToProject',
      admin.grantPermissionToProject(project, { email: 'not-an-email' }),
    );
    assert.equal(bad.status, 400);
    const missing = await sdkFailure(
      'revokePermissionFromProject',
      admin.revokePermissionFromProject(project, '00000000-0000-4000-8000-000000000000'),
    );
    assert.equal(missing.status, 404);
  });

  test('every MemberRole through invitations; a viewer reads but cannot write (403)', async () => {
    const viewer = await createUser(t.services, 'sdkviewer');
    const inv = await admin.createOrganizationInvitations(w.orgA.id, {
      invitations: [{ email: viewer.email, role: MemberRole.Viewer }],
    });
    assertMatchesSpec('createOrganizationInvitations', inv.status, inv.data);
    assert.equal(inv.data.invitations[0]?.role, 'viewer');
    const viewerClient = createApiClient({ apiKey: viewer.token, baseURL });
    const org = await viewerClient.getOrganization(w.orgA.id);
    assertMatchesSpec('getOrganization', org.status, org.data);
    const p = await viewerClient.getProject(w.projectA1);
    assert.equal(p.data.project.effective_project_permission, 'CAN_VIEW');
    const write = await sdkFailure(
      'updateProject',
      viewerClient.updateProject(w.projectA1, { project: { name: 'no' } }),
    );
    assert.equal(write.status, 403);
    assert.match(write.body.message, /viewers have read-only access/);
  });

  test('errors surface the status, our message and the request id', async () => {
    const anonymous = createApiClient({ apiKey: 'napi_not_a_real_key', baseURL });
    const e = await sdkFailure('getCurrentUserInfo', anonymous.getCurrentUserInfo());
    assert.equal(e.status, 401);
    assert.match(e.body.message, /authentication required/);
    assert.ok(e.body.request_id);
    const badName = await sdkFailure('createApiKey', member.createApiKey({ key_name: '' }));
    assert.equal(badName.status, 400);
    assert.match(badName.body.message, /key_name/);
  });
});
