// A test app with real computes: its own data directory (the compute directory, the template
// cluster, the CA), the engine started and reconciled as the server does; the real server with
// computes run as another OS user; and psql with the strings Neon's clients print. Spawns are
// bounded by count, not by wall-clock margins.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import type { OsUser } from '../../src/compute/osuser.ts';
import type { ComputeConfig } from '../../src/config.ts';
import { openDatabase, type Db } from '../../src/db/connect.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { createServices } from '../../src/services.ts';
import { buildTestApp, DIALECT, PG_URL, testConfig, type TestApp, type TestAppOptions } from './app.ts';
import { createOrg, createUser } from './factories.ts';
import { startServer, stopServer } from './servers.ts';

export const PSQL = '/usr/bin/psql';

export async function buildComputeApp(
  options: TestAppOptions = {},
  compute: Partial<ComputeConfig> = {},
): Promise<{ t: TestApp; root: string; dispose: () => Promise<void> }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-compute-api-'));
  // The compute user (when tests run as root) must traverse this directory.
  fs.chmodSync(root, 0o755);
  const t = await buildTestApp(
    {
      dataDir: root,
      compute: { ...testConfig().compute, enabled: true, ...compute },
    },
    options,
  );
  await t.services.startCompute();
  return {
    t,
    root,
    dispose: async () => {
      await t.close();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface ComputeServer {
  /** http://127.0.0.1:<port> */
  base: string;
  /** The personal key of the organization's admin. */
  token: string;
  orgId: string;
  /** The server's uid, as the kernel sees its process. */
  uid: number;
  dataDir: string;
  close(): Promise<void>;
}

/** The real uid of a running process, as the kernel reports it. */
export function uidOf(pid: number): number {
  const m = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m?.[1], `no uid for process ${pid}`);
  return Number(m[1]);
}

/** The uid the postmaster of a branch's running compute has (its data directory names its pid). */
export function computeUid(dataDir: string, branchId: string): number {
  const pidFile = path.join(dataDir, 'compute', 'branches', branchId, 'postmaster.pid');
  return uidOf(Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]));
}

/**
 * The real server (`bin/orgplane.js serve`, computes on) started as `user`, an unprivileged OS user
 * (the tests must be root): its data directory belongs to that user, so orgplane runs every
 * PostgreSQL program as itself and switches no users. Its database (SQLite in that directory, or a
 * fresh schema on PostgreSQL) is migrated and seeded by this process first: an admin with a key,
 * in an organization.
 */
export async function startComputeServerAs(user: OsUser): Promise<ComputeServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-compute-user-'));
  const schema = `cuser_${randomBytes(5).toString('hex')}`;
  const pgAdmin = async (sql: string) => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  if (DIALECT === 'postgres') await pgAdmin(`create schema ${schema}`);
  const db: Db =
    DIALECT === 'postgres'
      ? openDatabase({ dataDir, databaseUrl: PG_URL, pgSchema: schema })
      : openDatabase({ dataDir });
  let token: string;
  let orgId: string;
  try {
    await migrateToLatest(db);
    const s = createServices(db, testConfig(), pino({ level: 'silent' }));
    const admin = await createUser(s, 'admin');
    token = admin.token;
    orgId = (await createOrg(s, admin, 'Compute')).id;
  } finally {
    await db.close();
  }
  // Everything under it (the SQLite files just written too) is the user's.
  for (const p of [
    dataDir,
    ...fs.readdirSync(dataDir, { recursive: true, encoding: 'utf8' }).map((f) => path.join(dataDir, f)),
  ]) {
    fs.chownSync(p, user.uid, user.gid);
  }
  const branchesDir = path.join(dataDir, 'compute', 'branches');
  const cleanUp = async () => {
    // Postgres processes a failed stop may have left (they hold the data directories).
    for (const id of fs.existsSync(branchesDir) ? fs.readdirSync(branchesDir) : []) {
      try {
        const pid = Number(
          fs.readFileSync(path.join(branchesDir, id, 'postmaster.pid'), 'utf8').split('\n')[0],
        );
        // Only that directory's postmaster (a stale file's pid may be another process by now).
        const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (pid > 0 && cmdline.includes(path.join(branchesDir, id))) process.kill(pid, 'SIGKILL');
      } catch {
        // not running
      }
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
    if (DIALECT === 'postgres') await pgAdmin(`drop schema if exists ${schema} cascade`);
  };
  let server;
  try {
    server = await startServer(
      `orgplane as ${user.name}`,
      DIALECT === 'postgres' ? PG_URL : '',
      dataDir,
      {
        ORGPLANE_COMPUTE: 'on',
        ORGPLANE_PG_SCHEMA: DIALECT === 'postgres' ? schema : '',
        // The user's own: /root, the tests' HOME, is closed to it.
        HOME: dataDir,
        LOG_LEVEL: 'error',
      },
      { as: user },
    );
  } catch (err) {
    await cleanUp();
    throw err;
  }
  const started = server;
  const uid = uidOf(started.child.pid ?? -1);
  return {
    base: started.base,
    token,
    orgId,
    uid,
    dataDir,
    close: async () => {
      await stopServer(started);
      await cleanUp();
    },
  };
}

export interface PsqlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One psql call with a connection string exactly as given (no PG* variables from the environment). */
export function psql(uri: string, sql: string): Promise<PsqlResult> {
  return new Promise((resolve) => {
    execFile(
      PSQL,
      [uri, '-XAtqc', sql],
      { env: { PATH: process.env.PATH, PGCONNECT_TIMEOUT: '60' }, timeout: 180_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout: stdout.trim(), stderr });
      },
    );
  });
}

/** psql that must succeed; returns its output. */
export async function query(uri: string, sql: string): Promise<string> {
  const r = await psql(uri, sql);
  if (r.code !== 0) throw new Error(`psql failed (${r.code}) for ${sql}: ${r.stderr}`);
  return r.stdout;
}
