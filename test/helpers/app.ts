// Builds the real app on a real, fresh database: SQLite in memory, or (ORGPLANE_TEST_DB=postgres)
// its own schema in the run's PostgreSQL database. Same buildApp() as production.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import type { KyselyPlugin } from 'kysely';
import pg from 'pg';
import { buildApp } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { openDatabase, type Db } from '../../src/db/connect.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import type { Services } from '../../src/services.ts';

export const DIALECT: 'sqlite' | 'postgres' =
  process.env.ORGPLANE_TEST_DB === 'postgres' ? 'postgres' : 'sqlite';
export const PG_URL = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestApp {
  app: FastifyInstance;
  services: Services;
  db: Db;
  config: Config;
  /** Where another connection finds this database: the SQLite file (sqliteOnDisk), or the PostgreSQL schema. */
  sqliteFile?: string | undefined;
  pgSchema?: string | undefined;
  /** A request in-process; token becomes the Bearer header. */
  call(
    method: InjectOptions['method'],
    url: string,
    opts?: { token?: string | undefined; body?: unknown; headers?: Record<string, string> },
  ): Promise<Res>;
  close(): Promise<void>;
}

export interface Res {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
  body: any;
  headers: Record<string, string | string[] | number | undefined>;
  text: string;
}

/** A fresh, migrated database for one test app (SQLite: in memory unless onDisk). */
export async function freshDatabase(
  onDisk = false,
): Promise<{ db: Db; dispose: () => Promise<void>; pgSchema?: string; sqliteFile?: string }> {
  if (DIALECT === 'sqlite') {
    if (onDisk) {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-test-'));
      const db = openDatabase({ dataDir });
      await migrateToLatest(db);
      return {
        db,
        sqliteFile: path.join(dataDir, 'orgplane.db'),
        dispose: async () => {
          await db.close();
          fs.rmSync(dataDir, { recursive: true, force: true });
        },
      };
    }
    const db = openDatabase({ dataDir: '', sqliteFile: ':memory:' });
    await migrateToLatest(db);
    return { db, dispose: () => db.close() };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const db = openDatabase({ dataDir: '', databaseUrl: PG_URL, pgSchema: schema });
  await migrateToLatest(db);
  return {
    db,
    pgSchema: schema,
    dispose: async () => {
      await db.close();
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  return loadConfig(
    { ORGPLANE_RATE_LIMIT: 'off', ORGPLANE_LAST_USED_FLUSH_MS: '0', PUBLIC_URL: 'http://orgplane.test' },
    overrides,
  );
}

export interface TestAppOptions {
  /** Capture the production logger's lines (set config.logLevel too, e.g. 'trace'); default: no logging. */
  logStream?: { write(line: string): void };
  /** Kysely plugins the app's queries go through (e.g. to count queries). */
  kyselyPlugins?: KyselyPlugin[];
  /** SQLite: a file in a temporary directory instead of memory, so other connections can open it. */
  sqliteOnDisk?: boolean;
}

export async function buildTestApp(
  overrides: Partial<Config> = {},
  options: TestAppOptions = {},
): Promise<TestApp> {
  const { db: raw, dispose, sqliteFile, pgSchema } = await freshDatabase(options.sqliteOnDisk);
  let kysely = raw.kysely;
  for (const p of options.kyselyPlugins ?? []) kysely = kysely.withPlugin(p);
  const db: Db = { ...raw, kysely };
  const config = testConfig(overrides);
  const { app, services } = await buildApp({
    config,
    db,
    ...(options.logStream ? { logStream: options.logStream } : { logger: false }),
  });
  return {
    app,
    services,
    db,
    config,
    sqliteFile,
    pgSchema,
    async call(method, url, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
      const res = await app.inject({
        method,
        url,
        headers,
        ...(opts.body === undefined
          ? {}
          : { payload: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) }),
        ...(opts.body !== undefined && !headers['content-type']
          ? { headers: { ...headers, 'content-type': 'application/json' } }
          : {}),
      });
      let body: unknown = undefined;
      try {
        body = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        body = undefined;
      }
      return { status: res.statusCode, body, headers: res.headers, text: res.body };
    },
    async close() {
      await app.close();
      await dispose();
    },
  };
}
