// The web console's HTTP side, outside /api/v2: its pages and assets, sign-in / sign-out / setup,
// and the session resolver + CSRF check the API uses for cookie-authenticated calls.
// Everything else the console does goes through the public API, with the same permission rules.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { Type, type Static } from 'typebox';
import type { Config } from '../config.ts';
import { AppError } from '../domain/errors.ts';
import type { PrincipalResolver } from '../http/authenticate.ts';
import { toWireTime } from '../domain/time.ts';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from '../domain/passwords.ts';
import { safeNextPath } from './next-path.ts';
import { SessionsService, type SessionInfo } from './sessions.service.ts';

/** The pages and assets live in src/console/public, also when this file runs bundled in dist/bundle/. */
function findPublicDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'public'), path.resolve(here, '../../src/console/public')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'app.html'))) ?? path.join(here, 'public');
}
const PUBLIC_DIR = findPublicDir();

/** The styled page for unknown URLs outside /api/ (see setBrowserNotFoundPage). */
export function consoleNotFoundPage(): string {
  return fs.readFileSync(path.join(PUBLIC_DIR, 'notfound.html'), 'utf8');
}
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
export const CSRF_HEADER = 'x-csrf-token';
export const CSRF_MESSAGE =
  'missing or invalid CSRF token: send the X-CSRF-Token header the console received with its session';

/** `__Host-` binds the cookie to this exact origin, which browsers allow only for Secure cookies. */
export function sessionCookieName(config: Config): string {
  return isHttps(config) ? '__Host-orgplane_session' : 'orgplane_session';
}
const isHttps = (config: Config) => config.publicUrl.startsWith('https://');

/** Sets the session cookie with the console's flags (also for other server-rendered pages, e.g. invitations). */
export function startSessionCookie(
  reply: FastifyReply,
  config: Config,
  sessionId: string,
  expiresAt: string,
) {
  return reply.setCookie(sessionCookieName(config), sessionId, {
    httpOnly: true,
    sameSite: 'strict',
    path: '/',
    secure: isHttps(config),
    expires: new Date(expiresAt),
  });
}

/**
 * Cross-site form posts cannot send JSON without CORS; a foreign Origin (or a browser's
 * Sec-Fetch-Site: cross-site) is refused outright. Used by every form that signs someone in.
 */
export function refuseForeignOrigin(
  req: FastifyRequest,
  config: Config,
  opts: { allowNullOrigin?: boolean } = {},
): void {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site') throw new AppError('FORBIDDEN', 'cross-origin request refused');
  const origin = req.headers.origin;
  if (origin === undefined) return;
  // A page served with Referrer-Policy: no-referrer makes browsers send "Origin: null" on its own
  // form posts; such a page must rely on its CSRF token (and Sec-Fetch-Site, where sent) instead.
  if (origin === 'null' && opts.allowNullOrigin && site !== 'same-site') return;
  const host = req.headers.host;
  let ok = false;
  try {
    ok = new URL(origin).host === host || origin === config.publicUrl;
  } catch {
    ok = false;
  }
  if (!ok) throw new AppError('FORBIDDEN', 'cross-origin request refused');
}

/** Resolves the console's session cookie to the user; unsafe methods must echo the CSRF token. */
export function sessionResolver(sessions: SessionsService, config: Config): PrincipalResolver {
  const name = sessionCookieName(config);
  return async (request) => {
    const id = request.cookies?.[name];
    if (!id) return null;
    const p = await sessions.principalFor(id);
    if (!p) return null;
    if (
      UNSAFE.has(request.method) &&
      !SessionsService.csrfMatches(p.csrfToken, request.headers[CSRF_HEADER])
    ) {
      throw new AppError('FORBIDDEN', CSRF_MESSAGE);
    }
    return p.principal;
  };
}

const SignInSchema = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
const SetupSchema = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 128 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
const SetupQuerySchema = Type.Object({ token: Type.String({ maxLength: 128 }) });

function presentSession(info: SessionInfo) {
  return {
    user: { id: info.user.id, email: info.user.email, name: info.user.name },
    csrf_token: info.csrfToken,
    expires_at: toWireTime(info.expiresAt),
  };
}

export async function consoleRoutes(
  app: FastifyInstance,
  { sessions, config }: { sessions: SessionsService; config: Config },
): Promise<void> {
  const cookieName = sessionCookieName(config);
  const pages = new Map<string, string>();
  for (const page of ['app', 'signin', 'setup']) {
    pages.set(page, fs.readFileSync(path.join(PUBLIC_DIR, `${page}.html`), 'utf8'));
  }
  const sendPage = (reply: FastifyReply, page: string) =>
    reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(pages.get(page));

  // Password guessing: sign-in and setup attempts per client address (src/http/rate-limit.ts).
  const attemptLimit = config.rateLimit.enabled ? { rateLimit: { max: 20, timeWindow: 60_000 } } : {};

  const hide = { schema: { hide: true } };
  await app.register(fastifyStatic, {
    root: path.join(PUBLIC_DIR, 'assets'),
    prefix: '/assets/',
    decorateReply: false,
    index: false,
    cacheControl: true,
    maxAge: 0,
  });

  const favicon = fs.readFileSync(path.join(PUBLIC_DIR, 'favicon.svg'));
  const sendFavicon = (_req: FastifyRequest, reply: FastifyReply) =>
    reply.header('cache-control', 'public, max-age=86400').type('image/svg+xml').send(favicon);
  app.get('/favicon.svg', hide, sendFavicon);
  // Browsers ask for /favicon.ico on their own; they accept SVG bytes from it too.
  app.get('/favicon.ico', hide, sendFavicon);

  const setCookie = (reply: FastifyReply, value: string, expiresAt: string) =>
    startSessionCookie(reply, config, value, expiresAt);
  const clearCookie = (reply: FastifyReply) =>
    reply.clearCookie(cookieName, { httpOnly: true, sameSite: 'strict', path: '/', secure: isHttps(config) });

  const currentSession = (req: FastifyRequest) => sessions.lookup(req.cookies[cookieName]);

  const sameOrigin = (req: FastifyRequest) => refuseForeignOrigin(req, config);

  // Pages. The app shell needs a session; without one the browser goes to the sign-in page.
  const appPage = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!(await currentSession(req))) {
      const next = safeNextPath(req.url, config.publicUrl);
      return reply
        .header('cache-control', 'no-store')
        .redirect(`/signin${next === '/' ? '' : `?next=${encodeURIComponent(next)}`}`, 302);
    }
    return sendPage(reply, 'app');
  };
  app.get('/', hide, appPage);
  app.get('/account', hide, appPage);
  app.get('/orgs/*', hide, appPage);
  // Projects shared with the viewer, and one project's page (branches, connection strings).
  app.get('/shared', hide, appPage);
  app.get('/projects/*', hide, appPage);
  // Claim links of project transfer requests (Neon's console path is /app/claim).
  app.get('/claim', hide, appPage);
  app.get('/app/claim', hide, appPage);
  app.get('/transfer-requests/*', hide, appPage);
  app.get('/signin', hide, async (req, reply) => {
    if (await currentSession(req)) return reply.redirect('/', 302);
    return sendPage(reply, 'signin');
  });
  app.get('/setup', hide, async (_req, reply) => sendPage(reply, 'setup'));

  // Session endpoints used by the console's scripts.
  app.get('/console/session', hide, async (req) => {
    const s = await currentSession(req);
    if (!s) throw new AppError('UNAUTHORIZED', 'not signed in');
    return presentSession(s);
  });

  app.post<{ Body: Static<typeof SignInSchema> }>(
    '/console/session',
    { schema: { body: SignInSchema, hide: true }, config: attemptLimit },
    async (req, reply) => {
      sameOrigin(req);
      // Whatever session the browser had ends; the new one always has a fresh id (no fixation).
      await sessions.signOut(req.cookies[cookieName]);
      const { sessionId, info } = await sessions.signIn(req.body.email, req.body.password);
      setCookie(reply, sessionId, info.expiresAt);
      return presentSession(info);
    },
  );

  app.delete('/console/session', hide, async (req, reply) => {
    const id = req.cookies[cookieName];
    const s = await sessions.lookup(id);
    if (s && !SessionsService.csrfMatches(s.csrfToken, req.headers[CSRF_HEADER])) {
      throw new AppError('FORBIDDEN', CSRF_MESSAGE);
    }
    await sessions.signOut(id);
    clearCookie(reply);
    return {};
  });

  app.get<{ Querystring: Static<typeof SetupQuerySchema> }>(
    '/console/setup',
    { schema: { querystring: SetupQuerySchema, hide: true }, config: attemptLimit },
    async (req) => ({
      valid: await sessions.setupTokenValid(req.query.token),
      // The page states the one password rule (src/domain/passwords.ts) instead of a copy of it.
      password: { min_length: MIN_PASSWORD_LENGTH, max_length: MAX_PASSWORD_LENGTH },
    }),
  );

  app.post<{ Body: Static<typeof SetupSchema> }>(
    '/console/setup',
    { schema: { body: SetupSchema, hide: true }, config: attemptLimit },
    async (req, reply) => {
      sameOrigin(req);
      await sessions.signOut(req.cookies[cookieName]);
      const { sessionId, info } = await sessions.completeSetup(req.body.token, req.body.password);
      setCookie(reply, sessionId, info.expiresAt);
      return presentSession(info);
    },
  );
}
