// SQL over HTTP (POST /sql), as Neon's proxy serves it: the Neon-Connection-String header names the
// endpoint (its host), role, password and database; the body holds one query or a batch run in one
// transaction. The compute is reached like any client would (node-postgres, the role's own
// credentials), so PostgreSQL decides who may do what. No Fastify here: the route passes headers
// and the body text and sends what this returns.
import type pg from 'pg';
import { pgDriver } from '../db/pg-driver.ts';
import { AppError } from '../domain/errors.ts';
import type { ComputePools, Credentials } from './compute-pools.ts';
import { paramToPgText, type PgParam } from './pg-text.ts';
import { parseEndpointAddress, unknownEndpoint, type EndpointResolver } from './resolver.ts';
import { ERROR_FIELDS, resultJson, rowJson, type ErrorFields } from './sql.presenter.ts';

/** Neon's limits (proxy flags sql_over_http_max_request_size_bytes / …_response_size_bytes): 10 MiB each. */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;
export const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
/** The extended protocol counts parameters in 16 bits. */
export const MAX_PARAMS = 65535;

/** An error with Neon's SQL-over-HTTP body: a message and PostgreSQL's error fields. */
export class SqlError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: ErrorFields = {},
  ) {
    super(message);
    this.name = 'SqlError';
  }
}

/** PostgreSQL's error (pg's DatabaseError) or anything else, as Neon's body. */
export function toSqlError(err: unknown, fallbackStatus = 503): SqlError {
  if (err instanceof SqlError) return err;
  if (err instanceof AppError) return new SqlError(err.status, err.message, { code: err.code });
  if (err instanceof pgDriver().DatabaseError) {
    const fields: ErrorFields = {};
    const src = err as unknown as Record<string, unknown>;
    for (const k of ERROR_FIELDS) {
      const v = src[k];
      if (typeof v === 'string' && v !== '') fields[k] = v;
    }
    return new SqlError(400, err.message, fields);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new SqlError(fallbackStatus, `could not reach the endpoint's compute: ${message}`, {
    code: 'UNAVAILABLE',
  });
}

export type IsolationLevel = 'Serializable' | 'ReadUncommitted' | 'ReadCommitted' | 'RepeatableRead';
const ISOLATION_SQL: Record<IsolationLevel, string> = {
  Serializable: 'SERIALIZABLE',
  ReadUncommitted: 'READ UNCOMMITTED',
  ReadCommitted: 'READ COMMITTED',
  RepeatableRead: 'REPEATABLE READ',
};

/** The request headers Neon reads; any value other than exactly "true" is false, as on Neon. */
export interface SqlHeaders {
  connectionString: string | undefined;
  rawTextOutput: boolean;
  arrayMode: boolean;
  isolationLevel: string | undefined;
  readOnly: boolean;
  deferrable: boolean;
}

interface QueryData {
  query: string;
  params: PgParam[];
  arrayMode: boolean | undefined;
}

export interface SqlResponse {
  body: string;
  headers: Record<string, string>;
}

/** Role, password, database and endpoint from the connection string (Neon's get_conn_info). */
export function connectionInfo(connectionString: string | undefined): {
  creds: Credentials;
  hostname: string;
  port: string;
} {
  if (connectionString === undefined || connectionString === '') {
    throw new SqlError(400, 'invalid header: neon-connection-string', { code: 'BAD_REQUEST' });
  }
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw new SqlError(400, 'invalid connection string: not a URL', { code: 'BAD_REQUEST' });
  }
  const bad = (message: string) => new SqlError(400, message, { code: 'BAD_REQUEST' });
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw bad('incorrect scheme');
  let user: string;
  let password: string;
  let database: string;
  try {
    user = decodeURIComponent(url.username);
    password = decodeURIComponent(url.password);
    database = decodeURIComponent(url.pathname.replace(/^\//, '').split('/')[0] ?? '');
  } catch {
    throw bad('invalid connection string: bad percent-encoding');
  }
  if (database === '') throw bad('missing database name');
  if (user === '') throw bad('missing username');
  if (url.password === '') throw bad('missing authentication credentials: required password');
  if (url.hostname === '') throw bad('missing hostname');
  const applicationName = url.searchParams.get('application_name') ?? undefined;
  const options = url.searchParams.get('options') ?? undefined;
  return {
    creds: { user, password, database, applicationName, options },
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port,
  };
}

function parseQuery(v: unknown, where: string): QueryData {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badBody(`${where} must be an object`);
  const o = v as Record<string, unknown>;
  if (typeof o.query !== 'string') throw badBody(`${where}.query must be a string`);
  if (o.params !== undefined && o.params !== null && !Array.isArray(o.params)) {
    throw badBody(`${where}.params must be an array`);
  }
  const params = (o.params ?? []) as unknown[];
  if (params.length > MAX_PARAMS) {
    throw badBody(
      `${where}.params has ${params.length} parameters; PostgreSQL accepts at most ${MAX_PARAMS}`,
    );
  }
  if (o.arrayMode !== undefined && o.arrayMode !== null && typeof o.arrayMode !== 'boolean') {
    throw badBody(`${where}.arrayMode must be a boolean`);
  }
  return {
    query: o.query,
    params: params.map(paramToPgText),
    arrayMode: typeof o.arrayMode === 'boolean' ? o.arrayMode : undefined,
  };
}

function badBody(message: string): SqlError {
  return new SqlError(400, `could not parse the HTTP request body: ${message}`, { code: 'BAD_REQUEST' });
}

/** The body: {query, params?, arrayMode?} or {queries: [...]}. */
export function parsePayload(text: string): { single: QueryData } | { batch: QueryData[] } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw badBody(err instanceof Error ? err.message : 'not JSON');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw badBody('expected {"query": …, "params": […]} or {"queries": […]}');
  }
  const o = body as Record<string, unknown>;
  if (o.query !== undefined) return { single: parseQuery(o, 'body') };
  if (Array.isArray(o.queries)) return { batch: o.queries.map((q, i) => parseQuery(q, `queries[${i}]`)) };
  throw badBody('expected {"query": …, "params": […]} or {"queries": […]}');
}

/** Values as PostgreSQL sends them: the driver parses them, and so does valueJson. */
const RAW_TEXT = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

interface Budget {
  left: number;
}

export class SqlOverHttp {
  constructor(
    private readonly resolver: EndpointResolver,
    private readonly pools: ComputePools,
  ) {}

  async execute(headers: SqlHeaders, rawBody: string): Promise<SqlResponse> {
    const info = connectionInfo(headers.connectionString);
    let isolation: IsolationLevel | undefined;
    if (headers.isolationLevel !== undefined) {
      if (!(headers.isolationLevel in ISOLATION_SQL)) {
        throw new SqlError(
          400,
          'invalid isolation level: expected Serializable, ReadUncommitted, ReadCommitted or RepeatableRead',
          { code: 'BAD_REQUEST' },
        );
      }
      isolation = headers.isolationLevel as IsolationLevel;
    }
    const payload = parsePayload(rawBody);
    const address = parseEndpointAddress(info.hostname, info.port);
    if (!address) throw toSqlError(unknownEndpoint(null, info.hostname));
    const target = await this.resolver.resolve(address).catch((err: unknown) => {
      throw toSqlError(err);
    });

    let client: pg.PoolClient;
    try {
      client = await this.pools.acquire(target, info.creds);
    } catch (err) {
      throw toSqlError(err);
    }
    // Whether the connection may serve the next request with these credentials.
    let reusable = false;
    try {
      const budget: Budget = { left: MAX_RESPONSE_BYTES };
      const responseHeaders: Record<string, string> = {};
      let body: string;
      if ('single' in payload) {
        body = await this.run(client, payload.single, headers, budget);
      } else {
        if (headers.readOnly) responseHeaders['neon-batch-read-only'] = 'true';
        if (headers.deferrable) responseHeaders['neon-batch-deferrable'] = 'true';
        if (isolation) responseHeaders['neon-batch-isolation-level'] = isolation;
        body = await this.batch(client, payload.batch, headers, isolation, budget);
      }
      reusable = client.getTransactionStatus() === 'I';
      return { body, headers: responseHeaders };
    } catch (err) {
      // A statement error leaves the connection usable once its transaction is gone.
      reusable = err instanceof pgDriver().DatabaseError && client.getTransactionStatus() === 'I';
      throw toSqlError(err);
    } finally {
      client.release(!reusable);
    }
  }

  private async batch(
    client: pg.PoolClient,
    queries: QueryData[],
    headers: SqlHeaders,
    isolation: IsolationLevel | undefined,
    budget: Budget,
  ): Promise<string> {
    const modes = [
      isolation ? `ISOLATION LEVEL ${ISOLATION_SQL[isolation]}` : '',
      headers.readOnly ? 'READ ONLY' : '',
      headers.deferrable ? 'DEFERRABLE' : '',
    ].filter(Boolean);
    await client.query(`START TRANSACTION ${modes.join(', ')}`);
    try {
      const results: string[] = [];
      for (const q of queries) results.push(await this.run(client, q, headers, budget));
      await client.query('COMMIT');
      return `{"results":[${results.join(',')}]}`;
    } catch (err) {
      if (client.getTransactionStatus() !== 'I') await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  /** One statement over the extended protocol (one statement per query, as on Neon), rows as text. */
  private run(client: pg.PoolClient, q: QueryData, headers: SqlHeaders, budget: Budget): Promise<string> {
    const arrayMode = q.arrayMode ?? headers.arrayMode;
    return new Promise((resolve, reject) => {
      const rows: string[] = [];
      let tooLarge = false;
      const query = new (pgDriver().Query)({
        text: q.query,
        values: q.params,
        rowMode: 'array',
        types: RAW_TEXT,
        queryMode: 'extended',
      } as pg.QueryConfig);
      query.on('row', (row: Array<string | null>, result?: pg.ResultBuilder) => {
        if (tooLarge || !result) return;
        const json = rowJson(row, result.fields, arrayMode, headers.rawTextOutput);
        budget.left -= json.length + 1;
        if (budget.left < 0) {
          // A runaway result (a cross join) is stopped at the limit, not buffered: the connection
          // is cut, which ends the query on the compute, and is not reused.
          tooLarge = true;
          client.connection.stream.destroy();
          return;
        }
        rows.push(json);
      });
      query.on('error', (err: Error) => {
        if (tooLarge) {
          reject(
            new SqlError(507, `response is too large (max is ${MAX_RESPONSE_BYTES} bytes)`, {
              code: 'PAYLOAD_TOO_LARGE',
            }),
          );
        } else reject(err);
      });
      query.on('end', (result: pg.ResultBuilder) => {
        resolve(resultJson(result.fields, rows, tagOf(result), arrayMode));
      });
      void client.query(query);
    });
  }
}

/** pg splits the command tag into command and rowCount; put it back together for commandOf. */
function tagOf(result: pg.ResultBuilder): string {
  // pg leaves command null for an empty query.
  const command = (result.command as string | null) ?? '';
  if (result.rowCount === null) return command;
  return command === 'INSERT' ? `INSERT 0 ${result.rowCount}` : `${command} ${result.rowCount}`;
}
