// `BEFORE_ROOT=<dir> npx tsx bench/startup-ab.ts [pairs]`: start-up of another built checkout (BEFORE_ROOT:
// a copy with bin/, dist/ current, src/ and node_modules) and of this one, side by side: alternating starts of
// `bin/orgplane.js serve` on empty data directories, CPU time (user + system) at the first answer and RSS
// a second later, medians. RESTART=1 measures the second start on each data directory (the certificates
// and the migrations already there).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuTimeUs } from './load.ts';
import { startOrgplane } from './proc.ts';

const before = process.env.BEFORE_ROOT;
if (!before) throw new Error('BEFORE_ROOT: a built checkout to compare with');
const pairs = Number(process.argv[2] ?? 6);
const roots = { before, after: undefined } as const;
const res = {
  before: { cpu: [] as number[], rss: [] as number[] },
  after: { cpu: [] as number[], rss: [] as number[] },
};
for (let i = 0; i < pairs; i++) {
  for (const k of i % 2 ? (['after', 'before'] as const) : (['before', 'after'] as const)) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-startup-'));
    if (process.env.RESTART === '1') await (await startOrgplane(k, { dataDir, root: roots[k] })).stop();
    const s = await startOrgplane(k, { dataDir, root: roots[k] });
    const cpu = cpuTimeUs(s.pid) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${s.pid}/status`, 'utf8'))?.[1]) / 1024;
    await s.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    res[k].cpu.push(Math.round(cpu));
    res[k].rss.push(Math.round(rss));
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
for (const [k, v] of Object.entries(res))
  process.stdout.write(
    `${k.padEnd(7)} CPU to first answer ${median(v.cpu)} ms (${v.cpu.join(' ')}), idle RSS ${median(v.rss)} MB (${v.rss.join(' ')})\n`,
  );
process.stdout.write(`load average ${os.loadavg()[0]?.toFixed(1)}\n`);
