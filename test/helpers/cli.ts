// The operator CLI in-process (src/cli/run.ts): what `node bin/orgplane.js …` does, without a
// process per command. Spawn the bin only for one smoke test per command group.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/cli/run.ts';
import { openDatabase, type Db } from '../../src/db/connect.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { DIALECT, freshDatabase, PG_URL, pgAdmin } from './app.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin', 'orgplane.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A CLI bound to env. Its runs go one at a time: on SQLite each run opens its own connection, and
 * two connections in one process must never wait on each other's write lock (the wait is synchronous).
 */
export function cliWith(env: NodeJS.ProcessEnv): (...args: string[]) => Promise<CliRun> {
  let queue: Promise<unknown> = Promise.resolve();
  return (...args) => {
    const next = queue.then(async () => {
      let stdout = '';
      let stderr = '';
      const code = await run(args, {
        env,
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: (s: string) => (stderr += s) },
      });
      return { code, stdout, stderr };
    });
    queue = next.catch(() => {});
    return next;
  };
}

/** The real bin as a child process (smoke tests). No time budget: a slow machine is not a failure. */
export function spawnCli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env, cwd: ROOT }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

/**
 * Only what a user would set (no test-runner variables leak into the CLI or its server): an empty
 * data directory and, on PostgreSQL, a fresh database of its own. dispose() removes both.
 */
export async function userEnvironment(
  prefix: string,
): Promise<{ env: NodeJS.ProcessEnv; dataDir: string; dispose(): Promise<void> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `orgplane-${prefix}-`));
  const dbName = `orgplane_${prefix.replace(/-/g, '')}_${randomBytes(5).toString('hex')}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ORGPLANE_DATA_DIR: dataDir,
    ORGPLANE_RATE_LIMIT: 'off',
    // These test the organizations CLI: no computes (the compute tests start their own).
    ORGPLANE_COMPUTE: 'off',
  };
  if (DIALECT === 'postgres') {
    await pgAdmin(`create database ${dbName}`);
    const url = new URL(PG_URL);
    url.pathname = `/${dbName}`;
    env.DATABASE_URL = url.toString();
  }
  return {
    env,
    dataDir,
    async dispose() {
      fs.rmSync(dataDir, { recursive: true, force: true });
      if (DIALECT === 'postgres') await pgAdmin(`drop database if exists ${dbName} with (force)`);
    },
  };
}

/**
 * A database the test seeds and the CLI then reads, as an operator points it there: on PostgreSQL
 * a schema of its own in the run's database, on SQLite the file in a fresh data directory. env is
 * the CLI's; dispose() closes the test's connection and removes the data directory.
 */
export async function cliDatabase(
  prefix: string,
): Promise<{ db: Db; env: NodeJS.ProcessEnv; dataDir: string; dispose(): Promise<void> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `orgplane-${prefix}-`));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    ORGPLANE_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    ORGPLANE_COMPUTE: 'off',
  };
  let db: Db;
  let close: () => Promise<void>;
  if (DIALECT === 'postgres') {
    const f = await freshDatabase();
    db = f.db;
    close = f.dispose;
    env.DATABASE_URL = PG_URL;
    env.ORGPLANE_PG_SCHEMA = f.pgSchema;
  } else {
    db = openDatabase({ dataDir });
    await migrateToLatest(db);
    close = () => db.close();
  }
  return {
    db,
    env,
    dataDir,
    async dispose() {
      await close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
