// Direct endpoints (ORGPLANE_ENDPOINT_MODE=direct): an awake compute's postgres listens on its endpoint's
// port itself, so no relay sits between client and compute; orgplane takes the port back whenever the
// postgres stops, so a connection to a suspended endpoint still wakes it. Real PostgreSQL, real psql and
// node-postgres, a manual timer for idleness.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../config.ts';
import type { EndpointSpec } from './engine.ts';
import { ComputeRuntime } from './runtime.ts';
import { ManualTimer, openTestEndpoint } from './testing.ts';

const run = promisify(execFile);
const PASSWORD = 'direct and to the point';

let root: string;
let timer: ManualTimer;
let engine: ComputeRuntime;
/** The endpoint of branch br-d, opened by the first test and used by the others. */
let d: EndpointSpec;

const endpoint = (endpointId: string, branchId: string) =>
  openTestEndpoint(engine, endpointId, branchId, { suspendTimeoutSeconds: 60 });

function client(spec: EndpointSpec): pg.Client {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: spec.port,
    user: 'neondb_owner',
    password: PASSWORD,
    database: 'neondb',
    ssl: { ca: fs.readFileSync(engine.caCertPath(), 'utf8'), rejectUnauthorized: true },
  });
  c.on('error', () => undefined); // a session cut by a stop ends with an error event
  return c;
}

/** The port the serving postgres itself listens on, asked through the endpoint as neonctl's string connects. */
async function serverPort(spec: EndpointSpec): Promise<number> {
  const url = `postgresql://neondb_owner:${encodeURIComponent(PASSWORD)}@127.0.0.1:${spec.port}/neondb?sslmode=require&channel_binding=require`;
  const { stdout } = await run('/usr/bin/psql', [url, '-XAtqc', 'SELECT inet_server_port()'], {
    env: { PATH: process.env.PATH, PGCONNECT_TIMEOUT: '30' },
  });
  return Number(stdout.trim());
}

/** What a client meets at the port: PostgreSQL answering an SSLRequest ('served': orgplane wakes the compute
 *  for it if needed) or no listener at all ('refused'). */
function probe(port: number): Promise<'served' | 'refused'> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const sslRequest = Buffer.alloc(8);
    sslRequest.writeInt32BE(8, 0);
    sslRequest.writeInt32BE(80877103, 4);
    s.once('connect', () => s.write(sslRequest));
    s.once('data', (b) => {
      s.destroy();
      return b.toString('latin1', 0, 1) === 'S'
        ? resolve('served')
        : reject(new Error(`answer ${b.toString('hex')}`));
    });
    s.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNREFUSED' ? resolve('refused') : reject(err),
    );
  });
}

/** Barrier: the branch's application sessions have ended inside postgres (a closed client's backend exits
 *  a moment after the client). Each look is a query, not a sleep. */
async function noSessions(branchId: string): Promise<void> {
  for (let looks = 0; looks < 500; looks++) {
    const n = await engine.admin(branchId, async (c) =>
      Number(
        (
          await c.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE usename = 'neondb_owner'",
          )
        ).rows[0]?.n,
      ),
    );
    if (n === 0) return;
  }
  assert.fail('application sessions did not end');
}

async function branch(id: string): Promise<void> {
  await engine.createBranchData(id);
  await engine.admin(id, async (c) => {
    await c.query(`CREATE ROLE neondb_owner LOGIN PASSWORD '${PASSWORD}'`);
    await c.query('CREATE DATABASE neondb OWNER neondb_owner');
  });
}

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-direct-'));
  fs.chmodSync(root, 0o755);
  timer = new ManualTimer();
  engine = new ComputeRuntime(loadConfig({ ORGPLANE_DATA_DIR: root, ORGPLANE_ENDPOINT_MODE: 'direct' }), {
    timer,
  });
  await branch('br-d');
});

after(async () => {
  await engine?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('direct endpoints', () => {
  test('postgres itself listens on the endpoint port while awake; orgplane takes it back when it stops', async () => {
    // The compute runs on a private port (it made the role and database); opening the endpoint moves it
    // onto the endpoint's port before any client has the string.
    const before = engine.runningPid('br-d');
    assert.ok(before);
    d = await endpoint('ep-d', 'br-d');
    const spec = d;
    const pid = engine.runningPid('br-d');
    assert.ok(pid);
    assert.notEqual(pid, before);
    assert.equal(await serverPort(spec), spec.port);
    assert.equal(engine.state('ep-d'), 'active');
    assert.equal(engine.runningPid('br-d'), pid, 'the first connection found it there');
    // Later connections go straight to that postgres: no restart, same port.
    assert.equal(await serverPort(spec), spec.port);
    assert.equal(engine.runningPid('br-d'), pid);

    await engine.suspendEndpoint('ep-d');
    assert.equal(engine.state('ep-d'), 'idle');
    assert.equal(await probe(spec.port), 'served', 'orgplane listens again and wakes it');
    // The next connection wakes it, and the woken postgres holds the port again.
    assert.equal(await serverPort(spec), spec.port);
    assert.notEqual(engine.runningPid('br-d'), pid);
  });

  test('the idle timer counts postgres own sessions: one open keeps it awake, none lets it suspend', async () => {
    const spec = d;
    assert.equal(await serverPort(spec), spec.port);
    const open = client(spec);
    await open.connect();
    await timer.whenArmed();
    assert.deepEqual(timer.armed(), [60_000]);
    const pid = engine.runningPid('br-d');
    timer.advance(60_000);
    await engine.settled('br-d');
    assert.equal(engine.runningPid('br-d'), pid, 'an open session holds the compute');
    assert.deepEqual(timer.armed(), [60_000], 'the countdown starts again');
    await open.end();
    await noSessions('br-d'); // admin() re-arms the countdown on release
    timer.advance(60_000);
    await engine.settled('br-d');
    await engine.whenStopped('br-d');
    assert.equal(engine.state('ep-d'), 'idle');
    assert.equal(engine.runningPid('br-d'), undefined);
    assert.equal(await probe(spec.port), 'served');
    assert.equal(await serverPort(spec), spec.port);
  });

  test('connections that arrive while it wakes are served or refused, never hung, and the waking one is served', async () => {
    const spec = d;
    const port = d.port;
    await engine.suspendEndpoint('ep-d');
    const first = client(spec);
    const waking = first.connect();
    // The rest come while the first one's wake is under way.
    const others = Array.from({ length: 6 }, () => client(spec));
    const outcomes = await Promise.all(
      others.map(async (c) => {
        try {
          await c.connect();
          await c.query('SELECT 1');
          return 'served';
        } catch (err) {
          const e = err as { code?: string; message: string };
          // Queued on orgplane's listener as it closed: reset; before postgres binds: refused by the kernel;
          // after, until ready: PostgreSQL's own 57P03.
          if (e.code === 'ECONNRESET') return 'reset';
          if (e.code === 'ECONNREFUSED') return 'refused';
          if (e.code === '57P03') return 'starting up';
          throw err;
        } finally {
          await c.end().catch(() => undefined);
        }
      }),
    );
    await waking;
    assert.equal((await first.query<{ p: number }>('SELECT inet_server_port() AS p')).rows[0]?.p, port);
    await first.end();
    for (const o of outcomes) assert.ok(['served', 'reset', 'refused', 'starting up'].includes(o));
    // Once awake, every connection is served.
    const after = await Promise.all(Array.from({ length: 6 }, () => serverPort(spec)));
    assert.deepEqual(after, Array(6).fill(port));
  });

  test('a second endpoint of the branch reaches the same postgres through orgplane', async () => {
    const port = d.port;
    const second = await endpoint('ep-d2', 'br-d');
    assert.equal(await serverPort(second), port);
    await engine.closeEndpoint('ep-d2');
    assert.equal(await probe(second.port), 'refused');
  });

  test('disabling or closing the endpoint whose port postgres holds stops that postgres', async () => {
    await branch('br-e');
    const spec = await endpoint('ep-e', 'br-e');
    assert.equal(await serverPort(spec), spec.port);
    await engine.openEndpoint({ ...spec, disabled: true });
    assert.equal(engine.runningPid('br-e'), undefined);
    const plain = `postgresql://neondb_owner:x@127.0.0.1:${spec.port}/neondb?sslmode=disable`;
    const refused = await run('/usr/bin/psql', [plain, '-XAtqc', 'SELECT 1'], {
      env: { PATH: process.env.PATH },
    }).then(
      () => assert.fail('a disabled endpoint let a client in'),
      (err: { stderr?: string }) => String(err.stderr),
    );
    assert.match(refused, /endpoint ep-e is disabled/);
    await engine.openEndpoint(spec);
    assert.equal(await serverPort(spec), spec.port);
    await engine.closeEndpoint('ep-e');
    assert.equal(engine.runningPid('br-e'), undefined);
    assert.equal(await probe(spec.port), 'refused', 'a closed endpoint port answers nothing');
  });

  test('a compute that dies gives the port back, and the next connection wakes a new one', async () => {
    const spec = d;
    const port = d.port;
    assert.equal(await serverPort(spec), port);
    const pid = engine.runningPid('br-d');
    assert.ok(pid);
    const stopped = engine.whenStopped('br-d');
    process.kill(pid, 'SIGKILL');
    await stopped;
    assert.equal(await probe(port), 'served');
    assert.equal(await serverPort(spec), port);
    assert.notEqual(engine.runningPid('br-d'), pid);
  });
});
