// Rate limits counted in Redis (REDIS_URL), in-process: apps sharing one Redis share one budget;
// apps without it count for themselves; Redis away (connection refused, cut, or not answering):
// requests are served (fail open), a warning is logged, never a 5xx, and limits resume when Redis
// is back. The same across real processes: test/multi-process-redis.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type Res, type TestApp } from './helpers/app.ts';
import { createUser } from './helpers/factories.ts';
import { freePort } from './helpers/net.ts';
import { redisAvailable, redisNamespace, redisProxy } from './helpers/redis.ts';
import { assertMatchesSpec } from './helpers/spec.ts';
import { REDIS_URL } from './helpers/redis.ts';

const LIMITS = { enabled: true, perMinute: 5, orgKeyCreatePerSecond: 10 };

function assert429(res: Res): void {
  assert.equal(res.status, 429, res.text);
  assertMatchesSpec('getCurrentUserInfo', res.status, res.body);
  assert.equal(res.body.code, 'RATE_LIMITED');
  assert.match(res.body.message, /^rate limit exceeded \(5 requests per minute\); retry in \d+ s$/);
  const retry = Number(res.headers['retry-after']);
  assert.ok(
    Number.isInteger(retry) && retry >= 1 && retry <= 60,
    `Retry-After ${String(res.headers['retry-after'])}`,
  );
}

describe('rate limits in Redis (in-process)', () => {
  let available = false;
  const ns = redisNamespace();
  const apps: TestApp[] = [];
  const logs: string[] = [];
  before(async () => {
    available = await redisAvailable();
  });
  after(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await ns.cleanup();
  });

  async function app(redisUrl: string | undefined): Promise<TestApp> {
    const a = await buildTestApp(
      { rateLimit: LIMITS, redisUrl, redisPrefix: ns.prefix, logLevel: 'info' },
      { logStream: { write: (line) => void logs.push(line) } },
    );
    apps.push(a);
    return a;
  }
  const me = (a: TestApp, token: string) => a.call('GET', '/api/v2/users/me', { token });

  test('two apps on one Redis share a key budget; without Redis each counts for itself', async (c) => {
    if (!available) return c.skip(`Redis not reachable at ${REDIS_URL}`);
    const [a, b] = [await app(REDIS_URL), await app(REDIS_URL)];
    // Both apps' databases know the key (they are separate databases: only Redis is shared).
    const u = await createUser(a.services, 'shared');
    await b.db.kysely
      .insertInto('users')
      .values(
        await a.db.kysely.selectFrom('users').selectAll().where('id', '=', u.id).executeTakeFirstOrThrow(),
      )
      .execute();
    await b.db.kysely
      .insertInto('api_keys')
      .values(
        await a.db.kysely
          .selectFrom('api_keys')
          .selectAll()
          .where('id', '=', u.keyId)
          .executeTakeFirstOrThrow(),
      )
      .execute();
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await me(i % 2 ? b : a, u.token)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    assert429(await me(b, u.token));

    // Without REDIS_URL: per process.
    const [x, y] = [await app(undefined), await app(undefined)];
    const v = await createUser(x.services, 'local');
    for (let i = 0; i < 5; i++) assert.equal((await me(x, v.token)).status, 200);
    assert429(await me(x, v.token));
    // y never saw this key's requests: its own budget (the key is unknown there: 401, not 429).
    assert.equal((await me(y, v.token)).status, 401);
  });

  test('Redis refusing connections: requests are served without limits, a warning is logged', async () => {
    const closed = `redis://127.0.0.1:${await freePort()}`;
    const a = await app(closed);
    const u = await createUser(a.services, 'open');
    for (let i = 0; i < 12; i++) {
      const res = await me(a, u.token);
      assert.equal(res.status, 200, `request ${i}: ${res.text}`);
    }
    assert.ok(
      logs.some((l) => /"level":40/.test(l) && /Redis unavailable: rate limits are not enforced/.test(l)),
      'a warning is logged',
    );
  });

  test('Redis cut, then not answering, then back: served throughout, then limited again', async (c) => {
    if (!available) return c.skip(`Redis not reachable at ${REDIS_URL}`);
    const proxy = await redisProxy();
    c.after(() => proxy.close());
    const a = await app(proxy.url);
    const u = await createUser(a.services, 'outage');
    // Counted in Redis: 5 allowed, then 429.
    for (let i = 0; i < 5; i++) assert.equal((await me(a, u.token)).status, 200, `request ${i}`);
    assert429(await me(a, u.token));
    const warningsBefore = logs.filter((l) => /Redis unavailable/.test(l)).length;

    proxy.cut();
    for (let i = 0; i < 10; i++) {
      const res = await me(a, u.token);
      assert.equal(res.status, 200, `while cut, request ${i}: ${res.text}`);
    }
    assert.ok(logs.filter((l) => /Redis unavailable/.test(l)).length > warningsBefore, 'a warning is logged');

    // Connected but silent: each request gives up on Redis after the command timeout and is
    // served. Proved by what happened, not by how long it took: the request asked Redis, Redis
    // never answered (the proxy held the command back), and the answer is a 200.
    proxy.restore();
    await waitFor(async () => (await me(a, u.token)).status === 429, 'limits resume after the cut');
    proxy.freeze();
    const warningsBeforeFreeze = logs.filter((l) => /Redis unavailable/.test(l)).length;
    const unansweredBefore = proxy.unanswered;
    const res = await me(a, u.token);
    assert.equal(res.status, 200, res.text);
    assert.ok(proxy.unanswered > unansweredBefore, 'the request asked the silent Redis');
    assert.ok(
      logs.filter((l) => /Redis unavailable/.test(l)).length > warningsBeforeFreeze,
      'a silent Redis is warned about too (after it had answered again)',
    );

    // Back: a fresh connection (the frozen one lost its replies), and the count continues.
    proxy.cut();
    proxy.restore();
    await waitFor(async () => {
      const r = await me(a, u.token);
      assert.notEqual(r.status, 500);
      return r.status === 429;
    }, 'limits resume after Redis stopped answering');
    assert429(await me(a, u.token));
    assert.ok(
      logs.some((l) => /Redis answers again/.test(l)),
      'recovery is logged',
    );
  });
});

/**
 * Polls until check is true (the client reconnects by itself, with back-off). The limit is a guard
 * against a hang, counted in attempts, not a claim about how fast recovery is.
 */
async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: not after 600 attempts`);
}
