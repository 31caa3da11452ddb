// Compute engine figures (docs/compute.md): template creation, project ready, branch creation with an empty
// and a ~100 MB parent that takes writes meanwhile, wake-on-connect latency, idle memory per compute, and
// queries per second through the endpoint port vs. straight to the compute. `npx tsx bench/compute.ts`
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import type { EndpointSpec } from '../src/compute/engine.ts';
import { ComputeRuntime } from '../src/compute/runtime.ts';

const run = promisify(execFile);
const PASSWORD = 'bench-password';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-bench-compute-'));
fs.chmodSync(root, 0o755);
const engine = new ComputeRuntime(loadConfig({ ORGPLANE_DATA_DIR: root }));
// The same engine with ORGPLANE_ENDPOINT_MODE=direct: an awake compute listens on its endpoint's port itself.
const directEngine = new ComputeRuntime(
  loadConfig({ ORGPLANE_DATA_DIR: path.join(root, 'direct'), ORGPLANE_ENDPOINT_MODE: 'direct' }),
);
const results: Record<string, number | string> = {};
const ms = (t0: bigint) => Number((process.hrtime.bigint() - t0) / 1000n) / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function endpoint(id: string, branchId: string, e = engine): Promise<EndpointSpec> {
  const spec = {
    endpointId: id,
    branchId,
    port: await e.allocatePort(),
    suspendTimeoutSeconds: -1,
    disabled: false,
  };
  await e.openEndpoint(spec);
  return spec;
}
function client(spec: EndpointSpec, e = engine): pg.Client {
  return new pg.Client({
    host: '127.0.0.1',
    port: spec.port,
    user: 'neondb_owner',
    password: PASSWORD,
    database: 'neondb',
    ssl: { ca: fs.readFileSync(e.caCertPath(), 'utf8') },
  });
}
async function project(branch: string, e = engine): Promise<EndpointSpec> {
  await e.createBranchData(branch);
  await e.admin(branch, async (c) => {
    await c.query(`CREATE ROLE neondb_owner LOGIN PASSWORD '${PASSWORD}'`);
    await c.query('CREATE DATABASE neondb OWNER neondb_owner');
  });
  const spec = await endpoint(`ep-${branch}`, branch, e);
  const c = client(spec, e);
  await c.connect();
  await c.end();
  return spec;
}
async function branchWhileWriting(parent: EndpointSpec, child: string): Promise<number> {
  const w = client(parent);
  await w.connect();
  await w.query('CREATE TABLE IF NOT EXISTS w (n int)');
  let writing = true;
  let n = 0;
  const loop = (async () => {
    while (writing) await w.query('INSERT INTO w VALUES ($1)', [++n]);
  })();
  const t0 = process.hrtime.bigint();
  await engine.createBranchData(child, parent.branchId);
  const took = ms(t0);
  writing = false;
  await loop;
  await w.end();
  return took;
}
function memory(pid: number): { rssMb: number; pssMb: number; processes: number } {
  const pids = [
    pid,
    ...fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number),
  ];
  let rss = 0;
  let pss = 0;
  for (const p of pids) {
    const text = fs.readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
    rss += Number(/^Rss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    pss += Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
  }
  return { rssMb: Math.round(rss / 102.4) / 10, pssMb: Math.round(pss / 102.4) / 10, processes: pids.length };
}

try {
  let t0 = process.hrtime.bigint();
  await engine.init();
  results.initMs = ms(t0);
  t0 = process.hrtime.bigint();
  await engine.createBranchData('br-first');
  results.templateAndFirstBranchMs = ms(t0);
  t0 = process.hrtime.bigint();
  const main = await project('br-main');
  results.projectReadyMs = ms(t0);

  results.branchEmptyParentMs = await branchWhileWriting(main, 'br-empty-child');
  const big = client(main);
  await big.connect();
  await big.query(
    'CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 8) AS pad FROM generate_series(1, 330000) g',
  );
  const size = await big.query<{ s: string }>("SELECT pg_database_size('neondb')::text AS s");
  results.parentSizeMb = Math.round(Number(size.rows[0]?.s) / 1048576);
  await big.end();
  results.branch100MbParentMs = await branchWhileWriting(main, 'br-big-child');

  // Wake on connect: a suspended endpoint, a fresh TLS+SCRAM connection, first query answered.
  const spec = await endpoint('ep-big-child', 'br-big-child');
  const wakes: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < 5; i++) {
    await engine.suspendEndpoint('ep-big-child');
    t0 = process.hrtime.bigint();
    const c = client(spec);
    await c.connect();
    await c.query('SELECT 1');
    wakes.push(ms(t0));
    await c.end();
    t0 = process.hrtime.bigint();
    const d = client(spec);
    await d.connect();
    await d.query('SELECT 1');
    warm.push(ms(t0));
    await d.end();
  }
  results.wakeMedianMs = median(wakes);

  // Direct mode: the first connection moves the compute onto its endpoint's port; wake is timed the same way.
  const directSpec = await project('br-direct', directEngine);
  const directPort = await directEngine.admin('br-direct', async (c) =>
    Number(
      (await c.query<{ p: string }>("SELECT setting AS p FROM pg_settings WHERE name = 'port'")).rows[0]?.p,
    ),
  );
  results.directModeComputePortIsEndpointPort = String(directPort === directSpec.port);
  const directCa = fs.readFileSync(directEngine.caCertPath(), 'utf8');
  const directWakes: number[] = [];
  for (let i = 0; i < 5; i++) {
    await directEngine.suspendEndpoint(directSpec.endpointId);
    t0 = process.hrtime.bigint();
    const c = client(directSpec, directEngine);
    await c.connect();
    await c.query('SELECT 1');
    directWakes.push(ms(t0));
    await c.end();
  }
  results.directModeWakeMedianMs = median(directWakes);
  results.connectRunningMedianMs = median(warm);

  const pid = engine.runningPid('br-main');
  if (pid) {
    const m = memory(pid);
    results.idleRssMb = m.rssMb;
    results.idlePssMb = m.pssMb;
    results.idleProcesses = m.processes;
  }

  // Same SQL, one connection each: through the endpoint port, to the compute's own port, and through
  // a minimal relay (bench/min-relay.mjs) to that port, whose cost is the floor of any relay. The
  // client is another process, as an application is: in this one it would share the relay's event
  // loop, and every relayed message would wait for the client's own work. A fresh project, made like the
  // direct-mode one, so the two computes compared differ in nothing but who listens on the port (br-main
  // has just taken 100 MB of writes, and its autovacuum may still run).
  const qpsProject = await project('br-qps');
  const internal = await engine.admin('br-qps', async (c) =>
    Number(
      (await c.query<{ p: string }>("SELECT setting AS p FROM pg_settings WHERE name = 'port'")).rows[0]?.p,
    ),
  );
  const relay = spawn(process.execPath, [path.join(import.meta.dirname, 'min-relay.mjs'), String(internal)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const [line] = (await once(relay.stdout, 'data')) as [Buffer];
    const { stdout: qps } = await run(process.execPath, [
      path.join(import.meta.dirname, 'qps-client.mjs'),
      JSON.stringify({
        endpointPort: qpsProject.port,
        directPort: internal,
        floorPort: Number(line.toString().trim()),
        directModePort: directSpec.port,
        directModeCa: directCa,
        password: PASSWORD,
        ca: fs.readFileSync(engine.caCertPath(), 'utf8'),
        perRound: 400,
        rounds: 12, // each of the four sides starts three rounds
      }),
    ]);
    const byQuery = JSON.parse(qps) as Record<'oneRow' | 'hundredRows', Record<string, number>>;
    for (const [query, sides] of Object.entries(byQuery)) {
      for (const [side, n] of Object.entries(sides)) results[`${query}.${side}`] = n;
    }
  } finally {
    relay.kill();
  }
  results.load = os.loadavg()[0]?.toFixed(1) ?? '';
  results.cpus = os.availableParallelism();
  const { stdout } = await run('df', ['-T', root]);
  results.filesystem = stdout.trim().split('\n')[1]?.split(/\s+/)[1] ?? '';
  console.log(JSON.stringify(results, null, 2));
  verdicts();
} finally {
  await engine.close();
  await directEngine.close();
  fs.rmSync(root, { recursive: true, force: true });
}

/** Issue targets beside each figure (Neon: about 1 s per branch). Printed, not asserted. */
function verdicts(): void {
  const num = (k: string) => Number(results[k]);
  const overhead = (query: string, side: string) => 1 - num(`${query}.${side}`) / num(`${query}.directQps`);
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const rows: [string, string, string, boolean][] = [
    [
      'project ready (branch data, role, database, first connection)',
      `${num('projectReadyMs')} ms`,
      '< 1000 ms',
      num('projectReadyMs') < 1000,
    ],
    [
      'branch of an empty parent taking writes',
      `${num('branchEmptyParentMs')} ms`,
      '< 1000 ms',
      num('branchEmptyParentMs') < 1000,
    ],
    [
      `branch of a ${num('parentSizeMb')} MB parent taking writes`,
      `${num('branch100MbParentMs')} ms`,
      '< 2000 ms',
      num('branch100MbParentMs') < 2000,
    ],
    [
      'wake on connect (suspended → first query)',
      `${num('wakeMedianMs')} ms`,
      '< 1000 ms',
      num('wakeMedianMs') < 1000,
    ],
    [
      'endpoint port overhead vs the compute directly, one-row queries',
      `${pct(overhead('oneRow', 'endpointQps'))} (a minimal relay: ${pct(overhead('oneRow', 'minimalRelayQps'))})`,
      '< 10 %',
      overhead('oneRow', 'endpointQps') < 0.1,
    ],
    [
      'endpoint port overhead vs the compute directly, 100-row queries',
      `${pct(overhead('hundredRows', 'endpointQps'))} (a minimal relay: ${pct(overhead('hundredRows', 'minimalRelayQps'))})`,
      '< 10 %',
      overhead('hundredRows', 'endpointQps') < 0.1,
    ],
    [
      // The client talks to postgres's own listening socket: nothing sits between to cost anything. The
      // figure beside it compares with another compute's port, so it is the noise between two connections.
      'endpoint port overhead, direct mode (ORGPLANE_ENDPOINT_MODE=direct)',
      `none: postgres listens on the endpoint port itself (${String(results.directModeComputePortIsEndpointPort)}); beside another compute's port ${pct(overhead('oneRow', 'directModeQps'))} / ${pct(overhead('hundredRows', 'directModeQps'))} (one-row / 100-row)`,
      '< 10 %',
      results.directModeComputePortIsEndpointPort === 'true',
    ],
    [
      'wake on connect, direct mode',
      `${num('directModeWakeMedianMs')} ms`,
      '< 1000 ms',
      num('directModeWakeMedianMs') < 1000,
    ],
  ];
  console.log(
    `\ncompute (load average ${String(results.load)}, ${String(results.cpus)} CPUs, ${String(results.filesystem)})`,
  );
  console.log('| figure | measured | target | verdict |\n|---|---|---|---|');
  for (const [what, got, target, ok] of rows)
    console.log(`| ${what} | ${got} | ${target} | ${ok ? 'met' : 'missed'} |`);
}
