// Child processes under test: the orgplane server (the real `bin/orgplane.js serve`), and the bare
// comparison servers. Each runs in its own process so it gets its own core time, and so memory and
// start-up are measured for the real thing.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  url: string;
  port: number;
  /** Milliseconds from spawn to the first answered request. */
  startupMs: number;
  /** Everything the child printed on stdout (bounded), e.g. the first-start banner. */
  stdout(): string;
  stderr(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitReady(url: string, child: ChildProcess, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`process exited with code ${child.exitCode}`);
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) throw new Error(`no answer from ${url} within ${deadlineMs} ms`);
    await sleep(5);
  }
}

interface SpawnOptions {
  name: string;
  args: string[];
  env: Record<string, string>;
  /** Path polled until it answers (any status below 500). */
  readyPath: string;
  cwd?: string;
  /** Keep stdout (the banner); the info-level log server discards it. */
  keepStdout?: boolean;
}

async function spawnChild(o: SpawnOptions): Promise<Child> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const proc = spawn(process.execPath, o.args, {
    cwd: o.cwd ?? ROOT,
    env: { ...process.env, ...o.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', o.keepStdout === false ? 'ignore' : 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => {
    if (out.length < 65536) out += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    if (err.length < 65536) err += d.toString();
  });
  try {
    await waitReady(url + o.readyPath, proc, 60_000);
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`${o.name} did not start: ${(e as Error).message}\n${err.slice(-2000)}`);
  }
  const startupMs = performance.now() - started;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    name: o.name,
    proc,
    pid: proc.pid ?? 0,
    url,
    port,
    startupMs,
    stdout: () => out,
    stderr: () => err,
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export interface OrgplaneOptions {
  dataDir?: string;
  databaseUrl?: string;
  logLevel?: string;
  rateLimit?: boolean;
  extraEnv?: Record<string, string>;
  /** Another checkout of orgplane to start instead of this one (the baseline build). */
  root?: string;
  /** Extra Node.js flags (the profiler's --cpu-prof); the benchmark itself passes none. */
  nodeFlags?: string[];
}

/**
 * The Node.js flags on bin/orgplane.js's shebang line (`#!/usr/bin/env -S node …`), which
 * `npx orgplane` and `npm start` use: the benchmark starts the server the same way.
 */
function binNodeFlags(root = ROOT): string[] {
  const first = fs.readFileSync(path.join(root, 'bin/orgplane.js'), 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\/usr\/bin\/env\s+(?:-S\s+)?node\s*(.*)$/.exec(first);
  return m?.[1] ? m[1].trim().split(/\s+/) : [];
}

/**
 * `node [shebang flags] bin/orgplane.js serve` exactly as a user starts it (the compiled build
 * when dist/ is fresh, else tsx loads the sources).
 */
export function startOrgplane(name: string, o: OrgplaneOptions): Promise<Child> {
  const env: Record<string, string> = {
    LOG_LEVEL: o.logLevel ?? 'warn',
    ORGPLANE_RATE_LIMIT: o.rateLimit ? 'on' : 'off',
    // Huge limits: the benchmark measures the work, not the limiter's refusals.
    ORGPLANE_RATE_LIMIT_PER_MINUTE: '1000000000',
    ORGPLANE_RATE_LIMIT_ORG_KEYS_PER_SECOND: '1000000000',
    ORGPLANE_INVITATIONS_PER_ORG_PER_HOUR: '1000000000',
    ORGPLANE_PROJECT_LIMIT_FREE: '1000000',
    ORGPLANE_PROJECT_LIMIT_LAUNCH: '1000000',
    ORGPLANE_PROJECT_LIMIT_SCALE: '1000000',
    ORGPLANE_PROJECT_LIMIT_BUSINESS: '1000000',
    ORGPLANE_PROJECT_LIMIT_ENTERPRISE: '1000000',
    ORGPLANE_ADMIN_EMAIL: 'bench-admin@example.com',
    ...o.extraEnv,
  };
  if (o.dataDir) env.ORGPLANE_DATA_DIR = o.dataDir;
  env.DATABASE_URL = o.databaseUrl ?? '';
  return spawnChild({
    name,
    args: [
      ...binNodeFlags(o.root),
      ...(o.nodeFlags ?? []),
      path.join(o.root ?? ROOT, 'bin/orgplane.js'),
      'serve',
    ],
    cwd: o.root ?? ROOT,
    env,
    readyPath: '/healthz',
    keepStdout: (o.logLevel ?? 'warn') !== 'info',
  });
}

/** A bare node:http server answering fixed bytes (the limit). `routes` maps METHOD to a response. */
export function startBareHttp(name: string, routes: Record<string, BareResponse>): Promise<Child> {
  return spawnChild({
    name,
    args: ['--import', 'tsx', path.join(ROOT, 'bench/bare-http.ts')],
    env: { BARE_ROUTES: JSON.stringify(routes) },
    readyPath: '/',
  });
}

/** A bare node:http + pg server running orgplane's SQL for the read scenarios (no framework). */
export function startBarePg(
  name: string,
  databaseUrl: string,
  extraEnv: Record<string, string>,
): Promise<Child> {
  return spawnChild({
    name,
    args: ['--import', 'tsx', path.join(ROOT, 'bench/bare-pg.ts')],
    env: { DATABASE_URL: databaseUrl, ...extraEnv },
    readyPath: '/ready',
  });
}

export interface BareResponse {
  status: number;
  contentType: string;
  /** base64 of the exact body bytes. */
  body: string;
  /** Every other header orgplane sent (security headers…), but date and connection management. */
  headers?: Record<string, string>;
}

export interface Memory {
  rssMb: number;
  peakRssMb: number;
}

/** Current and peak resident set size of a process, from /proc (Linux). */
export function memoryOf(pid: number): Memory | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}
