// Queries per second to one real compute endpoint, side by side, with Neon's serverless driver:
//   /sql     neon() over HTTP through orgplane (one request per query, pooled compute connections)
//   /v2      the driver's Pool over orgplane's WebSocket tunnel
//   TCP      node-postgres straight to the endpoint's port (TLS, SCRAM), the baseline
// Same SQL (`select $1::int + 1`), same concurrency, same duration. `npx tsx bench/serverless.ts`
// (npm run bench runs it last); BENCH_SERVERLESS_SECONDS (default 5, quick 2), BENCH_SERVERLESS_CONCURRENCY
// (default 8). Writes bench/serverless-results.json (a quick run bench/tmp/serverless-results-quick.json).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { neon, neonConfig, Pool as NeonPool } from '@neondatabase/serverless';
import pg from 'pg';
import ws from 'ws';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createComputeEngine, type EndpointSpec } from '../src/compute/engine.ts';
import { openDatabase } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { StaticEndpointResolver } from '../src/serverless/resolver.ts';

const quick = ['1', 'true', 'yes'].includes((process.env.BENCH_QUICK ?? '').toLowerCase());
const SECONDS = Number(process.env.BENCH_SERVERLESS_SECONDS ?? (quick ? 2 : 5));
const CONCURRENCY = Number(process.env.BENCH_SERVERLESS_CONCURRENCY ?? 8);
const log = (msg: string) => process.stderr.write(`[bench serverless] ${msg}\n`);

/** Runs `one` from `concurrency` loops for `seconds`; queries per second. */
async function qps(one: (i: number) => Promise<void>, seconds: number, concurrency: number): Promise<number> {
  // Warm-up: connections made, pools filled.
  await Promise.all(Array.from({ length: concurrency }, (_, i) => one(i)));
  let done = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      let i = w;
      while (performance.now() < end) {
        await one(i);
        i += concurrency;
        done++;
      }
    }),
  );
  return Math.round(done / seconds);
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-bench-serverless-'));
fs.chmodSync(root, 0o755); // computes run as an unprivileged user when this runs as root
const base = loadConfig({
  ORGPLANE_DATA_DIR: root,
  ORGPLANE_RATE_LIMIT: 'off',
  ORGPLANE_SECRET: '0'.repeat(64),
});
const config = { ...base, compute: { ...base.compute, enabled: true, dir: path.join(root, 'compute') } };
const engine = createComputeEngine(config);
const db = openDatabase({ dataDir: '', sqliteFile: ':memory:' });
await migrateToLatest(db);

log('making a compute (template, branch, role, endpoint)');
await engine.createBranchData('br-bench');
await engine.admin('br-bench', async (c) => {
  await c.query(`create role neondb_owner login password 'bench-password'`);
  await c.query('create database neondb owner neondb_owner');
});
const spec: EndpointSpec = {
  endpointId: 'ep-bench-000000',
  branchId: 'br-bench',
  port: await engine.allocatePort(),
  suspendTimeoutSeconds: -1,
  disabled: false,
};
await engine.openEndpoint(spec);
const ca = fs.readFileSync(engine.caCertPath(), 'utf8');
const cs = `postgresql://neondb_owner:bench-password@${engine.hostFor(spec)}/neondb?sslmode=require`;

const { app } = await buildApp({
  config,
  db,
  logger: false,
  endpointResolver: new StaticEndpointResolver(
    new Map([[spec.endpointId, { host: '127.0.0.1', port: spec.port, ca }]]),
  ),
});
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : 0;
neonConfig.fetchEndpoint = `http://127.0.0.1:${port}/sql`;
neonConfig.wsProxy = (host, p) => `127.0.0.1:${port}/v2?address=${host}:${p}`;
neonConfig.useSecureWebSocket = false;
neonConfig.webSocketConstructor = ws;

const results: Record<string, number | string> = {
  concurrency: CONCURRENCY,
  seconds: SECONDS,
  sql: 'select $1::int + 1',
  cpus: os.availableParallelism(),
};
try {
  const tcp = new pg.Pool({
    host: '127.0.0.1',
    port: spec.port,
    user: 'neondb_owner',
    password: 'bench-password',
    database: 'neondb',
    ssl: { ca },
    max: CONCURRENCY,
  });
  log('TCP (node-postgres to the endpoint port)');
  results.tcpQps = await qps(
    async (i) => void (await tcp.query('select $1::int + 1 as v', [i])),
    SECONDS,
    CONCURRENCY,
  );
  await tcp.end();

  const sql = neon(cs);
  log('/sql (neon() over HTTP)');
  results.httpQps = await qps(
    async (i) => void (await sql.query('select $1::int + 1 as v', [i])),
    SECONDS,
    CONCURRENCY,
  );

  const pool = new NeonPool({ connectionString: cs, max: CONCURRENCY });
  pool.on('error', () => {});
  log('/v2 (Pool over the WebSocket tunnel)');
  results.wsQps = await qps(
    async (i) => void (await pool.query('select $1::int + 1 as v', [i])),
    SECONDS,
    CONCURRENCY,
  );
  await pool.end();
} finally {
  await app.close();
  await engine.close();
  await db.close();
  fs.rmSync(root, { recursive: true, force: true });
}

const ratio = (x: number | string | undefined) =>
  typeof x === 'number' && typeof results.tcpQps === 'number'
    ? `${Math.round((x / results.tcpQps) * 100)}%`
    : '';
process.stdout.write(
  `\nServerless driver, one endpoint, ${CONCURRENCY} concurrent, ${SECONDS} s each (queries/s):\n` +
    `  TCP (pg → endpoint port)   ${results.tcpQps}\n` +
    `  /sql (neon() over HTTP)    ${results.httpQps}  ${ratio(results.httpQps)} of TCP\n` +
    `  /v2 (Pool over WebSocket)  ${results.wsQps}  ${ratio(results.wsQps)} of TCP\n`,
);
// A quick run is a smoke run: it must not overwrite the committed figures (as results.json is kept).
const out = quick
  ? path.join(import.meta.dirname, 'tmp', 'serverless-results-quick.json')
  : path.join(import.meta.dirname, 'serverless-results.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify({ ...results, at: new Date().toISOString() }, null, 2)}\n`);
log(`wrote ${path.relative(process.cwd(), out)}`);
