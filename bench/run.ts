// `npm run bench`: measures orgplane on this machine beside the limit, prints a table and writes
// bench/results.json. See the README's Performance section. Environment: BENCH_QUICK=1 (smoke run),
// BENCH_CONNECTIONS, BENCH_WARMUP, BENCH_DURATION, BENCH_RUNS, BENCH_KEYS, BENCH_MEMBERS,
// BENCH_PROJECTS, BENCH_TRANSFER_ITERATIONS, BENCH_RESULTS, BENCH_UPDATE_README=1, DATABASE_URL.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase, redactUrl } from '../src/db/connect.ts';
import type * as ConnectModule from '../src/db/connect.ts';
import type * as MigrateModule from '../src/db/migrate.ts';
import type * as SeedModule from './seed.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { cpuTimeUs, measure, median, type Measurement, type RequestSpec, type Target } from './load.ts';
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
import { renderMarkdown, renderTable, type Results, type Row } from './report.ts';

const settings = loadSettings();
const log = (msg: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// --- HTTP helpers -------------------------------------------------------------------------------

interface Answer {
  status: number;
  contentType: string;
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
  return { status: r.status, contentType: r.headers.get('content-type') ?? '', bytes, json };
}

const bare = (a: Answer): BareResponse => ({
  status: a.status,
  contentType: a.contentType,
  body: a.bytes.toString('base64'),
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

/** Throughput targets against the identical-bytes limit, by scenario (none: reported only). */
const LIMIT_TARGETS: Record<string, number> = {
  'GET organization': 0.45,
  'GET members (page of 10)': 0.3,
  'GET projects (limit 10)': 0.2,
  "PATCH member's role": 0.15,
  'create + revoke org key': 0.15,
};
/** PostgreSQL reads against the bare node:http + pg server running the same SQL. */
const PG_READ_TARGET = 1.0;
/** PATCH role on PostgreSQL against the code as of commit f1267c9 (throughput, same run or recorded). */
const PG_PATCH_SPEEDUP = 3;
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
      rows.push(row(db, s.name, o, l, { ratio }, 'node:http, same bytes'));
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
  t: { ratio: number | undefined },
  baseline: string,
): Row {
  if (!o || !base) return { group, name, na: 'not measured' };
  const ratio = o.rps / base.rps;
  const clean = o.non2xx === 0 && o.errors === 0;
  return {
    group,
    name,
    orgplane: o,
    baseline: base,
    baselineName: baseline,
    ratio,
    target: t.ratio === undefined ? 'reported (no target)' : `≥ ${Math.round(t.ratio * 100)}%`,
    met: t.ratio === undefined ? (clean ? undefined : false) : ratio >= t.ratio && clean,
    ...(t.ratio !== undefined && ratio < t.ratio && clean
      ? {
          note: `missed by ${Math.round((t.ratio - ratio) * 100)} points (${Math.round((ratio / t.ratio) * 100)}% of the target)`,
        }
      : {}),
  };
}

// --- phases -------------------------------------------------------------------------------------

function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `orgplane-bench-${tag}-`));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start-up on an empty data directory (migrations, first-start bootstrap), three times; medians. */
async function startupPhase(): Promise<Results['startup']> {
  const firstAnswer: number[] = [];
  const cpu: number[] = [];
  const firstAuth: number[] = [];
  const idle: number[] = [];
  for (let i = 0; i < 3; i++) {
    const dir = tempDir('fresh');
    const t0 = performance.now();
    const s = await startOrgplane('fresh', { dataDir: dir });
    try {
      firstAnswer.push(s.startupMs);
      cpu.push(cpuTimeUs(s.pid) / 1000);
      // The banner carries the bootstrap key: time to the first answered authenticated request too.
      const token = /API key:\s+(napi_\S+)/.exec(s.stdout())?.[1];
      const org = /organization:\s+(org-\S+)/.exec(s.stdout())?.[1];
      if (token && org) {
        const a = await call(s.url, 'GET', `/api/v2/organizations/${org}`, token);
        if (a.status === 200) firstAuth.push(performance.now() - t0);
      }
      await sleep(1000);
      idle.push(memoryOf(s.pid)?.rssMb ?? NaN);
    } finally {
      await s.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return {
    firstAnswerMs: median(firstAnswer),
    firstAuthenticatedMs: median(firstAuth),
    cpuMs: median(cpu),
    idleRssMb: median(idle),
    samples: { firstAnswer, firstAuth, idle, cpu },
  };
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
    for (const f of fs.readdirSync(worldDir)) fs.copyFileSync(path.join(worldDir, f), path.join(keysDir, f));
    t0 = performance.now();
    addManyKeysSqlite(path.join(keysDir, 'orgplane.db'), w.bigOrg, w.adminUserId, settings.manyKeys - w.keys);
    results.seeding.sqlite = { worldMs: seedWorldMs, keysMs: performance.now() - t0, liveKeysSmall: w.keys };
    log(`seeded in ${((performance.now() - t0 + seedWorldMs) / 1000).toFixed(1)} s`);

    const main = await startOrgplane('orgplane-sqlite', { dataDir: worldDir });
    servers.push(main);
    results.memory.sqliteStartupMs = main.startupMs;
    await sleep(1000);
    const idle = memoryOf(main.pid);
    const ops = await operations(main.url);
    results.available = [...ops].sort();

    const list = scenarios(w);
    const reads = list.filter((s) => s.kind === 'read');
    const writes = list.filter((s) => s.kind === 'write');
    results.rows.push(...(await againstLimit('sqlite', main, reads, ops)));

    // Authentication with 10 keys vs 1,000,000 keys: the same request on two servers, one each.
    const many = await startOrgplane('orgplane-sqlite-1m-keys', { dataDir: keysDir });
    servers.push(many);
    log(`scaling: authentication with ${w.keys} vs ${settings.manyKeys} keys`);
    const orgPath = `/api/v2/organizations/${w.mainOrg}`;
    const orgReq: RequestSpec[] = [{ method: 'GET', path: orgPath, headers: auth(w.adminToken) }];
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
      for (const f of fs.readdirSync(worldDir)) fs.copyFileSync(path.join(worldDir, f), path.join(invDir, f));
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

    // The cost of rate limiting (on, with a limit never reached) and of production info-level logging.
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

    results.rows.push(...(await againstLimit('sqlite', main, writes, ops)));
    results.rows.push(await transferPhase(main.url, w, ops));

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
    const patch = list.find((x) => x.name === "PATCH member's role");
    if (patch && ops.has('PATCH /organizations/{}/members/{}'))
      results.rows.push(await patchAgainstBaseline(admin, databaseUrl, main, patch));
    results.memory.postgres = { idle: idle ?? undefined, end: memoryOf(main.pid) ?? undefined };
  } finally {
    for (const s of servers.reverse()) await s.stop();
    await admin.query(`drop database if exists ${name} with (force)`).catch(() => {});
    await admin.end();
  }
}

interface Baseline {
  ref: string;
  /** How the figure was obtained. */
  source: string;
  measuredAt: string;
  loadAvg?: number[];
  rps: number;
  cpuUs: number;
  p50?: number;
  p99?: number;
}

const BASELINE_REF = 'f1267c9';

/**
 * PATCH a member's role on PostgreSQL against the code as of commit f1267c9: side by side in this
 * run when BENCH_BASELINE_DIR is a built checkout of it (the figure is then recorded in
 * bench/baseline.json), else against the figure recorded there (another run: noisier).
 */
async function patchAgainstBaseline(
  admin: pg.Client,
  databaseUrl: string,
  main: Child,
  patch: Scenario,
): Promise<Row> {
  const name = `PATCH member's role vs the code of ${BASELINE_REF}`;
  const target_ = `≥ ${PG_PATCH_SPEEDUP}× throughput`;
  const verdict = (o: Measurement, b: Measurement, note: string): Row => {
    const ratio = o.rps / b.rps;
    const clean = o.non2xx === 0 && o.errors === 0;
    return {
      group: 'postgres',
      name,
      orgplane: o,
      baseline: b,
      baselineName: b.label,
      ratio,
      target: target_,
      met: ratio >= PG_PATCH_SPEEDUP && clean,
      note: `${note}; ${ratio.toFixed(2)}× throughput, CPU per request ${(b.cpuUs / o.cpuUs).toFixed(2)}× less${
        ratio < PG_PATCH_SPEEDUP
          ? `; missed: ${Math.round((ratio / PG_PATCH_SPEEDUP) * 100)}% of the target`
          : ''
      }`,
    };
  };
  const dir = settings.baselineDir;
  if (!dir) {
    if (!fs.existsSync(BASELINE_FILE))
      return { group: 'postgres', name, na: 'no baseline (set BENCH_BASELINE_DIR)' };
    const b = JSON.parse(fs.readFileSync(BASELINE_FILE, 'utf8')) as Baseline;
    log(`postgres: ${name} (recorded baseline of ${b.measuredAt})`);
    const [o] = await measure(settings, [target('orgplane', main, patch.requests)]);
    if (!o) return { group: 'postgres', name, na: 'not measured' };
    const base: Measurement = {
      label: `${b.ref}, recorded ${b.measuredAt.slice(0, 10)}`,
      rps: b.rps,
      p50: b.p50 ?? NaN,
      p99: b.p99 ?? NaN,
      cpuUs: b.cpuUs,
      non2xx: 0,
      errors: 0,
      runs: [],
    };
    return verdict(o, base, `recorded figure (${b.source}), not this run: compare the CPU column`);
  }
  const dbName = `orgplane_bench_base_${Date.now()}_${process.pid}`;
  await admin.query(`create database ${dbName}`);
  const u = new URL(databaseUrl);
  u.pathname = `/${dbName}`;
  let old: Child | undefined;
  try {
    // The baseline's own migrations and seeding, from its checkout.
    const conn = (await import(path.join(dir, 'src/db/connect.ts'))) as typeof ConnectModule;
    const mig = (await import(path.join(dir, 'src/db/migrate.ts'))) as typeof MigrateModule;
    const seed = (await import(path.join(dir, 'bench/seed.ts'))) as typeof SeedModule;
    const db = conn.openDatabase({ dataDir: '', databaseUrl: u.toString() });
    await mig.migrateToLatest(db);
    const w = await seed.seedWorld(db, { bigOrgMembers: 2, bigOrgProjects: 1, transferMany: 1 });
    await db.close();
    old = await startOrgplane(`orgplane-${BASELINE_REF}`, { databaseUrl: u.toString(), root: dir });
    const oldPatch = scenarios(w).find((x) => x.name === patch.name);
    if (!oldPatch) return { group: 'postgres', name, na: 'not measured' };
    log(`postgres: ${name} (side by side)`);
    const [b, o] = await measure(settings, [
      target(BASELINE_REF, old, oldPatch.requests),
      target('orgplane', main, patch.requests),
    ]);
    if (!b || !o) return { group: 'postgres', name, na: 'not measured' };
    if (!settings.quick) {
      const rec: Baseline = {
        ref: BASELINE_REF,
        source: `measured side by side with ${path.basename(ROOT)} by npm run bench (BENCH_BASELINE_DIR)`,
        measuredAt: new Date().toISOString(),
        loadAvg: os.loadavg().map((x) => Math.round(x * 100) / 100),
        rps: b.rps,
        cpuUs: b.cpuUs,
        p50: b.p50,
        p99: b.p99,
      };
      fs.writeFileSync(BASELINE_FILE, `${JSON.stringify(rec, null, 2)}\n`);
    }
    return verdict(o, b, 'measured side by side in this run');
  } finally {
    await old?.stop();
    await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => {});
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

async function main(s: Settings): Promise<void> {
  const started = performance.now();
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
  log('start-up on an empty data directory');
  results.startup = await startupPhase();
  await sqlitePhase(results);
  if (s.databaseUrl) await postgresPhase(results, s.databaseUrl);
  else log('DATABASE_URL not set: PostgreSQL part skipped');
  results.machine.loadAvgEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  results.durationS = Math.round((performance.now() - started) / 1000);

  const out = path.resolve(ROOT, s.resultsFile);
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
