// Real server processes (`node bin/orgplane.js serve`, as users start it) on free ports, and a
// fresh PostgreSQL database for them to share, seeded by this process through the services.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openDatabase, type Db } from '../../src/db/connect.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { createServices, type Services } from '../../src/services.ts';
import { PG_URL, testConfig } from './app.ts';
import { freePort } from './net.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Server {
  name: string;
  base: string;
  child: ChildProcess;
  output: string[];
}

/** What test/helpers/clock-server.ts says on stderr once its clock holds a new value. */
export const CLOCK_LINE = 'orgplane-test: clock ';

export interface StartOptions {
  /** Run test/helpers/clock-server.ts (the clock is the test's to set: setClock) instead of `serve`. */
  clock?: boolean;
  /** Run it as this OS user (the tests must be root; dataDir must be that user's). */
  as?: { uid: number; gid: number };
}

/** Starts a server on DATABASE_URL=databaseUrl; env adds or overrides variables (rate limits are off unless set). */
export async function startServer(
  name: string,
  databaseUrl: string,
  dataDir: string,
  env: NodeJS.ProcessEnv = {},
  opts: StartOptions = {},
): Promise<Server> {
  const port = await freePort();
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    ORGPLANE_RATE_LIMIT: 'off',
    ORGPLANE_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    ...env,
  };
  const args = opts.clock
    ? ['--import', 'tsx', 'test/helpers/clock-server.ts']
    : ['bin/orgplane.js', 'serve'];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: childEnv,
    stdio: 'pipe',
    ...(opts.as ? { uid: opts.as.uid, gid: opts.as.gid } : {}),
  });
  const output: string[] = [];
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const base = `http://127.0.0.1:${port}`;
  // No time budget: a loaded machine may take a minute to start a process. It either answers,
  // or exits (then its output says why); one that does neither is the test runner's timeout's.
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited || child.exitCode !== null) throw new Error(`${name} exited early:\n${output.join('')}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return { name, base, child, output };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Holds a clock server's clock at `ms` ('real': the machine's clock again) and returns once the
 * process says it does.
 */
export async function setClock(s: Server, ms: number | 'real'): Promise<void> {
  const line = `${CLOCK_LINE}${ms}\n`;
  const stderr = s.child.stderr;
  assert.ok(stderr && s.child.stdin, `${s.name} has no pipes`);
  let seen = '';
  const acknowledged = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (!seen.includes(line)) return;
      stderr.off('data', onData);
      s.child.off('exit', onExit);
      resolve();
    };
    const onExit = () => reject(new Error(`${s.name} exited:\n${s.output.join('')}`));
    stderr.on('data', onData);
    s.child.once('exit', onExit);
  });
  s.child.stdin.write(`clock ${ms}\n`);
  await acknowledged;
}

export async function stopServer(s: Server | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null) return;
  const exited = new Promise<void>((r) => s.child.once('exit', () => r()));
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export interface CallResult {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
  body: any;
  headers: Headers;
}

export async function call(
  s: Server,
  method: string,
  url: string,
  token: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<CallResult> {
  const res = await fetch(`${s.base}${url}`, {
    method,
    headers: {
      ...headers,
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/**
 * A fresh PostgreSQL database (on TEST_DATABASE_URL's server), migrated, with services over it
 * for seeding (the servers then find users present and skip their first-start bootstrap), and a
 * temporary data directory. dispose() drops it all.
 */
export async function sharedPostgres(prefix: string): Promise<{
  databaseUrl: string;
  services: Services;
  dataDir: string;
  dispose(): Promise<void>;
}> {
  const dbName = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();
  const u = new URL(PG_URL);
  u.pathname = `/${dbName}`;
  const databaseUrl = u.toString();
  const db: Db = openDatabase({ dataDir: '', databaseUrl });
  await migrateToLatest(db);
  const services = createServices(db, testConfig(), {
    info: () => {},
    warn: () => {},
    error: () => {},
  } as never);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  return {
    databaseUrl,
    services,
    dataDir,
    async dispose() {
      await db.close();
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop database if exists ${dbName} with (force)`);
      await c.end();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
