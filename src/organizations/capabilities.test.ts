// GET /organizations/{org_id}/capabilities (extension): every action of the policy, answered for the
// caller — and each answer agrees with what the real request does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../../test/helpers/app.ts';
import { addMember, buildWorld, createUser, type World } from '../../test/helpers/factories.ts';
import { RULES } from '../policy/index.ts';

interface Caps {
  org_id: string;
  role: string | null;
  principal: string;
  plan: string;
  projects: { count: number; limit: number; recovery_window_days: number };
  actions: Record<string, { allowed: boolean; reason?: string }>;
}

describe('organization capabilities', () => {
  let t: TestApp;
  let w: World;
  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
  });
  after(() => t.close());

  const caps = async (token: string, orgId = w.orgA.id) => {
    const r = await t.call('GET', `/api/v2/organizations/${orgId}/capabilities`, { token });
    return r as { status: number; body: Caps };
  };

  test('one entry per policy action, for an admin, a member and API keys', async () => {
    const admin = await caps(w.admin.token);
    assert.equal(admin.status, 200);
    assert.deepEqual(Object.keys(admin.body.actions).sort(), Object.keys(RULES).sort());
    assert.equal(admin.body.role, 'admin');
    assert.equal(admin.body.principal, 'user');
    assert.equal(admin.body.plan, 'scale');
    assert.equal(admin.body.projects.count, 2);
    assert.equal(admin.body.projects.limit, t.config.projectLimits.scale);
    assert.equal(admin.body.projects.recovery_window_days, 7);
    for (const a of ['org_api_key:create', 'invitation:create', 'member:update', 'project:delete']) {
      assert.deepEqual(admin.body.actions[a], { allowed: true }, a);
    }

    const member = await caps(w.member.token);
    assert.equal(member.body.role, 'member');
    assert.deepEqual(member.body.actions['invitation:create'], {
      allowed: false,
      reason: 'only organization admins can invite members',
    });
    assert.equal(member.body.actions['org_api_key:create']?.allowed, false);
    assert.equal(member.body.actions['project:create']?.allowed, true);
    assert.equal(member.body.actions['project_api_key:create']?.allowed, true);
    assert.equal(member.body.actions['member:leave']?.allowed, true);

    const orgKey = await caps(w.orgKeyA.token);
    assert.equal(orgKey.body.role, null);
    assert.equal(orgKey.body.principal, 'org_key');
    assert.deepEqual(orgKey.body.actions['invitation:create'], {
      allowed: false,
      reason: 'not allowed for organization API keys',
    });
    assert.equal(orgKey.body.actions['project:delete']?.allowed, true);

    const projectKey = await caps(w.projectKeyA1.token);
    assert.equal(projectKey.body.principal, 'project_key');
    assert.equal(projectKey.body.actions['project:update']?.allowed, true, 'on its own project');
    assert.equal(projectKey.body.actions['project:delete']?.allowed, false);
  });

  test('another organization, a removed member: 404 as for every other request', async () => {
    assert.equal((await caps(w.outsider.token)).status, 404);
    assert.equal((await caps(w.removed.token)).status, 404);
    assert.equal((await caps(w.orgKeyB.token)).status, 404);
    assert.equal((await caps(w.member.token, 'org-nope-12345678')).status, 404);
  });

  test('the only admin cannot leave; with a second admin they can', async () => {
    const only = await caps(w.admin.token);
    assert.equal(only.body.actions['member:leave']?.allowed, false);
    assert.match(only.body.actions['member:leave']?.reason ?? '', /only admin/);
    const real = await t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/members/${w.adminMember.id}`, {
      token: w.admin.token,
    });
    assert.equal(real.status, 409, 'the real request is refused too');
    const second = await createUser(t.services, 'second-admin');
    const row = await addMember(t.services, w.orgA.id, second, 'admin');
    assert.equal((await caps(w.admin.token)).body.actions['member:leave']?.allowed, true);
    await t.db.kysely.deleteFrom('members').where('id', '=', row.id).execute();
  });

  test('each answer agrees with the real request (403 exactly when not allowed)', async () => {
    const org = `/api/v2/organizations/${w.orgA.id}`;
    let n = 0;
    const requests: Record<
      string,
      () => { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string; body?: unknown }
    > = {
      'org_api_key:create': () => ({ method: 'POST', url: `${org}/api_keys`, body: { key_name: `k${n++}` } }),
      'project_api_key:create': () => ({
        method: 'POST',
        url: `${org}/api_keys`,
        body: { key_name: `p${n++}`, project_id: w.projectA1 },
      }),
      'invitation:create': () => ({
        method: 'POST',
        url: `${org}/invitations`,
        body: { invitations: [{ email: `cap-${n++}@example.com`, role: 'member' }] },
      }),
      'member:update': () => ({
        method: 'PATCH',
        url: `${org}/members/${w.memberRow.id}`,
        body: { role: 'member' },
      }),
      'project:create': () => ({
        method: 'POST',
        url: '/api/v2/projects',
        body: { project: { name: `c${n++}`, org_id: w.orgA.id } },
      }),
      'project:update': () => ({
        method: 'PATCH',
        url: `/api/v2/projects/${w.projectA1}`,
        body: { project: { name: 'a1' } },
      }),
      'invitation:list': () => ({ method: 'GET', url: `${org}/invitations` }),
    };
    const principals = [w.admin.token, w.member.token, w.orgKeyA.token, w.projectKeyA1.token];
    for (const token of principals) {
      const c = (await caps(token)).body;
      for (const [action, make] of Object.entries(requests)) {
        const r = make();
        const res = await t.call(r.method, r.url, { token, body: r.body });
        const allowed = c.actions[action]?.allowed;
        assert.equal(res.status === 403, !allowed, `${c.principal}/${c.role} ${action}: ${res.status}`);
        if (!allowed) assert.equal(res.body.message, c.actions[action]?.reason, 'the same reason');
      }
    }
  });
});
