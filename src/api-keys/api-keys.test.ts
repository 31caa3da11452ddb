import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../../test/helpers/app.ts';
import { buildWorld, type World } from '../../test/helpers/factories.ts';
import { assertMatchesSpec } from '../../test/helpers/spec.ts';
import { hashToken, isWellFormedToken, TOKEN_PATTERN } from '../domain/ids.ts';

describe('API keys', () => {
  let t: TestApp;
  let w: World;
  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
  });
  after(() => t.close());

  test('POST /api_keys creates a personal key shown once; GET lists it without the token', async () => {
    const res = await t.call('POST', '/api/v2/api_keys', {
      token: w.member.token,
      body: { key_name: 'laptop' },
    });
    assert.equal(res.status, 200);
    assertMatchesSpec('createApiKey', res.status, res.body);
    assert.match(res.body.key, TOKEN_PATTERN);
    assert.ok(isWellFormedToken(res.body.key));
    assert.equal(res.body.created_by, w.member.id);

    const list = await t.call('GET', '/api/v2/api_keys', { token: w.member.token });
    assert.equal(list.status, 200);
    assertMatchesSpec('listApiKeys', list.status, list.body);
    assert.ok(list.body.some((k: { id: number }) => k.id === res.body.id));
    assert.ok(!list.text.includes(res.body.key), 'a list never contains a token');
    assert.ok(!list.text.includes(hashToken(res.body.key)), 'a list never contains a token hash');

    // The new key works at once.
    const me = await t.call('GET', '/api/v2/users/me', { token: res.body.key });
    assert.equal(me.status, 200);
    assertMatchesSpec('getCurrentUserInfo', me.status, me.body);
    assert.equal(me.body.id, w.member.id);
  });

  test('DELETE /api_keys/{id} revokes at once; the revoked key answers 401', async () => {
    const created = await t.call('POST', '/api/v2/api_keys', {
      token: w.member.token,
      body: { key_name: 'tmp' },
    });
    const del = await t.call('DELETE', `/api/v2/api_keys/${created.body.id}`, { token: w.member.token });
    assert.equal(del.status, 200);
    assertMatchesSpec('revokeApiKey', del.status, del.body);
    assert.equal(del.body.revoked, true);
    assert.equal(del.body.id, created.body.id);
    const after = await t.call('GET', '/api/v2/auth', { token: created.body.key });
    assert.equal(after.status, 401);
    assertMatchesSpec('getAuthDetails', after.status, after.body);
  });

  test("someone else's personal key is 404", async () => {
    const res = await t.call('DELETE', `/api/v2/api_keys/${w.admin.keyId}`, { token: w.member.token });
    assert.equal(res.status, 404);
    assertMatchesSpec('revokeApiKey', res.status, res.body);
  });

  test('bad input is a 400 naming the field', async () => {
    const res = await t.call('POST', '/api/v2/api_keys', {
      token: w.member.token,
      body: { key_name: 'x'.repeat(65) },
    });
    assert.equal(res.status, 400);
    assert.match(res.body.message, /key_name/);
    const missing = await t.call('POST', '/api/v2/api_keys', { token: w.member.token, body: {} });
    assert.equal(missing.status, 400);
    assert.match(missing.body.message, /key_name is required/);
    const badId = await t.call('DELETE', '/api/v2/api_keys/abc', { token: w.member.token });
    assert.equal(badId.status, 400);
    assert.match(badId.body.message, /key_id/);
  });

  test('organization keys: admins create them; the response echoes project_id; members create project-scoped keys only', async () => {
    const orgKey = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
      token: w.admin.token,
      body: { key_name: 'ci' },
    });
    assert.equal(orgKey.status, 200);
    assertMatchesSpec('createOrgApiKey', orgKey.status, orgKey.body);
    assert.equal(orgKey.body.project_id, undefined);

    const auth = await t.call('GET', '/api/v2/auth', { token: orgKey.body.key });
    assert.deepEqual(auth.body, { account_id: w.orgA.id, auth_method: 'api_key_org' });

    const scoped = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
      token: w.member.token,
      body: { key_name: 'deploy', project_id: w.projectA1 },
    });
    assert.equal(scoped.status, 200);
    assert.equal(scoped.body.project_id, w.projectA1);

    const denied = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
      token: w.member.token,
      body: { key_name: 'nope' },
    });
    assert.equal(denied.status, 403);

    const foreignProject = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
      token: w.admin.token,
      body: { key_name: 'x', project_id: w.projectB1 },
    });
    assert.equal(foreignProject.status, 404);

    const byOrgKey = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
      token: w.orgKeyA.token,
      body: { key_name: 'x' },
    });
    assert.equal(byOrgKey.status, 403);
    assert.equal(byOrgKey.body.message, 'not allowed for organization API keys');

    const list = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
      token: w.orgKeyA.token,
    });
    assert.equal(list.status, 200);
    assertMatchesSpec('listOrgApiKeys', list.status, list.body);
    assert.ok(list.body.some((k: { project_id?: string }) => k.project_id === w.projectA1));

    const revoke = await t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/api_keys/${orgKey.body.id}`, {
      token: w.orgKeyA.token,
    });
    assert.equal(revoke.status, 200);
    assertMatchesSpec('revokeOrgApiKey', revoke.status, revoke.body);
    assert.equal((await t.call('GET', '/api/v2/auth', { token: orgKey.body.key })).status, 401);
  });

  test('last_used_at and last_used_from_addr are recorded without a write per request', async () => {
    const { token, keyId } = w.outsider;
    await t.call('GET', '/api/v2/auth', { token, headers: { 'x-forwarded-for': '203.0.113.9' } });
    const before = await t.db.kysely
      .selectFrom('api_keys')
      .select('last_used_at')
      .where('id', '=', keyId)
      .executeTakeFirstOrThrow();
    assert.equal(before.last_used_at, null, 'nothing written on the request path');
    const list = await t.call('GET', '/api/v2/api_keys', { token });
    const mine = list.body.find((k: { id: number }) => k.id === keyId);
    assert.ok(mine.last_used_at, 'a list flushes pending uses first');
    assert.equal(mine.last_used_from_addr, '127.0.0.1', 'X-Forwarded-For is ignored without trusted proxies');
  });
});
