// Neon's serverless driver against real computes (the engine's PostgreSQL, TLS verified against its
// local CA, SCRAM): PostgreSQL checks the password on both paths, one project's credentials do not
// open another's endpoint, and a suspended endpoint wakes on the first request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, neon, NeonDbError, Pool } from '@neondatabase/serverless';
import { createComputeEngine, type ComputeEngine, type EndpointSpec } from '../src/compute/engine.ts';
import { StaticEndpointResolver } from '../src/serverless/resolver.ts';
import { buildTestApp, testConfig, type TestApp } from './helpers/app.ts';
import { createOrg, createUser } from './helpers/factories.ts';
import { pointDriverAt } from './helpers/serverless.ts';

type PgError = { code?: string; message: string };

let dir: string;
let engine: ComputeEngine;
let t: TestApp;
const endpoints = new Map<string, { host: string; port: number; ca: string }>();
const specs = new Map<string, EndpointSpec>();

/** A project's default branch, role and database on a real compute; its Neon-style connection string. */
async function computeProject(name: string, password: string): Promise<string> {
  const branchId = `br-${name}`;
  const endpointId = `ep-${name}-000000`;
  await engine.createBranchData(branchId);
  await engine.admin(branchId, async (c) => {
    await c.query(`create role neondb_owner login password '${password}'`);
    await c.query('create database neondb owner neondb_owner');
  });
  const port = await engine.allocatePort();
  const spec: EndpointSpec = { endpointId, branchId, port, suspendTimeoutSeconds: 0, disabled: false };
  await engine.openEndpoint(spec);
  specs.set(endpointId, spec);
  endpoints.set(endpointId, { host: '127.0.0.1', port, ca: fs.readFileSync(engine.caCertPath(), 'utf8') });
  // Exactly as `neonctl cs` prints it: the engine's host (127.0.0.1:port), sslmode and channel binding.
  return `postgresql://neondb_owner:${password}@${engine.hostFor(spec)}/neondb?sslmode=require&channel_binding=require`;
}

let csA: string;
let csB: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-sl-compute-'));
  fs.chmodSync(dir, 0o755); // computes run as an unprivileged user when the tests run as root
  const base = testConfig();
  engine = createComputeEngine({ ...base, compute: { ...base.compute, enabled: true, dir } });
  csA = await computeProject('alpha', 'secret-alpha');
  csB = await computeProject('beta', 'secret-beta');
  t = await buildTestApp({}, { endpointResolver: new StaticEndpointResolver(endpoints) });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const address = t.app.server.address();
  pointDriverAt(typeof address === 'object' && address ? address.port : 0);
});

after(async () => {
  await t?.close();
  await engine?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('serverless driver on real computes', () => {
  test('neon() reaches the compute over verified TLS as the role itself', async () => {
    const sql = neon(csA);
    const [row] = await sql`select current_user as u, current_database() as d,
                                   (select ssl from pg_stat_ssl where pid = pg_backend_pid()) as ssl`;
    assert.deepEqual(row, { u: 'neondb_owner', d: 'neondb', ssl: true });
    await sql`create table notes (id serial primary key, body text)`;
    await sql.transaction([sql`insert into notes (body) values (${'alpha only'})`]);
  });

  test('a wrong password: PostgreSQL refuses it on both paths (28P01)', async () => {
    const wrong = csA.replace('secret-alpha', 'not-the-password');
    await assert.rejects(neon(wrong)`select 1`, (e) => {
      assert.ok(e instanceof NeonDbError);
      assert.equal(e.code, '28P01');
      assert.match(e.message, /password authentication failed for user "neondb_owner"/);
      return true;
    });
    const client = new Client(wrong);
    client.on('error', () => {});
    await assert.rejects(
      async () => {
        await client.connect();
        await client.query('select 1');
      },
      (e: PgError) => e.code === '28P01',
    );
    await client.end().catch(() => {});
  });

  test("one project's credentials do not open another's endpoint; data stays apart", async () => {
    // Same role name, b's endpoint, a's password: b's PostgreSQL refuses it.
    const hostB = new URL(csB).host;
    const crossed = csA.replace(new URL(csA).host, hostB);
    await assert.rejects(neon(crossed)`select 1`, (e: PgError) => e.code === '28P01');
    const sqlB = neon(csB);
    await assert.rejects(sqlB`select * from notes`, (e: PgError) => e.code === '42P01');
    assert.deepEqual(await neon(csA)`select body from notes`, [{ body: 'alpha only' }]);
  });

  test('Pool over the WebSocket tunnel: a multi-statement transaction on the compute', async () => {
    const pool = new Pool({ connectionString: csB });
    pool.on('error', () => {});
    try {
      const c = await pool.connect();
      try {
        await c.query('begin');
        await c.query('create table ledger (id int primary key, amount int)');
        await c.query('insert into ledger values ($1, $2), ($3, $4)', [1, 10, 2, 20]);
        await c.query('commit');
      } finally {
        c.release();
      }
      const { rows } = await pool.query('select sum(amount)::int as total from ledger');
      assert.deepEqual(rows, [{ total: 30 }]);
    } finally {
      await pool.end();
    }
  });

  test('a suspended endpoint wakes on the first request, over HTTP and over the tunnel', async () => {
    const idA = 'ep-alpha-000000';
    await engine.suspendEndpoint(idA);
    assert.equal(engine.state(idA), 'idle');
    assert.deepEqual(await neon(csA)`select count(*)::int as n from notes`, [{ n: 1 }]);
    assert.equal(engine.state(idA), 'active');
    await engine.suspendEndpoint(idA);
    assert.equal(engine.state(idA), 'idle');
    const client = new Client(csA);
    client.on('error', () => {});
    await client.connect();
    try {
      assert.deepEqual((await client.query('select count(*)::int as n from notes')).rows, [{ n: 1 }]);
      assert.equal(engine.state(idA), 'active');
    } finally {
      await client.end();
    }
  });
});

for (const endpointMode of ['relay', 'direct'] as const)
  describe(`serverless driver on projects made through the API (records resolver, ${endpointMode} endpoints)`, () => {
    let app: TestApp;
    let apiDir: string;
    let token: string;
    let orgId: string;

    before(async () => {
      apiDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-sl-api-'));
      fs.chmodSync(apiDir, 0o755);
      const base = testConfig();
      app = await buildTestApp({ compute: { ...base.compute, enabled: true, dir: apiDir, endpointMode } });
      await app.services.startCompute();
      await app.app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.app.server.address();
      pointDriverAt(typeof address === 'object' && address ? address.port : 0);
      const user = await createUser(app.services);
      token = user.token;
      orgId = (await createOrg(app.services, user)).id;
    });

    after(async () => {
      await app?.close();
      if (apiDir) fs.rmSync(apiDir, { recursive: true, force: true });
    });

    async function create(name: string): Promise<{ id: string; cs: string }> {
      const r = await app.call('POST', '/api/v2/projects', {
        token,
        body: { project: { name, org_id: orgId } },
      });
      assert.equal(r.status, 201, r.text);
      return { id: r.body.project.id as string, cs: r.body.connection_uris[0].connection_uri as string };
    }

    test('the connection string from project creation works verbatim on both paths; others are refused', async () => {
      const one = await create('sl-one');
      const two = await create('sl-two');
      const sql = neon(one.cs);
      await sql`create table secrets (v text)`;
      await sql`insert into secrets values (${'one'})`;
      const pool = new Pool({ connectionString: one.cs });
      pool.on('error', () => {});
      try {
        assert.deepEqual((await pool.query('select v from secrets')).rows, [{ v: 'one' }]);
      } finally {
        await pool.end();
      }
      // one's password on two's endpoint: refused by two's PostgreSQL.
      const crossed = one.cs.replace(new URL(one.cs).host, new URL(two.cs).host);
      await assert.rejects(neon(crossed)`select 1`, (e: PgError) => e.code === '28P01');
      await assert.rejects(neon(two.cs)`select * from secrets`, (e: PgError) => e.code === '42P01');
      // A deleted project's endpoint is gone for the driver too.
      const del = await app.call('DELETE', `/api/v2/projects/${two.id}`, { token });
      assert.equal(del.status, 200, del.text);
      await assert.rejects(neon(two.cs)`select 1`, (e: Error) => /HTTP status 404/.test(e.message));
      assert.deepEqual(await sql`select v from secrets`, [{ v: 'one' }]);
    });

    test('requests that arrive together at a suspended endpoint are all served, over HTTP and the tunnel', async () => {
      // In direct mode the compute's postgres holds the port while awake; orgplane's /sql and /v2 wait for
      // the wake (engine.awake) instead of meeting its refusal window.
      const p = await create('sl-wake');
      const engine = app.services.engine;
      assert.ok(engine);
      const ep = (await app.call('GET', `/api/v2/projects/${p.id}/endpoints`, { token })).body.endpoints[0];
      const sql = neon(p.cs);
      for (let round = 0; round < 2; round++) {
        await engine.suspendEndpoint(ep.id as string);
        assert.equal(engine.state(ep.id as string), 'idle');
        const answers = await Promise.all(
          Array.from({ length: 6 }, (_, i) => sql`select ${i}::int as i`.then((r) => r[0]?.i as number)),
        );
        assert.deepEqual(answers, [0, 1, 2, 3, 4, 5]);
        await engine.suspendEndpoint(ep.id as string);
        const pool = new Pool({ connectionString: p.cs, max: 4 });
        pool.on('error', () => {});
        try {
          const rows = await Promise.all(
            Array.from({ length: 4 }, (_, i) =>
              pool.query('select $1::int as i', [i]).then((r) => r.rows[0].i as number),
            ),
          );
          assert.deepEqual(rows, [0, 1, 2, 3]);
        } finally {
          await pool.end();
        }
      }
      const port = Number(new URL(p.cs).port);
      const served = await sql`select inet_server_port() as p`;
      // Who answers on the string's port: the compute itself in direct mode, orgplane's relay otherwise.
      assert.equal(served[0]?.p === port, endpointMode === 'direct');
    });
  });
