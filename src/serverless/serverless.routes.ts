// Neon's serverless paths on orgplane's own HTTP port (data plane, outside /api/v2):
//   POST /sql     SQL over HTTP — neon() of @neondatabase/serverless (set neonConfig.fetchEndpoint)
//   OPTIONS /sql  CORS preflight, as Neon answers it
//   GET /v2       WebSocket tunnel of the PostgreSQL protocol — its Pool and Client (set neonConfig.wsProxy)
// Who may call: anyone holding a role's password, which PostgreSQL checks; no API key, and nothing
// is audited: these are database sessions, not control-plane changes (PostgreSQL's own logging
// applies). Errors leave in Neon's SQL-over-HTTP body (sql.presenter.ts), which the driver reads.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance } from 'fastify';
import { WebSocketServer } from 'ws';
import { errorJson } from './sql.presenter.ts';
import { MAX_REQUEST_BYTES, SqlError, type SqlOverHttp } from './sql.service.ts';
import { tunnelAddress, type WsTunnels } from './ws-tunnel.ts';

export interface ServerlessRoutesOptions {
  sql: SqlOverHttp;
  tunnels: WsTunnels;
}

/** Why /sql and /v2 write no audit events (AuditDeclaration's reason). */
const DATA_PLANE =
  'data plane: a database session authenticated by PostgreSQL (its own logging applies), not a control-plane change';

/** The largest WebSocket message accepted (one coalesced batch of protocol messages). */
export const MAX_WS_MESSAGE_BYTES = 64 * 1024 * 1024;

const ALLOW_HEADERS =
  'Authorization, Neon-Connection-String, Neon-Raw-Text-Output, Neon-Array-Mode, Neon-Pool-Opt-In, Neon-Batch-Read-Only, Neon-Batch-Isolation-Level';

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export async function serverlessRoutes(app: FastifyInstance, opts: ServerlessRoutesOptions): Promise<void> {
  // The driver posts its JSON as text/plain (fetch's default for a string body); take any type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_REQUEST_BYTES }, (_req, body, done) => {
    done(null, body);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    let e: SqlError;
    if (error instanceof SqlError) e = error;
    else if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      e = new SqlError(413, `request is too large (max is ${MAX_REQUEST_BYTES} bytes)`, {
        code: 'PAYLOAD_TOO_LARGE',
      });
    } else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      e = new SqlError(error.statusCode, error.message, { code: 'BAD_REQUEST' });
    } else {
      request.log.error({ err: error }, 'sql over http failed');
      e = new SqlError(500, 'internal server error', { code: 'INTERNAL' });
    }
    return reply
      .code(e.status)
      .header('access-control-allow-origin', '*')
      .type('application/json')
      .send(errorJson(e.message, e.fields, request.id));
  });

  app.options('/sql', { schema: { hide: true } }, async (_request, reply) => {
    return reply
      .code(200)
      .header('allow', 'OPTIONS, POST')
      .header('access-control-allow-origin', '*')
      .header('access-control-allow-headers', ALLOW_HEADERS)
      .header('access-control-max-age', '86400')
      .send();
  });

  const sqlRoute = {
    schema: { hide: true },
    bodyLimit: MAX_REQUEST_BYTES,
    config: { audit: { none: DATA_PLANE }, changesAccess: false },
  };
  app.post('/sql', sqlRoute, async (request, reply) => {
    const h = request.headers;
    const res = await opts.sql.execute(
      {
        connectionString: header(h['neon-connection-string']),
        rawTextOutput: header(h['neon-raw-text-output']) === 'true',
        arrayMode: header(h['neon-array-mode']) === 'true',
        isolationLevel: header(h['neon-batch-isolation-level']),
        readOnly: header(h['neon-batch-read-only']) === 'true',
        deferrable: header(h['neon-batch-deferrable']) === 'true',
      },
      typeof request.body === 'string' ? request.body : '',
    );
    return reply
      .code(200)
      .headers(res.headers)
      .header('access-control-allow-origin', '*')
      .type('application/json')
      .send(res.body);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_MESSAGE_BYTES });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/v2') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const address = tunnelAddress(req.url ?? '/', req.headers.host);
    wss.handleUpgrade(req, socket, head, (ws) => opts.tunnels.serve(ws, address));
  };
  app.server.on('upgrade', onUpgrade);
  app.addHook('onClose', async () => {
    app.server.off('upgrade', onUpgrade);
    opts.tunnels.close();
    await new Promise<void>((done) => wss.close(() => done()));
  });
}
