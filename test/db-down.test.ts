// The database going away: 503 with Retry-After (never 500), /readyz 503 and /healthz 200 meanwhile,
// the process stays up, and service resumes by itself once the database is back.
// PostgreSQL: the app reaches the server through a TCP proxy in this test that can be cut and restored.
// SQLite: another connection holds the write lock, so writes fail with SQLITE_BUSY.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { buildApp, type BuiltApp } from '../src/app.ts';
import { isDatabaseUnavailable, openDatabase, type Db } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { newApiKeyToken } from '../src/domain/ids.ts';
import { DIALECT, PG_URL, pgSchema, testConfig } from './helpers/app.ts';
import { createUser, type TestUser } from './helpers/factories.ts';
import { assertMatchesSpec } from './helpers/spec.ts';

test('isDatabaseUnavailable: connection and I/O failures are 503s; constraint and data errors are not', () => {
  const down = [
    '57P01',
    '57P03',
    '08006',
    '08001',
    '53300',
    'ECONNREFUSED',
    'ECONNRESET',
    'SQLITE_BUSY',
    'SQLITE_BUSY_SNAPSHOT',
    'SQLITE_IOERR',
    'SQLITE_IOERR_WRITE',
    'SQLITE_IOERR_SHORT_READ',
    'SQLITE_FULL',
    'SQLITE_CANTOPEN',
    'SQLITE_LOCKED',
  ];
  for (const code of down) assert.ok(isDatabaseUnavailable({ code, message: 'x' }), code);
  for (const message of ['Connection terminated unexpectedly', 'The database connection is not open']) {
    assert.ok(isDatabaseUnavailable(new Error(message)), message);
  }
  for (const code of ['23505', '22021', 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_ERROR', '42P01', undefined]) {
    assert.ok(!isDatabaseUnavailable({ code, message: 'syntax error' }), String(code));
  }
  assert.ok(!isDatabaseUnavailable(null));
});

/** A TCP proxy to PostgreSQL that can drop every connection and refuse new ones, then recover. */
class CuttableProxy {
  private server = net.createServer((client) => this.accept(client));
  private sockets = new Set<net.Socket>();
  private upstream = new Set<net.Socket>();
  private down = false;
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }
  private accept(client: net.Socket): void {
    if (this.down) {
      client.destroy();
      return;
    }
    const upstream = net.connect(5432, '127.0.0.1');
    this.upstream.add(upstream);
    upstream.on('close', () => this.upstream.delete(upstream));
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  }
  /** Local ports of the connections to PostgreSQL, as pg_stat_activity.client_port shows them. */
  upstreamPorts(): number[] {
    return [...this.upstream].map((s) => s.localPort).filter((p): p is number => typeof p === 'number');
  }
  cut(): void {
    this.down = true;
    for (const s of this.sockets) s.destroy();
  }
  restore(): void {
    this.down = false;
  }
  async close(): Promise<void> {
    this.cut();
    await new Promise((r) => this.server.close(r));
  }
}

async function inject(built: BuiltApp, method: 'GET' | 'POST', url: string, token?: string, body?: unknown) {
  const res = await built.app.inject({
    method,
    url,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { payload: JSON.stringify(body) } : {}),
  });
  return { status: res.statusCode, headers: res.headers, body: res.body ? JSON.parse(res.body) : undefined };
}

function assertUnavailable(res: Awaited<ReturnType<typeof inject>>, operationId?: string): void {
  assert.equal(res.status, 503, JSON.stringify(res.body));
  assert.equal(res.headers['retry-after'], '1');
  if (operationId) {
    assertMatchesSpec(operationId, res.status, res.body);
    assert.deepEqual(Object.keys(res.body).sort(), ['code', 'message', 'request_id']);
    assert.doesNotMatch(JSON.stringify(res.body), /ECONN|terminated|SQLITE|postgres|at /);
  }
}

describe('PostgreSQL goes away and comes back', { skip: DIALECT !== 'postgres' }, () => {
  const proxy = new CuttableProxy();
  const schema = pgSchema('t_down');
  let db: Db;
  let built: BuiltApp;
  let user: TestUser;
  const poolErrors: Error[] = [];

  before(async () => {
    await proxy.start();
    await schema.create();
    const url = new URL(PG_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    db = openDatabase({
      dataDir: '',
      databaseUrl: url.toString(),
      pgSchema: schema.name,
      onPoolError: (e) => poolErrors.push(e),
    });
    await migrateToLatest(db);
    built = await buildApp({ config: testConfig(), db, logger: false });
    user = await createUser(built.services, 'pgdown');
  });
  after(async () => {
    await built.app.close();
    await db.close();
    await proxy.close();
    await schema.drop();
  });

  test('503 with Retry-After while cut, /readyz 503, /healthz 200; 200 again after restore', async (t) => {
    assert.equal((await inject(built, 'GET', '/api/v2/users/me', user.token)).status, 200);
    assert.equal((await inject(built, 'GET', '/readyz')).status, 200);

    proxy.cut();
    t.after(() => proxy.restore());
    for (let i = 0; i < 3; i++) {
      assertUnavailable(await inject(built, 'GET', '/api/v2/users/me', user.token), 'getCurrentUserInfo');
      assertUnavailable(
        await inject(built, 'POST', '/api/v2/api_keys', user.token, { key_name: 'while-down' }),
        'createApiKey',
      );
    }
    // A well-formed key nobody has still needs the database to be checked: 503, not 401
    // (Neon's CLI deletes its stored login on 401).
    assertUnavailable(await inject(built, 'GET', '/api/v2/auth', newApiKeyToken()), 'getAuthDetails');
    const ready = await inject(built, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.headers['retry-after'], '1');
    assert.equal((await inject(built, 'GET', '/healthz')).status, 200);

    proxy.restore();
    // Recovers by itself: no restart, the pool reconnects on the next request.
    let status = 0;
    for (let i = 0; i < 20 && status !== 200; i++) {
      const res = await inject(built, 'GET', '/api/v2/users/me', user.token);
      status = res.status;
      assert.notEqual(status, 500);
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200);
    const created = await inject(built, 'POST', '/api/v2/api_keys', user.token, { key_name: 'after' });
    assert.equal(created.status, 200);
    assert.equal((await inject(built, 'GET', '/readyz')).status, 200);
  });

  test('connections killed by the server (pg_terminate_backend) are 503 at worst, never 500', async () => {
    // Only this app's connections: the ones arriving from the proxy's upstream sockets.
    const ports = proxy.upstreamPorts();
    assert.ok(ports.length > 0);
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    const killed = await admin.query(
      'select pg_terminate_backend(pid) from pg_stat_activity where client_port = any($1::int[])',
      [ports],
    );
    await admin.end();
    assert.ok(killed.rowCount && killed.rowCount > 0);
    for (let i = 0; i < 5; i++) {
      const res = await inject(built, 'GET', '/api/v2/users/me', user.token);
      assert.ok(res.status === 200 || res.status === 503, `status ${res.status}`);
    }
    assert.equal((await inject(built, 'GET', '/api/v2/users/me', user.token)).status, 200);
  });
});

describe('SQLite: the write lock held elsewhere', { skip: DIALECT !== 'sqlite' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-down-'));
  let db: Db;
  let built: BuiltApp;
  let user: TestUser;

  before(async () => {
    db = openDatabase({ dataDir: dir });
    await migrateToLatest(db);
    // Fail fast instead of waiting the production 5 s for the lock.
    await sql`pragma busy_timeout = 100`.execute(db.kysely);
    built = await buildApp({ config: testConfig(), db, logger: false });
    user = await createUser(built.services, 'sqlitedown');
  });
  after(async () => {
    await built.app.close();
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('writes are 503 with Retry-After while another process holds the lock, then work again', async () => {
    const other = new SQLite(path.join(dir, 'orgplane.db'));
    other.pragma('busy_timeout = 0');
    other.exec('begin exclusive');
    try {
      const res = await inject(built, 'POST', '/api/v2/api_keys', user.token, { key_name: 'locked' });
      assertUnavailable(res, 'createApiKey');
      assert.equal((await inject(built, 'GET', '/healthz')).status, 200);
    } finally {
      other.exec('rollback');
      other.close();
    }
    const res = await inject(built, 'POST', '/api/v2/api_keys', user.token, { key_name: 'unlocked' });
    assert.equal(res.status, 200);
  });
});
