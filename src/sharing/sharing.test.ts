// Project sharing and the five roles, through the real app: grants to existing accounts and to
// addresses without one (sign-up link), revocation on the next request, who may share, what each
// role reaches, GET /projects/shared and effective_project_permission. Responses are checked
// against Neon's spec.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, HeartbeatBarrier, type TestApp } from '../../test/helpers/app.ts';
import {
  addMember,
  buildWorld,
  createOrgKey,
  createProjectRecord,
  createUser,
  type TestUser,
  type World,
} from '../../test/helpers/factories.ts';
import { assertMatchesSpec } from '../../test/helpers/spec.ts';
import { openJoinPage, postJoin } from '../../test/helpers/join.ts';
import { nowIso } from '../domain/time.ts';

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const MISSING_PROJECT = 'missing-project-00000000';

describe('project sharing and roles', () => {
  let t: TestApp;
  let w: World;
  let viewer: TestUser;
  let editor: TestUser;
  let collaborator: TestUser;

  const perms = (id: string) => `/api/v2/projects/${id}/permissions`;
  const grant = async (projectId: string, email: string, token: string) => {
    const res = await t.call('POST', perms(projectId), { token, body: { email } });
    assertMatchesSpec('grantPermissionToProject', res.status, res.body);
    return res;
  };
  const getProject = async (id: string, token: string) => {
    const res = await t.call('GET', `/api/v2/projects/${id}`, { token });
    assertMatchesSpec('getProject', res.status, res.body);
    return res;
  };
  const shared = async (token: string, query = '') => {
    const res = await t.call('GET', `/api/v2/projects/shared${query}`, { token });
    assertMatchesSpec('listSharedProjects', res.status, res.body);
    return res;
  };
  const outboxFor = (email: string) =>
    t.db.kysely
      .selectFrom('mail_outbox')
      .selectAll()
      .where('recipient', '=', email)
      .orderBy('created_at', 'desc')
      .execute();

  const heartbeat = new HeartbeatBarrier();
  before(async () => {
    t = await buildTestApp({}, { listenerHeartbeat: heartbeat.options });
    w = await buildWorld(t.services);
    viewer = await createUser(t.services, 'viewer');
    editor = await createUser(t.services, 'editor');
    collaborator = await createUser(t.services, 'collab');
    await addMember(t.services, w.orgA.id, viewer, 'viewer');
    await addMember(t.services, w.orgA.id, editor, 'editor');
    await addMember(t.services, w.orgA.id, collaborator, 'collaborator');
  });
  after(() => t.close());

  test('a grant to an existing account: access at once (no membership needed), listed, emailed; revoked → 404 on the next request', async () => {
    const guest = await createUser(t.services, 'guest');
    const project = await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'shared-one');
    // Before: the project does not exist for the guest (exactly like a missing one).
    const before = await getProject(project, guest.token);
    const missing = await getProject(MISSING_PROJECT, guest.token);
    assert.equal(before.status, 404);
    assert.equal(before.body.message, missing.body.message);
    assert.deepEqual((await shared(guest.token)).body, { projects: [] });

    const g = await grant(project, guest.email.toUpperCase(), w.admin.token);
    assert.equal(g.status, 200, g.text);
    assert.equal(g.body.granted_to_email, guest.email.toUpperCase());
    assert.equal(g.body.revoked_at, undefined);
    assert.deepEqual(Object.keys(g.body).sort(), ['granted_at', 'granted_to_email', 'id']);

    const read = await getProject(project, guest.token);
    assert.equal(read.status, 200, read.text);
    assert.equal(read.body.project.effective_project_permission, 'CAN_EDIT');
    // Collaborator rights: rename yes, delete no, other projects of the organization never.
    const rename = await t.call('PATCH', `/api/v2/projects/${project}`, {
      token: guest.token,
      body: { project: { name: 'renamed by guest' } },
    });
    assert.equal(rename.status, 200, rename.text);
    assertMatchesSpec('updateProject', rename.status, rename.body);
    const del = await t.call('DELETE', `/api/v2/projects/${project}`, { token: guest.token });
    assert.equal(del.status, 403);
    assertMatchesSpec('deleteProject', del.status, del.body);
    assert.match(del.body.message, /only organization admins can delete projects/);
    assert.equal((await getProject(w.projectA2, guest.token)).status, 404);
    assert.equal(
      (await t.call('GET', `/api/v2/organizations/${w.orgA.id}`, { token: guest.token })).status,
      404,
    );
    const list = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}`, { token: guest.token });
    assert.equal(list.status, 404, 'a grant is no membership: the organization stays invisible');

    const sharedList = await shared(guest.token);
    assert.deepEqual(
      sharedList.body.projects.map((p: { id: string }) => p.id),
      [project],
    );
    assert.equal(sharedList.body.projects[0].effective_project_permission, 'CAN_EDIT');
    assert.equal(sharedList.body.projects[0].org_id, w.orgA.id);
    assert.equal(sharedList.body.pagination.cursor, project);

    const listed = await t.call('GET', perms(project), { token: w.admin.token });
    assert.equal(listed.status, 200);
    assertMatchesSpec('listProjectPermissions', listed.status, listed.body);
    assert.deepEqual(
      listed.body.project_permissions.map((p: { id: string }) => p.id),
      [g.body.id],
    );
    const mails = await outboxFor(guest.email);
    assert.equal(mails.length, 1);
    assert.equal(mails[0]?.kind, 'share.added');
    assert.match(mails[0]?.text_body ?? '', /shared the project "shared-one"/);

    // Granting again answers the same grant; nothing new is written or sent.
    const again = await grant(project, guest.email, w.member.token);
    assert.equal(again.status, 200);
    assert.equal(again.body.id, g.body.id);
    assert.equal((await outboxFor(guest.email)).length, 1);

    const revoked = await t.call('DELETE', `${perms(project)}/${g.body.id}`, { token: w.admin.token });
    assert.equal(revoked.status, 200, revoked.text);
    assertMatchesSpec('revokePermissionFromProject', revoked.status, revoked.body);
    assert.equal(revoked.body.id, g.body.id);
    assert.ok(revoked.body.revoked_at, 'revoked_at is set');
    // The very next request (same key, cached principal) no longer reaches the project.
    const after = await getProject(project, guest.token);
    assert.equal(after.status, 404);
    assert.deepEqual(
      { code: after.body.code, message: after.body.message },
      { code: missing.body.code, message: missing.body.message },
    );
    assert.deepEqual((await shared(guest.token)).body, { projects: [] });
    const none = await t.call('GET', perms(project), { token: w.admin.token });
    assert.deepEqual(none.body, { project_permissions: [] });
    // Revoking again answers the revoked grant; a revoked holder cannot revoke anything.
    const twice = await t.call('DELETE', `${perms(project)}/${g.body.id}`, { token: w.admin.token });
    assert.equal(twice.status, 200);
    assert.equal(twice.body.revoked_at, revoked.body.revoked_at);
    const byGuest = await t.call('DELETE', `${perms(project)}/${g.body.id}`, { token: guest.token });
    assert.equal(byGuest.status, 404);
  });

  test('a revocation written by another tool (plain SQL) is seen by the next request', async () => {
    const guest = await createUser(t.services, 'sqlguest');
    const project = await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'sql-revoke');
    const g = await grant(project, guest.email, w.admin.token);
    assert.equal((await getProject(project, guest.token)).status, 200);
    await t.db.kysely
      .updateTable('project_permissions')
      .set({ revoked_at: nowIso() })
      .where('id', '=', g.body.id)
      .execute();
    // SQLite: the trigger's version bump is read by the very next request. PostgreSQL: once the
    // trigger's notification has arrived, which the heartbeat barrier waits for (not a timer).
    await heartbeat.sync(t);
    assert.equal((await getProject(project, guest.token)).status, 404);
  });

  test('an address without an account gets a sign-up link; after signing up the project is theirs to use', async () => {
    const project = await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'for-newcomer');
    const email = `newcomer-${Date.now()}@example.com`;
    const g = await grant(project, email, w.member.token);
    assert.equal(g.status, 200, g.text);
    const [mail] = await outboxFor(email);
    assert.equal(mail?.kind, 'share.new_account');
    const link = /http:\/\/orgplane\.test\/shares\/accept\?token=[A-Za-z0-9_-]+/.exec(
      mail?.text_body ?? '',
    )?.[0];
    assert.ok(link, 'the email carries a sign-up link on PUBLIC_URL');
    const token = new URL(link).searchParams.get('token') ?? '';
    const stored = await t.db.kysely
      .selectFrom('project_permissions')
      .selectAll()
      .where('id', '=', g.body.id)
      .executeTakeFirstOrThrow();
    assert.ok(stored.signup_token_hash && !stored.signup_token_hash.includes(token), 'only a hash is stored');

    const page = await openJoinPage(t, `/shares/accept?token=${token}`);
    assert.equal(page.page.status, 200);
    assert.match(page.page.text, /for-newcomer/);
    const mismatch = await postJoin(t, page, {
      name: 'Nia',
      password: 'correct horse battery',
      password_confirm: 'other horse battery',
    });
    assert.equal(mismatch.status, 400);
    // Without the page's cookie and CSRF field, or from a foreign origin: refused, nothing written.
    const bare = await t.call('POST', '/shares/accept', {
      body: form({
        token,
        name: 'Nia',
        password: 'correct horse battery',
        password_confirm: 'correct horse battery',
      }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(bare.status, 403);
    const foreign = await postJoin(
      t,
      page,
      { name: 'Nia', password: 'correct horse battery', password_confirm: 'correct horse battery' },
      { origin: 'https://evil.example' },
    );
    assert.equal(foreign.status, 403);
    const done = await postJoin(t, page, {
      name: 'Nia <b>',
      password: 'correct horse battery',
      password_confirm: 'correct horse battery',
    });
    assert.equal(done.status, 200, done.text);
    assert.ok(!done.text.includes('<b>'), 'the name is escaped');
    assert.ok(String(done.headers['set-cookie'] ?? '').length > 0, 'signed in to the console');
    const key = /<code id="api-key">([^<]+)<\/code>/.exec(done.text)?.[1];
    assert.ok(key, 'a first personal key is shown');
    const read = await getProject(project, key);
    assert.equal(read.status, 200, read.text);
    assert.equal(read.body.project.effective_project_permission, 'CAN_EDIT');
    const list = await shared(key);
    assert.deepEqual(
      list.body.projects.map((p: { id: string }) => p.id),
      [project],
    );
    // The new account belongs to no organization: the grant is its only access.
    const orgs = await t.call('GET', '/api/v2/users/me/organizations', { token: key });
    assert.deepEqual(orgs.body.organizations, []);
    // Single use.
    assert.equal((await t.call('GET', `/shares/accept?token=${token}`)).status, 404);
  });

  test('revoking a pending grant kills its sign-up link and cancels the unsent email', async () => {
    const project = await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'revoked-link');
    const email = `late-${Date.now()}@example.com`;
    const g = await grant(project, email, w.admin.token);
    const [mail] = await outboxFor(email);
    const token = /token=([A-Za-z0-9_-]+)/.exec(mail?.text_body ?? '')?.[1] ?? '';
    const r = await t.call('DELETE', `${perms(project)}/${g.body.id}`, { token: w.admin.token });
    assert.equal(r.status, 200);
    assert.equal((await outboxFor(email))[0]?.status, 'cancelled');
    const page = await t.call('GET', `/shares/accept?token=${token}`);
    assert.equal(page.status, 404);
  });

  test('who may share: admin, member, a user it is shared with, organization keys; not project keys, editor or viewer', async () => {
    const project = await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'who-shares');
    const guest = await createUser(t.services, 'sharer');
    assert.equal((await grant(project, guest.email, w.admin.token)).status, 200);
    const projectKey = await createOrgKey(t.services, w.orgA.id, w.admin, project);
    const cases: Array<[string, string, number, RegExp?]> = [
      ['member', w.member.token, 200],
      ['shared guest', guest.token, 200],
      ['org key', w.orgKeyA.token, 200],
      // A key confined to one project hands out no access to people (it would outlive the key).
      ['project key (own project)', projectKey.token, 403],
      ['project key (other project)', w.projectKeyA1.token, 404],
      [
        'editor',
        editor.token,
        403,
        /^only organization admins and members \(and users the project is shared with\) can share projects$/,
      ],
      ['viewer', viewer.token, 403, /viewers have read-only access/],
      ['collaborator without a grant', collaborator.token, 404],
      ['outsider', w.outsider.token, 404],
      ["B's org key", w.orgKeyB.token, 404],
    ];
    for (const [label, token, want, message] of cases) {
      const target = await createUser(t.services, 'target');
      const res = await grant(project, target.email, token);
      assert.equal(res.status, want, `${label}: ${res.text}`);
      if (message) assert.match(res.body.message, message, label);
      const holds = await getProject(project, target.token);
      assert.equal(holds.status, want === 200 ? 200 : 404, `${label}: the target's access`);
    }
    const granters = await t.db.kysely
      .selectFrom('project_permissions')
      .select(['granted_by'])
      .where('project_id', '=', project)
      .execute();
    assert.ok(
      granters.some((g) => g.granted_by === null),
      'keys are recorded as no user',
    );
    // A project key may still take access away.
    const victim = await createUser(t.services, 'victim');
    const g = await grant(project, victim.email, w.admin.token);
    const r = await t.call('DELETE', `${perms(project)}/${g.body.id}`, { token: projectKey.token });
    assert.equal(r.status, 200, r.text);
    // Missing project and missing grant.
    assert.equal((await grant(MISSING_PROJECT, guest.email, w.admin.token)).status, 404);
    const unknown = await t.call('DELETE', `${perms(project)}/00000000-0000-4000-8000-000000000000`, {
      token: w.admin.token,
    });
    assert.equal(unknown.status, 404);
    assertMatchesSpec('revokePermissionFromProject', unknown.status, unknown.body);
    // A grant of another project cannot be revoked through this one.
    const other = await grant(w.projectA2, guest.email, w.admin.token);
    const cross = await t.call('DELETE', `${perms(project)}/${other.body.id}`, { token: w.admin.token });
    assert.equal(cross.status, 404);
    assert.equal((await getProject(w.projectA2, guest.token)).status, 200);
    // Malformed addresses are 400 naming the field.
    for (const email of ['not-an-email', 'a@b', 'x@example.com\r\nBcc: y@evil.example']) {
      const bad = await grant(project, email, w.admin.token);
      assert.equal(bad.status, 400, email);
      assert.match(bad.body.message, /email/);
    }
  });

  test('viewer: reads the organization, members and every project (CAN_VIEW); writes nothing; a grant makes it CAN_EDIT there', async () => {
    const project = await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'viewed');
    for (const url of [
      `/api/v2/organizations/${w.orgA.id}`,
      `/api/v2/organizations/${w.orgA.id}/members`,
      `/api/v2/projects?org_id=${w.orgA.id}`,
    ]) {
      assert.equal((await t.call('GET', url, { token: viewer.token })).status, 200, url);
    }
    const list = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}&limit=400`, {
      token: viewer.token,
    });
    assertMatchesSpec('listProjects', list.status, list.body);
    assert.ok(list.body.projects.length >= 3);
    assert.ok(
      list.body.projects.every(
        (p: { effective_project_permission: string }) => p.effective_project_permission === 'CAN_VIEW',
      ),
    );
    const read = await getProject(project, viewer.token);
    assert.equal(read.body.project.effective_project_permission, 'CAN_VIEW');

    const writes: Array<[string, 'POST' | 'PATCH' | 'DELETE', string, unknown]> = [
      ['updateProject', 'PATCH', `/api/v2/projects/${project}`, { project: { name: 'nope' } }],
      ['deleteProject', 'DELETE', `/api/v2/projects/${project}`, undefined],
      ['createProject', 'POST', '/api/v2/projects', { project: { org_id: w.orgA.id } }],
      [
        'createOrgApiKey',
        'POST',
        `/api/v2/organizations/${w.orgA.id}/api_keys`,
        { key_name: 'v', project_id: project },
      ],
      [
        'createOrganizationInvitations',
        'POST',
        `/api/v2/organizations/${w.orgA.id}/invitations`,
        { invitations: [{ email: 'v@example.com', role: 'member' }] },
      ],
    ];
    for (const [op, method, url, body] of writes) {
      const res = await t.call(method, url, { token: viewer.token, body });
      assert.equal(res.status, 403, `${op}: ${res.text}`);
      assertMatchesSpec(op, res.status, res.body);
      assert.match(res.body.message, /admin/, op);
    }
    assert.equal((await getProject(project, w.admin.token)).body.project.name, 'viewed');

    assert.equal((await grant(project, viewer.email, w.admin.token)).status, 200);
    const granted = await getProject(project, viewer.token);
    assert.equal(granted.body.project.effective_project_permission, 'CAN_EDIT');
    const rename = await t.call('PATCH', `/api/v2/projects/${project}`, {
      token: viewer.token,
      body: { project: { name: 'viewer renamed' } },
    });
    assert.equal(rename.status, 200);
    const after = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}&limit=400`, {
      token: viewer.token,
    });
    const mine = after.body.projects.find((p: { id: string }) => p.id === project);
    assert.equal(mine.effective_project_permission, 'CAN_EDIT');
    // Still read-only elsewhere.
    const other = await t.call('PATCH', `/api/v2/projects/${w.projectA2}`, {
      token: viewer.token,
      body: { project: { name: 'nope' } },
    });
    assert.equal(other.status, 403);
    assert.match(other.body.message, /viewers have read-only access/);
  });

  test('collaborator: no organization-level access (403); sees only the projects shared with them; others answer 404', async () => {
    const project = await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'for-collab');
    for (const url of [
      `/api/v2/organizations/${w.orgA.id}`,
      `/api/v2/organizations/${w.orgA.id}/members`,
      `/api/v2/organizations/${w.orgA.id}/invitations`,
    ]) {
      const res = await t.call('GET', url, { token: collaborator.token });
      assert.equal(res.status, 403, url);
      assert.match(res.body.message, /collaborators have no organization-level access/);
    }
    const empty = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}`, { token: collaborator.token });
    assert.equal(empty.status, 200);
    assertMatchesSpec('listProjects', empty.status, empty.body);
    assert.deepEqual(empty.body.projects, []);
    assert.equal((await getProject(project, collaborator.token)).status, 404);
    const create = await t.call('POST', '/api/v2/projects', {
      token: collaborator.token,
      body: { project: { org_id: w.orgA.id } },
    });
    assert.equal(create.status, 403);

    const g = await grant(project, collaborator.email, w.member.token);
    const list = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}&limit=400`, {
      token: collaborator.token,
    });
    assert.deepEqual(
      list.body.projects.map((p: { id: string }) => p.id),
      [project],
      'exactly the shared project, never another of the organization',
    );
    assert.equal(list.body.projects[0].effective_project_permission, 'CAN_EDIT');
    assert.equal((await getProject(project, collaborator.token)).status, 200);
    assert.equal((await getProject(w.projectA1, collaborator.token)).status, 404);
    await t.call('DELETE', `${perms(project)}/${g.body.id}`, { token: w.admin.token });
    assert.equal((await getProject(project, collaborator.token)).status, 404);
    const gone = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}`, { token: collaborator.token });
    assert.deepEqual(gone.body.projects, []);
  });

  test("editor: the member's rights on projects, but no project-scoped keys, transfers in or sharing (new model)", async () => {
    const project = await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'edited');
    const read = await getProject(project, editor.token);
    assert.equal(read.body.project.effective_project_permission, 'CAN_EDIT');
    const rename = await t.call('PATCH', `/api/v2/projects/${project}`, {
      token: editor.token,
      body: { project: { name: 'editor renamed' } },
    });
    assert.equal(rename.status, 200);
    const create = await t.call('POST', '/api/v2/projects', {
      token: editor.token,
      body: { project: { org_id: w.orgA.id, name: 'by editor' } },
    });
    assert.equal(create.status, 201, create.text);
    assertMatchesSpec('createProject', create.status, create.body);
    assert.equal(create.body.project.effective_project_permission, 'CAN_EDIT');
    const del = await t.call('DELETE', `/api/v2/projects/${project}`, { token: editor.token });
    assert.equal(del.status, 403);
    const key = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
      token: editor.token,
      body: { key_name: 'e', project_id: project },
    });
    assert.equal(key.status, 403);
    assert.match(key.body.message, /only organization admins and members can create project-scoped API keys/);
  });

  test('effective_project_permission: admin CAN_MANAGE, member CAN_EDIT; omitted for keys and personal projects', async () => {
    assert.equal(
      (await getProject(w.projectA1, w.admin.token)).body.project.effective_project_permission,
      'CAN_MANAGE',
    );
    assert.equal(
      (await getProject(w.projectA1, w.member.token)).body.project.effective_project_permission,
      'CAN_EDIT',
    );
    const byKey = await getProject(w.projectA1, w.orgKeyA.token);
    assert.equal('effective_project_permission' in byKey.body.project, false);
    const byProjectKey = await getProject(w.projectA1, w.projectKeyA1.token);
    assert.equal('effective_project_permission' in byProjectKey.body.project, false);
    const listByKey = await t.call('GET', '/api/v2/projects', { token: w.orgKeyA.token });
    assert.ok(listByKey.body.projects.every((p: object) => !('effective_project_permission' in p)));
    const listByAdmin = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}`, { token: w.admin.token });
    assert.ok(
      listByAdmin.body.projects.every(
        (p: { effective_project_permission: string }) => p.effective_project_permission === 'CAN_MANAGE',
      ),
    );
    const personal = await createProjectRecord(t.services, null, w.admin.id, 'personal');
    const p = await getProject(personal, w.admin.token);
    assert.equal(p.status, 200);
    assert.equal('effective_project_permission' in p.body.project, false);
  });

  test('personal projects can be shared by their owner; the holder reads them, nobody else does', async () => {
    const personal = await createProjectRecord(t.services, null, w.member.id, 'member-personal');
    const guest = await createUser(t.services, 'pguest');
    assert.equal((await getProject(personal, guest.token)).status, 404);
    assert.equal((await grant(personal, guest.email, w.admin.token)).status, 404, 'not the owner: invisible');
    assert.equal((await grant(personal, guest.email, w.orgKeyA.token)).status, 404);
    const g = await grant(personal, guest.email, w.member.token);
    assert.equal(g.status, 200);
    const read = await getProject(personal, guest.token);
    assert.equal(read.status, 200);
    assert.equal('effective_project_permission' in read.body.project, false);
    const list = await shared(guest.token);
    assert.deepEqual(
      list.body.projects.map((p: { id: string }) => p.id),
      [personal],
    );
    assert.equal('effective_project_permission' in list.body.projects[0], false);
    assert.equal((await getProject(personal, w.outsider.token)).status, 404);
  });

  test('GET /projects/shared: keyset pages, search, limit bounds; keys get an empty list', async () => {
    const guest = await createUser(t.services, 'pager');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = await createProjectRecord(t.services, w.orgA.id, w.admin.id, `page-${i}`);
      ids.push(id);
      await grant(id, guest.email, w.admin.token);
    }
    const newestFirst = [...ids].reverse();
    const first = await shared(guest.token, '?limit=2');
    assert.deepEqual(
      first.body.projects.map((p: { id: string }) => p.id),
      newestFirst.slice(0, 2),
    );
    const second = await shared(guest.token, `?limit=2&cursor=${first.body.pagination.cursor}`);
    assert.deepEqual(
      second.body.projects.map((p: { id: string }) => p.id),
      newestFirst.slice(2),
    );
    const past = await shared(guest.token, `?limit=2&cursor=${second.body.pagination.cursor}`);
    assert.deepEqual(past.body, { projects: [] });
    const search = await shared(guest.token, '?search=PAGE-1');
    assert.deepEqual(
      search.body.projects.map((p: { id: string }) => p.id),
      [ids[1]],
    );
    for (const q of ['?limit=0', '?limit=401', '?cursor=no-such-project-00000000']) {
      const bad = await t.call('GET', `/api/v2/projects/shared${q}`, { token: guest.token });
      assert.equal(bad.status, 400, q);
      assertMatchesSpec('listSharedProjects', bad.status, bad.body);
    }
    // Neon's CLI calls it with any key after GET /projects: keys are not users, nothing is shared with them.
    for (const token of [w.orgKeyA.token, w.projectKeyA1.token]) {
      const res = await shared(token, '?limit=100');
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { projects: [] });
    }
    assert.equal((await t.call('GET', '/api/v2/projects/shared')).status, 401);
  });

  test('every role can be invited and joins with it; the last admin cannot be demoted to any role', async () => {
    for (const role of ['admin', 'member', 'editor', 'viewer', 'collaborator']) {
      const u = await createUser(t.services, `inv-${role}`);
      const res = await t.call('POST', `/api/v2/organizations/${w.orgB.id}/invitations`, {
        token: w.outsider.token,
        body: { invitations: [{ email: u.email, role }] },
      });
      assert.equal(res.status, 200, res.text);
      assertMatchesSpec('createOrganizationInvitations', res.status, res.body);
      assert.equal(res.body.invitations[0].role, role);
      const m = await t.db.kysely
        .selectFrom('members')
        .select('role')
        .where('org_id', '=', w.orgB.id)
        .where('user_id', '=', u.id)
        .executeTakeFirstOrThrow();
      assert.equal(m.role, role);
    }
    // The join link of an address without an account carries its role too.
    const email = `joiner-${Date.now()}@example.com`;
    const inv = await t.call('POST', `/api/v2/organizations/${w.orgB.id}/invitations`, {
      token: w.outsider.token,
      body: { invitations: [{ email, role: 'viewer' }] },
    });
    assert.equal(inv.status, 200);
    const [mail] = await outboxFor(email);
    const token = /token=([A-Za-z0-9_-]+)/.exec(mail?.text_body ?? '')?.[1] ?? '';
    const joined = await t.services.invitations.accept(token, {
      name: 'Vi',
      password: 'correct horse battery',
    });
    assert.equal(joined.kind, 'created');
    const vm = await t.db.kysely
      .selectFrom('members')
      .innerJoin('users', 'users.id', 'members.user_id')
      .select('members.role')
      .where('members.org_id', '=', w.orgB.id)
      .where('users.email_lower', '=', email)
      .executeTakeFirstOrThrow();
    assert.equal(vm.role, 'viewer');

    // orgB's only admin is outsider (the invited admin above makes two: demote that one first).
    const admins = await t.db.kysely
      .selectFrom('members')
      .select(['id', 'user_id'])
      .where('org_id', '=', w.orgB.id)
      .where('role', '=', 'admin')
      .execute();
    const extra = admins.find((a) => a.user_id !== w.outsider.id);
    assert.ok(extra);
    const demoteExtra = await t.call('PATCH', `/api/v2/organizations/${w.orgB.id}/members/${extra.id}`, {
      token: w.outsider.token,
      body: { role: 'viewer' },
    });
    assert.equal(demoteExtra.status, 200);
    const last = admins.find((a) => a.user_id === w.outsider.id);
    assert.ok(last);
    for (const role of ['member', 'editor', 'viewer', 'collaborator']) {
      const res = await t.call('PATCH', `/api/v2/organizations/${w.orgB.id}/members/${last.id}`, {
        token: w.orgKeyB.token,
        body: { role },
      });
      assert.equal(res.status, 409, role);
      assertMatchesSpec('updateOrganizationMember', res.status, res.body);
      await assert.rejects(
        t.services.members.setRoleByEmail(w.orgB.id, w.outsider.email, role),
        /only admin/,
      );
    }
    // The operator path changes roles like PATCH does.
    const changed = await t.services.members.setRoleByEmail(w.orgB.id, email, 'collaborator');
    assert.equal(changed.role, 'collaborator');
  });

  test("a transfer ends the grants made by the source organization's members and keys", async () => {
    const project = await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'moving');
    const guest = await createUser(t.services, 'guest-granter');
    const byAdmin = await grant(project, guest.email, w.admin.token);
    const byMemberTarget = await createUser(t.services, 'by-member');
    const byMember = await grant(project, byMemberTarget.email, w.member.token);
    const byKeyTarget = await createUser(t.services, 'by-key');
    const byKey = await grant(project, byKeyTarget.email, w.orgKeyA.token);
    const byGuestTarget = await createUser(t.services, 'by-guest');
    const byGuest = await grant(project, byGuestTarget.email, guest.token);
    for (const g of [byAdmin, byMember, byKey, byGuest]) assert.equal(g.status, 200, g.text);
    assert.equal((await getProject(project, byKeyTarget.token)).status, 200);

    // The admin of A is made an admin of B too, and moves the project to B.
    await addMember(t.services, w.orgB.id, w.admin, 'admin');
    const moved = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/projects/transfer`, {
      token: w.admin.token,
      body: { destination_org_id: w.orgB.id, project_ids: [project] },
    });
    assert.equal(moved.status, 200, moved.text);
    const live = await t.db.kysely
      .selectFrom('project_permissions')
      .select(['id', 'revoked_at'])
      .where('project_id', '=', project)
      .execute();
    const revoked = (id: string) => live.find((r) => r.id === id)?.revoked_at !== null;
    assert.ok(revoked(byAdmin.body.id), "granted by A's admin: ended");
    assert.ok(revoked(byMember.body.id), "granted by A's member: ended");
    assert.ok(revoked(byKey.body.id), "granted by A's key: ended");
    assert.ok(!revoked(byGuest.body.id), 'granted by someone who is not of A: kept');
    assert.equal((await getProject(project, byKeyTarget.token)).status, 404);
    assert.equal((await getProject(project, byMemberTarget.token)).status, 404);
    assert.equal((await getProject(project, byGuestTarget.token)).status, 200);
  });
});
