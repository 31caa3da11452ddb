// The benchmark's results: their shape (bench/results.json), the console table and the README table.
import type { Measurement } from './load.ts';
import type { Memory } from './proc.ts';
import type { Settings } from './settings.ts';

export interface Row {
  group: string;
  name: string;
  /** Set when the scenario was not measured, with the reason. */
  na?: string;
  orgplane?: Measurement;
  baseline?: Measurement;
  baselineName?: string;
  /** orgplane / baseline requests per second (or, for latency rows, b / a latency). */
  ratio?: number;
  /** What the target judges: the CPU ratio (baseline CPU µs per request / orgplane's) or req/s. */
  basis?: 'cpu' | 'rps';
  /** A single figure with its unit (start-up, memory, audit append), instead of a load test. */
  value?: string;
  latency?: { a: number; b: number; aLabel: string; bLabel: string };
  target?: string;
  met?: boolean | undefined;
  note?: string;
}

export interface Results {
  generatedAt: string;
  machine: {
    cpu: string;
    nproc: number;
    memoryGb: number;
    node: string;
    os: string;
    loadAvgStart: number[];
    loadAvgEnd: number[];
  };
  settings: Settings;
  rows: Row[];
  /** Operations ("METHOD /path") this build serves. */
  available: string[];
  startup: {
    firstAnswerMs: number;
    firstAuthenticatedMs: number;
    /** CPU time (user + system) the process had used when it first answered. */
    cpuMs: number;
    idleRssMb: number;
    samples: Record<string, number[]>;
  };
  memory: {
    sqliteStartupMs?: number;
    postgresStartupMs?: number;
    sqlite?: { idle?: Memory | undefined; end?: Memory | undefined };
    postgres?: { idle?: Memory | undefined; end?: Memory | undefined };
  };
  seeding: Record<string, Record<string, number>>;
  durationS: number;
}

const f0 = (n: number | undefined) =>
  n === undefined || Number.isNaN(n) ? '—' : Math.round(n).toLocaleString('en-US');
const f2 = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '—' : n.toFixed(2));
const pct = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '—' : `${Math.round(n * 100)}%`);
const verdict = (m: boolean | undefined) => (m === undefined ? '' : m ? 'yes' : 'NO');

interface Line {
  group: string;
  name: string;
  rps: string;
  p50: string;
  p99: string;
  baseline: string;
  ratio: string;
  target: string;
  met: string;
  cpu?: string;
  cpuRatio?: string;
  note?: string;
}

function lines(r: Results): Line[] {
  const out: Line[] = [];
  for (const row of r.rows) {
    if (row.value !== undefined) {
      out.push({
        group: row.group,
        name: row.name,
        rps: row.value,
        p50: '',
        p99: '',
        baseline: row.baselineName ?? '',
        ratio: '',
        target: row.target ?? '',
        met: verdict(row.met),
        cpu: '',
        cpuRatio: '',
        note: row.note ?? '',
      });
    } else if (row.na) {
      out.push({
        group: row.group,
        name: row.name,
        rps: row.na,
        p50: '',
        p99: '',
        baseline: '',
        ratio: '',
        target: '',
        met: '',
      });
    } else if (row.latency) {
      out.push({
        group: row.group,
        name: row.name,
        rps: '',
        p50: `${f2(row.latency.b)} (${row.latency.bLabel})`,
        p99: '',
        baseline: `${f2(row.latency.a)} ms (${row.latency.aLabel})`,
        ratio: `${f2(row.ratio)}×`,
        target: row.target ?? '',
        met: verdict(row.met),
        cpu: '',
        cpuRatio: '',
        note: row.note ?? '',
      });
    } else {
      const o = row.orgplane;
      const errs = o && o.non2xx + o.errors > 0 ? ` (${o.non2xx + o.errors} failed)` : '';
      out.push({
        group: row.group,
        name: row.name,
        rps: f0(o?.rps) + errs,
        p50: f2(o?.p50),
        p99: f2(o?.p99),
        baseline: `${f0(row.baseline?.rps)} (${row.baselineName ?? ''})`,
        ratio: row.basis ? f2(row.ratio) : pct(row.ratio),
        target: row.target ?? '',
        met: verdict(row.met),
        cpu: `${f0(o?.cpuUs)} / ${f0(row.baseline?.cpuUs)}`,
        cpuRatio: o && row.baseline ? f2(row.baseline.cpuUs / o.cpuUs) : '—',
        note: row.note ?? '',
      });
    }
  }
  const idle = r.memory.sqlite?.idle?.rssMb;
  const peak = Math.max(r.memory.sqlite?.end?.peakRssMb ?? NaN, r.memory.postgres?.end?.peakRssMb ?? -1);
  const mem = (name: string, value: string, target: string, met: boolean | undefined): Line => ({
    group: 'memory/start-up',
    name,
    rps: value,
    p50: '',
    p99: '',
    baseline: '',
    ratio: '',
    target,
    met: verdict(met),
    cpu: '',
    cpuRatio: '',
  });
  out.push(
    mem(
      'idle RSS (SQLite, seeded, after start)',
      `${f0(idle)} MB`,
      '≤ 80 MB',
      idle === undefined ? undefined : idle <= 80,
    ),
    mem(
      'idle RSS (empty database, after first start)',
      `${f0(r.startup.idleRssMb)} MB`,
      '≤ 80 MB',
      Number.isNaN(r.startup.idleRssMb) ? undefined : r.startup.idleRssMb <= 80,
    ),
    mem(
      'peak RSS (over every scenario)',
      `${f0(peak)} MB`,
      '≤ 200 MB',
      Number.isNaN(peak) ? undefined : peak <= 200,
    ),
  );
  if (r.memory.postgres?.idle) {
    out.push(
      mem(
        'idle RSS (PostgreSQL)',
        `${f0(r.memory.postgres.idle.rssMb)} MB`,
        '≤ 80 MB',
        r.memory.postgres.idle.rssMb <= 80,
      ),
    );
  }
  return out;
}

const HEAD: Line = {
  group: 'group',
  name: 'scenario',
  rps: 'req/s (or value)',
  p50: 'p50 ms',
  p99: 'p99 ms',
  baseline: 'baseline req/s',
  ratio: 'req/s ratio',
  target: 'target',
  met: 'met',
  cpu: 'server CPU µs/req (orgplane / baseline)',
  cpuRatio: 'CPU ratio',
  note: 'note',
};
const KEYS = Object.keys(HEAD) as (keyof Line)[];

function header(r: Results): string {
  const m = r.machine;
  return (
    `orgplane benchmark, ${r.generatedAt}: ${m.nproc} cores (${m.cpu}), ${m.memoryGb} GB, Node ${m.node}; ` +
    `${r.settings.connections} connections, ${r.settings.runs} runs × ${r.settings.runSeconds} s after ${r.settings.warmupSeconds} s warm-up, medians` +
    `${r.settings.quick ? ' (BENCH_QUICK: smoke run, not comparable)' : ''}; load average ${m.loadAvgStart.join('/')} at start, ${m.loadAvgEnd.join('/')} at end; ${r.durationS} s`
  );
}

export function renderTable(r: Results): string {
  const all = [HEAD, ...lines(r)];
  const width = KEYS.map((k) => Math.max(...all.map((l) => (l[k] ?? '').length)));
  const fmt = (l: Line) =>
    KEYS.map((k, i) => (l[k] ?? '').padEnd(width[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    header(r),
    '',
    fmt(HEAD),
    width.map((w) => '-'.repeat(w)).join('  '),
    ...all.slice(1).map(fmt),
  ].join('\n');
}

export function renderMarkdown(r: Results): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const rows = lines(r).map((l) => `| ${KEYS.map((k) => esc(l[k] ?? '')).join(' | ')} |`);
  return [
    `${header(r)}.`,
    '',
    `| ${KEYS.map((k) => HEAD[k]).join(' | ')} |`,
    `| ${KEYS.map(() => '---').join(' | ')} |`,
    ...rows,
    '',
  ].join('\n');
}
