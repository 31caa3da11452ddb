// ad-hoc A/B: two server trees on one seeded data dir, interleaved runs.
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { measure } from './load.ts';
import { loadSettings } from './settings.ts';
const w = JSON.parse(fs.readFileSync('/tmp/prof/world.json', 'utf8'));
const [rootA, rootB, ...paths] = process.argv.slice(2) as [string, string, ...string[]];
async function start(root: string, port: number, env: Record<string, string> = {}) {
  const p = spawn(process.execPath, [`${root}/bin/orgplane.js`, 'serve'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      ORGPLANE_DATA_DIR: '/tmp/prof/db',
      LOG_LEVEL: 'warn',
      ORGPLANE_RATE_LIMIT: 'off',
      ...env,
    },
    stdio: 'inherit',
  });
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
    } catch {
      /* */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return p;
}
const a = await start(rootA, 4601);
const b = await start(rootB, 4602, process.env.B_ENV ? JSON.parse(process.env.B_ENV) : {});
const s = { ...loadSettings(), warmupSeconds: 2, runSeconds: 3, runs: 3 };
for (const p of paths.length
  ? paths
  : [`/api/v2/organizations/${w.mainOrg}/members?limit=10`, `/api/v2/organizations/${w.mainOrg}`]) {
  const path = p.replace('ORG', w.mainOrg);
  const req = [{ method: 'GET', path, headers: { authorization: `Bearer ${w.adminToken}` } }];
  const [ma, mb] = await measure(s, [
    { label: 'A', url: 'http://127.0.0.1:4601', requests: req },
    { label: 'B', url: 'http://127.0.0.1:4602', requests: req },
  ]);
  console.log(
    path,
    'A',
    ma?.rps.toFixed(0),
    ma?.p50.toFixed(2),
    ma?.p99.toFixed(2),
    '| B',
    mb?.rps.toFixed(0),
    mb?.p50.toFixed(2),
    mb?.p99.toFixed(2),
    '| B/A',
    ((mb?.rps ?? 0) / (ma?.rps ?? 1)).toFixed(2),
    ma?.non2xx,
    mb?.non2xx,
  );
}
a.kill('SIGKILL');
b.kill('SIGKILL');
