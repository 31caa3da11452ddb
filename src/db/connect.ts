// Opens the one query layer (Kysely) over the embedded SQLite file or PostgreSQL (DATABASE_URL).
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { pgDriver } from './pg-driver.ts';
import { StatementNames } from './server-prepared.ts';
import type pgTypes from 'pg';
import { Kysely, SqliteDialect, sql, type SqliteDatabase, type Transaction } from 'kysely';
import { OwnSchemaPostgresDialect } from './introspector.ts';
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
   * PostgreSQL only: LISTEN on a channel over a dedicated connection (reconnecting after an outage),
   * with a heartbeat through the channel itself; see ListenHandlers. Returns a function that stops it.
   */
  listen?(channel: string, handlers: ListenHandlers, heartbeat?: HeartbeatOptions): () => Promise<void>;
  close(): Promise<void>;
}

export interface ListenHandlers {
  /** A notification from a change (heartbeats are not changes and never reach this). */
  onNotify: () => void;
  /** The connection was (re)established and LISTENs (true), or was lost (false): changes may be missed. */
  onState: (listening: boolean) => void;
  /**
   * A heartbeat this process sent at `sentAt` (heartbeat clock) came back: every change committed
   * before that instant has been delivered (PostgreSQL delivers notifications in commit order).
   */
  onProof: (sentAt: number) => void;
}

/** The listener's heartbeat; injectable so tests count heartbeats instead of timing them. */
export interface HeartbeatOptions {
  /** Milliseconds between heartbeats (default 25). */
  intervalMs?: number;
  /** A heartbeat unanswered this long means a dead connection: it is dropped and reopened (default 3000). */
  deadAfterMs?: number;
  /** A monotonic clock in ms (default performance.now). */
  clock?: () => number;
  /** Calls fn every ms; returns a function that stops it (default setInterval, unref'd). */
  every?: (fn: () => void, ms: number) => () => void;
}

export const HEARTBEAT_PREFIX = 'hb:';

export interface ConnectOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
  /** PostgreSQL schema to use instead of public (tests give each app its own). */
  pgSchema?: string | undefined;
  /** SQLite file name inside dataDir; ':memory:' for a throw-away database. */
  sqliteFile?: string;
  /** SQLite, ':memory:' only: start from this serialized database (tests copy a migrated template). */
  sqliteImage?: Buffer | undefined;
  onPoolError?: (err: Error) => void;
  /**
   * Called with every statement sent to the database (PostgreSQL: each round trip on a pooled
   * connection, BEGIN and COMMIT included; SQLite: each statement run). Tests count them.
   */
  onStatement?: (sql: string) => void;
  /**
   * PostgreSQL: how long a request waits for a pooled connection (a free one, or a new one made)
   * before it fails as unavailable (503). Default 3 s; the test suite allows more, since on a
   * loaded machine a burst of concurrent requests can wait longer for the pool than that.
   */
  connectTimeoutMs?: number;
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
    const pg = pgDriver();
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
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 3000,
      idleTimeoutMillis: 30000,
      // A peer that vanished without closing (NAT or load-balancer timeout) is found by the kernel.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
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
    const names = new StatementNames();
    pool.on('connect', (client) => {
      client.on('error', (err) => opts.onPoolError?.(err));
      const observe = opts.onStatement;
      const query = client.query.bind(client) as (...a: unknown[]) => unknown;
      (client as { query: unknown }).query = (...a: unknown[]) => {
        const q = a[0];
        const text = typeof q === 'string' ? q : (q as { text?: unknown } | null)?.text;
        observe?.(typeof text === 'string' ? text : '');
        // Kysely sends (text, values): a marked text goes as a named statement (server-prepared.ts).
        const name = typeof q === 'string' ? names.nameFor(q) : undefined;
        return name === undefined ? query(...a) : query({ name, text: q, values: a[1] }, ...a.slice(2));
      };
    });
    const kysely = new Kysely<Database>({ dialect: new OwnSchemaPostgresDialect({ pool }) });
    const databaseUrl = opts.databaseUrl;
    return {
      kysely,
      dialect: 'postgres',
      location: redactUrl(opts.databaseUrl) + (opts.pgSchema ? ` (schema ${opts.pgSchema})` : ''),
      pgSchema: opts.pgSchema,
      listen: (channel, handlers, heartbeat) =>
        listenForever(
          pg,
          {
            connectionString: databaseUrl,
            connectionTimeoutMillis: 3000,
            keepAlive: true,
            keepAliveInitialDelayMillis: 5_000,
          },
          channel,
          handlers,
          heartbeat,
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
  const sqlite =
    opts.sqliteImage && location === ':memory:' ? new SQLite(opts.sqliteImage) : new SQLite(location);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  // Another process on the same file (the CLI while the server runs) waits for the write lock
  // instead of failing: writes here are short, so 15 s is only reached by a stuck writer.
  sqlite.pragma('busy_timeout = 15000');
  if (location !== ':memory:') fs.chmodSync(location, 0o600);
  const kysely = new Kysely<Database>({
    dialect: new SqliteDialect({ database: reusingStatements(sqlite, 500, opts.onStatement) }),
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
export function reusingStatements(
  sqlite: SQLite.Database,
  max = 500,
  onStatement?: (sql: string) => void,
): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => {
      cache.clear();
      sqlite.close();
    },
    // Kysely prepares once per statement it runs (here: finds it in the cache).
    prepare: (text: string) => {
      onStatement?.(text);
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
 *
 * A connection can die silently (a NAT or load balancer drops it without a FIN or RST): the
 * socket looks open and notifications simply stop. So the listener proves itself: every
 * intervalMs it sends a NOTIFY on the channel over the listening connection, with a payload only
 * this listener knows, and reports each one that comes back (onProof, with its send time). A
 * heartbeat unanswered for deadAfterMs drops the connection and opens a new one; TCP keepalive
 * covers the socket underneath. Heartbeats of other processes are ignored (neither change nor proof).
 */
function listenForever(
  pg: typeof pgTypes,
  config: pgTypes.ClientConfig,
  channel: string,
  handlers: ListenHandlers,
  heartbeat: HeartbeatOptions = {},
): () => Promise<void> {
  const intervalMs = heartbeat.intervalMs ?? 25;
  const deadAfterMs = heartbeat.deadAfterMs ?? 3000;
  const clock = heartbeat.clock ?? (() => performance.now());
  const every =
    heartbeat.every ??
    ((fn: () => void, ms: number) => {
      const t = setInterval(fn, ms);
      t.unref();
      return () => clearInterval(t);
    });
  const me = `${HEARTBEAT_PREFIX}${randomUUID()}:`;
  let seq = 0;
  /** Heartbeats sent on the current connection and not yet back: payload → send time. */
  const pending = new Map<string, number>();
  let stopped = false;
  let client: pgTypes.Client | null = null;
  let ready = false;
  /** A heartbeat query not yet answered (the next one waits: one query at a time per client). */
  let inFlight = false;
  let delay = 100;
  let timer: NodeJS.Timeout | undefined;
  const quoted = `"${channel.replace(/"/g, '""')}"`;
  const lost = () => {
    handlers.onState(false);
    const c = client;
    client = null;
    ready = false;
    inFlight = false;
    pending.clear();
    c?.removeAllListeners();
    c?.on('error', () => {});
    // With a query in flight (an unanswered heartbeat) end() destroys the socket at once.
    if (c) void closeClient(c);
    if (!stopped) {
      timer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, 5000);
    }
  };
  const beat = () => {
    const c = client;
    if (!c || !ready) return;
    const now = clock();
    for (const sentAt of pending.values()) {
      if (now - sentAt > deadAfterMs) {
        lost();
        return;
      }
    }
    if (inFlight) return;
    const payload = `${me}${seq++}`;
    pending.set(payload, now);
    inFlight = true;
    c.query('select pg_notify($1, $2)', [channel, payload]).then(
      () => {
        if (client === c) inFlight = false;
      },
      () => client === c && lost(),
    );
  };
  const onNotification = (n: pgTypes.Notification) => {
    if (n.channel !== channel) return;
    const payload = n.payload ?? '';
    if (!payload.startsWith(HEARTBEAT_PREFIX)) {
      handlers.onNotify();
      return;
    }
    const sentAt = pending.get(payload);
    if (sentAt === undefined) return;
    // Delivered in order: this one's arrival answers every earlier heartbeat too.
    for (const [p, t] of pending) if (t <= sentAt) pending.delete(p);
    handlers.onProof(sentAt);
  };
  const connect = () => {
    if (stopped) return;
    const c = new pg.Client(config);
    client = c;
    c.on('error', () => client === c && lost());
    c.on('end', () => client === c && lost());
    c.on('notification', onNotification);
    c.connect()
      .then(() => c.query(`listen ${quoted}`))
      .then(() => {
        if (client !== c) return;
        delay = 100;
        ready = true;
        handlers.onState(true);
        beat();
      })
      .catch(() => client === c && lost());
  };
  const stopBeating = every(beat, intervalMs);
  connect();
  return async () => {
    stopped = true;
    stopBeating();
    clearTimeout(timer);
    const c = client;
    client = null;
    ready = false;
    handlers.onState(false);
    if (c) {
      c.removeAllListeners();
      c.on('error', () => {});
      await closeClient(c);
    }
  };
}

/** Ends a client politely, or by destroying its socket when a dead peer never lets it end. */
async function closeClient(c: pgTypes.Client): Promise<void> {
  const stream = (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  const force = setTimeout(() => stream?.destroy(), 1000);
  force.unref();
  await c.end().catch(() => {});
  clearTimeout(force);
}

const RETRYABLE = new Set(['40001', '40P01']);

/**
 * Runs fn in one transaction. On PostgreSQL a serialization failure or deadlock (40001/40P01)
 * rolls back and runs fn again, up to 5 times; any other error rolls back and propagates.
 * SQLite has one connection, so its transactions never interleave.
 */
/** Readiness: the database answers a trivial query (throws when it does not). */
export async function ping(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}

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
