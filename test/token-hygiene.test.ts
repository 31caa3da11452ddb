// Token hygiene: the format and its checksum, no database work for forged tokens, tokens and their
// hashes never in responses, logs or the database, and last-used tracking without a write per request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely';
import { isWellFormedToken } from '../src/domain/ids.ts';
import { buildTestApp, type Res, type TestApp } from './helpers/app.ts';
import { buildWorld, createUser, type World } from './helpers/factories.ts';
import { assertMatchesSpec } from './helpers/spec.ts';
import {
  BASE62,
  forgedValidToken,
  hasValidChecksum,
  randomShapedToken,
  TOKEN_SHAPE,
  withBadChecksum,
} from './helpers/tokens.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Counts the queries the app sends; `broken` makes every query fail as if the database were down. */
class QueryProbe implements KyselyPlugin {
  total = 0;
  updates = 0;
  broken = false;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.total++;
    if (args.node.kind === 'UpdateQueryNode') this.updates++;
    if (this.broken) throw Object.assign(new Error('connect ECONNREFUSED (test)'), { code: 'ECONNREFUSED' });
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

describe('token format and checksum', () => {
  let t: TestApp;
  let w: World;
  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
  });
  after(() => t.close());

  test('issued tokens are napi_ + 64 base62 characters whose last 6 are the CRC-32 of the rest', async () => {
    const issued = [
      (await t.call('POST', '/api/v2/api_keys', { token: w.member.token, body: { key_name: 'p' } })).body.key,
      (
        await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
          token: w.admin.token,
          body: { key_name: 'o' },
        })
      ).body.key,
      (
        await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
          token: w.member.token,
          body: { key_name: 'k', project_id: w.projectA1 },
        })
      ).body.key,
      w.admin.token,
      w.orgKeyA.token,
      w.projectKeyA1.token,
    ];
    const seen = new Set<string>();
    for (const token of issued) {
      assert.equal(typeof token, 'string');
      assert.match(token, TOKEN_SHAPE);
      assert.equal(token.length, 69);
      assert.ok(hasValidChecksum(token), `checksum of ${token.slice(0, 8)}…`);
      assert.ok(!seen.has(token));
      seen.add(token);
    }
  });

  test('the server and an independent CRC-32 agree on which tokens are well formed', () => {
    for (let i = 0; i < 2000; i++) assert.ok(isWellFormedToken(forgedValidToken()));
    // Every single-character change is caught.
    const token = w.admin.token;
    for (let pos = 5; pos < token.length; pos++) {
      for (const ch of BASE62) {
        if (ch === token[pos]) continue;
        const changed = token.slice(0, pos) + ch + token.slice(pos + 1);
        assert.equal(isWellFormedToken(changed), false, `position ${pos} → ${ch}`);
      }
    }
  });

  test('100,000 random same-shape strings: none passes the checksum', () => {
    let passed = 0;
    for (let i = 0; i < 100_000; i++) if (isWellFormedToken(randomShapedToken())) passed++;
    assert.equal(passed, 0);
  });
});

describe('forged tokens cost no database query', () => {
  const probe = new QueryProbe();
  let t: TestApp;
  let w: World;
  before(async () => {
    t = await buildTestApp({}, { kyselyPlugins: [probe] });
    w = await buildWorld(t.services);
  });
  after(async () => {
    probe.broken = false;
    await t.close();
  });

  const forged = () => [
    withBadChecksum(w.admin.token),
    randomShapedToken(),
    'napi_short',
    'garbage',
    `napi_${'A'.repeat(64)}`,
    'a1'.repeat(32),
  ];

  test('bad checksums and malformed tokens are refused without touching the database', async () => {
    for (const token of forged()) {
      const before = probe.total;
      const res = await t.call('GET', '/api/v2/users/me', { token });
      assert.equal(res.status, 401, token);
      assertMatchesSpec('getCurrentUserInfo', res.status, res.body);
      assert.equal(probe.total, before, `no query for ${token.slice(0, 12)}…`);
    }
    // The probe does see authentication queries: a well-formed unknown token is looked up.
    const before = probe.total;
    const unknown = await t.call('GET', '/api/v2/users/me', { token: forgedValidToken() });
    assert.equal(unknown.status, 401);
    assert.ok(probe.total > before, 'a well-formed token costs a lookup');
  });

  test('with the database down, forged tokens still get 401 while a well-formed one gets 503', async () => {
    probe.broken = true;
    try {
      for (const token of forged()) {
        // Answered at once = without trying the (broken) database, counted rather than timed.
        const before = probe.total;
        const res = await t.call('GET', '/api/v2/auth', { token });
        assert.equal(res.status, 401, token);
        assert.equal(probe.total, before, `no query for ${token.slice(0, 12)}…`);
      }
      const real = await t.call('GET', '/api/v2/auth', { token: w.admin.token });
      assert.equal(real.status, 503);
      assertMatchesSpec('getAuthDetails', real.status, real.body);
    } finally {
      probe.broken = false;
    }
    assert.equal((await t.call('GET', '/api/v2/auth', { token: w.admin.token })).status, 200);
  });
});

describe('tokens never appear in responses, logs or the database', () => {
  const lines: string[] = [];
  let t: TestApp;
  let w: World;
  before(async () => {
    t = await buildTestApp({ logLevel: 'trace' }, { logStream: { write: (line) => void lines.push(line) } });
    w = await buildWorld(t.services);
  });
  after(() => t.close());

  test('after a run of requests, no token or token hash shows up anywhere but its creation response', async () => {
    const issued: string[] = [w.admin.token, w.member.token, w.outsider.token, w.removed.token];
    issued.push(w.orgKeyA.token, w.orgKeyB.token, w.projectKeyA1.token, w.revokedToken);
    const later: Res[] = [];
    const create = async (url: string, token: string, body: unknown) => {
      const res = await t.call('POST', url, { token, body });
      assert.equal(res.status, 200, res.text);
      issued.push(res.body.key);
      return res.body as { id: number; key: string };
    };
    const personal = await create('/api/v2/api_keys', w.member.token, { key_name: 'p' });
    const orgKey = await create(`/api/v2/organizations/${w.orgA.id}/api_keys`, w.admin.token, {
      key_name: 'o',
    });
    const projectKey = await create(`/api/v2/organizations/${w.orgA.id}/api_keys`, w.member.token, {
      key_name: 'k',
      project_id: w.projectA1,
    });
    const bad = [withBadChecksum(personal.key), forgedValidToken(), randomShapedToken()];
    const go = async (
      method: 'GET' | 'POST' | 'DELETE' | 'PATCH' | 'PUT',
      url: string,
      token?: string,
      body?: unknown,
    ) => {
      later.push(await t.call(method, url, { token, body }));
    };
    for (const token of [...issued, ...bad]) {
      await go('GET', '/api/v2/auth', token);
      await go('GET', '/api/v2/users/me', token);
      await go('GET', `/api/v2/organizations/${w.orgA.id}/api_keys`, token);
      await go('GET', '/api/v2/api_keys', token);
      // Clients that put a key where it does not belong: query string, path, body.
      await go('GET', `/api/v2/users/me?api_key=${token}`);
      await go('GET', `/api/v2/api_keys/${token}`, w.admin.token);
      await go('GET', `/api/v2/${token}`, w.admin.token);
      await go('POST', '/api/v2/api_keys', w.admin.token, { key_name: token });
      await go('PATCH', `/api/v2/organizations/${w.orgA.id}/members/${w.memberRow.id}`, w.admin.token, {
        role: token,
      });
    }
    await go('DELETE', `/api/v2/api_keys/${personal.id}`, w.member.token);
    await go('DELETE', `/api/v2/organizations/${w.orgA.id}/api_keys/${orgKey.id}`, w.admin.token);
    await go('DELETE', `/api/v2/organizations/${w.orgA.id}/api_keys/${projectKey.id}`, w.admin.token);
    await go('GET', '/api/v2/api_keys', w.member.token);
    await go('GET', `/api/v2/organizations/${w.orgA.id}/api_keys`, w.admin.token);

    const secrets = [...issued, ...bad].flatMap((tok) => [tok, sha256(tok)]);
    const log = lines.join('');
    assert.ok(lines.length > later.length, 'the log was captured');
    assert.match(log, /incoming request/);
    for (const [i, res] of later.entries()) {
      const where = `response ${i} (${res.status})`;
      const text = `${res.text}\n${JSON.stringify(res.headers)}`;
      for (const secret of secrets)
        assert.ok(!text.includes(secret), `${where} contains a secret: ${res.text.slice(0, 300)}`);
      // Not even a recognisable fragment of one.
      assert.doesNotMatch(text, /napi_[A-Za-z0-9]{8,}/, where);
    }
    for (const secret of secrets)
      assert.ok(!log.includes(secret), `the log contains ${secret.slice(0, 12)}…`);
    assert.doesNotMatch(log, /napi_[A-Za-z0-9]{8,}/);
  });

  test('the database holds only SHA-256 hashes of tokens', async () => {
    const tokens = [w.admin.token, w.member.token, w.orgKeyA.token, w.projectKeyA1.token, w.revokedToken];
    // On PostgreSQL, introspection lists the schema in use only (src/db/introspector.ts).
    const tables = await t.db.kysely.introspection.getTables();
    assert.ok(tables.some((x) => x.name === 'api_keys'));
    let cells = 0;
    for (const table of tables) {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- every table, dynamically
      const rows = await (t.db.kysely as any).selectFrom(table.name).selectAll().execute();
      for (const row of rows as Array<Record<string, unknown>>) {
        for (const value of Object.values(row)) {
          cells++;
          const s = String(value);
          for (const token of tokens) assert.ok(!s.includes(token), `${table.name} holds a token`);
          assert.doesNotMatch(s, /napi_[A-Za-z0-9]{8,}/, table.name);
        }
      }
    }
    assert.ok(cells > 50);
    for (const [token, id] of [
      [w.admin.token, w.admin.keyId],
      [w.orgKeyA.token, w.orgKeyA.id],
    ] as const) {
      const row = await t.db.kysely
        .selectFrom('api_keys')
        .select('token_hash')
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      assert.equal(row.token_hash, sha256(token));
    }
  });
});

describe('last_used_at and last_used_from_addr', () => {
  const probe = new QueryProbe();
  let t: TestApp;
  let trusted: TestApp;
  before(async () => {
    t = await buildTestApp({}, { kyselyPlugins: [probe] });
    trusted = await buildTestApp({ trustedProxies: ['127.0.0.1'] });
  });
  after(async () => {
    await t.close();
    await trusted.close();
  });

  async function lastUsed(app: TestApp, keyId: number) {
    await app.services.lastUsed.flush();
    return app.db.kysely
      .selectFrom('api_keys')
      .select(['last_used_at', 'last_used_from_addr'])
      .where('id', '=', keyId)
      .executeTakeFirstOrThrow();
  }

  test('requests write nothing; a flush records the newest use', async () => {
    const u = await createUser(t.services, 'user');
    const startedAt = new Date().toISOString();
    const updatesBefore = probe.updates;
    for (let i = 0; i < 25; i++) {
      assert.equal((await t.call('GET', '/api/v2/auth', { token: u.token })).status, 200);
    }
    assert.equal(probe.updates, updatesBefore, 'no UPDATE on the request path');
    const row = await lastUsed(t, u.keyId);
    assert.equal(probe.updates, updatesBefore + 1, 'one UPDATE per key per flush');
    assert.ok(row.last_used_at && row.last_used_at >= startedAt, String(row.last_used_at));
    assert.ok(row.last_used_at <= new Date().toISOString());
    assert.equal(row.last_used_from_addr, '127.0.0.1');

    // The list shows it (GET /api_keys flushes first), in Neon's shape.
    const list = await t.call('GET', '/api/v2/api_keys', { token: u.token });
    assertMatchesSpec('listApiKeys', list.status, list.body);
    const mine = list.body.find((k: { id: number }) => k.id === u.keyId);
    assert.equal(mine.last_used_from_addr, '127.0.0.1');
  });

  // The timeout guards against a timer that never fires (the barrier would wait forever).
  test('the periodic flush writes without anyone asking', { timeout: 60_000 }, async () => {
    const timed = await buildTestApp({ lastUsedFlushMs: 30 });
    try {
      // Barrier: each turn waits for the timer's next flush to finish (however late the timer
      // runs on a loaded machine), never for a fixed time.
      const tracker = timed.services.lastUsed;
      const flush = tracker.flush.bind(tracker);
      let flushed: (() => void) | undefined;
      tracker.flush = () => flush().finally(() => flushed?.());
      // The flush timer is unref'd (it must not keep a server alive), and on SQLite nothing else
      // holds the event loop open: without this the loop empties while the test waits.
      const nextFlush = () =>
        new Promise<void>((r) => {
          const keepAlive = setInterval(() => {}, 1000);
          flushed = () => {
            clearInterval(keepAlive);
            r();
          };
        });
      timed.services.start();
      const u = await createUser(timed.services, 'timed');
      await timed.call('GET', '/api/v2/auth', { token: u.token });
      let row: { last_used_at: string | null } | undefined;
      // A flush already under way when the key was used may not carry it; the one after does.
      for (let i = 0; i < 3 && !row?.last_used_at; i++) {
        await nextFlush();
        row = await timed.db.kysely
          .selectFrom('api_keys')
          .select('last_used_at')
          .where('id', '=', u.keyId)
          .executeTakeFirstOrThrow();
      }
      assert.ok(row?.last_used_at, 'flushed by the timer');
    } finally {
      await timed.close();
    }
  });

  test('X-Forwarded-For is ignored unless the peer is a trusted proxy', async () => {
    const u = await createUser(t.services, 'spoofer');
    await t.call('GET', '/api/v2/auth', { token: u.token, headers: { 'x-forwarded-for': '203.0.113.9' } });
    assert.equal((await lastUsed(t, u.keyId)).last_used_from_addr, '127.0.0.1');
  });

  test('behind a trusted proxy the address chain is client first, comma-separated', async () => {
    const cases: Array<[string, string]> = [
      ['203.0.113.9', '203.0.113.9,127.0.0.1'],
      // 198.51.100.1 was added by 203.0.113.9, which is not trusted: it could be a lie.
      ['198.51.100.1, 203.0.113.9', '203.0.113.9,127.0.0.1'],
    ];
    for (const [xff, chain] of cases) {
      const u = await createUser(trusted.services, 'proxied');
      const res = await trusted.call('GET', '/api/v2/auth', {
        token: u.token,
        headers: { 'x-forwarded-for': xff },
      });
      assert.equal(res.status, 200);
      assert.equal((await lastUsed(trusted, u.keyId)).last_used_from_addr, chain, xff);
    }
    // Two trusted hops: the chain reaches the real client.
    const twoHops = await buildTestApp({ trustedProxies: ['127.0.0.1', '203.0.113.9'] });
    try {
      const u = await createUser(twoHops.services, 'proxied');
      await twoHops.call('GET', '/api/v2/auth', {
        token: u.token,
        headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' },
      });
      assert.equal(
        (await lastUsed(twoHops, u.keyId)).last_used_from_addr,
        '198.51.100.1,203.0.113.9,127.0.0.1',
      );
    } finally {
      await twoHops.close();
    }
  });
});
