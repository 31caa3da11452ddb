// The load generator: autocannon in this process, a fixed number of connections, a warm-up, several
// runs, medians. Two targets compared with each other are measured alternately (A, B, A, B, …) so
// drift on this shared machine hits both alike; latency percentiles are computed from every
// response time (autocannon's own histogram rounds to whole milliseconds).
import fs from 'node:fs';
import autocannon from 'autocannon';
import type { Settings } from './settings.ts';

export interface RequestSpec {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- autocannon's per-connection context
  setupRequest?: (req: any, context: any) => any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- autocannon's per-connection context
  onResponse?: (status: number, body: string, context: any) => void;
}

export interface Target {
  label: string;
  url: string;
  /** The server's process id: its CPU time per request is measured too. */
  pid?: number;
  /** Requests each connection sends in turn, looping. */
  requests: RequestSpec[];
}

export interface RunResult {
  /** Requests answered in the run. */
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** Counts of answers outside 2xx, by status. */
  failures: Record<string, number>;
  /** Server CPU time (user + system) per answered request, microseconds; robust to other load. */
  cpuUs: number;
}

export interface Measurement {
  label: string;
  /** Median requests per second over the runs. */
  rps: number;
  /** Median of the runs' p50 / p99 latency, milliseconds. */
  p50: number;
  p99: number;
  /** Median server CPU microseconds per request. */
  cpuUs: number;
  /** Summed over all measured runs: answers outside 2xx, and socket errors/timeouts. */
  non2xx: number;
  errors: number;
  runs: RunResult[];
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const TICK_US = 1e6 / 100; // Linux USER_HZ: /proc reports CPU time in 1/100 s

/** utime + stime of a process in microseconds, or NaN where /proc is unavailable. */
export function cpuTimeUs(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) * TICK_US;
  } catch {
    return NaN;
  }
}

/** Several targets loaded at the same time (a soak: reads beside writes), each with its own connections. */
export async function together(
  runs: Array<{ target: Target; connections: number }>,
  seconds: number,
): Promise<RunResult[]> {
  return Promise.all(runs.map((r) => once(r.target, r.connections, seconds)));
}

async function once(t: Target, connections: number, seconds: number): Promise<RunResult> {
  const times: number[] = [];
  const cpu0 = cpuTimeUs(t.pid);
  const instance = autocannon({
    url: t.url,
    connections,
    duration: seconds,
    pipelining: 1,
    timeout: 10,
    requests: t.requests,
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- autocannon's event payloads are untyped
  instance.on('response', (_client: any, status: number, _bytes: number, responseTime: number) => {
    if (status >= 200 && status < 300) times.push(responseTime);
  });
  const r = await instance;
  const cpu = cpuTimeUs(t.pid) - cpu0;
  const sorted = Float64Array.from(times).sort();
  return {
    requests: r.requests.total,
    rps: r.requests.total / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    cpuUs: cpu / Math.max(1, r.requests.total),
    failures: Object.fromEntries(
      Object.entries(r.statusCodeStats ?? {})
        .filter(([code]) => !code.startsWith('2'))
        .map(([code, v]) => [code, v.count]),
    ),
  };
}

function summarize(label: string, runs: RunResult[]): Measurement {
  return {
    label,
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    cpuUs: median(runs.map((r) => r.cpuUs)),
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    runs,
  };
}

/** Measures each target (warm-up first), interleaving their runs. */
export async function measure(
  settings: Settings,
  targets: Target[],
  connections = settings.connections,
): Promise<Measurement[]> {
  for (const t of targets) await once(t, connections, settings.warmupSeconds);
  const runs: RunResult[][] = targets.map(() => []);
  for (let i = 0; i < settings.runs; i++) {
    for (const [j, t] of targets.entries()) runs[j]?.push(await once(t, connections, settings.runSeconds));
  }
  return targets.map((t, j) => summarize(t.label, runs[j] ?? []));
}
