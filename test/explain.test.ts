// POST /organizations/{org_id}/access/explain beyond the authorization matrix (which compares it
// with the real request for every cell): every operation of the API is explainable, project-level
// operations agree with real requests, and the endpoint itself is for admins and changes nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OPERATIONS } from '../src/access/explain.service.ts';
import { buildTestApp, DIALECT, type TestApp } from './helpers/app.ts';
import { buildWorld, createProjectRecord, createUser, type World } from './helpers/factories.ts';

const withoutId = (b: unknown): unknown => {
  const { request_id: _r, ...rest } = (b ?? {}) as Record<string, unknown>;
  return rest;
};

describe(`access/explain (${DIALECT})`, () => {
  let t: TestApp;
  let w: World;
  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
  });
  after(() => t.close());
  const explain = (body: unknown, token = w.admin.token) =>
    t.call('POST', `/api/v2/organizations/${w.orgA.id}/access/explain`, { token, body });

  test('every operation id of the OpenAPI document can be explained', async () => {
    const doc = (await t.call('GET', '/api/v2/openapi.json')).body as {
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    assert.ok(ids.length >= 30);
    const missing = ids.filter((id) => id === undefined || !(id in OPERATIONS));
    assert.deepEqual(missing, [], 'add these operations to OPERATIONS in src/access/explain.service.ts');
  });

  test('project-level operations: explain agrees with the real request', async () => {
    const cases: Array<{
      operation: string;
      method: 'GET' | 'PATCH' | 'DELETE';
      path: (p: string) => string;
      body?: unknown;
    }> = [
      { operation: 'getProject', method: 'GET', path: (p) => `/api/v2/projects/${p}` },
      {
        operation: 'updateProject',
        method: 'PATCH',
        path: (p) => `/api/v2/projects/${p}`,
        body: { project: { name: 'n' } },
      },
      { operation: 'deleteProject', method: 'DELETE', path: (p) => `/api/v2/projects/${p}` },
    ];
    const who = [
      { name: 'project key', id: { key_id: w.projectKeyA1.id }, token: w.projectKeyA1.token },
      { name: 'member', id: { key_id: w.member.keyId }, token: w.member.token },
      { name: 'org key A', id: { key_id: w.orgKeyA.id }, token: w.orgKeyA.token },
    ];
    let compared = 0;
    for (const c of cases) {
      for (const p of who) {
        for (const own of [true, false]) {
          const project = own
            ? w.projectA1
            : await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'x');
          const e = await explain({ ...p.id, operation: c.operation, target: project });
          assert.equal(e.status, 200, e.text);
          const real = await t.call(c.method, c.path(project), { token: p.token, body: c.body });
          const ok = real.status >= 200 && real.status < 300;
          const label = `${c.operation} × ${p.name} × ${own ? 'A1' : 'other'}`;
          assert.equal(e.body.allowed, ok, `${label}: ${e.text} vs ${real.status}`);
          if (!ok) assert.equal(e.body.status, real.status, label);
          compared++;
          if (ok && c.operation === 'deleteProject') {
            await t.call('POST', `/api/v2/projects/${project}/recover`, { token: w.admin.token });
          }
        }
      }
    }
    assert.equal(compared, 18);
  });

  test('the answer names the rule and a reason; admins and org keys only; bad input is 400', async () => {
    const e = await explain({ key_id: w.orgKeyA.id, operation: 'createOrganizationInvitations' });
    assert.equal(e.status, 200);
    assert.deepEqual(Object.keys(e.body).sort(), ['allowed', 'reason', 'rule', 'status']);
    assert.equal(e.body.allowed, false);
    assert.equal(e.body.status, 403);
    assert.equal(e.body.rule, 'invitation:create: deny org_key');
    assert.match(e.body.reason, /organization API keys/);
    const a = await explain({
      email: w.admin.email.toUpperCase(),
      operation: 'createOrganizationInvitations',
    });
    assert.deepEqual(a.body, {
      allowed: true,
      status: 200,
      rule: 'invitation:create: allow admin',
      reason: 'Allowed: organization admins may invite members.',
    });
    const m = await explain({ member_id: w.memberRow.id, operation: 'updateOrganizationMember' });
    assert.equal(m.body.rule, 'member:update: deny member');
    const nobody = await explain({ email: 'nobody@example.com', operation: 'getOrganization' });
    assert.equal(nobody.status, 404);

    assert.equal((await explain({ operation: 'getOrganization' })).status, 400);
    assert.equal(
      (await explain({ key_id: 1, email: 'x@example.com', operation: 'getOrganization' })).status,
      400,
    );
    assert.equal((await explain({ key_id: 1, operation: 'noSuchOperation' })).status, 400);
    assert.equal((await explain({ key_id: 987654, operation: 'getOrganization' })).status, 404);
    assert.equal(
      (await explain({ key_id: w.orgKeyA.id, operation: 'getProject' })).status,
      400,
      'target needed',
    );
    assert.equal((await explain({ key_id: 1, operation: 'getOrganization' }, w.member.token)).status, 403);
    assert.equal((await explain({ key_id: 1, operation: 'getOrganization' }, w.outsider.token)).status, 404);
    assert.equal(
      (await explain({ key_id: w.member.keyId, operation: 'getOrganization' }, w.orgKeyA.token)).status,
      200,
    );
    // Nothing was written by explaining: no event, no change.
    const events = await t.db.kysely
      .selectFrom('audit_events')
      .select('id')
      .where('action', 'like', 'access%')
      .execute();
    assert.equal(events.length, 0);
  });

  test('only keys and people of the organization in the path are explained; the rest is a 404 like a missing key', async () => {
    const missing = await explain({ key_id: 987654, operation: 'getOrganization' });
    assert.equal(missing.status, 404);
    const foreignUser = await createUser(t.services, 'foreign');
    const revokedForeign = await t.services.apiKeys.createPersonalFor(foreignUser.id, 'old');
    await t.db.kysely
      .updateTable('api_keys')
      .set({ revoked_at: new Date().toISOString() })
      .where('id', '=', revokedForeign.row.id)
      .execute();
    // Another organization's key, an outsider's personal key (live or revoked), an address with
    // an account elsewhere and one with none: all answer exactly as a key or person that is not there.
    for (const body of [
      { key_id: w.orgKeyB.id },
      { key_id: w.outsider.keyId },
      { key_id: revokedForeign.row.id },
      { key_id: w.removed.keyId },
    ]) {
      const e = await explain({ ...body, operation: 'getOrganization' });
      assert.equal(e.status, 404, JSON.stringify(body));
      assert.deepEqual(withoutId(e.body), withoutId(missing.body), JSON.stringify(body));
    }
    const noAccount = await explain({ email: 'nobody-at-all@example.com', operation: 'getOrganization' });
    assert.equal(noAccount.status, 404);
    for (const email of [w.outsider.email, foreignUser.email, w.removed.email]) {
      const e = await explain({ email, operation: 'getOrganization' });
      assert.equal(e.status, 404, email);
      assert.deepEqual(withoutId(e.body), withoutId(noAccount.body), email);
    }
    // People of the organization are explained: a member, and a collaborator on one of its projects.
    const guest = await createUser(t.services, 'guest');
    const share = await t.call('POST', `/api/v2/projects/${w.projectA1}/permissions`, {
      token: w.admin.token,
      body: { email: guest.email },
    });
    assert.equal(share.status, 200, share.text);
    assert.equal(
      (await explain({ email: guest.email, operation: 'getProject', target: w.projectA1 })).body.allowed,
      true,
    );
    assert.equal((await explain({ key_id: guest.keyId, operation: 'getOrganization' })).status, 200);
    assert.equal((await explain({ key_id: w.member.keyId, operation: 'getOrganization' })).status, 200);
  });
});
