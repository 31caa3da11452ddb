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
import { CHANGE_BOUND_MS, type ListenerHeartbeat } from '../../src/auth/authenticator.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { openDatabase, type Db } from '../../src/db/connect.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import type { EndpointResolver } from '../../src/serverless/resolver.ts';
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

/**
 * A migrated SQLite database, serialized: migrating costs far more than copying, so each test file
 * migrates once and every in-memory database of that file starts as a copy of this image.
 */
let sqliteImage: Promise<Buffer> | undefined;
function migratedSqliteImage(): Promise<Buffer> {
  sqliteImage ??= (async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-template-'));
    try {
      const db = openDatabase({ dataDir });
      await migrateToLatest(db);
      await db.close(); // checkpoints the WAL into the file
      const image = fs.readFileSync(path.join(dataDir, 'orgplane.db'));
      // Header bytes 18–19 say "WAL"; an in-memory database cannot open that, so mark it rollback-journal.
      image[18] = 1;
      image[19] = 1;
      return image;
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  })();
  return sqliteImage;
}

/** A fresh, migrated database for one test app (SQLite: in memory unless onDisk). */
export async function freshDatabase(
  onDisk = false,
  onStatement?: (sql: string) => void,
): Promise<{ db: Db; dispose: () => Promise<void>; pgSchema?: string; sqliteFile?: string }> {
  const observe = onStatement ? { onStatement } : {};
  if (DIALECT === 'sqlite') {
    if (onDisk) {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-test-'));
      const db = openDatabase({ dataDir, ...observe });
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
    const db = openDatabase({
      dataDir: '',
      sqliteFile: ':memory:',
      sqliteImage: await migratedSqliteImage(),
      ...observe,
    });
    return { db, dispose: () => db.close() };
  }
  const schema = pgSchema('t');
  await schema.create();
  // The pool's wait is a wall-clock bound: generous here, so a loaded machine cannot fail a test.
  const db = openDatabase({
    dataDir: '',
    databaseUrl: PG_URL,
    pgSchema: schema.name,
    connectTimeoutMs: 60_000,
    ...observe,
  });
  await migrateToLatest(db);
  return {
    db,
    pgSchema: schema.name,
    dispose: async () => {
      await db.close();
      await schema.drop();
    },
  };
}

/** Runs one statement as the test server's administrator (making and dropping schemas, databases). */
export async function pgAdmin(statement: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

/** A PostgreSQL schema of its own (prefix + random) in the test server's database. */
export function pgSchema(prefix: string): { name: string; create(): Promise<void>; drop(): Promise<void> } {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  return {
    name,
    create: () => pgAdmin(`create schema ${name}`),
    drop: () => pgAdmin(`drop schema if exists ${name} cascade`),
  };
}

/** A fixed server key for tests (never a real deployment's). */
export const TEST_SECRET = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';

export function testConfig(overrides: Partial<Config> = {}): Config {
  return loadConfig(
    {
      ORGPLANE_RATE_LIMIT: 'off',
      ORGPLANE_LAST_USED_FLUSH_MS: '0',
      PUBLIC_URL: 'http://orgplane.test',
      // Tests that want checkpoints make them (a timer would write into ./data).
      ORGPLANE_AUDIT_CHECKPOINT_INTERVAL_MS: '0',
      // Tests that run computes turn them on (test/compute-*.test.ts); the rest keep records only.
      ORGPLANE_COMPUTE: 'off',
      ORGPLANE_SECRET: TEST_SECRET,
    },
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
  /** The clock of expiry decisions (see TestClock). */
  clock?: () => number;
  /** Sees every statement sent to the database (round trips on PostgreSQL); see openDatabase. */
  onStatement?: (sql: string) => void;
  /** Where /sql and /v2 find computes (serverless tests). */
  endpointResolver?: EndpointResolver;
  /** PostgreSQL: the change listener's heartbeat (see HeartbeatBarrier). */
  listenerHeartbeat?: ListenerHeartbeat;
}

/**
 * PostgreSQL's change listener driven by the test instead of the clock: heartbeat time stands still
 * until sync() moves it, and a heartbeat is sent only when sync() asks. sync() returns once a
 * heartbeat sent after every change so far has come back: notifications arrive in commit order,
 * so every change committed before the call has then been seen, and the cache is on (the
 * heartbeat is fresh, and stays fresh because time does not move). On SQLite it does nothing.
 * The bound itself (cache off once heartbeats are late) is test/listener-heartbeat.test.ts's.
 */
export class HeartbeatBarrier {
  private now = 0;
  private beat: (() => void) | undefined;
  readonly options: ListenerHeartbeat = {
    clock: () => this.now,
    every: (fn) => {
      this.beat = fn;
      return () => (this.beat = undefined);
    },
  };
  async sync(t: { services: { access: { live: boolean } } }): Promise<void> {
    if (DIALECT !== 'postgres') return;
    // Just past the bound (well short of deadAfterMs): the cache is off until a heartbeat sent
    // from now on comes back.
    this.now += CHANGE_BOUND_MS + 1;
    for (let i = 0; i < 2000 && !t.services.access.live; i++) {
      this.beat?.();
      await new Promise((r) => setTimeout(r, 5));
    }
    if (!t.services.access.live) throw new Error('the change listener never answered a heartbeat (10 s)');
  }
}

/** Real time plus an offset the test moves forward, or a time it holds still (set). */
export class TestClock {
  offset = 0;
  private frozen: number | null = null;
  readonly now = (): number => this.frozen ?? Date.now() + this.offset;
  advance(ms: number): void {
    if (this.frozen !== null) this.frozen += ms;
    else this.offset += ms;
  }
  /** Holds the clock at this instant until reset(). */
  set(ms: number): void {
    this.frozen = ms;
  }
  reset(): void {
    this.frozen = null;
    this.offset = 0;
  }
  iso(deltaMs = 0): string {
    return new Date(this.now() + deltaMs).toISOString();
  }
}

export async function buildTestApp(
  overrides: Partial<Config> = {},
  options: TestAppOptions = {},
): Promise<TestApp> {
  const {
    db: raw,
    dispose,
    sqliteFile,
    pgSchema,
  } = await freshDatabase(options.sqliteOnDisk, options.onStatement);
  let kysely = raw.kysely;
  for (const p of options.kyselyPlugins ?? []) kysely = kysely.withPlugin(p);
  const db: Db = { ...raw, kysely };
  const config = testConfig(overrides);
  const { app, services } = await buildApp({
    config,
    db,
    ...(options.logStream ? { logStream: options.logStream } : { logger: false }),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.endpointResolver ? { endpointResolver: options.endpointResolver } : {}),
    ...(options.listenerHeartbeat ? { listenerHeartbeat: options.listenerHeartbeat } : {}),
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
