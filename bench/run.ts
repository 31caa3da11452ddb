// `npm run bench`: measures orgplane on this machine beside the limit, prints a table and writes
// bench/results.json. See the README's Performance section. Environment: BENCH_QUICK=1 (smoke run),
// BENCH_CONNECTIONS, BENCH_WARMUP, BENCH_DURATION, BENCH_RUNS, BENCH_KEYS, BENCH_MEMBERS,
// BENCH_PROJECTS, BENCH_TRANSFER_ITERATIONS, BENCH_RESULTS, BENCH_UPDATE_README=1, DATABASE_URL.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase, redactUrl } from '../src/db/connect.ts';
import type * as ConnectModule from '../src/db/connect.ts';
import type * as MigrateModule from '../src/db/migrate.ts';
import type * as SeedModule from './seed.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import {
  cpuTimeUs,
  measure,
  median,
  together,
  type Measurement,
  type RequestSpec,
  type Target,
} from './load.ts';
import {
  memoryOf,
  ROOT,
  startBareHttp,
  startBarePg,
  startOrgplane,
  type BareResponse,
  type Child,
} from './proc.ts';
import { addManyInvitationsSqlite, addManyKeysSqlite, seedWorld, type World } from './seed.ts';
import { loadSettings, type Settings } from './settings.ts';
import { measureAuditCost } from './audit-cost.ts';
import { renderMarkdown, renderTable, type Results, type Row } from './report.ts';

const settings = loadSettings();
const want = (phase: string) => settings.only === null || settings.only.has(phase);
const log = (msg: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// --- HTTP helpers -------------------------------------------------------------------------------

interface Answer {
  status: number;
  contentType: string;
  headers: Record<string, string>;
  bytes: Buffer;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- arbitrary JSON answers
  json: any;
}

async function call(
  base: string,
  method: string,
  p: string,
  token?: string,
  body?: unknown,
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(base + p, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const bytes = Buffer.from(await r.arrayBuffer());
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    json = undefined;
  }
  const skip = new Set([
    'date',
    'connection',
    'keep-alive',
    'content-length',
    'transfer-encoding',
    'content-type',
  ]);
  const kept: Record<string, string> = {};
  r.headers.forEach((v, k) => {
    if (!skip.has(k)) kept[k] = v;
  });
  return { status: r.status, contentType: r.headers.get('content-type') ?? '', headers: kept, bytes, json };
}

const bare = (a: Answer): BareResponse => ({
  status: a.status,
  contentType: a.contentType,
  body: a.bytes.toString('base64'),
  // Request ids are fixed in the bare server (same length); the rest is sent as orgplane sent it.
  headers: Object.fromEntries(Object.entries(a.headers).filter(([k]) => !k.endsWith('request-id'))),
});

/** Which operations this build serves, from its own OpenAPI document ("METHOD /path/{}"). */
async function operations(base: string): Promise<Set<string>> {
  const doc = (await call(base, 'GET', '/api/v2/openapi.json')).json as { paths?: Record<string, object> };
  const ops = new Set<string>();
  for (const [p, item] of Object.entries(doc?.paths ?? {})) {
    for (const m of Object.keys(item)) ops.add(`${m.toUpperCase()} ${p.replace(/\{[^}]+\}/g, '{}')}`);
  }
  return ops;
}

const NA = 'n/a (endpoint not available)';

// --- scenarios ----------------------------------------------------------------------------------

interface Scenario {
  name: string;
  kind: 'read' | 'write';
  /** Operations the scenario needs; when one is missing the scenario reports NA. */
  needs: string[];
  /** Requests each connection loops over (paths relative to the server). */
  requests: RequestSpec[];
  /** One sample pass (outside the measurement) returning the answers to serve from the limit, by method. */
  capture(base: string): Promise<Record<string, Answer>>;
}

const json = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

function readScenario(name: string, need: string, p: string, token: string): Scenario {
  return {
    name,
    kind: 'read',
    needs: [need],
    requests: [{ method: 'GET', path: p, headers: auth(token) }],
    async capture(base) {
      return { GET: await call(base, 'GET', p, token) };
    },
  };
}

function scenarios(w: World): Scenario[] {
  const t = w.adminToken;
  const keysPath = `/api/v2/organizations/${w.mainOrg}/api_keys`;
  let nextMember = 0;
  let nextInvite = 0;
  const runTag = Date.now().toString(36);
  return [
    readScenario(
      'GET members (page of 10)',
      'GET /organizations/{}/members',
      `/api/v2/organizations/${w.mainOrg}/members?limit=10`,
      t,
    ),
    readScenario('GET organization', 'GET /organizations/{}', `/api/v2/organizations/${w.mainOrg}`, t),
    readScenario(
      'GET projects (limit 10)',
      'GET /projects',
      `/api/v2/projects?org_id=${w.mainOrg}&limit=10`,
      t,
    ),
    {
      name: 'create + revoke org key',
      kind: 'write',
      needs: ['POST /organizations/{}/api_keys', 'DELETE /organizations/{}/api_keys/{}'],
      requests: [
        {
          method: 'POST',
          path: keysPath,
          headers: json(t),
          body: JSON.stringify({ key_name: 'bench' }),
          onResponse: (_status, body, ctx) => {
            try {
              ctx.keyId = (JSON.parse(body) as { id: number }).id;
            } catch {
              ctx.keyId = 0;
            }
          },
        },
        {
          method: 'DELETE',
          path: keysPath,
          headers: auth(t),
          setupRequest: (req, ctx) => ({ ...req, path: `${keysPath}/${ctx.keyId}` }),
        },
      ],
      async capture(base) {
        const created = await call(base, 'POST', keysPath, t, { key_name: 'bench' });
        const revoked = await call(base, 'DELETE', `${keysPath}/${created.json?.id}`, t);
        return { POST: created, DELETE: revoked };
      },
    },
    {
      name: "PATCH member's role",
      kind: 'write',
      needs: ['PATCH /organizations/{}/members/{}'],
      // Each connection flips its own member between member and admin (a real change every time).
      requests: [
        {
          method: 'PATCH',
          headers: json(t),
          setupRequest: (req, ctx) => {
            if (ctx.member === undefined)
              ctx.member = w.patchMemberIds[nextMember++ % w.patchMemberIds.length];
            ctx.role = ctx.role === 'admin' ? 'member' : 'admin';
            return {
              ...req,
              path: `/api/v2/organizations/${w.mainOrg}/members/${ctx.member}`,
              body: JSON.stringify({ role: ctx.role }),
            };
          },
        },
      ],
      async capture(base) {
        const p = `/api/v2/organizations/${w.mainOrg}/members/${w.patchMemberIds[0]}`;
        const a = await call(base, 'PATCH', p, t, { role: 'admin' });
        await call(base, 'PATCH', p, t, { role: 'member' });
        return { PATCH: a };
      },
    },
    {
      name: 'create invitation',
      kind: 'write',
      needs: ['POST /organizations/{}/invitations'],
      requests: [
        {
          method: 'POST',
          path: `/api/v2/organizations/${w.mainOrg}/invitations`,
          headers: json(t),
          setupRequest: (req) => ({
            ...req,
            body: JSON.stringify({
              invitations: [{ email: `invitee-${runTag}-${nextInvite++}@example.com`, role: 'member' }],
            }),
          }),
        },
      ],
      async capture(base) {
        const a = await call(base, 'POST', `/api/v2/organizations/${w.mainOrg}/invitations`, t, {
          invitations: [{ email: `invitee-${runTag}-sample@example.com`, role: 'member' }],
        });
        return { POST: a };
      },
    },
  ];
}

function target(label: string, server: Child, requests: RequestSpec[]): Target {
  return { label, url: server.url, pid: server.pid, requests };
}

/**
 * Targets against the identical-bytes limit, by scenario (SQLite): the limit's server CPU time per
 * request divided by orgplane's (CPU read from /proc, robust to the other load on a shared machine).
 */
const LIMIT_TARGETS: Record<string, number> = {
  'GET organization': 0.45,
  'GET members (page of 10)': 0.3,
  'GET projects (limit 10)': 0.25,
  "PATCH member's role": 0.2,
  'create + revoke org key': 0.15,
};
/** PostgreSQL writes: throughput against the code before this work (BENCH_BASELINE_REF), side by side. */
const PG_WRITE_SPEEDUP: Record<string, number> = {
  'create invitation': 10,
  "PATCH member's role": 3,
  'create + revoke org key': 3,
};
/** PostgreSQL: milliseconds the audit append adds to a write's transaction. */
const PG_AUDIT_APPEND_MS = 0.5;
/** Start-up to the first answered request, on an idle core. */
const STARTUP_CPU_MS = 500;
const STARTUP_WALL_MS = 800;
const NPX_HELP_MS = 3000;
/** PostgreSQL reads against the bare node:http + pg server running the same SQL. */
const PG_READ_TARGET = 1.0;
const BASELINE_FILE = path.join(ROOT, 'bench/baseline.json');

/** orgplane vs the bare node:http server answering the identical bytes, for each scenario. */
async function againstLimit(db: string, server: Child, list: Scenario[], ops: Set<string>): Promise<Row[]> {
  const rows: Row[] = [];
  for (const s of list) {
    const missing = s.needs.filter((n) => !ops.has(n));
    if (missing.length > 0) {
      log(`${db}: ${s.name}: ${NA} (${missing.join(', ')})`);
      rows.push({ group: db, name: s.name, na: NA });
      continue;
    }
    const answers = await s.capture(server.url);
    if (Object.values(answers).some((a) => a.status === 404)) {
      // Served by no route of this build after all (or not for this path): not measurable here.
      log(`${db}: ${s.name}: ${NA} (sample answered 404)`);
      rows.push({ group: db, name: s.name, na: NA });
      continue;
    }
    const bad = Object.entries(answers).filter(([, a]) => a.status >= 300);
    if (bad.length > 0) {
      const detail = bad.map(([m, a]) => `${m} ${a.status} ${a.bytes.toString().slice(0, 200)}`).join('; ');
      log(`${db}: ${s.name}: sample request failed: ${detail}`);
      rows.push({ group: db, name: s.name, na: `failed: ${detail}` });
      continue;
    }
    const routes = Object.fromEntries(Object.entries(answers).map(([m, a]) => [m, bare(a)]));
    const limit = await startBareHttp('limit', routes);
    try {
      log(`${db}: ${s.name}`);
      const [l, o] = await measure(settings, [
        target('limit', limit, s.requests),
        target('orgplane', server, s.requests),
      ]);
      // The targets are for SQLite; on PostgreSQL the database's round trips set the pace (see the
      // bare pg comparison), so the write ratios there are reported.
      const ratio = db === 'sqlite' ? LIMIT_TARGETS[s.name] : undefined;
      rows.push(row(db, s.name, o, l, { ratio, basis: 'cpu' }, 'node:http, same bytes'));
    } finally {
      await limit.stop();
    }
  }
  return rows;
}

function row(
  group: string,
  name: string,
  o: Measurement | undefined,
  base: Measurement | undefined,
  t: { ratio: number | undefined; basis?: 'cpu' | 'rps' },
  baseline: string,
): Row {
  if (!o || !base) return { group, name, na: 'not measured' };
  const ratio = o.rps / base.rps;
  const cpuRatio = base.cpuUs / o.cpuUs;
  const basis = t.basis ?? 'rps';
  const judged = basis === 'cpu' ? cpuRatio : ratio;
  const clean = o.non2xx === 0 && o.errors === 0;
  return {
    group,
    name,
    orgplane: o,
    baseline: base,
    baselineName: baseline,
    ratio,
    basis,
    target:
      t.ratio === undefined
        ? 'reported (no target)'
        : `${basis === 'cpu' ? 'CPU ratio' : 'req/s ratio'} ≥ ${t.ratio.toFixed(2)}`,
    met: t.ratio === undefined ? (clean ? undefined : false) : judged >= t.ratio && clean,
    ...(t.ratio !== undefined && judged < t.ratio && clean
      ? {
          note: `missed by ${(t.ratio - judged).toFixed(2)} (${Math.round((judged / t.ratio) * 100)}% of the target)`,
        }
      : {}),
  };
}

// --- phases -------------------------------------------------------------------------------------

function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `orgplane-bench-${tag}-`));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Figures of one start-up series: medians of wall and CPU time to the first answer, idle RSS. */
interface StartupSeries {
  wallMs: number[];
  cpuMs: number[];
  rssMb: number[];
  firstAuthMs: number[];
}

/**
 * Starts the server `times` times as users do (bin/orgplane.js serve) and measures, each time, the
 * wall and CPU time (user + system, from /proc) to the first answered request, the time to the first
 * authenticated answer (a first start prints a key), and the RSS a second later. dataDir(): a fresh
 * empty directory, or the seeded one.
 */
async function startupSeries(
  times: number,
  dataDir: () => { dir: string; dispose: boolean },
): Promise<StartupSeries> {
  const out: StartupSeries = { wallMs: [], cpuMs: [], rssMb: [], firstAuthMs: [] };
  for (let i = 0; i < times; i++) {
    const { dir, dispose } = dataDir();
    const t0 = performance.now();
    const s = await startOrgplane('start-up', { dataDir: dir });
    try {
      out.wallMs.push(s.startupMs);
      out.cpuMs.push(cpuTimeUs(s.pid) / 1000);
      const token = /API key:\s+(napi_\S+)/.exec(s.stdout())?.[1];
      const org = /organization:\s+(org-\S+)/.exec(s.stdout())?.[1];
      if (token && org) {
        const a = await call(s.url, 'GET', `/api/v2/organizations/${org}`, token);
        if (a.status === 200) out.firstAuthMs.push(performance.now() - t0);
      }
      await sleep(1000);
      out.rssMb.push(memoryOf(s.pid)?.rssMb ?? NaN);
    } finally {
      await s.stop();
      if (dispose) fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

function startupRows(label: string, s: StartupSeries): Row[] {
  const load = `load average ${os.loadavg()[0]?.toFixed(1)}`;
  const wall = median(s.wallMs);
  const cpu = median(s.cpuMs);
  const rss = median(s.rssMb);
  const samples = (xs: number[]) => `median of ${xs.length}: ${xs.map((x) => Math.round(x)).join(', ')}`;
  const rows: Row[] = [
    {
      group: 'start-up',
      name: `CPU time to the first answer (${label})`,
      value: `${Math.round(cpu)} ms`,
      target: `≤ ${STARTUP_CPU_MS} ms`,
      met: cpu <= STARTUP_CPU_MS,
      note: samples(s.cpuMs),
    },
    {
      group: 'start-up',
      name: `wall time to the first answer (${label})`,
      value: `${Math.round(wall)} ms`,
      target: `≤ ${STARTUP_WALL_MS} ms (idle core)`,
      met: wall <= STARTUP_WALL_MS,
      note: `${samples(s.wallMs)}; ${load}: wall time on a shared machine includes waiting for a core`,
    },
    {
      group: 'start-up',
      name: `idle RSS after start (${label})`,
      value: `${Math.round(rss)} MB`,
      target: '≤ 80 MB',
      met: rss <= 80,
      note: samples(s.rssMb),
    },
  ];
  if (s.firstAuthMs.length > 0) {
    rows.push({
      group: 'start-up',
      name: `wall time to the first authenticated answer (${label})`,
      value: `${Math.round(median(s.firstAuthMs))} ms`,
      target: 'reported',
      met: undefined,
    });
  }
  return rows;
}

/** Start-up on an empty data directory (migrations, first-start bootstrap), five times; medians. */
async function startupPhase(results: Results): Promise<void> {
  const s = await startupSeries(settings.quick ? 3 : 5, () => ({ dir: tempDir('fresh'), dispose: true }));
  results.startup = {
    firstAnswerMs: median(s.wallMs),
    firstAuthenticatedMs: median(s.firstAuthMs),
    cpuMs: median(s.cpuMs),
    idleRssMb: median(s.rssMb),
    samples: { firstAnswer: s.wallMs, firstAuth: s.firstAuthMs, idle: s.rssMb, cpu: s.cpuMs },
  };
  results.rows.push(...startupRows('empty data directory', s));
}

/**
 * `npx orgplane --help` as on first use after `npm ci`: npx links this package into an empty npx
 * cache (a fresh npm cache directory) and runs its prepare script, which must find the build
 * current and not rebuild; then the CLI prints its help.
 */
function npxPhase(results: Results): void {
  const cache = tempDir('npm-cache');
  try {
    const time = () => {
      const t0 = performance.now();
      const r = spawnSync('npx', ['--yes', 'orgplane', '--help'], {
        cwd: ROOT,
        env: { ...process.env, npm_config_cache: cache, npm_config_update_notifier: 'false' },
        encoding: 'utf8',
      });
      const ms = performance.now() - t0;
      return { ms, ok: r.status === 0 && /Usage: orgplane/.test(r.stdout), err: r.stderr };
    };
    const first = time();
    const second = time();
    for (const [name, r] of [
      ['npx orgplane --help, first use (empty npx cache)', first],
      ['npx orgplane --help, next uses', second],
    ] as const) {
      results.rows.push({
        group: 'start-up',
        name,
        value: `${Math.round(r.ms)} ms`,
        target: `≤ ${NPX_HELP_MS} ms`,
        met: r.ok && r.ms <= NPX_HELP_MS,
        note: r.ok
          ? `wall time; load average ${os.loadavg()[0]?.toFixed(1)}`
          : `failed: ${r.err.slice(-300)}`,
      });
    }
  } finally {
    fs.rmSync(cache, { recursive: true, force: true });
  }
}

async function walkToPage(base: string, token: string, orgId: string, page: number): Promise<string> {
  let cursor = '';
  for (let i = 1; i < page; i++) {
    const a = await call(
      base,
      'GET',
      `/api/v2/organizations/${orgId}/members?limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      token,
    );
    const next = a.json?.pagination?.next as string | undefined;
    if (a.status !== 200 || !next)
      throw new Error(`members page ${i + 1} of ${orgId} unreachable (${a.status})`);
    cursor = next;
  }
  return cursor;
}

async function transferPhase(base: string, w: World, ops: Set<string>): Promise<Row> {
  const name = `transfer 1 vs ${settings.transferMany} projects`;
  if (!ops.has('POST /organizations/{}/projects/transfer')) return { group: 'scaling', name, na: NA };
  const go = async (from: string, to: string, ids: string[]) => {
    const t0 = performance.now();
    const a = await call(base, 'POST', `/api/v2/organizations/${from}/projects/transfer`, w.adminToken, {
      destination_org_id: to,
      project_ids: ids,
    });
    if (a.status !== 200)
      throw new Error(`transfer answered ${a.status}: ${a.bytes.toString().slice(0, 300)}`);
    return performance.now() - t0;
  };
  const one = [w.transferProjectIds[0] as string];
  const many = w.transferProjectIds;
  const small: number[] = [];
  const large: number[] = [];
  try {
    for (let i = 0; i < settings.transferIterations + 2; i++) {
      const a = [await go(w.transferSrc, w.transferDst, one), await go(w.transferDst, w.transferSrc, one)];
      const b = [await go(w.transferSrc, w.transferDst, many), await go(w.transferDst, w.transferSrc, many)];
      if (i < 2) continue; // warm-up
      small.push(...a);
      large.push(...b);
    }
  } catch (err) {
    return { group: 'scaling', name, na: `failed: ${(err as Error).message}` };
  }
  const p50a = median(small);
  const p50b = median(large);
  return {
    group: 'scaling',
    name,
    latency: { a: p50a, b: p50b, aLabel: '1 project', bLabel: `${many.length} projects` },
    ratio: p50b / p50a,
    target: 'reported (no target)',
    met: undefined,
    note: `median latency per call, ${small.length} sequential calls each; ${(p50b / many.length).toFixed(3)} ms per project at ${many.length}`,
  };
}

/** Scaling pair on one or two servers: b's cost relative to a's (throughput ratio b/a). */
function scalingRow(
  name: string,
  a: Measurement | undefined,
  b: Measurement | undefined,
  within: number,
): Row {
  if (!a || !b) return { group: 'scaling', name, na: 'not measured' };
  const ratio = b.rps / a.rps;
  return {
    group: 'scaling',
    name,
    orgplane: b,
    baseline: a,
    baselineName: a.label,
    ratio,
    target: `≥ ${Math.round((1 - within) * 100)}% (within ${Math.round(within * 100)}%)`,
    met: ratio >= 1 - within && b.non2xx === 0 && a.non2xx === 0,
  };
}

/**
 * The soak: 32 connections reading members while one connection creates and revokes organization
 * keys, for settings.soakSeconds; reads/s, their p99, write pairs done, and RSS before and after.
 */
async function soakPhase(main: Child, w: World): Promise<Row[]> {
  const list = scenarios(w);
  const reads = list.find((s) => s.name === 'GET members (page of 10)');
  const writes = list.find((s) => s.name === 'create + revoke org key');
  if (!reads || !writes || settings.soakSeconds <= 0) return [];
  log(`soak: ${settings.soakSeconds} s of member reads beside key create + revoke`);
  const before = memoryOf(main.pid);
  const [r, wr] = await together(
    [
      { target: target('reads', main, reads.requests), connections: settings.connections },
      { target: target('writes', main, writes.requests), connections: 1 },
    ],
    settings.soakSeconds,
  );
  const after = memoryOf(main.pid);
  if (!r || !wr) return [];
  const name = `soak ${settings.soakSeconds} s: ${settings.connections} connections reading members, create + revoke beside`;
  return [
    {
      group: 'soak',
      name,
      value: `${Math.round(r.rps)} reads/s, p99 ${r.p99.toFixed(1)} ms, ${Math.floor(wr.requests / 2)} write pairs`,
      target: 'reported (no target)',
      met: r.non2xx + r.errors + wr.non2xx + wr.errors === 0 ? undefined : false,
      note: `server CPU ${Math.round(r.cpuUs)} µs per request (all requests); RSS ${Math.round(before?.rssMb ?? NaN)} → ${Math.round(after?.rssMb ?? NaN)} MB`,
    },
  ];
}

async function sqlitePhase(results: Results): Promise<void> {
  const worldDir = tempDir('sqlite');
  const keysDir = tempDir('keys');
  const invDir = tempDir('invitations');
  const servers: Child[] = [];
  try {
    log(
      `seeding SQLite: ${settings.bigOrgMembers} members, ${settings.bigOrgProjects} projects, ${settings.manyKeys} keys`,
    );
    let t0 = performance.now();
    const db = openDatabase({ dataDir: worldDir });
    await migrateToLatest(db);
    const w = await seedWorld(db, settings);
    await db.close();
    const seedWorldMs = performance.now() - t0;
    // The 1M-keys database: the same world plus filler keys, so the two servers differ only in that.
    t0 = performance.now();
    if (want('scaling')) {
      copyDatabaseFiles(worldDir, keysDir);
      addManyKeysSqlite(
        path.join(keysDir, 'orgplane.db'),
        w.bigOrg,
        w.adminUserId,
        settings.manyKeys - w.keys,
      );
    }
    results.seeding.sqlite = { worldMs: seedWorldMs, keysMs: performance.now() - t0, liveKeysSmall: w.keys };
    log(`seeded in ${((performance.now() - t0 + seedWorldMs) / 1000).toFixed(1)} s`);

    if (want('startup')) {
      log('start-up on the seeded SQLite database');
      const seeded = await startupSeries(settings.quick ? 3 : 5, () => ({ dir: worldDir, dispose: false }));
      results.memory.sqliteStartupMs = median(seeded.wallMs);
      results.rows.push(...startupRows('seeded SQLite', seeded));
    }
    const main = await startOrgplane('orgplane-sqlite', { dataDir: worldDir });
    servers.push(main);
    await sleep(1000);
    const idle = memoryOf(main.pid);
    const ops = await operations(main.url);
    results.available = [...ops].sort();

    const list = scenarios(w);
    const reads = list.filter((s) => s.kind === 'read');
    const writes = list.filter((s) => s.kind === 'write');
    const orgPath = `/api/v2/organizations/${w.mainOrg}`;
    const orgReq: RequestSpec[] = [{ method: 'GET', path: orgPath, headers: auth(w.adminToken) }];
    if (want('sqlite')) results.rows.push(...(await againstLimit('sqlite', main, reads, ops)));
    if (want('soak')) results.rows.push(...(await soakPhase(main, w)));

    // Authentication with 10 keys vs 1,000,000 keys: the same request on two servers, one each.
    if (want('scaling')) {
      const many = await startOrgplane('orgplane-sqlite-1m-keys', { dataDir: keysDir });
      servers.push(many);
      log(`scaling: authentication with ${w.keys} vs ${settings.manyKeys} keys`);
      {
        const [a, b] = await measure(settings, [
          target(`${w.keys} keys`, main, orgReq),
          target(`${settings.manyKeys} keys`, many, orgReq),
        ]);
        results.rows.push(scalingRow(`authentication: ${w.keys} vs ${settings.manyKeys} keys`, a, b, 0.1));
      }
      await many.stop();
      servers.pop();

      // Creating an invitation with no earlier invitations vs 100,000 sent within the last hour.
      const invName = `create invitation: 0 vs ${settings.manyInvitations.toLocaleString('en-US')} earlier invitations`;
      if (!ops.has('POST /organizations/{}/invitations')) {
        results.rows.push({ group: 'scaling', name: invName, na: NA });
      } else {
        copyDatabaseFiles(worldDir, invDir);
        t0 = performance.now();
        addManyInvitationsSqlite(
          path.join(invDir, 'orgplane.db'),
          w.mainOrg,
          w.adminUserId,
          settings.manyInvitations,
        );
        results.seeding.sqlite.invitationsMs = performance.now() - t0;
        const invited = await startOrgplane('orgplane-sqlite-many-invitations', { dataDir: invDir });
        servers.push(invited);
        log(`scaling: ${invName}`);
        const invite = list.find((s) => s.name === 'create invitation');
        if (invite) {
          const [a, b] = await measure(settings, [
            target('0 earlier invitations', main, invite.requests),
            target(`${settings.manyInvitations} earlier invitations`, invited, invite.requests),
          ]);
          results.rows.push(scalingRow(invName, a, b, 0.2));
        }
        await invited.stop();
        servers.pop();
      }

      // Members page 1 vs the last page (page 1,000 of a 10,000-member organization), 10 per page.
      const lastPage = Math.ceil(settings.bigOrgMembers / 10);
      log(`scaling: members page 1 vs page ${lastPage}`);
      const cursor = await walkToPage(main.url, w.adminToken, w.bigOrg, lastPage);
      {
        const base = `/api/v2/organizations/${w.bigOrg}/members?limit=10`;
        const [a, b] = await measure(settings, [
          target('page 1', main, [{ method: 'GET', path: base, headers: auth(w.adminToken) }]),
          target(`page ${lastPage}`, main, [
            {
              method: 'GET',
              path: `${base}&cursor=${encodeURIComponent(cursor)}`,
              headers: auth(w.adminToken),
            },
          ]),
        ]);
        results.rows.push(
          scalingRow(`members: page 1 vs page ${lastPage} (${settings.bigOrgMembers} members)`, a, b, 0.2),
        );
      }

      // Listing projects: 100 vs 100,000 projects in the organization.
      const projName = `projects list: ${w.mainOrgProjects} vs ${settings.bigOrgProjects} projects`;
      if (!ops.has('GET /projects')) {
        results.rows.push({ group: 'scaling', name: projName, na: NA });
      } else {
        log(`scaling: ${projName}`);
        const p = (org: string) => `/api/v2/projects?org_id=${org}&limit=10`;
        const [a, b] = await measure(settings, [
          target(`${w.mainOrgProjects} projects`, main, [
            { method: 'GET', path: p(w.mainOrg), headers: auth(w.adminToken) },
          ]),
          target(`${settings.bigOrgProjects} projects`, main, [
            { method: 'GET', path: p(w.projectsOrg), headers: auth(w.adminToken) },
          ]),
        ]);
        results.rows.push(scalingRow(projName, a, b, 0.2));
      }
    }

    // The cost of rate limiting (on, with a limit never reached) and of production info-level logging.
    if (want('costs')) {
      log('costs: rate limiting on; LOG_LEVEL=info');
      const limited = await startOrgplane('orgplane-rate-limited', { dataDir: worldDir, rateLimit: true });
      servers.push(limited);
      const chatty = await startOrgplane('orgplane-log-info', { dataDir: worldDir, logLevel: 'info' });
      servers.push(chatty);
      {
        const [a, b, c] = await measure(settings, [
          target('rate limit off, LOG_LEVEL=warn', main, orgReq),
          target('rate limit on', limited, orgReq),
          target('LOG_LEVEL=info', chatty, orgReq),
        ]);
        for (const [name, m] of [
          ['rate limiting on (GET organization)', b],
          ['LOG_LEVEL=info, per-request logs (GET organization)', c],
        ] as const) {
          if (a && m) {
            results.rows.push({
              group: 'costs',
              name,
              orgplane: m,
              baseline: a,
              baselineName: a.label,
              ratio: m.rps / a.rps,
              target: 'reported (no target)',
              met: undefined,
            });
          }
        }
      }
      await chatty.stop();
      await limited.stop();
      servers.splice(1);
    }

    if (want('sqlite')) results.rows.push(...(await againstLimit('sqlite', main, writes, ops)));
    if (want('scaling')) results.rows.push(await transferPhase(main.url, w, ops));

    const end = memoryOf(main.pid);
    results.memory.sqlite = { idle: idle ?? undefined, end: end ?? undefined };
  } finally {
    for (const s of servers.reverse()) await s.stop();
    fs.rmSync(worldDir, { recursive: true, force: true });
    fs.rmSync(keysDir, { recursive: true, force: true });
    fs.rmSync(invDir, { recursive: true, force: true });
  }
}

async function postgresPhase(results: Results, databaseUrl: string): Promise<void> {
  const name = `orgplane_bench_${Date.now()}_${process.pid}`;
  const admin = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const u = new URL(databaseUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  const servers: Child[] = [];
  try {
    log(`seeding PostgreSQL database ${name}`);
    const t0 = performance.now();
    const db = openDatabase({ dataDir: '', databaseUrl: url });
    await migrateToLatest(db);
    // The scaling cases run on SQLite; PostgreSQL gets the main organization only.
    const w = await seedWorld(db, { bigOrgMembers: 2, bigOrgProjects: 1, transferMany: 1 });
    await db.close();
    results.seeding.postgres = { worldMs: performance.now() - t0 };

    const main = await startOrgplane('orgplane-postgres', { databaseUrl: url });
    servers.push(main);
    results.memory.postgresStartupMs = main.startupMs;
    await sleep(1000);
    const idle = memoryOf(main.pid);
    const ops = await operations(main.url);
    const list = scenarios(w);
    const reads = list.filter((s) => s.kind === 'read');

    // Reads beside the bare node:http + pg server running the same SQL.
    const projectsSample = ops.has('GET /projects')
      ? await call(main.url, 'GET', `/api/v2/projects?org_id=${w.mainOrg}&limit=10`, w.adminToken)
      : undefined;
    const barePg = await startBarePg('bare-pg', url, {
      BARE_PROJECTS_BODY: projectsSample?.bytes.toString('base64') ?? '',
    });
    servers.push(barePg);
    for (const s of reads) {
      const missing = s.needs.filter((n) => !ops.has(n));
      if (missing.length > 0) {
        results.rows.push({ group: 'postgres', name: s.name, na: NA });
        continue;
      }
      const p = s.requests[0]?.path ?? '';
      const [mine, theirs] = [
        await call(main.url, 'GET', p, w.adminToken),
        await call(barePg.url, 'GET', p, w.adminToken),
      ];
      const same = mine.bytes.equals(theirs.bytes);
      log(`postgres: ${s.name} (bare pg answers ${same ? 'identical bytes' : 'DIFFERENT bytes'})`);
      const [b, o] = await measure(settings, [
        target('bare pg', barePg, s.requests),
        target('orgplane', main, s.requests),
      ]);
      const r = row('postgres', s.name, o, b, { ratio: PG_READ_TARGET }, 'node:http + pg, same SQL');
      r.note = [same ? 'identical bytes' : 'bare pg body differs from orgplane (see results.json)', r.note]
        .filter(Boolean)
        .join('; ');
      results.rows.push(r);
    }
    await barePg.stop();
    servers.pop();

    // Writes on PostgreSQL beside the identical-bytes limit, as on SQLite.
    results.rows.push(
      ...(await againstLimit(
        'postgres',
        main,
        list.filter((s) => s.kind === 'write'),
        ops,
      )),
    );
    results.rows.push(...(await writesAgainstBaseline(admin, databaseUrl, main, list)));
    results.rows.push(await auditAppendRow(databaseUrl, admin));
    results.memory.postgres = { idle: idle ?? undefined, end: memoryOf(main.pid) ?? undefined };
  } finally {
    for (const s of servers.reverse()) await s.stop();
    await admin.query(`drop database if exists ${name} with (force)`).catch(() => {});
    await admin.end();
  }
}

interface RecordedBaseline {
  ref: string;
  source: string;
  measuredAt: string;
  loadAvg?: number[];
  /** By scenario name: throughput and server CPU per request of the baseline build. */
  scenarios: Record<string, { rps: number; cpuUs: number; p50?: number; p99?: number }>;
}

/**
 * A checkout of settings.baselineRef (git archive into a temporary directory, this node_modules
 * linked in), or BENCH_BASELINE_DIR as given. It runs from its TypeScript sources (no dist/):
 * per-request CPU is the same once loaded.
 */
function baselineCheckout(): { dir: string; ref: string; dispose: () => void } | undefined {
  if (settings.baselineDir)
    return { dir: settings.baselineDir, ref: 'BENCH_BASELINE_DIR', dispose: () => {} };
  const ref = settings.baselineRef;
  if (!ref) return undefined;
  const dir = tempDir(`baseline-${ref}`);
  try {
    const tar = execFileSync('git', ['-C', ROOT, 'archive', '--format=tar', ref], { maxBuffer: 1 << 30 });
    execFileSync('tar', ['-x', '-C', dir], { input: tar });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  } catch (err) {
    log(`baseline ${ref}: no checkout (${(err as Error).message.split('\n')[0]})`);
    fs.rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  return { dir, ref, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * PostgreSQL writes against the code before this work, side by side (alternating runs): throughput
 * ratios for create invitation (≥ 10×), PATCH role and key create + revoke (≥ 3×). Without a
 * checkout, against the figures recorded in bench/baseline.json by an earlier full run (noisier).
 */
async function writesAgainstBaseline(
  admin: pg.Client,
  databaseUrl: string,
  main: Child,
  list: Scenario[],
): Promise<Row[]> {
  const wanted = list.filter((s) => PG_WRITE_SPEEDUP[s.name] !== undefined);
  const verdict = (name: string, o: Measurement, b: Measurement, note: string): Row => {
    const speedup = PG_WRITE_SPEEDUP[name] ?? 1;
    const ratio = o.rps / b.rps;
    const clean = o.non2xx === 0 && o.errors === 0;
    return {
      group: 'postgres',
      name: `${name} vs before (${b.label})`,
      orgplane: o,
      baseline: b,
      baselineName: b.label,
      ratio,
      basis: 'rps',
      target: `req/s ≥ ${speedup}× before`,
      met: ratio >= speedup && clean,
      note: `${note}; ${ratio.toFixed(2)}× throughput, ${(b.cpuUs / o.cpuUs).toFixed(2)}× less server CPU per request${
        ratio < speedup ? `; missed: ${Math.round((ratio / speedup) * 100)}% of the target` : ''
      }`,
    };
  };
  const checkout = baselineCheckout();
  if (!checkout) {
    if (!fs.existsSync(BASELINE_FILE))
      return [{ group: 'postgres', name: 'writes vs before', na: 'no baseline' }];
    const rec = JSON.parse(fs.readFileSync(BASELINE_FILE, 'utf8')) as RecordedBaseline;
    const rows: Row[] = [];
    for (const s of wanted) {
      const b = rec.scenarios?.[s.name];
      if (!b) continue;
      const [o] = await measure(settings, [target('orgplane', main, s.requests)]);
      if (!o) continue;
      const base: Measurement = {
        label: `${rec.ref}, recorded ${rec.measuredAt.slice(0, 10)}`,
        rps: b.rps,
        p50: b.p50 ?? NaN,
        p99: b.p99 ?? NaN,
        cpuUs: b.cpuUs,
        non2xx: 0,
        errors: 0,
        runs: [],
      };
      rows.push(verdict(s.name, o, base, 'recorded figure, not this run: compare the CPU column'));
    }
    return rows;
  }
  const dbName = `orgplane_bench_base_${Date.now()}_${process.pid}`;
  await admin.query(`create database ${dbName}`);
  const u = new URL(databaseUrl);
  u.pathname = `/${dbName}`;
  let old: Child | undefined;
  const rows: Row[] = [];
  try {
    // The baseline's own migrations and seeding, from its checkout.
    const dir = checkout.dir;
    const conn = (await import(path.join(dir, 'src/db/connect.ts'))) as typeof ConnectModule;
    const mig = (await import(path.join(dir, 'src/db/migrate.ts'))) as typeof MigrateModule;
    const seed = (await import(path.join(dir, 'bench/seed.ts'))) as typeof SeedModule;
    const db = conn.openDatabase({ dataDir: '', databaseUrl: u.toString() });
    await mig.migrateToLatest(db);
    const w = await seed.seedWorld(db, { bigOrgMembers: 2, bigOrgProjects: 1, transferMany: 1 });
    await db.close();
    old = await startOrgplane(`orgplane-${checkout.ref}`, {
      databaseUrl: u.toString(),
      root: dir,
      extraEnv: { ORGPLANE_FROM_SOURCE: '1' },
    });
    const oldList = scenarios(w);
    const rec: RecordedBaseline = {
      ref: checkout.ref,
      source: 'measured side by side with the current build in one npm run bench run',
      measuredAt: new Date().toISOString(),
      loadAvg: os.loadavg().map((x) => Math.round(x * 100) / 100),
      scenarios: {},
    };
    for (const s of wanted) {
      const before = oldList.find((x) => x.name === s.name);
      if (!before) continue;
      log(`postgres: ${s.name} vs ${checkout.ref} (side by side)`);
      const [b, o] = await measure(settings, [
        target(checkout.ref, old, before.requests),
        target('orgplane', main, s.requests),
      ]);
      if (!b || !o) continue;
      rec.scenarios[s.name] = { rps: b.rps, cpuUs: b.cpuUs, p50: b.p50, p99: b.p99 };
      rows.push(verdict(s.name, o, b, 'measured side by side in this run'));
    }
    if (!settings.quick && !settings.baselineDir)
      fs.writeFileSync(BASELINE_FILE, `${JSON.stringify(rec, null, 2)}\n`);
    return rows;
  } finally {
    await old?.stop();
    await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => {});
    checkout.dispose();
  }
}

/** The audit append's cost on PostgreSQL: its statement inside the write's transaction, and a transaction with it minus the same without it. */
async function auditAppendRow(databaseUrl: string, admin: pg.Client): Promise<Row> {
  const schema = `bench_audit_${process.pid}_${Date.now()}`;
  await admin.query(`create schema ${schema}`);
  const db = openDatabase({ dataDir: '', databaseUrl, pgSchema: schema });
  try {
    const c = await measureAuditCost('postgres', db, settings.quick ? 200 : 1000);
    return {
      group: 'postgres',
      name: 'audit append (inside the write transaction)',
      value: `${c.append_statement_ms.median.toFixed(3)} ms (transaction difference ${c.audit_append_ms.toFixed(3)} ms)`,
      target: `≤ ${PG_AUDIT_APPEND_MS} ms`,
      met: c.append_statement_ms.median <= PG_AUDIT_APPEND_MS,
      note: `the append statement's median time inside the write transaction (p95 ${c.append_statement_ms.p95} ms); in brackets the median latency of lock + append ${c.tx_lock_and_append_ms.median} ms minus lock only ${c.tx_lock_only_ms.median} ms, which adds the commit's extra WAL and flush; ${c.requests} alternating transactions each; chain verified: ${c.verify.ok}`,
    };
  } finally {
    await db.close();
    await admin.query(`drop schema ${schema} cascade`).catch(() => {});
  }
}

function machine(): Results['machine'] {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  return {
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown',
    nproc: os.availableParallelism(),
    memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    loadAvgStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    loadAvgEnd: [],
  };
}

/** A data directory's database files (not the compute directory's clusters, which no figure here needs). */
function copyDatabaseFiles(from: string, to: string): void {
  for (const f of fs.readdirSync(from, { withFileTypes: true }))
    if (f.isFile()) fs.copyFileSync(path.join(from, f.name), path.join(to, f.name));
}

async function main(s: Settings): Promise<void> {
  const started = performance.now();
  // Measure what users run: the compiled build, as `npm ci` leaves it (bin/orgplane.js falls back
  // to the TypeScript sources when the build is older than them, which costs seconds at start-up).
  const { spawnSync } = await import('node:child_process');
  const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--if-stale'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (built.status !== 0) throw new Error('scripts/build.mjs failed: the bench would measure the sources');
  const results: Results = {
    generatedAt: new Date().toISOString(),
    machine: machine(),
    // Never a password in the results file.
    settings: { ...s, databaseUrl: s.databaseUrl ? redactUrl(s.databaseUrl) : undefined },
    rows: [],
    available: [],
    startup: { firstAnswerMs: NaN, firstAuthenticatedMs: NaN, cpuMs: NaN, idleRssMb: NaN, samples: {} },
    memory: {},
    seeding: {},
    durationS: 0,
  };
  log(`settings: ${JSON.stringify({ ...s, databaseUrl: s.databaseUrl ? '(set)' : undefined })}`);
  if (want('startup')) {
    log('start-up on an empty data directory');
    await startupPhase(results);
  }
  if (want('npx')) {
    log('npx orgplane --help');
    npxPhase(results);
  }
  if (['startup', 'sqlite', 'scaling', 'costs', 'soak'].some(want)) await sqlitePhase(results);
  if (!want('postgres')) log('PostgreSQL part not selected');
  else if (s.databaseUrl) await postgresPhase(results, s.databaseUrl);
  else log('DATABASE_URL not set: PostgreSQL part skipped');
  results.machine.loadAvgEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  results.durationS = Math.round((performance.now() - started) / 1000);

  const out = path.resolve(ROOT, s.resultsFile);
  // bench/tmp/ (quick runs) is not in the repository: a fresh clone has none.
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\n${renderTable(results)}\n`);
  log(`wrote ${path.relative(process.cwd(), out)} (${results.durationS} s)`);
  if (process.env.BENCH_UPDATE_README === '1') {
    const readme = path.join(ROOT, 'README.md');
    const text = fs.readFileSync(readme, 'utf8');
    const re = /(<!-- bench:start -->\n)[\s\S]*?(<!-- bench:end -->)/;
    if (re.test(text)) {
      // Formatted as the repository's prettier would, so format:check stays green.
      const prettier = await import('prettier');
      const options = (await prettier.resolveConfig(readme)) ?? {};
      const updated = text.replace(re, `$1${renderMarkdown(results)}$2`);
      fs.writeFileSync(readme, await prettier.format(updated, { ...options, filepath: readme }));
      log('README.md Performance table updated');
    }
  }
}

await main(settings);

// Neon's serverless driver through /sql and /v2 vs TCP to the same compute endpoint (its own
// process and table; BENCH_SERVERLESS=0 skips it).
if (process.env.BENCH_SERVERLESS !== '0') {
  const { spawnSync } = await import('node:child_process');
  log('serverless driver: /sql and /v2 vs TCP (bench/serverless.ts)');
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'serverless.ts')], {
    stdio: 'inherit',
    env: process.env,
  });
  if (r.status !== 0) log(`bench/serverless.ts exited with ${r.status ?? r.signal ?? 'unknown'}`);
}

// The compute engine: project and branch creation, wake on connect, endpoint overhead (its own
// process and table; BENCH_COMPUTE=0 skips it).
if (process.env.BENCH_COMPUTE !== '0') {
  const { spawnSync } = await import('node:child_process');
  log('computes: project, branch, wake, endpoint overhead (bench/compute.ts)');
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'compute.ts')], {
    stdio: 'inherit',
    env: process.env,
  });
  if (r.status !== 0) log(`bench/compute.ts exited with ${r.status ?? r.signal ?? 'unknown'}`);
}
