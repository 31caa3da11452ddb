// Opens the one query layer (Kysely) over the embedded SQLite file or PostgreSQL (DATABASE_URL).
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { createRequire } from 'node:module';
import type pgTypes from 'pg';
import { Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase, type Transaction } from 'kysely';
import type { Database } from './schema.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /** Where the data lives, for logs: a file path or the URL without its password. */
  location: string;
  /** The PostgreSQL schema in use when not public (migrations keep their bookkeeping tables there). */
  pgSchema?: string | undefined;
  /**
   * PostgreSQL only: LISTEN on a channel over a dedicated connection (reconnecting after an outage).
   * onState reports whether notifications are being received; while false some may be missed.
   */
  listen?(channel: string, onNotify: () => void, onState: (listening: boolean) => void): () => Promise<void>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
  /** PostgreSQL schema to use instead of public (tests give each app its own). */
  pgSchema?: string | undefined;
  /** SQLite file name inside dataDir; ':memory:' for a throw-away database. */
  sqliteFile?: string;
  onPoolError?: (err: Error) => void;
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable url)';
  }
}

export function openDatabase(opts: ConnectOptions): Db {
  if (opts.databaseUrl) {
    // Loaded only when used: a server on SQLite never needs the PostgreSQL driver in memory.
    const pg = createRequire(import.meta.url)('pg') as typeof pgTypes;
    // int8 (e.g. api key ids, counts) as numbers: our values stay far below 2^53.
    const types = {
      getTypeParser: (oid: number, format?: 'text' | 'binary'): ((v: string) => unknown) =>
        oid === 20
          ? (v: string) => Number.parseInt(v, 10)
          : (pg.types.getTypeParser(oid, format) as (v: string) => unknown),
    };
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: 10,
      connectionTimeoutMillis: 3000,
      idleTimeoutMillis: 30000,
      // Nothing may hang past an HTTP request's budget.
      statement_timeout: 15000,
      query_timeout: 20000,
      ...(opts.pgSchema ? { options: `-c search_path=${opts.pgSchema}` } : {}),
      types,
    });
    // Without this listener an idle client's error (PostgreSQL restarting) would crash the process.
    pool.on('error', (err) => opts.onPoolError?.(err));
    // pg-pool listens for errors only on idle clients: a connection dropped while a client is
    // checked out (a query running, a transaction open) emits 'error' with no listener, which
    // is an uncaught exception that ends the process. Every client gets its own listener.
    pool.on('connect', (client) => client.on('error', (err) => opts.onPoolError?.(err)));
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const databaseUrl = opts.databaseUrl;
    return {
      kysely,
      dialect: 'postgres',
      location: redactUrl(opts.databaseUrl) + (opts.pgSchema ? ` (schema ${opts.pgSchema})` : ''),
      pgSchema: opts.pgSchema,
      listen: (channel, onNotify, onState) =>
        listenForever(
          pg,
          { connectionString: databaseUrl, connectionTimeoutMillis: 3000 },
          channel,
          onNotify,
          onState,
        ),
      close: () => kysely.destroy(),
    };
  }
  const file = opts.sqliteFile ?? 'orgplane.db';
  let location = ':memory:';
  if (file !== ':memory:') {
    fs.mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    location = path.join(opts.dataDir, file);
  }
  const sqlite = new SQLite(location);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  // Another process on the same file (the CLI while the server runs) waits for the write lock
  // instead of failing: writes here are short, so 15 s is only reached by a stuck writer.
  sqlite.pragma('busy_timeout = 15000');
  if (location !== ':memory:') fs.chmodSync(location, 0o600);
  const kysely = new Kysely<Database>({
    dialect: new SqliteDialect({ database: reusingStatements(sqlite, 500) }),
  });
  return { kysely, dialect: 'sqlite', location, close: () => kysely.destroy() };
}

/**
 * Kysely prepares every query afresh; preparing costs more than running our indexed reads, so the
 * prepared statements are kept by SQL text and reused. Safe: the one connection runs one statement
 * at a time. The cache lives and dies with this connection; it is bounded (cleared when full)
 * because some SQL varies in shape (IN lists of any length). A statement's SQL never changes, so
 * nothing else invalidates it.
 */
export function reusingStatements(sqlite: SQLite.Database, max = 500): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => {
      cache.clear();
      sqlite.close();
    },
    prepare: (text: string) => {
      let stmt = cache.get(text);
      if (!stmt) {
        if (cache.size >= max) cache.clear();
        stmt = sqlite.prepare(text);
        cache.set(text, stmt);
      }
      return stmt;
    },
  };
}

/**
 * Keeps one connection LISTENing on channel; after a failure it reconnects with back-off
 * (0.1 s doubling to 5 s). Returns a function that stops it.
 */
function listenForever(
  pg: typeof pgTypes,
  config: pgTypes.ClientConfig,
  channel: string,
  onNotify: () => void,
  onState: (listening: boolean) => void,
): () => Promise<void> {
  let stopped = false;
  let client: pgTypes.Client | null = null;
  let delay = 100;
  let timer: NodeJS.Timeout | undefined;
  const lost = () => {
    onState(false);
    const c = client;
    client = null;
    c?.removeAllListeners();
    c?.on('error', () => {});
    void c?.end().catch(() => {});
    if (!stopped) {
      timer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, 5000);
    }
  };
  const connect = () => {
    if (stopped) return;
    const c = new pg.Client(config);
    client = c;
    c.on('error', lost);
    c.on('end', () => client === c && lost());
    c.on('notification', (n) => n.channel === channel && onNotify());
    c.connect()
      .then(() => c.query(`listen "${channel.replace(/"/g, '""')}"`))
      .then(() => {
        if (client !== c) return;
        delay = 100;
        onState(true);
      })
      .catch(() => client === c && lost());
  };
  connect();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    const c = client;
    client = null;
    onState(false);
    if (c) {
      c.removeAllListeners();
      c.on('error', () => {});
      await c.end().catch(() => {});
    }
  };
}

const RETRYABLE = new Set(['40001', '40P01']);

/**
 * Runs fn in one transaction. On PostgreSQL a serialization failure or deadlock (40001/40P01)
 * rolls back and runs fn again, up to 5 times; any other error rolls back and propagates.
 * SQLite has one connection, so its transactions never interleave.
 */
export async function withTransaction<T>(db: Db, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return retrying(() => db.kysely.transaction().execute(fn));
}

/** Runs fn (one transaction, or one statement that is its own) again after 40001/40P01, up to 5 times. */
export async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (attempt >= 5 || typeof code !== 'string' || !RETRYABLE.has(code)) throw err;
      await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 20));
    }
  }
}

/** True for errors meaning "the database is unreachable right now": answer 503, not 500. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : '';
  return (
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    code === '53300' ||
    code.startsWith('08') ||
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ETIMEDOUT' ||
    code === 'EPIPE' ||
    // better-sqlite3 reports extended codes (SQLITE_IOERR_WRITE, SQLITE_BUSY_SNAPSHOT, …).
    /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|NOMEM|PROTOCOL)(_|$)/.test(code) ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|driver has already been destroyed|database connection is not open/i.test(
      message,
    )
  );
}

/** PostgreSQL rejecting text it cannot store (NUL bytes, bad escapes): the client's fault, 400. */
export function isBadTextError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '22021' || code === '22P05' || code === '22001';
}

export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown } | null;
  return (
    e?.code === '23505' ||
    e?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}
