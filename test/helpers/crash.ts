// Crash tests of the real server (kill -9, then restart): the data directory and, on PostgreSQL,
// the schema its processes share, and the processes themselves. Readiness is what the server says
// or answers, never a time budget: a loaded machine is slow, not broken.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Db } from '../../src/db/connect.ts';
import { DIALECT, PG_URL, pgSchema } from './app.ts';
import { ROOT } from './cli.ts';
import { freePort } from './net.ts';

export interface CrashEnvironment {
  dataDir: string;
  /** The server's variables: this data directory and (PostgreSQL) this schema. */
  env: Record<string, string>;
  /** A connection of the test's own to the same database. */
  open(): Db;
  /** Creates the schema (PostgreSQL); call in before(). */
  setUp(): Promise<void>;
  /** Removes the data directory and the schema; call once the servers are gone. */
  tearDown(): Promise<void>;
}

export function crashEnvironment(prefix: string, extra: Record<string, string> = {}): CrashEnvironment {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `orgplane-${prefix}-`));
  const schema = pgSchema(prefix);
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    HOST: '127.0.0.1',
    ORGPLANE_DATA_DIR: dataDir,
    ORGPLANE_RATE_LIMIT: 'off',
    LOG_LEVEL: 'error',
    ...extra,
  };
  if (DIALECT === 'postgres') {
    env.DATABASE_URL = PG_URL;
    env.ORGPLANE_PG_SCHEMA = schema.name;
  } else {
    delete env.DATABASE_URL;
  }
  return {
    dataDir,
    env,
    open: () =>
      DIALECT === 'postgres'
        ? openDatabase({ dataDir, databaseUrl: PG_URL, pgSchema: schema.name })
        : openDatabase({ dataDir }),
    async setUp() {
      if (DIALECT === 'postgres') await schema.create();
    },
    async tearDown() {
      fs.rmSync(dataDir, { recursive: true, force: true });
      if (DIALECT === 'postgres') await schema.drop();
    },
  };
}

export interface CrashServer {
  child: ChildProcess;
  base: string;
  stderr(): string;
  /** Resolves with the rest of the first stderr line that starts with prefix, once there is one. */
  line(prefix: string): Promise<string>;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
}

/**
 * Starts node with args (the server or a test entry around it) on a free port. Ready once stderr
 * has a line starting with readyLine, or (none given) once it answers /readyz; an exit first fails.
 */
export async function startCrashServer(
  args: string[],
  env: Record<string, string>,
  opts: { readyLine?: string; stdin?: boolean } = {},
): Promise<CrashServer> {
  const port = await freePort();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...env, PORT: String(port) },
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const waiters: (() => void)[] = [];
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of waiters.slice()) w();
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${stderr}`))),
  );
  exited.catch(() => undefined);
  const line = (prefix: string) =>
    new Promise<string>((resolve) => {
      const check = () => {
        const whole = stderr.split('\n').slice(0, -1); // the last line may be cut
        const found = whole.find((l) => l.startsWith(prefix));
        if (found === undefined) return;
        waiters.splice(waiters.indexOf(check), 1);
        resolve(found.slice(prefix.length));
      };
      waiters.push(check);
      check();
    });
  const base = `http://127.0.0.1:${port}`;
  const server: CrashServer = {
    child,
    base,
    stderr: () => stderr,
    line,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    },
  };
  try {
    if (opts.readyLine !== undefined) await Promise.race([line(opts.readyLine), exited]);
    else {
      for (;;) {
        const ok = await Promise.race([
          fetch(`${base}/readyz`).then(
            (r) => r.ok,
            () => false,
          ),
          exited,
        ]);
        if (ok) break;
        await Promise.race([new Promise((r) => setTimeout(r, 100)), exited]);
      }
    }
  } catch (err) {
    await server.kill();
    throw err;
  }
  return server;
}
