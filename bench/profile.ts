// `npx tsx bench/profile.ts <scenario> [seconds]`: where a request's CPU time goes. Seeds a small
// SQLite world (or DATABASE_URL's PostgreSQL), starts orgplane as users do with --cpu-prof, drives
// one scenario with autocannon, stops the server and prints the self time by function and by
// module group. Scenarios: org, members, projects, patch, keys, invite. PROFILE_DIR keeps the
// .cpuprofile (default: a temporary directory). PROFILE=0: only the CPU time per request.
// PROFILE_INVITATIONS=n (SQLite): n earlier invitations of the organization.
/* eslint-disable @typescript-eslint/no-explicit-any -- autocannon request specs and contexts are untyped */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import autocannon from 'autocannon';
import { openDatabase } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { cpuTimeUs } from './load.ts';
import { startOrgplane } from './proc.ts';
import { addManyInvitationsSqlite, seedWorld } from './seed.ts';

const scenario = process.argv[2] ?? 'org';
const seconds = Number(process.argv[3] ?? 8);
const dir = process.env.PROFILE_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-prof-'));
fs.mkdirSync(dir, { recursive: true });
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-prof-db-'));
const databaseUrl = process.env.DATABASE_URL;
let url: string | undefined;
let dbName: string | undefined;
if (databaseUrl) {
  dbName = `orgplane_prof_${process.pid}`;
  const admin = new pg.Client(databaseUrl);
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();
  const u = new URL(databaseUrl);
  u.pathname = `/${dbName}`;
  url = u.toString();
}
const db = openDatabase({ dataDir, databaseUrl: url });
await migrateToLatest(db);
const w = await seedWorld(db, { bigOrgMembers: 2, bigOrgProjects: 1, transferMany: 1 });
await db.close();
const earlier = Number(process.env.PROFILE_INVITATIONS ?? 0);
if (earlier > 0 && !databaseUrl)
  addManyInvitationsSqlite(path.join(dataDir, 'orgplane.db'), w.mainOrg, w.adminUserId, earlier);

const auth = { authorization: `Bearer ${w.adminToken}` };
const json = { ...auth, 'content-type': 'application/json' };
const keys = `/api/v2/organizations/${w.mainOrg}/api_keys`;
let n = 0;
const requests: Record<string, any[]> = {
  org: [{ method: 'GET', path: `/api/v2/organizations/${w.mainOrg}`, headers: auth }],
  members: [{ method: 'GET', path: `/api/v2/organizations/${w.mainOrg}/members?limit=10`, headers: auth }],
  projects: [{ method: 'GET', path: `/api/v2/projects?org_id=${w.mainOrg}&limit=10`, headers: auth }],
  patch: [
    {
      method: 'PATCH',
      headers: json,
      setupRequest: (req: any, ctx: any) => {
        ctx.member ??= w.patchMemberIds[n++ % w.patchMemberIds.length];
        ctx.role = ctx.role === 'admin' ? 'member' : 'admin';
        return {
          ...req,
          path: `/api/v2/organizations/${w.mainOrg}/members/${ctx.member}`,
          body: JSON.stringify({ role: ctx.role }),
        };
      },
    },
  ],
  keys: [
    {
      method: 'POST',
      path: keys,
      headers: json,
      body: JSON.stringify({ key_name: 'prof' }),
      onResponse: (_s: number, body: string, ctx: any) => (ctx.id = JSON.parse(body).id),
    },
    {
      method: 'DELETE',
      headers: auth,
      setupRequest: (r: any, ctx: any) => ({ ...r, path: `${keys}/${ctx.id}` }),
    },
  ],
  invite: [
    {
      method: 'POST',
      path: `/api/v2/organizations/${w.mainOrg}/invitations`,
      headers: json,
      setupRequest: (r: any) => ({
        ...r,
        body: JSON.stringify({ invitations: [{ email: `p-${n++}@example.com`, role: 'member' }] }),
      }),
    },
  ],
};
const list = requests[scenario];
if (!list) throw new Error(`unknown scenario ${scenario}`);

const server = await startOrgplane('profiled', {
  dataDir,
  databaseUrl: url,
  nodeFlags: process.env.PROFILE === '0' ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`],
});
const cpu0 = cpuTimeUs(server.pid);
const r = await autocannon({ url: server.url, connections: 32, duration: seconds, requests: list });
const cpuPerRequest = (cpuTimeUs(server.pid) - cpu0) / Math.max(1, r.requests.total);
process.stderr.write(
  `${scenario}: ${Math.round(r.requests.average)} req/s, server CPU ${Math.round(cpuPerRequest)} µs/request, non-2xx ${r.non2xx}\n`,
);
await server.stop();
fs.rmSync(dataDir, { recursive: true, force: true });
if (dbName && databaseUrl) {
  const admin = new pg.Client(databaseUrl);
  await admin.connect();
  await admin.query(`drop database if exists ${dbName} with (force)`);
  await admin.end();
}

if (process.env.PROFILE === '0') process.exit(0);

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
}
const file = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .map((f) => path.join(dir, f))
  .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
if (!file) throw new Error('no profile written');
const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: Node[] };
const total = prof.nodes.reduce((a, x) => a + x.hitCount, 0);
const group = (u: string) => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (m) return m[1] as string;
  const s = /\/(src|dist\/src)\/(.+)$/.exec(u);
  if (s) return `src/${s[2]}`;
  return u === '' ? '(native/gc/idle)' : u.startsWith('node:') ? u : '(other)';
};
const byFn = new Map<string, number>();
const byGroup = new Map<string, number>();
for (const x of prof.nodes) {
  const g = group(x.callFrame.url);
  const fn = `${x.callFrame.functionName || '(anonymous)'} ${g}:${x.callFrame.lineNumber + 1}`;
  byFn.set(fn, (byFn.get(fn) ?? 0) + x.hitCount);
  byGroup.set(g, (byGroup.get(g) ?? 0) + x.hitCount);
}
const top = (m: Map<string, number>, k: number) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([name, h]) => `${((100 * h) / total).toFixed(1).padStart(5)}%  ${name}`)
    .join('\n');
process.stdout.write(
  `profile ${file}\n\nby module:\n${top(byGroup, 25)}\n\nby function (self):\n${top(byFn, 40)}\n`,
);
