// Two real server processes (`node bin/orgplane.js serve`) on one PostgreSQL database: a change made
// through process A (revoking a key, removing a member, demoting an admin) holds on process B from
// B's very next request. Nothing may be cached per process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openDatabase, type Db } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { createServices, type Services } from '../src/services.ts';
import { DIALECT, PG_URL, testConfig } from './helpers/app.ts';
import { addMember, buildWorld, createOrgKey, createUser, type World } from './helpers/factories.ts';
import { assertMatchesSpec } from './helpers/spec.ts';
import { freePort } from './helpers/net.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RETRIES = 20;

interface Server {
  name: string;
  base: string;
  child: ChildProcess;
  output: string[];
}

async function startServer(name: string, databaseUrl: string, dataDir: string): Promise<Server> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    ORGPLANE_RATE_LIMIT: 'off',
    ORGPLANE_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  };
  const child = spawn(process.execPath, ['bin/orgplane.js', 'serve'], { cwd: ROOT, env, stdio: 'pipe' });
  const output: string[] = [];
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited early:\n${output.join('')}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return { name, base, child, output };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${name} did not start within 45 s:\n${output.join('')}`);
}

async function stopServer(s: Server | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null) return;
  const exited = new Promise<void>((r) => s.child.once('exit', () => r()));
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function call(
  s: Server,
  method: string,
  url: string,
  token: string,
  body?: unknown,
  headers: Record<string, string> = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${s.base}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

describe('two server processes on one PostgreSQL', () => {
  const dbName = `orgplane_mp_${randomBytes(5).toString('hex')}`;
  let databaseUrl = '';
  let db: Db | undefined;
  let s: Services;
  let w: World;
  let a: Server | undefined;
  let b: Server | undefined;
  let dataDir = '';

  before(async () => {
    if (DIALECT !== 'postgres') return;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`create database ${dbName}`);
    await admin.end();
    const u = new URL(PG_URL);
    u.pathname = `/${dbName}`;
    databaseUrl = u.toString();
    // This process seeds the data through the same services the CLI uses; the servers then find
    // users present and skip their first-start bootstrap.
    db = openDatabase({ dataDir: '', databaseUrl });
    await migrateToLatest(db);
    s = createServices(db, testConfig(), { warn: () => {}, error: () => {} } as never);
    w = await buildWorld(s);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-mp-'));
    [a, b] = await Promise.all([
      startServer('A', databaseUrl, dataDir),
      startServer('B', databaseUrl, dataDir),
    ]);
  });

  after(async () => {
    if (DIALECT !== 'postgres') return;
    await Promise.all([stopServer(a), stopServer(b)]);
    await db?.close();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const servers = () => {
    assert.ok(a && b);
    return { A: a, B: b };
  };

  test('a personal key revoked through A is refused by B on its next request', async (c) => {
    if (DIALECT !== 'postgres') return c.skip('PostgreSQL only');
    const { A, B } = servers();
    const u = await createUser(s, 'revokee');
    // Both processes have seen the key working (a per-process cache would now hold it).
    for (const srv of [A, B, B]) assert.equal((await call(srv, 'GET', '/api/v2/auth', u.token)).status, 200);
    const del = await call(A, 'DELETE', `/api/v2/api_keys/${u.keyId}`, u.token);
    assert.equal(del.status, 200);
    assertMatchesSpec('revokeApiKey', del.status, del.body);
    for (let i = 0; i < RETRIES; i++) {
      const res = await call(B, 'GET', '/api/v2/auth', u.token);
      assert.equal(res.status, 401, `retry ${i}`);
      assertMatchesSpec('getAuthDetails', res.status, res.body);
    }
    assert.equal((await call(A, 'GET', '/api/v2/auth', u.token)).status, 401);
  });

  test('an organization key revoked through A is refused by B on its next request', async (c) => {
    if (DIALECT !== 'postgres') return c.skip('PostgreSQL only');
    const { A, B } = servers();
    const key = await createOrgKey(s, w.orgA.id, w.admin);
    const url = `/api/v2/organizations/${w.orgA.id}/members`;
    for (const srv of [A, B, B]) assert.equal((await call(srv, 'GET', url, key.token)).status, 200);
    const del = await call(
      A,
      'DELETE',
      `/api/v2/organizations/${w.orgA.id}/api_keys/${key.id}`,
      w.admin.token,
    );
    assert.equal(del.status, 200);
    assertMatchesSpec('revokeOrgApiKey', del.status, del.body);
    for (let i = 0; i < RETRIES; i++) {
      const res = await call(B, 'GET', url, key.token);
      assert.equal(res.status, 401, `retry ${i}`);
      assertMatchesSpec('getOrganizationMembers', res.status, res.body);
    }
  });

  test('a member removed through A gets 404 on the organization through B on the next request', async (c) => {
    if (DIALECT !== 'postgres') return c.skip('PostgreSQL only');
    const { A, B } = servers();
    const u = await createUser(s, 'removee');
    const row = await addMember(s, w.orgA.id, u, 'member');
    const url = `/api/v2/organizations/${w.orgA.id}`;
    for (const srv of [A, B, B]) assert.equal((await call(srv, 'GET', url, u.token)).status, 200);
    const del = await call(
      A,
      'DELETE',
      `/api/v2/organizations/${w.orgA.id}/members/${row.id}`,
      w.admin.token,
    );
    assert.equal(del.status, 200);
    assertMatchesSpec('removeOrganizationMember', del.status, del.body);
    for (let i = 0; i < RETRIES; i++) {
      const res = await call(B, 'GET', url, u.token);
      assert.equal(res.status, 404, `retry ${i}`);
      assertMatchesSpec('getOrganization', res.status, res.body);
    }
    // The key itself still authenticates (it is the user's), it just reaches nothing in A.
    const orgs = await call(B, 'GET', '/api/v2/users/me/organizations', u.token);
    assert.equal(orgs.status, 200);
    assert.deepEqual(orgs.body.organizations, []);
  });

  test('two admins demoting each other through different processes at once leave exactly one admin', async (c) => {
    if (DIALECT !== 'postgres') return c.skip('PostgreSQL only');
    const { A, B } = servers();
    for (let round = 0; round < 10; round++) {
      const x = await createUser(s, 'x');
      const y = await createUser(s, 'y');
      const org = await s.organizations.createWithAdmin(x.id, { name: 'Race' });
      const yRow = await addMember(s, org.id, y, 'admin');
      const xRow = await s.db.kysely
        .selectFrom('members')
        .select('id')
        .where('org_id', '=', org.id)
        .where('user_id', '=', x.id)
        .executeTakeFirstOrThrow();
      const [rx, ry] = await Promise.all([
        call(A, 'PATCH', `/api/v2/organizations/${org.id}/members/${yRow.id}`, x.token, { role: 'member' }),
        call(B, 'PATCH', `/api/v2/organizations/${org.id}/members/${xRow.id}`, y.token, { role: 'member' }),
      ]);
      assertMatchesSpec('updateOrganizationMember', rx.status, rx.body);
      assertMatchesSpec('updateOrganizationMember', ry.status, ry.body);
      assert.deepEqual([rx.status, ry.status].sort(), [200, 403], `round ${round}`);
      const admins = await s.db.kysely
        .selectFrom('members')
        .select('user_id')
        .where('org_id', '=', org.id)
        .where('role', '=', 'admin')
        .execute();
      assert.equal(admins.length, 1, `round ${round}`);
    }
  });

  test('an admin demoted through A is refused admin actions by B on the next request', async (c) => {
    if (DIALECT !== 'postgres') return c.skip('PostgreSQL only');
    const { A, B } = servers();
    const u = await createUser(s, 'demotee');
    const row = await addMember(s, w.orgA.id, u, 'admin');
    const adminAction = () =>
      call(B, 'POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, u.token, { key_name: 'mp' });
    const warm = await adminAction();
    assert.equal(warm.status, 200);
    const patch = await call(
      A,
      'PATCH',
      `/api/v2/organizations/${w.orgA.id}/members/${row.id}`,
      w.admin.token,
      {
        role: 'member',
      },
    );
    assert.equal(patch.status, 200);
    assertMatchesSpec('updateOrganizationMember', patch.status, patch.body);
    assert.equal(patch.body.role, 'member');
    for (let i = 0; i < RETRIES; i++) {
      const res = await adminAction();
      assert.equal(res.status, 403, `retry ${i}`);
      assertMatchesSpec('createOrgApiKey', res.status, res.body);
    }
  });
  test('one Idempotency-Key sent to both processes at once: the work is done once', async (c) => {
    if (DIALECT !== 'postgres') return c.skip('PostgreSQL only');
    const { A, B } = servers();
    const url = `/api/v2/organizations/${w.orgA.id}/api_keys`;
    const headers = { 'idempotency-key': `mp-${randomBytes(4).toString('hex')}` };
    const results = await Promise.all(
      [A, B, A, B, A, B].map((srv) =>
        call(srv, 'POST', url, w.admin.token, { key_name: 'mp-idem' }, headers),
      ),
    );
    const statuses = results.map((r) => r.status);
    assert.ok(
      statuses.every((x) => x === 200 || x === 409),
      statuses.join(','),
    );
    const firsts = results.filter((r) => r.status === 200 && r.headers.get('idempotent-replayed') === null);
    assert.equal(firsts.length, 1, statuses.join(','));
    const again = await call(B, 'POST', url, w.admin.token, { key_name: 'mp-idem' }, headers);
    assert.equal(again.status, 200);
    assert.equal(again.body.id, firsts[0]?.body.id);
    assert.equal(again.headers.get('idempotent-token-redacted'), 'true');
    const rows = await s.db.kysely
      .selectFrom('api_keys')
      .select('id')
      .where('name', '=', 'mp-idem')
      .execute();
    assert.equal(rows.length, 1);
  });

  test('a key rotated through A with an overlap works on B until the overlap ends, then not', async (c) => {
    if (DIALECT !== 'postgres') return c.skip('PostgreSQL only');
    const { A, B } = servers();
    const key = await createOrgKey(s, w.orgA.id, w.admin);
    for (const srv of [A, B, B])
      assert.equal((await call(srv, 'GET', '/api/v2/auth', key.token)).status, 200);
    const rot = await call(
      A,
      'POST',
      `/api/v2/organizations/${w.orgA.id}/api_keys/${key.id}/rotate`,
      w.admin.token,
      {
        overlap_seconds: 2,
      },
    );
    assert.equal(rot.status, 200);
    const end = Date.parse(rot.body.rotated_from.expires_at);
    assert.equal((await call(B, 'GET', '/api/v2/auth', key.token)).status, 200, 'during the overlap');
    await new Promise((r) => setTimeout(r, end - Date.now() + 200));
    assert.equal((await call(B, 'GET', '/api/v2/auth', key.token)).status, 401, 'B after the overlap');
    assert.equal((await call(B, 'GET', '/api/v2/auth', rot.body.key)).status, 200);
  });
});
