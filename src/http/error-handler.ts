// Every error leaves as Neon's GeneralError { code, message, request_id }: AppError by its code,
// framework and database errors by kind, anything unknown as a generic 500 (details only in the log).
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type {
  FastifyContextConfig,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
} from 'fastify';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { AppError, ERROR_STATUS, type ErrorCode } from '../domain/errors.ts';
import { redactTokens } from '../domain/ids.ts';
import { newRequestId } from './request-id.ts';
import { isBadTextError, isDatabaseUnavailable } from '../db/connect.ts';

const STATUS_TO_CODE = new Map<number, ErrorCode>(
  Object.entries(ERROR_STATUS).map(([code, status]) => [status, code as ErrorCode]),
);

declare module 'fastify' {
  interface FastifyRequest {
    /** The code of the error this request was answered with (read by the audit hook). */
    errorCode: string | null;
  }
}

export function sendError(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  extra?: Record<string, unknown>,
): FastifyReply {
  reply.request.errorCode = code;
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send(JSON.stringify({ ...extra, code, message, request_id: reply.request.id }));
}

function classify(err: FastifyError & { code?: string }): { status: number; code: string; message: string } {
  if (err.validation) {
    return { status: 400, code: 'BAD_REQUEST', message: `invalid request: ${err.message}` };
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'request body is larger than 1 MiB' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message: 'request body must be application/json',
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        status: 400,
        code: 'BAD_REQUEST',
        message: 'request body is empty but Content-Type is application/json',
      };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, code: 'BAD_REQUEST', message: 'request body is not valid JSON' };
  }
  if (err instanceof SyntaxError || err.name === 'SyntaxError') {
    return { status: 400, code: 'BAD_REQUEST', message: 'request body is not valid JSON' };
  }
  if (isBadTextError(err)) {
    return {
      status: 400,
      code: 'BAD_REQUEST',
      message: 'request contains text that cannot be stored (NUL bytes or invalid Unicode)',
    };
  }
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status >= 400 && status < 500) {
    // Fastify's own 4xx errors (bad content length, bad URL, …) carry safe messages.
    return { status, code: STATUS_TO_CODE.get(status) ?? 'BAD_REQUEST', message: err.message };
  }
  return { status: 500, code: 'INTERNAL', message: 'internal server error' };
}

const ROUTE_LISTS = new WeakMap<FastifyInstance, string[]>();
const ROUTE_CONFIGS = new WeakMap<FastifyInstance, Map<string, FastifyContextConfig>>();
const BROWSER_404 = new WeakMap<FastifyInstance, string>();

/**
 * The page a browser gets for an unknown URL outside /api/ (the console registers its styled one);
 * API clients, and anything not asking for HTML, keep the JSON error.
 */
export function setBrowserNotFoundPage(app: FastifyInstance, html: string): void {
  BROWSER_404.set(app, html);
}

function wantsHtml(request: FastifyRequest, path: string): boolean {
  if (path.startsWith('/api/') || path === '/api') return false;
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  return /\btext\/html\b/.test(request.headers.accept ?? '');
}

/** Every registered route as "METHOD /path/:param" (HEAD excluded), for inventory checks. */
export function registeredRoutes(app: FastifyInstance): readonly string[] {
  return ROUTE_LISTS.get(app) ?? [];
}

/** Each registered route's config, keyed like registeredRoutes (what a route declares about itself). */
export function registeredRouteConfigs(app: FastifyInstance): ReadonlyMap<string, FastifyContextConfig> {
  return ROUTE_CONFIGS.get(app) ?? new Map();
}

export function installErrorHandling(app: FastifyInstance): void {
  // Every registered (method, path) pair, to tell 405 (path exists, method does not) from 404. The
  // router for that is built on the first unmatched request, not as routes register: building it
  // took find-my-way as long as Fastify's own router, at every start, for a rare answer.
  const list: string[] = [];
  let routes: FindMyWay.Instance<FindMyWay.HTTPVersion.V1> | undefined;
  const methodRouter = (): FindMyWay.Instance<FindMyWay.HTTPVersion.V1> => {
    if (routes) return routes;
    const built = FindMyWay({ ignoreTrailingSlash: false });
    for (const entry of list) {
      const space = entry.indexOf(' ');
      const m = entry.slice(0, space) as HTTPMethod;
      const url = entry.slice(space + 1);
      if (!built.hasRoute(m, url)) built.on(m, url, () => {});
    }
    routes = built;
    return built;
  };
  ROUTE_LISTS.set(app, list);
  const configs = new Map<string, FastifyContextConfig>();
  ROUTE_CONFIGS.set(app, configs);
  app.decorateRequest('errorCode', null);
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const raw of methods) {
      const m = raw.toUpperCase() as HTTPMethod;
      if (m === 'HEAD') continue;
      list.push(`${m} ${r.url}`);
      configs.set(`${m} ${r.url}`, r.config ?? {});
    }
  });

  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof AppError) {
      if (error.status >= 500) request.log.error({ err: error }, 'request failed');
      if (error.code === 'UNAUTHORIZED') reply.header('www-authenticate', 'Bearer');
      if (error.code === 'RATE_LIMITED' && !reply.getHeader('retry-after')) reply.header('retry-after', '1');
      return sendError(reply, error.status, error.wireCode, error.message, error.body);
    }
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable');
      reply.header('retry-after', '1');
      return sendError(reply, 503, 'UNAVAILABLE', 'the database is unavailable; retry shortly');
    }
    const c = classify(error);
    if (c.status >= 500) request.log.error({ err: error }, 'unhandled error');
    return sendError(reply, c.status, c.code, c.message);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    // The message echoes the path; a key pasted into it must not come back in a response.
    const shown = redactTokens(path);
    const router = methodRouter();
    const allowed = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter(
      (m) => router.find(m as 'GET', path) !== null,
    );
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return sendError(
        reply,
        405,
        'METHOD_NOT_ALLOWED',
        `method ${request.method} is not allowed on ${shown}`,
      );
    }
    const page = BROWSER_404.get(app);
    if (page && wantsHtml(request, path)) {
      return reply.code(404).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(page);
    }
    return sendError(reply, 404, 'NOT_FOUND', `no route for ${request.method} ${shown}`);
  });
}

/**
 * Validation messages that name the field and, for enums, the allowed values
 * (TypeBox unions of literals otherwise read "must be equal to constant").
 */
export function formatSchemaErrors(
  errors: Array<{ instancePath: string; keyword: string; message?: string; params: Record<string, unknown> }>,
  dataVar: string,
): Error {
  const first = errors[0];
  if (!first) return new Error(`${dataVar} is invalid`);
  let path = first.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (first.keyword === 'required') {
    path = [path, String(first.params.missingProperty)].filter(Boolean).join('.');
  }
  const field = path ? `${dataVar}.${path}` : dataVar;
  const consts = errors
    .filter((e) => e.keyword === 'const' && e.instancePath === first.instancePath)
    .map((e) => JSON.stringify(e.params.allowedValue));
  if (consts.length > 0) return new Error(`${field} must be one of ${consts.join(', ')}`);
  if (first.keyword === 'required') return new Error(`${field} is required`);
  if (first.keyword === 'additionalProperties') {
    return new Error(`${field} has an unknown property "${String(first.params.additionalProperty)}"`);
  }
  return new Error(`${field} ${first.message ?? 'is invalid'}`);
}

/**
 * Errors of the HTTP parser, before any request exists (a malformed request line, too many or too
 * large headers, a client too slow to send its headers): answered with the same body as every
 * other error, on a connection that is then closed.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  // The response to an earlier request on this connection (pipelining) may still be in progress:
  // writing now would cut into it. A complete earlier request is answered first, then the error;
  // a response already half-written cannot be followed by a clean one, so the connection closes.
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (inFlight && !inFlight.writableEnded) {
    if (inFlight.req?.complete) {
      let done = false;
      const answer = () => {
        if (done) return;
        done = true;
        if (socket.writable) writeParserError(err, socket);
        else socket.destroy();
      };
      inFlight.once('finish', answer);
      inFlight.once('close', answer);
      return;
    }
    if (inFlight.headersSent) {
      socket.destroy();
      return;
    }
  }
  writeParserError(err, socket);
}

function writeParserError(err: Error & { code?: string }, socket: Socket): void {
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'HEADERS_TOO_LARGE', 'request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'REQUEST_TIMEOUT', 'the request was not received in time']
        : [400, 'BAD_REQUEST', 'malformed HTTP request'];
  const id = newRequestId();
  const body = JSON.stringify({ code, message, request_id: id });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-ID: ${id}\r\nX-Neon-Ret-Request-Id: ${id}\r\nConnection: close\r\n\r\n${body}`,
  );
}
