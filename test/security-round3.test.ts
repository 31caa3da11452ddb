// Issue 16, finding 8: the low-severity leaks of the adversarial probe, one regression test each
// (each was seen to fail on the code before its fix).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, DIALECT, type Res, type TestApp } from './helpers/app.ts';
import { addMember, buildWorld, createProjectRecord, createUser, type World } from './helpers/factories.ts';

let t: TestApp;
let w: World;
before(async () => {
  t = await buildTestApp();
  w = await buildWorld(t.services);
});
after(() => t.close());

const same = (a: Res, b: Res, what: string) => {
  assert.equal(a.status, b.status, `${what}: ${a.text} vs ${b.text}`);
  assert.equal(a.body?.code, b.body?.code, what);
  assert.equal(a.body?.message, b.body?.message, what);
};

describe(`finding 8 (${DIALECT})`, () => {
  test('a. a /projects/shared cursor tells nobody whether a project exists', async () => {
    const guest = await createUser(t.services, 'guest');
    const share = await t.call('POST', `/api/v2/projects/${w.projectA1}/permissions`, {
      token: w.admin.token,
      body: { email: guest.email },
    });
    assert.equal(share.status, 200, share.text);
    const list = (cursor: string) =>
      t.call('GET', `/api/v2/projects/shared?cursor=${cursor}`, { token: guest.token });
    // Its own cursor works; another organization's project and a made-up id answer alike.
    assert.equal((await list(w.projectA1)).status, 200);
    const foreign = await list(w.projectB1);
    const missing = await list('missing-project-00000000');
    assert.equal(missing.status, 400, missing.text);
    same(foreign, missing, 'foreign cursor like a missing one');
    // A project of the same organization that is not shared with the guest too.
    same(await list(w.projectA2), missing, 'unshared project of the same organization');
  });

  test('b. capabilities give the plan and project count only to who may read the organization', async () => {
    const collaborator = await createUser(t.services, 'collab');
    await addMember(t.services, w.orgA.id, collaborator, 'collaborator');
    const share = await t.call('POST', `/api/v2/projects/${w.projectA1}/permissions`, {
      token: w.admin.token,
      body: { email: collaborator.email },
    });
    assert.equal(share.status, 200, share.text);
    const caps = (token: string) =>
      t.call('GET', `/api/v2/organizations/${w.orgA.id}/capabilities`, { token });
    const get = (token: string) => t.call('GET', `/api/v2/organizations/${w.orgA.id}`, { token });
    for (const [who, token] of [
      ['collaborator', collaborator.token],
      ['project-scoped key', w.projectKeyA1.token],
    ] as const) {
      assert.equal((await get(token)).status, 403, `${who} may not read the organization`);
      const c = await caps(token);
      assert.equal(c.status, 200, c.text);
      assert.equal(c.body.plan, undefined, `${who}: no plan`);
      assert.equal(c.body.projects.count, undefined, `${who}: no project count`);
      assert.equal(c.body.projects.limit, undefined, `${who}: no project limit (it names the plan)`);
      assert.equal(typeof c.body.actions['project:read'], 'object', `${who}: still its actions`);
      const p = await t.call('GET', `/api/v2/projects/${w.projectA1}/capabilities`, { token });
      assert.equal(p.status, 200, p.text);
      assert.ok(!/"plan"|"count"|"limit"/.test(p.text), `${who}: project capabilities hold none: ${p.text}`);
    }
    // Readers still get them.
    for (const token of [w.admin.token, w.member.token, w.orgKeyA.token]) {
      const c = await caps(token);
      assert.equal(c.body.plan, 'scale');
      assert.equal(typeof c.body.projects.count, 'number');
      assert.equal(typeof c.body.projects.limit, 'number');
    }
  });

  test('f. a transfer request can be cancelled, and stops working when its creator may no longer make it', async () => {
    const s = t.services;
    const admin2 = await createUser(s, 'admin2');
    await addMember(s, w.orgA.id, admin2, 'admin');
    const make = async (token: string) => {
      const pid = await createProjectRecord(s, w.orgA.id, w.admin.id, 'moving');
      const r = await t.call('POST', `/api/v2/projects/${pid}/transfer_requests`, { token });
      assert.equal(r.status, 201, r.text);
      return { pid, url: `/api/v2/projects/${pid}/transfer_requests/${r.body.id as string}` };
    };
    const accept = (url: string) =>
      t.call('PUT', url, { token: w.outsider.token, body: { org_id: w.orgB.id } });
    const status = async (url: string) => (await t.call('GET', url, { token: w.outsider.token })).body.status;

    // Cancelled by another admin of the source organization: accepting answers 410, nothing moves.
    const one = await make(admin2.token);
    assert.equal((await t.call('DELETE', one.url, { token: w.member.token })).status, 403, 'members may not');
    assert.equal(
      (await t.call('DELETE', one.url, { token: w.outsider.token })).status,
      404,
      'outsiders: 404',
    );
    assert.equal((await t.call('DELETE', one.url, { token: w.projectKeyA1.token })).status, 404);
    assert.equal((await t.call('DELETE', one.url, { token: w.admin.token })).status, 204);
    assert.equal((await t.call('DELETE', one.url, { token: w.admin.token })).status, 204, 'twice: the same');
    assert.equal(await status(one.url), 'cancelled');
    const refused = await accept(one.url);
    assert.equal(refused.status, 410, refused.text);
    assert.match(refused.body.message, /cancelled/);
    assert.equal((await t.call('GET', `/api/v2/projects/${one.pid}`, { token: w.admin.token })).status, 200);

    // Its creator demoted: the request no longer works (409 naming why); promoted again, it does.
    const two = await make(admin2.token);
    const m = await t.db.kysely
      .selectFrom('members')
      .select('id')
      .where('org_id', '=', w.orgA.id)
      .where('user_id', '=', admin2.id)
      .executeTakeFirstOrThrow();
    const setRole = (role: string) =>
      t.call('PATCH', `/api/v2/organizations/${w.orgA.id}/members/${m.id}`, {
        token: w.admin.token,
        body: { role },
      });
    assert.equal((await setRole('member')).status, 200);
    assert.equal(await status(two.url), 'withdrawn');
    const demoted = await accept(two.url);
    assert.equal(demoted.status, 409, demoted.text);
    assert.match(demoted.body.message, /no longer an admin/);
    assert.equal((await setRole('admin')).status, 200);
    assert.equal((await accept(two.url)).status, 204);

    // Made with an organization key that was then revoked: no longer works either.
    const three = await make(w.orgKeyA.token);
    assert.equal(await status(three.url), 'pending');
    const revoke = await t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/api_keys/${w.orgKeyA.id}`, {
      token: w.admin.token,
    });
    assert.equal(revoke.status, 200, revoke.text);
    const keyGone = await accept(three.url);
    assert.equal(keyGone.status, 409, keyGone.text);
    assert.match(keyGone.body.message, /key that made it was revoked/);
    // An accepted request cannot be cancelled.
    assert.equal((await t.call('DELETE', two.url, { token: w.admin.token })).status, 409);
  });

  test('c. an idempotent replay is answered only after authorization', async () => {
    const s = t.services;
    const idem = (token: string, method: 'POST', url: string, body: unknown, key: string) =>
      t.call(method, url, { token, body, headers: { 'idempotency-key': key } });
    const sameRefusal = async (token: string, url: string, body: unknown, key: string, status: number) => {
      const replay = await idem(token, 'POST', url, body, key);
      const fresh = await t.call('POST', url, { token, body });
      assert.equal(replay.headers['idempotent-replayed'], undefined, `not replayed: ${replay.text}`);
      assert.equal(replay.status, status, replay.text);
      same(replay, fresh, 'the refusal a new request gets');
    };
    // A member removed from the organization.
    const gone = await createUser(s, 'gone');
    const goneRow = await addMember(s, w.orgA.id, gone, 'member');
    const create = { project: { org_id: w.orgA.id, name: 'idem' } };
    const first = await idem(gone.token, 'POST', '/api/v2/projects', create, 'k-removed');
    assert.equal(first.status, 201, first.text);
    const again = await idem(gone.token, 'POST', '/api/v2/projects', create, 'k-removed');
    assert.equal(again.headers['idempotent-replayed'], 'true', 'replayed while still a member');
    const removed = await t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/members/${goneRow.id}`, {
      token: w.admin.token,
    });
    assert.equal(removed.status, 200, removed.text);
    await sameRefusal(gone.token, '/api/v2/projects', create, 'k-removed', 404);

    // An admin demoted to member: organization keys are admins' to create.
    const demoted = await createUser(s, 'demoted');
    const row = await addMember(s, w.orgA.id, demoted, 'admin');
    const keyUrl = `/api/v2/organizations/${w.orgA.id}/api_keys`;
    const made = await idem(demoted.token, 'POST', keyUrl, { key_name: 'idem' }, 'k-demoted');
    assert.equal(made.status, 200, made.text);
    const patch = await t.call('PATCH', `/api/v2/organizations/${w.orgA.id}/members/${row.id}`, {
      token: w.admin.token,
      body: { role: 'member' },
    });
    assert.equal(patch.status, 200, patch.text);
    await sameRefusal(demoted.token, keyUrl, { key_name: 'idem' }, 'k-demoted', 403);
  });

  test('e. explain takes the body and agrees with the real answer (canary, expired, body-refused)', async () => {
    const explain = (body: Record<string, unknown>) =>
      t.call('POST', `/api/v2/organizations/${w.orgA.id}/access/explain`, { token: w.admin.token, body });
    const keyUrl = `/api/v2/organizations/${w.orgA.id}/api_keys`;
    // Canary and expired keys: the real answer is 401, and so is explain's.
    const canary = await t.call('POST', keyUrl, {
      token: w.admin.token,
      body: { key_name: 'trap', canary: true },
    });
    assert.equal(canary.status, 200, canary.text);
    const expiring = await t.call('POST', keyUrl, {
      token: w.admin.token,
      body: { key_name: 'soon', expires_at: new Date(Date.now() + 3_600_000).toISOString() },
    });
    assert.equal(expiring.status, 200, expiring.text);
    await t.db.kysely
      .updateTable('api_keys')
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('id', '=', expiring.body.id)
      .execute();
    for (const k of [canary.body, expiring.body] as Array<{ id: number; key: string }>) {
      const real = await t.call('GET', `/api/v2/organizations/${w.orgA.id}`, { token: k.key });
      assert.equal(real.status, 401);
      const e = await explain({ key_id: k.id, operation: 'getOrganization' });
      assert.equal(e.status, 200, e.text);
      assert.equal(e.body.allowed, false, e.text);
      assert.equal(e.body.status, 401, e.text);
    }
    // Bodies that decide the answer: project_id (another organization's project: 404), canary
    // (admins only: 403 for a member), org_id of a project creation.
    const bodies: Array<[string, Record<string, unknown>]> = [
      [keyUrl, { key_name: 'pk', project_id: w.projectA1 }],
      [keyUrl, { key_name: 'pk', project_id: w.projectB1 }],
      [keyUrl, { key_name: 'pk', project_id: w.projectA1, canary: true }],
      [keyUrl, { key_name: 'ok' }],
    ];
    for (const [url, body] of bodies) {
      const real = await t.call('POST', url, { token: w.member.token, body });
      const e = await explain({ member_id: w.memberRow.id, operation: 'createOrgApiKey', body });
      assert.equal(e.status, 200, e.text);
      assert.equal(e.body.allowed, real.status < 300, `${JSON.stringify(body)}: ${real.text} vs ${e.text}`);
      assert.equal(
        e.body.status === 200 ? real.status < 300 : e.body.status === real.status,
        true,
        `${JSON.stringify(body)}: ${real.status} vs ${e.text}`,
      );
    }
    const projectBody = { project: { org_id: w.orgB.id, name: 'x' } };
    const real = await t.call('POST', '/api/v2/projects', { token: w.member.token, body: projectBody });
    const e = await explain({ member_id: w.memberRow.id, operation: 'createProject', body: projectBody });
    assert.equal(real.status, 404, real.text);
    assert.equal(e.body.status, 404, e.text);
  });

  test('d. a refusal with a NUL byte in a path parameter is audited, never a 500', async () => {
    const events = async () => (await t.db.kysely.selectFrom('audit_events').select('id').execute()).length;
    const attempts: Array<[string, string, unknown]> = [
      ['POST', `/api/v2/organizations/${w.orgA.id}%00/api_keys`, { key_name: 'x' }],
      ['DELETE', `/api/v2/organizations/${w.orgA.id}/members/${w.memberRow.id}%00`, undefined],
      ['PATCH', `/api/v2/projects/${w.projectA1}%00x`, { project: { name: 'n' } }],
      ['DELETE', `/api/v2/organizations/${w.orgA.id}/invitations/%00`, undefined],
    ];
    for (const [method, url, body] of attempts) {
      const n = await events();
      const r = await t.call(method, url, { token: w.member.token, body });
      assert.ok(r.status >= 400 && r.status < 500, `${method} ${url}: ${r.status} ${r.text}`);
      assert.equal(await events(), n + 1, `${method} ${url} (${r.status}) is audited`);
    }
  });
});
