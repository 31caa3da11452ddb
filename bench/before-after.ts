// `npx tsx bench/before-after.ts`: orgplane before this round of performance work (a git ref,
// BENCH_BASELINE_REF, default 0f1caad, checked out with git archive into a temporary directory)
// and this checkout, started on copies of one seeded SQLite file and loaded alternately (5 runs ×
// 2 s each, 32 connections): server CPU time per request from /proc for each. The two run side by
// side, so the comparison holds on a loaded machine where absolute figures do not.
/* eslint-disable @typescript-eslint/no-explicit-any -- autocannon request specs and contexts are untyped */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { measure } from './load.ts';
import { ROOT, startOrgplane } from './proc.ts';
import { seedWorld } from './seed.ts';
import { loadSettings } from './settings.ts';
const settings = { ...loadSettings(), warmupSeconds: 1, runSeconds: 2, runs: 5 };
const ref = process.env.BENCH_BASELINE_REF || '0f1caad';
const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), `orgplane-before-${ref}-`));
execFileSync('tar', ['-x', '-C', baseDir], {
  input: execFileSync('git', ['-C', ROOT, 'archive', '--format=tar', ref], { maxBuffer: 1 << 30 }),
});
fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(baseDir, 'node_modules'));
const a = fs.mkdtempSync(path.join(os.tmpdir(), 'ab-a-'));
const b = fs.mkdtempSync(path.join(os.tmpdir(), 'ab-b-'));
const db = openDatabase({ dataDir: a });
await migrateToLatest(db);
const w = await seedWorld(db, { bigOrgMembers: 2, bigOrgProjects: 1, transferMany: 1 });
await db.close();
for (const f of fs.readdirSync(a, { withFileTypes: true }))
  if (f.isFile()) fs.copyFileSync(path.join(a, f.name), path.join(b, f.name));
const before = await startOrgplane('before', {
  dataDir: a,
  root: baseDir,
  extraEnv: { ORGPLANE_FROM_SOURCE: '1' },
});
const after = await startOrgplane('after', { dataDir: b });
const auth = { authorization: `Bearer ${w.adminToken}` };
const json = { ...auth, 'content-type': 'application/json' };
let n = 0;
const cases: Record<string, any[]> = {
  'GET organization': [{ method: 'GET', path: `/api/v2/organizations/${w.mainOrg}`, headers: auth }],
  'GET members (page of 10)': [
    { method: 'GET', path: `/api/v2/organizations/${w.mainOrg}/members?limit=10`, headers: auth },
  ],
  'GET projects (limit 10)': [
    { method: 'GET', path: `/api/v2/projects?org_id=${w.mainOrg}&limit=10`, headers: auth },
  ],
  "PATCH member's role": [
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
};
try {
  for (const [name, requests] of Object.entries(cases)) {
    const [x, y] = await measure(settings, [
      { label: 'before', url: before.url, pid: before.pid, requests },
      { label: 'after', url: after.url, pid: after.pid, requests },
    ]);
    process.stdout.write(
      `${name.padEnd(26)} CPU µs/req before ${Math.round(x?.cpuUs ?? NaN)} after ${Math.round(y?.cpuUs ?? NaN)} (${((x?.cpuUs ?? NaN) / (y?.cpuUs ?? NaN)).toFixed(2)}× less); req/s ${Math.round(x?.rps ?? NaN)} → ${Math.round(y?.rps ?? NaN)}; failures ${(x?.non2xx ?? 0) + (y?.non2xx ?? 0)}\n`,
    );
  }
} finally {
  await before.stop();
  await after.stop();
  fs.rmSync(a, { recursive: true, force: true });
  fs.rmSync(b, { recursive: true, force: true });
  fs.rmSync(baseDir, { recursive: true, force: true });
}
