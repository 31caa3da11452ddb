// Opens the one query layer (Kysely) over the embedded SQLite file or PostgreSQL (DATABASE_URL).
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, PostgresDialect, SqliteDialect, type Transaction } from 'kysely';
import type { Database } from './schema.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /** Where the data lives, for logs: a file path or the URL without its password. */
  location: string;
  /** The PostgreSQL schema in use when not the default (tests). */
  pgSchema?: string | undefined;
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
    // int8 (e.g. api key ids, counts) as numbers: our values stay far below 2^53.
    const types = {
      getTypeParser: (oid: number, format?: 'text' | 'binary') =>
        oid === 20 ? (v: string) => Number.parseInt(v, 10) : pg.types.getTypeParser(oid, format),
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
    } as pg.PoolConfig);
    // Without this listener an idle client's error (PostgreSQL restarting) would crash the process.
    pool.on('error', (err) => opts.onPoolError?.(err));
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return {
      kysely,
      dialect: 'postgres',
      location: redactUrl(opts.databaseUrl) + (opts.pgSchema ? ` (schema ${opts.pgSchema})` : ''),
      pgSchema: opts.pgSchema,
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
  sqlite.pragma('busy_timeout = 5000');
  if (location !== ':memory:') fs.chmodSync(location, 0o600);
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { kysely, dialect: 'sqlite', location, close: () => kysely.destroy() };
}

const RETRYABLE = new Set(['40001', '40P01']);

/**
 * Runs fn in one transaction. On PostgreSQL a serialization failure or deadlock (40001/40P01)
 * rolls back and runs fn again, up to 5 times; any other error rolls back and propagates.
 * SQLite has one connection, so its transactions never interleave.
 */
export async function withTransaction<T>(db: Db, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.kysely.transaction().execute(fn);
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
    code === 'SQLITE_BUSY' ||
    code === 'SQLITE_IOERR' ||
    code === 'SQLITE_FULL' ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|driver has already been destroyed/i.test(
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
