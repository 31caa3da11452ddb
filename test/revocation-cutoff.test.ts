// Lifecycle cut-off: after a revoke, a member removal or a demotion, the old credential or privilege
// gets 0 successful requests, from the very next request on (and after a warm-up that would have
// filled any per-process cache).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type Res, type TestApp } from './helpers/app.ts';
import { addMember, buildWorld, createOrgKey, createUser, type World } from './helpers/factories.ts';
import { assertMatchesSpec } from './helpers/spec.ts';

const RETRIES = 20;

describe('revocation and lifecycle cut-off', () => {
  let t: TestApp;
  let w: World;
  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
  });
  after(() => t.close());

  /** Runs the request `times` times in a row and returns every status. */
  async function repeat(times: number, fn: () => Promise<Res>, operationId: string): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < times; i++) {
      const res = await fn();
      assertMatchesSpec(operationId, res.status, res.body);
      out.push(res.status);
    }
    return out;
  }
  const all = (n: number, status: number) => Array.from({ length: n }, () => status);

  test('a revoked personal key: every endpoint refuses it from the next request', async () => {
    const u = await createUser(t.services, 'revokee');
    await addMember(t.services, w.orgA.id, u, 'admin');
    const me = () => t.call('GET', '/api/v2/users/me', { token: u.token });
    const org = () => t.call('GET', `/api/v2/organizations/${w.orgA.id}`, { token: u.token });
    assert.deepEqual(await repeat(RETRIES, me, 'getCurrentUserInfo'), all(RETRIES, 200));
    const del = await t.call('DELETE', `/api/v2/api_keys/${u.keyId}`, { token: u.token });
    assert.equal(del.status, 200);
    assertMatchesSpec('revokeApiKey', del.status, del.body);
    assert.equal(del.body.revoked, true);
    assert.deepEqual(await repeat(RETRIES, me, 'getCurrentUserInfo'), all(RETRIES, 401));
    assert.deepEqual(await repeat(RETRIES, org, 'getOrganization'), all(RETRIES, 401));
    // Revoking again (with another key of the same user) is idempotent and changes nothing.
    const other = await t.services.apiKeys.createPersonalFor(u.id, 'second');
    const again = await t.call('DELETE', `/api/v2/api_keys/${u.keyId}`, { token: other.token });
    assert.equal(again.status, 200);
    assert.equal(again.body.revoked, true);
    assert.equal((await me()).status, 401);
    assert.equal((await t.call('GET', '/api/v2/users/me', { token: other.token })).status, 200);
  });

  test('revoked organization and project-scoped keys (by an admin, by their creator, by themselves)', async () => {
    const member = w.member;
    const projectKey = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
      token: member.token,
      body: { key_name: 'deploy', project_id: w.projectA1 },
    });
    assert.equal(projectKey.status, 200);
    const orgKey = await createOrgKey(t.services, w.orgA.id, w.admin);
    const selfRevoking = await createOrgKey(t.services, w.orgA.id, w.admin);
    const cases: Array<{ token: string; keyId: number; by: string }> = [
      { token: orgKey.token, keyId: orgKey.id, by: w.admin.token },
      { token: projectKey.body.key, keyId: projectKey.body.id, by: member.token },
      { token: selfRevoking.token, keyId: selfRevoking.id, by: selfRevoking.token },
    ];
    for (const c of cases) {
      const auth = () => t.call('GET', '/api/v2/auth', { token: c.token });
      const orgs = () => t.call('GET', '/api/v2/users/me/organizations', { token: c.token });
      assert.deepEqual(await repeat(5, auth, 'getAuthDetails'), all(5, 200));
      const del = await t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/api_keys/${c.keyId}`, {
        token: c.by,
      });
      assert.equal(del.status, 200, del.text);
      assertMatchesSpec('revokeOrgApiKey', del.status, del.body);
      assert.deepEqual(await repeat(RETRIES, auth, 'getAuthDetails'), all(RETRIES, 401));
      assert.deepEqual(await repeat(RETRIES, orgs, 'getCurrentUserOrganizations'), all(RETRIES, 401));
    }
    // The revoked keys are gone from the list.
    const list = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/api_keys`, { token: w.admin.token });
    assertMatchesSpec('listOrgApiKeys', list.status, list.body);
    const ids = list.body.map((k: { id: number }) => k.id);
    for (const c of cases) assert.ok(!ids.includes(c.keyId));
  });

  test('requests racing a revoke: none that starts after the revoke answered succeeds', async () => {
    const u = await createUser(t.services, 'racer');
    let revoked = false;
    const observed: Array<{ afterRevoke: boolean; status: number }> = [];
    let stop = false;
    const hammer = async () => {
      // Capped, and yielding to the event loop each time: on SQLite every request can complete
      // without ever letting a timer run.
      for (let i = 0; i < 5000 && !stop; i++) {
        const afterRevoke = revoked;
        const res = await t.call('GET', '/api/v2/auth', { token: u.token });
        observed.push({ afterRevoke, status: res.status });
        await new Promise((r) => setImmediate(r));
      }
    };
    const workers = [hammer(), hammer(), hammer()];
    // Counted, not timed: a loaded machine may answer few requests per millisecond.
    const until = async (enough: () => boolean) => {
      for (let i = 0; i < 2000 && !enough(); i++) await new Promise((r) => setTimeout(r, 5));
    };
    await until(() => observed.length >= 10);
    const del = await t.call('DELETE', `/api/v2/api_keys/${u.keyId}`, { token: w.admin.token });
    assert.equal(del.status, 404, "another user's key is not the admin's to revoke");
    const own = await t.call('DELETE', `/api/v2/api_keys/${u.keyId}`, { token: u.token });
    assert.equal(own.status, 200);
    revoked = true;
    await until(() => observed.filter((o) => o.afterRevoke).length >= 30);
    stop = true;
    await Promise.all(workers);
    const after = observed.filter((o) => o.afterRevoke);
    assert.ok(after.length >= 30, `enough requests after the revoke (${after.length})`);
    assert.deepEqual(
      after.filter((o) => o.status !== 401),
      [],
    );
    assert.ok(
      observed.some((o) => !o.afterRevoke && o.status === 200),
      'the key worked before',
    );
  });

  test("a removed member's personal keys reach nothing in the organization from the next request", async () => {
    const u = await createUser(t.services, 'removee');
    const second = await t.services.apiKeys.createPersonalFor(u.id, 'second');
    const row = await addMember(t.services, w.orgA.id, u, 'member');
    for (const token of [u.token, second.token]) {
      assert.equal((await t.call('GET', `/api/v2/organizations/${w.orgA.id}`, { token })).status, 200);
    }
    const del = await t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/members/${row.id}`, {
      token: w.admin.token,
    });
    assert.equal(del.status, 200);
    for (const token of [u.token, second.token]) {
      const org = () => t.call('GET', `/api/v2/organizations/${w.orgA.id}`, { token });
      const members = () => t.call('GET', `/api/v2/organizations/${w.orgA.id}/members`, { token });
      const keys = () => t.call('GET', `/api/v2/organizations/${w.orgA.id}/api_keys`, { token });
      const mint = () =>
        t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
          token,
          body: { key_name: 'x', project_id: w.projectA1 },
        });
      assert.deepEqual(await repeat(RETRIES, org, 'getOrganization'), all(RETRIES, 404));
      assert.deepEqual(await repeat(RETRIES, members, 'getOrganizationMembers'), all(RETRIES, 404));
      assert.deepEqual(await repeat(5, keys, 'listOrgApiKeys'), all(5, 404));
      assert.deepEqual(await repeat(5, mint, 'createOrgApiKey'), all(5, 404));
      const orgs = await t.call('GET', '/api/v2/users/me/organizations', { token });
      assertMatchesSpec('getCurrentUserOrganizations', orgs.status, orgs.body);
      assert.deepEqual(orgs.body.organizations, []);
      // The key still authenticates: it is the user's, not the organization's (401 would log the CLI out).
      assert.equal((await t.call('GET', '/api/v2/users/me', { token })).status, 200);
    }
  });

  test('an organization key outlives the admin who created it', async () => {
    const creator = await createUser(t.services, 'creator');
    const row = await addMember(t.services, w.orgA.id, creator, 'admin');
    const created = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
      token: creator.token,
      body: { key_name: 'ci' },
    });
    assert.equal(created.status, 200);
    const del = await t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/members/${row.id}`, {
      token: w.admin.token,
    });
    assert.equal(del.status, 200);
    const res = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/members`, {
      token: created.body.key,
    });
    assert.equal(res.status, 200);
  });

  test('a demoted admin loses admin actions from the next request; reads still work', async () => {
    const u = await createUser(t.services, 'demotee');
    const row = await addMember(t.services, w.orgA.id, u, 'admin');
    const target = await createUser(t.services, 'target');
    const targetRow = await addMember(t.services, w.orgA.id, target, 'member');
    const mint = () =>
      t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
        token: u.token,
        body: { key_name: 'k' },
      });
    const patch = () =>
      t.call('PATCH', `/api/v2/organizations/${w.orgA.id}/members/${targetRow.id}`, {
        token: u.token,
        body: { role: 'member' },
      });
    const remove = () =>
      t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/members/${targetRow.id}`, { token: u.token });
    assert.deepEqual(await repeat(3, mint, 'createOrgApiKey'), all(3, 200));
    assert.deepEqual(await repeat(3, patch, 'updateOrganizationMember'), all(3, 200));
    const demote = await t.call('PATCH', `/api/v2/organizations/${w.orgA.id}/members/${row.id}`, {
      token: w.admin.token,
      body: { role: 'member' },
    });
    assert.equal(demote.status, 200);
    assert.deepEqual(await repeat(RETRIES, mint, 'createOrgApiKey'), all(RETRIES, 403));
    assert.deepEqual(await repeat(RETRIES, patch, 'updateOrganizationMember'), all(RETRIES, 403));
    assert.deepEqual(await repeat(RETRIES, remove, 'removeOrganizationMember'), all(RETRIES, 403));
    const read = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/members`, { token: u.token });
    assert.equal(read.status, 200);
    // The target is untouched.
    const still = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/members/${targetRow.id}`, {
      token: w.admin.token,
    });
    assert.equal(still.status, 200);
    assert.equal(still.body.role, 'member');
  });
});
