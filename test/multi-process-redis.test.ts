// Scale-out: two real server processes on one PostgreSQL and one Redis share one rate-limit
// budget per key (ORGPLANE_RATE_LIMIT_PER_MINUTE=100): of 150 requests with one key, split across
// both, exactly 100 succeed and the other 50 get Neon's 429 with Retry-After. The per-route limit
// on creating organization keys is shared the same way. Each run counts under its own Redis prefix.
// PostgreSQL only (the scale-out set-up); the Redis behaviour itself is covered in-process on both
// databases by rate-limit-redis.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { hashToken } from '../src/domain/ids.ts';
import { DIALECT } from './helpers/app.ts';
import { createOrg, createUser } from './helpers/factories.ts';
import { REDIS_URL, redisAvailable, redisNamespace } from './helpers/redis.ts';
import {
  call,
  sharedPostgres,
  startServer,
  stopServer,
  type CallResult,
  type Server,
} from './helpers/servers.ts';
import { assertMatchesSpec } from './helpers/spec.ts';

const PER_MINUTE = 100;
const ORG_KEYS_PER_SECOND = 3;

function assert429(res: CallResult, operationId: string, max: number, per: string): void {
  assert.equal(res.status, 429, JSON.stringify(res.body));
  assertMatchesSpec(operationId, res.status, res.body);
  assert.deepEqual(Object.keys(res.body).sort(), ['code', 'message', 'request_id']);
  assert.equal(res.body.code, 'RATE_LIMITED');
  assert.match(res.body.message, new RegExp(`^rate limit exceeded \\(${max} requests ${per}\\); retry in `));
  const retry = Number(res.headers.get('retry-after'));
  assert.ok(
    Number.isInteger(retry) && retry >= 1 && retry <= 60,
    `Retry-After ${res.headers.get('retry-after')}`,
  );
  assert.equal(res.headers.get('x-ratelimit-remaining'), '0');
}

describe('two server processes sharing one Redis: one rate-limit budget', () => {
  const ns = redisNamespace();
  let shared: Awaited<ReturnType<typeof sharedPostgres>> | undefined;
  let a: Server | undefined;
  let b: Server | undefined;
  let skip = '';

  before(async () => {
    if (DIALECT !== 'postgres') return void (skip = 'PostgreSQL only (the scale-out set-up)');
    if (!(await redisAvailable())) return void (skip = `Redis not reachable at ${REDIS_URL}`);
    shared = await sharedPostgres('orgplane_mpr');
    const env = {
      REDIS_URL,
      ORGPLANE_REDIS_PREFIX: ns.prefix,
      ORGPLANE_RATE_LIMIT: 'on',
      ORGPLANE_RATE_LIMIT_PER_MINUTE: String(PER_MINUTE),
      ORGPLANE_RATE_LIMIT_ORG_KEYS_PER_SECOND: String(ORG_KEYS_PER_SECOND),
    };
    [a, b] = await Promise.all([
      startServer('A', shared.databaseUrl, shared.dataDir, env),
      startServer('B', shared.databaseUrl, shared.dataDir, env),
    ]);
  });

  after(async () => {
    await Promise.all([stopServer(a), stopServer(b)]);
    await shared?.dispose();
    await ns.cleanup();
  });

  test(`150 requests with one key across both: exactly ${PER_MINUTE} succeed, the rest 429`, async (c) => {
    if (skip) return c.skip(skip);
    assert.ok(a && b && shared);
    const [A, B] = [a, b];
    const u = await createUser(shared.services, 'budget');
    const results: Array<CallResult & { by: string }> = [];
    // Ten at a time, alternating processes.
    for (let i = 0; i < 150; i += 10) {
      const batch = Array.from({ length: 10 }, async (_, j) => {
        const srv = (i + j) % 2 ? B : A;
        return { ...(await call(srv, 'GET', '/api/v2/users/me', u.token)), by: srv.name };
      });
      results.push(...(await Promise.all(batch)));
    }
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    c.diagnostic(`${ok.length} × 200, ${limited.length} × 429`);
    assert.equal(ok.length, PER_MINUTE);
    assert.equal(limited.length, 150 - PER_MINUTE);
    for (const r of limited) assert429(r, 'getCurrentUserInfo', PER_MINUTE, 'per minute');
    for (const r of ok) assertMatchesSpec('getCurrentUserInfo', r.status, r.body);
    // Each process served about half and refused the rest: one budget, counted by both.
    for (const name of ['A', 'B']) {
      assert.equal(results.filter((r) => r.by === name && r.status === 200).length, PER_MINUTE / 2);
      assert.equal(results.filter((r) => r.by === name && r.status === 429).length, (150 - PER_MINUTE) / 2);
    }
    // Another key is untouched on either process.
    const other = await createUser(shared.services, 'other');
    for (const srv of [A, B]) {
      const r = await call(srv, 'GET', '/api/v2/users/me', other.token);
      assert.equal(r.status, 200);
    }
  });

  test(`creating organization keys: ${ORG_KEYS_PER_SECOND} per second per key across both processes`, async (c) => {
    if (skip) return c.skip(skip);
    assert.ok(a && b && shared);
    const [A, B] = [a, b];
    const admin = await createUser(shared.services, 'burst');
    const org = await createOrg(shared.services, admin, 'Burst');
    const url = `/api/v2/organizations/${org.id}/api_keys`;
    const redis = new Redis(REDIS_URL);
    c.after(() => redis.disconnect());
    const hash = hashToken(admin.token);
    const routeKey = `${ns.prefix}POST/api/v2/organizations/:org_id/api_keys-k:${hash}`;
    // The window is Redis's (the route key's one-second expiry), not a clock the test can hold.
    // Counted, not timed: the first request opens the window, the test then stretches it to a
    // minute, so the five that follow fall in it however slowly they are served. A window that
    // closed before it was stretched (the key gone) is opened again; the guard counts attempts.
    for (let attempt = 1; ; attempt++) {
      const first = await call(A, 'POST', url, admin.token, { key_name: `k${attempt}-0` });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      if ((await redis.pexpire(routeKey, 60_000)) === 1) break;
      assert.ok(attempt < 50, 'the route key never outlived a request');
    }
    // Five more at once, three on B and two on A: of the six in the window, exactly three succeed.
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        call(i % 2 ? A : B, 'POST', url, admin.token, { key_name: `burst-${i}` }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.status).sort(),
      [200, 200, 429, 429, 429],
      JSON.stringify(results.map((r) => [r.status, r.body])),
    );
    for (const r of results.filter((x) => x.status === 429)) {
      assert429(r, 'createOrgApiKey', ORG_KEYS_PER_SECOND, 'per second');
    }
    assert.equal(await redis.get(routeKey), '6', 'all six were counted in the one window');
    // Counted under this run's prefix: the budget in its own key, the route in another.
    const keys = await redis.keys(`${ns.prefix}*${hash}`);
    assert.deepEqual(keys.sort(), [
      `${ns.prefix}POST/api/v2/organizations/:org_id/api_keys-k:${hash}`,
      `${ns.prefix}k:${hash}`,
    ]);
  });
});
