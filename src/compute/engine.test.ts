// The compute engine against real PostgreSQL processes: one engine and one template per file, real psql
// (sslmode=require&channel_binding=require, exactly as neonctl prints) and node-postgres verifying the CA.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { loadConfig, type Config } from '../config.ts';
import type { AppError } from '../domain/errors.ts';
import type { EndpointSpec } from './engine.ts';
import { ComputeRuntime } from './runtime.ts';
import { ManualTimer, openTestEndpoint } from './testing.ts';

const run = promisify(execFile);
const PSQL = '/usr/bin/psql';
const PASSWORD = 'correct horse battery staple';

let root: string;
let config: Config;
let timer: ManualTimer;
let engine: ComputeRuntime;

function url(spec: EndpointSpec, user = 'neondb_owner', password = PASSWORD, db = 'neondb'): string {
  // What neonctl's `cs` builds: new URL(`postgresql://${endpoint.host}`) plus these two parameters.
  const u = new URL(`postgresql://${engine.hostFor(spec)}`);
  u.pathname = db;
  u.username = user;
  u.password = password;
  u.searchParams.set('sslmode', 'require');
  u.searchParams.set('channel_binding', 'require');
  return u.href;
}

async function psql(connection: string, sql: string): Promise<string> {
  const { stdout } = await run(PSQL, [connection, '-XAtqc', sql], {
    env: { PATH: process.env.PATH, PGCONNECT_TIMEOUT: '30' },
  });
  return stdout.trim();
}

async function psqlFails(connection: string, sql = 'SELECT 1'): Promise<string> {
  try {
    await run(PSQL, [connection, '-XAtqc', sql], {
      env: { PATH: process.env.PATH, PGCONNECT_TIMEOUT: '30' },
    });
  } catch (err) {
    return String((err as { stderr?: string }).stderr);
  }
  assert.fail('psql connected but should have been refused');
}

const endpoint = (endpointId: string, branchId: string, extra: Partial<EndpointSpec> = {}) =>
  openTestEndpoint(engine, endpointId, branchId, extra);

/** A node-postgres client over the endpoint, verifying the server against the local CA. */
async function nodeClient(spec: EndpointSpec): Promise<pg.Client> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: spec.port,
    user: 'neondb_owner',
    password: PASSWORD,
    database: 'neondb',
    ssl: { ca: fs.readFileSync(engine.caCertPath(), 'utf8'), rejectUnauthorized: true },
  });
  await client.connect();
  return client;
}

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-compute-'));
  // The compute user (when tests run as root) must traverse this directory.
  fs.chmodSync(root, 0o755);
  config = loadConfig({ ORGPLANE_DATA_DIR: root, ORGPLANE_MAX_COMPUTES: '10' });
  timer = new ManualTimer();
  engine = new ComputeRuntime(config, { timer });
  await engine.createBranchData('br-main');
  await engine.admin('br-main', async (c) => {
    await c.query(`CREATE ROLE neondb_owner LOGIN PASSWORD '${PASSWORD}'`);
    await c.query('CREATE DATABASE neondb OWNER neondb_owner');
  });
});

after(async () => {
  await engine?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('compute engine', () => {
  test('a branch from the template connects through its endpoint with psql (SCRAM-SHA-256-PLUS over TLS)', async () => {
    const spec = await endpoint('ep-main', 'br-main');
    assert.equal(engine.hostFor(spec), `127.0.0.1:${spec.port}`);
    const out = await psql(
      url(spec),
      "CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items VALUES (1, 'one'); SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    );
    assert.equal(out, 't');
    assert.deepEqual(await engine.listBranchData(), ['br-main']);
    assert.equal(engine.state('ep-main'), 'active');
    // Refusals: a wrong password, the superuser over TCP, a plain (non-TLS) connection.
    assert.match(await psqlFails(url(spec, 'neondb_owner', 'wrong')), /password authentication failed/);
    assert.match(
      await psqlFails(url(spec, 'cloud_admin', 'x', 'postgres')),
      /rejects connection|no pg_hba\.conf entry|refused/,
    );
    const plain = url(spec)
      .replace('sslmode=require', 'sslmode=disable')
      .replace('&channel_binding=require', '');
    assert.match(await psqlFails(plain), /pg_hba\.conf rejects connection|no encryption/);
  });

  test('node-postgres verifies the certificate with the local CA (NODE_EXTRA_CA_CERTS) on the verbatim string', async () => {
    const spec = await endpoint('ep-node', 'br-main');
    const script = `import pg from 'pg'; const c = new pg.Client(process.argv[1]); await c.connect(); const r = await c.query('select 1 as one'); console.log(r.rows[0].one); await c.end();`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, url(spec)], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH, NODE_EXTRA_CA_CERTS: engine.caCertPath() },
    });
    assert.equal(stdout.trim(), '1');
    // Without the CA the same string is refused: verification really happens.
    const refused = await run(process.execPath, ['--input-type=module', '-e', script, url(spec)], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH },
    }).then(
      () => '',
      (err: { stderr: string }) => err.stderr,
    );
    assert.match(refused, /self-signed certificate|unable to verify|unable to get local issuer/);
    await engine.closeEndpoint('ep-node');
  });

  test('branching copies the parent while a session writes on it: the session is never cut, the child sees committed rows', async () => {
    const spec = await endpoint('ep-main-w', 'br-main');
    const writer = await nodeClient(spec);
    const pid = (await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    await writer.query('CREATE TABLE IF NOT EXISTS writes (n int)');
    for (let i = 1; i <= 50; i++) await writer.query('INSERT INTO writes VALUES ($1)', [i]);
    // Writes continue during the copy; every one must succeed on the same backend.
    let n = 50;
    let writing = true;
    const loop = (async () => {
      while (writing) await writer.query('INSERT INTO writes VALUES ($1)', [++n]);
    })();
    // An open transaction across the copy too: uncommitted rows must not appear in the child.
    const txn = await nodeClient(spec);
    await txn.query('BEGIN');
    await txn.query('INSERT INTO writes VALUES (-1)');
    await engine.createBranchData('br-child', 'br-main');
    writing = false;
    await loop;
    await txn.query('COMMIT');
    await txn.end();
    assert.equal((await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid, pid);
    await writer.end();

    const child = await endpoint('ep-child', 'br-child');
    const seen = Number(await psql(url(child), 'SELECT count(*) FROM writes WHERE n BETWEEN 1 AND 50'));
    assert.equal(seen, 50);
    assert.equal(await psql(url(child), 'SELECT count(*) FROM writes WHERE n = -1'), '0');
    assert.equal(await psql(url(child), 'SELECT note FROM items WHERE id = 1'), 'one');
    // Writes on each side stay on that side.
    await psql(url(child), "INSERT INTO items VALUES (2, 'child only')");
    await psql(url(spec), "INSERT INTO items VALUES (3, 'parent only')");
    assert.equal(await psql(url(child), "SELECT string_agg(id::text, ',' ORDER BY id) FROM items"), '1,2');
    assert.equal(await psql(url(spec), "SELECT string_agg(id::text, ',' ORDER BY id) FROM items"), '1,3');
    // Idempotent by id: creating it again keeps its data.
    await engine.createBranchData('br-child', 'br-main');
    assert.equal(await psql(url(child), 'SELECT count(*) FROM items'), '2');
    await engine.closeEndpoint('ep-main-w');
  });

  test('replace takes the source’s current data; sessions on the replaced branch end', async () => {
    const child = await endpoint('ep-child-r', 'br-child');
    const session = await nodeClient(child);
    const ended = new Promise<void>((resolve) => session.on('error', () => resolve()));
    await engine.replaceBranchData('br-child', 'br-main');
    await ended;
    assert.equal(await psql(url(child), "SELECT string_agg(id::text, ',' ORDER BY id) FROM items"), '1,3');
    await assert.rejects(engine.replaceBranchData('br-child', 'br-nope'), (e: AppError) => e.status === 404);
    await engine.closeEndpoint('ep-child-r');
  });

  test('wake on connect, and suspension after the idle timeout (counted with a manual timer)', async () => {
    const spec = await endpoint('ep-wake', 'br-child', { suspendTimeoutSeconds: 60 });
    await engine.suspendEndpoint('ep-wake');
    assert.equal(engine.state('ep-wake'), 'idle');
    assert.equal(engine.runningPid('br-child'), undefined);
    // Several connections at once share one start.
    const results = await Promise.all(
      [1, 2, 3].map(() => psql(url(spec), 'SELECT pg_postmaster_start_time()::text')),
    );
    assert.equal(new Set(results).size, 1);
    assert.equal(engine.state('ep-wake'), 'active');
    // An open connection holds the compute: time passes, nothing suspends.
    const held = await nodeClient(spec);
    timer.advance(3600_000);
    assert.equal(engine.state('ep-wake'), 'active');
    await held.end();
    await timer.whenArmed();
    // The longest timeout of the branch's endpoints applies (ep-child: 0 = 300 s default).
    assert.deepEqual(timer.armed(), [300_000]);
    await engine.closeEndpoint('ep-child');
    await timer.whenArmed();
    assert.deepEqual(timer.armed(), [60_000]);
    timer.advance(59_999);
    assert.equal(engine.state('ep-wake'), 'active');
    timer.advance(1);
    await engine.settled('br-child');
    assert.equal(engine.state('ep-wake'), 'idle');
    assert.equal(engine.runningPid('br-child'), undefined);
    // The next connection wakes it again.
    assert.equal(await psql(url(spec), 'SELECT count(*) FROM items'), '2');
    await engine.closeEndpoint('ep-wake');
  });

  test('a disabled endpoint refuses connections with a clear error', async () => {
    const spec = await endpoint('ep-off', 'br-main', { disabled: true });
    const err = await psqlFails(
      url(spec).replace('sslmode=require', 'sslmode=disable').replace('&channel_binding=require', ''),
    );
    assert.match(err, /endpoint ep-off is disabled/);
    await engine.closeEndpoint('ep-off');
  });

  test('the running-compute limit: a clear 429 for an API start, an ErrorResponse for a connection', async () => {
    await engine.createBranchData('br-limit', 'br-main');
    const spec = await endpoint('ep-limit', 'br-limit');
    await engine.suspendEndpoint('ep-limit');
    config.compute.maxComputes = engine.runningCount();
    try {
      await assert.rejects(
        engine.admin('br-limit', async () => undefined),
        (e: AppError) => e.status === 429 && /ORGPLANE_MAX_COMPUTES/.test(e.message),
      );
      const plain = url(spec)
        .replace('sslmode=require', 'sslmode=disable')
        .replace('&channel_binding=require', '');
      assert.match(await psqlFails(plain), /too many running computes/);
      // With TLS required the client reports the refusal during SSL negotiation.
      assert.match(await psqlFails(url(spec)), /SSL|server closed|error/i);
      assert.equal(engine.state('ep-limit'), 'idle');
    } finally {
      config.compute.maxComputes = 10;
    }
    assert.equal(await psql(url(spec), 'SELECT 1'), '1');
  });

  test('delete removes the data and the endpoint stops connecting', async () => {
    const spec = await endpoint('ep-limit2', 'br-limit');
    assert.equal(await psql(url(spec), 'SELECT 1'), '1');
    await engine.deleteBranchData('br-limit');
    await engine.deleteBranchData('br-limit'); // idempotent
    assert.ok(!(await engine.listBranchData()).includes('br-limit'));
    assert.match(await psqlFails(url(spec)), /SSL|error|closed/i);
    await engine.closeEndpoint('ep-limit');
    await engine.closeEndpoint('ep-limit2');
    await assert.rejects(engine.createBranchData('br-x', 'br-limit'), (e: AppError) => e.status === 404);
    await assert.rejects(engine.createBranchData('../etc'), (e: AppError) => e.status === 400);
  });

  test('SIGKILL of a compute: the next use recovers it; a copy interrupted by it leaves no branch', async () => {
    const spec = await endpoint('ep-kill', 'br-main');
    await psql(url(spec), 'SELECT 1');
    const pid = engine.runningPid('br-main');
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    await engine.settled('br-main');
    // Crash recovery on the next connection; committed rows survive.
    assert.equal(await psql(url(spec), 'SELECT note FROM items WHERE id = 1'), 'one');
    // Kill the parent while a branch copy from it runs (right after the backup started).
    const victim = engine.runningPid('br-main');
    assert.ok(victim);
    const copying = engine.createBranchData('br-killed', 'br-main');
    const killer = (async () => {
      for (;;) {
        const labels = fs
          .readdirSync(path.join(root, 'compute', 'tmp'))
          .filter((n) => n.startsWith('br-killed.building'));
        if (labels.length > 0) break;
        await new Promise((r) => setImmediate(r));
      }
      process.kill(victim, 'SIGKILL');
    })();
    const outcome = await copying.then(
      () => 'made',
      () => 'failed',
    );
    await killer;
    const listed = (await engine.listBranchData()).includes('br-killed');
    assert.equal(listed, outcome === 'made');
    assert.ok(!fs.readdirSync(path.join(root, 'compute', 'tmp')).some((n) => n.startsWith('br-killed')));
    // Whatever happened, a retry gives a whole branch that connects.
    await engine.createBranchData('br-killed', 'br-main');
    const k = await endpoint('ep-killed', 'br-killed');
    assert.equal(await psql(url(k), 'SELECT note FROM items WHERE id = 1'), 'one');
    await engine.closeEndpoint('ep-killed');
    await engine.closeEndpoint('ep-kill');
  });

  test('one orgplane per compute directory; a stale lock is taken over', async () => {
    const second = new ComputeRuntime(config, { timer });
    await assert.rejects(
      second.init(),
      (e: AppError) => e.status === 409 && /another orgplane process/.test(e.message),
    );
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-lock-'));
    fs.chmodSync(other, 0o755);
    try {
      const dead = spawn(process.execPath, ['-e', '']);
      await new Promise((r) => dead.once('exit', r));
      fs.mkdirSync(path.join(other, 'compute'));
      fs.writeFileSync(path.join(other, 'compute', 'orgplane.lock'), `${dead.pid} 1\n`);
      const third = new ComputeRuntime(loadConfig({ ORGPLANE_DATA_DIR: other }), { timer });
      await third.init();
      assert.equal(
        fs.readFileSync(path.join(other, 'compute', 'orgplane.lock'), 'utf8').split(' ')[0],
        String(process.pid),
      );
      await third.close();
      assert.ok(!fs.existsSync(path.join(other, 'compute', 'orgplane.lock')));
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  test('schemaDump prints the schema of one database', async () => {
    const dump = await engine.schemaDump('br-main', 'neondb');
    assert.match(dump, /CREATE TABLE public\.items/);
    assert.match(dump, /PRIMARY KEY \(id\)/);
    await assert.rejects(engine.schemaDump('br-main', 'nope'), (e: AppError) => e.status === 404);
  });
});
