// Rate limits per key (Neon: 700/min, and 10/s for creating organization keys), here at small figures.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, TestClock, type Res, type TestApp } from './helpers/app.ts';
import { buildWorld, createUser, type World } from './helpers/factories.ts';
import { assertMatchesSpec } from './helpers/spec.ts';
import { loadConfig } from '../src/config.ts';

function assert429(res: Res, operationId: string): void {
  assert.equal(res.status, 429, res.text);
  assertMatchesSpec(operationId, res.status, res.body);
  assert.deepEqual(Object.keys(res.body).sort(), ['code', 'message', 'request_id']);
  assert.equal(res.body.code, 'RATE_LIMITED');
  assert.match(res.body.message, /rate limit/);
  const retry = Number(res.headers['retry-after']);
  assert.ok(
    Number.isInteger(retry) && retry >= 1 && retry <= 60,
    `Retry-After ${String(res.headers['retry-after'])}`,
  );
  assert.ok(res.headers['x-ratelimit-limit'] !== undefined);
  assert.equal(String(res.headers['x-ratelimit-remaining']), '0');
  assert.ok(Number(res.headers['x-ratelimit-reset']) >= 1);
}

describe('rate limits', () => {
  let t: TestApp;
  let w: World;
  const clock = new TestClock();
  before(async () => {
    t = await buildTestApp(
      { rateLimit: { enabled: true, perMinute: 5, orgKeyCreatePerSecond: 2 } },
      { clock: clock.now },
    );
    w = await buildWorld(t.services);
  });
  after(() => t.close());

  test("Neon's figures are the defaults; ORGPLANE_RATE_LIMIT=off switches limits off", () => {
    const d = loadConfig({});
    assert.deepEqual(d.rateLimit, { enabled: true, perMinute: 700, orgKeyCreatePerSecond: 10 });
    assert.equal(loadConfig({ ORGPLANE_RATE_LIMIT: 'off' }).rateLimit.enabled, false);
    assert.equal(loadConfig({ ORGPLANE_RATE_LIMIT_PER_MINUTE: '42' }).rateLimit.perMinute, 42);
  });

  test('per key: the 6th request in a minute is 429 with Retry-After and X-RateLimit-*; another key is unaffected', async () => {
    const user = await createUser(t.services, 'limited');
    for (let i = 1; i <= 5; i++) {
      const res = await t.call('GET', '/api/v2/users/me', { token: user.token });
      assert.equal(res.status, 200, `request ${i}`);
      assert.equal(String(res.headers['x-ratelimit-limit']), '5');
      assert.equal(String(res.headers['x-ratelimit-remaining']), String(5 - i));
      assert.ok(res.headers['x-ratelimit-reset'] !== undefined);
    }
    const limited = await t.call('GET', '/api/v2/users/me', { token: user.token });
    assert429(limited, 'getCurrentUserInfo');
    // Other routes share the key's budget.
    assert429(await t.call('GET', '/api/v2/api_keys', { token: user.token }), 'listApiKeys');

    const other = await createUser(t.services, 'other');
    const fine = await t.call('GET', '/api/v2/users/me', { token: other.token });
    assert.equal(fine.status, 200);
    assert.equal(String(fine.headers['x-ratelimit-remaining']), '4');
  });

  test("garbage tokens share the client address's bucket: 429 instead of 401 after the budget", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await t.call('GET', '/api/v2/auth', {
        token: `napi_${String(i).repeat(64)}`,
        headers: { 'x-forwarded-for': `10.0.0.${i}` },
      });
      statuses.push(res.status);
      if (res.status === 429) assert429(res, 'getAuthDetails');
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429]);
    // A real key from the same address still has its own budget.
    const real = await createUser(t.services, 'real');
    const ok = await t.call('GET', '/api/v2/auth', { token: real.token });
    assert.equal(ok.status, 200);
  });

  test('creating organization keys: at most orgKeyCreatePerSecond per second per key', async () => {
    // The limiter's clock stands still, so three requests fall in one window however slowly the
    // machine runs them; moving it a second on opens the next window.
    clock.set(Date.now());
    try {
      const admin = await createUser(t.services, 'burst');
      const org = await t.services.organizations.createWithAdmin(admin.id, { name: 'Burst', plan: 'scale' });
      const statuses: number[] = [];
      let last: Res | undefined;
      for (let i = 0; i < 3; i++) {
        last = await t.call('POST', `/api/v2/organizations/${org.id}/api_keys`, {
          token: admin.token,
          body: { key_name: `k${i}` },
        });
        statuses.push(last.status);
      }
      assert.deepEqual(statuses, [200, 200, 429]);
      assert.ok(last);
      assert429(last, 'createOrgApiKey');
      assert.match(last.body.message, /^rate limit exceeded \(2 requests per second\); retry in 1 second$/);
      assert.equal(String(last.headers['x-ratelimit-limit']), '2');
      // The per-minute budget still applies to this route as well: 3 spent, 2 left, then 429.
      clock.advance(1000);
      const after = await t.call('POST', `/api/v2/organizations/${org.id}/api_keys`, {
        token: admin.token,
        body: { key_name: 'after-a-second' },
      });
      assert.equal(after.status, 200, after.text);
      const rest = await t.call('GET', '/api/v2/users/me', { token: admin.token });
      assert.equal(rest.status, 200);
      assert.equal(String(rest.headers['x-ratelimit-remaining']), '0');
      assert429(await t.call('GET', '/api/v2/users/me', { token: admin.token }), 'getCurrentUserInfo');
    } finally {
      clock.reset();
    }
    void w;
  });
});
