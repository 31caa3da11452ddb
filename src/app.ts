// The composition root: services from the database and config, the HTTP plumbing of src/http/,
// and the route table (routes.ts). It never listens (main.ts does), so tests inject requests.
//
// A request's path:
//   socket ─ parser errors: clientErrorHandler ─▶ request id + security headers (one hook)
//     ─▶ /api/v2: per-key budget ─▶ authenticate (auth/authenticator.ts) ─▶ audit context ─▶ body guard
//     ─▶ validation ─▶ idempotency (a POST with Idempotency-Key: replay, or claim)
//     ─▶ route (schemas) ─▶ service (policy/ decides) ─▶ repository ─▶ db
//     ─▶ presenter ─▶ serializer ─▶ bytes; errors at any step: http/error-handler.ts
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import cookie from '@fastify/cookie';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ListenerHeartbeat } from './auth/authenticator.ts';
import type { Config } from './config.ts';
import { consoleNotFoundPage, consoleRoutes, sessionResolver } from './console/console.routes.ts';
import type { Db } from './db/connect.ts';
import { redactTokens } from './domain/ids.ts';
import type { Clock } from './domain/time.ts';
import { auditContexts } from './audit/audit.hook.ts';
import {
  authentication,
  bearerTokenHashes,
  reportUnsafeRequests,
  type PrincipalResolver,
} from './http/authenticate.ts';
import { installBodyGuard } from './http/body-guard.ts';
import { GeneralErrorSchema } from './http/common-schemas.ts';
import {
  clientErrorHandler,
  formatSchemaErrors,
  installErrorHandling,
  sendError,
  setBrowserNotFoundPage,
} from './http/error-handler.ts';
import { healthRoutes } from './http/health.ts';
import { idempotency } from './http/idempotency.ts';
import { jsonBodies } from './http/json-body.ts';
import { openApiDocument, openApiRoute } from './http/openapi.ts';
import { perKeyBudget, rateLimits } from './http/rate-limit.ts';
import { requestIdFor, requestIdHeaders } from './http/request-id.ts';
import { securityHeaderPairs } from './http/security-headers.ts';
import { lazyCompilers } from './http/validation.ts';
import { invitationPages } from './invitations/invitations.pages.ts';
import { sharingPages } from './sharing/sharing.pages.ts';
import { apiRoutes, sharedSchemas } from './routes.ts';
import type { EndpointResolver } from './serverless/resolver.ts';
import type { ComputeEngine } from './compute/engine.ts';
import { serverlessRoutes } from './serverless/serverless.routes.ts';
import { createServices, type Services } from './services.ts';

export interface BuildOptions {
  config: Config;
  db: Db;
  /** pino options, or false for silence (tests). */
  logger?: FastifyServerOptions['logger'];
  /** Where the production logger writes (default stdout); tests capture log lines with it. */
  logStream?: { write(line: string): void };
  /** Additional authentication (tests). */
  principalResolvers?: PrincipalResolver[];
  /** The clock of expiry decisions (key expiry, idempotency records); tests move it. */
  clock?: Clock;
  /** PostgreSQL: the change listener's heartbeat (tests inject its clock and timer). */
  listenerHeartbeat?: ListenerHeartbeat;
  /** Where /sql and /v2 find an endpoint's compute (default: the compute engine's, else none). */
  endpointResolver?: EndpointResolver;
  /** The compute engine (default: the configuration's); crash tests pass one with step hooks. */
  engine?: ComputeEngine;
}

export interface BuiltApp {
  app: FastifyInstance;
  services: Services;
}

/**
 * Slow clients: headers within config.headersTimeoutMs (default 10 s), the whole request within
 * 30 s, checked every second. Node requires requestTimeout ≥ headersTimeout.
 */
function timeouts(config: Config) {
  const headersTimeout = config.headersTimeoutMs;
  return {
    headersTimeout,
    requestTimeout: Math.max(30_000, headersTimeout),
    connectionsCheckingInterval: 1_000,
  };
}

function logger(opts: BuildOptions): FastifyServerOptions['logger'] {
  if (opts.logger !== undefined) return opts.logger;
  return {
    level: opts.config.logLevel,
    // Tokens must never reach a log line, even when a client puts one in the URL.
    serializers: {
      req: (r: { method: string; url: string; ip?: string }) => ({
        method: r.method,
        // …and one-time link tokens (console setup links, invitation links) likewise.
        url: redactTokens(r.url).replace(/([?&]token=)[^&#]*/gi, '$1[redacted]'),
        remoteAddress: r.ip,
      }),
    },
    redact: ['req.headers.authorization', 'req.headers.cookie'],
    ...(opts.logStream ? { stream: opts.logStream } : {}),
  };
}

export async function buildApp(opts: BuildOptions): Promise<BuiltApp> {
  const { config, db } = opts;
  const TIMEOUTS = timeouts(config);
  const app = Fastify({
    logger: logger(opts),
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    bodyLimit: 1024 * 1024,
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    genReqId: (req) => requestIdFor(req.headers['x-request-id']),
    http: TIMEOUTS,
    requestTimeout: TIMEOUTS.requestTimeout,
    keepAliveTimeout: 5_000,
    clientErrorHandler,
    schemaErrorFormatter: formatSchemaErrors,
    // Undecodable URLs (e.g. %ff) fail before routing; without this they get Fastify's own body.
    frameworkErrors: (error, request, reply) => {
      reply.header('x-request-id', request.id);
      reply.header('x-neon-ret-request-id', request.id);
      void sendError(reply, 400, 'BAD_REQUEST', `invalid request: ${error.message}`);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  lazyCompilers(app);

  const services = createServices(db, config, app.log, {
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.listenerHeartbeat ? { heartbeat: opts.listenerHeartbeat } : {}),
    ...(opts.endpointResolver ? { endpointResolver: opts.endpointResolver } : {}),
    ...(opts.engine ? { engine: opts.engine } : {}),
  });
  services.access.start();
  app.addHook('onClose', async () => {
    await services.stop();
  });

  requestIdHeaders(app, securityHeaderPairs());
  installErrorHandling(app);
  await app.register(cookie);
  jsonBodies(app);
  app.addSchema(GeneralErrorSchema);
  for (const s of sharedSchemas) app.addSchema(s);
  await openApiDocument(app, config.publicUrl);
  bearerTokenHashes(app);
  await rateLimits(app, config, services.clock);
  reportUnsafeRequests(app, services.access);
  healthRoutes(app, db);

  await app.register(
    async (api) => {
      perKeyBudget(api, config);
      authentication(api, services.access, [
        ...(opts.principalResolvers ?? []),
        sessionResolver(services.sessions, config),
      ]);
      auditContexts(api, services.audit);
      installBodyGuard(api);
      idempotency(api, db, services.clock, (p, r) => services.explain.authorizeReplay(p, r));
      openApiRoute(api, app);
      await apiRoutes(api, services, config);
    },
    { prefix: '/api/v2' },
  );
  // The web console (pages, assets, sign-in); it calls the API above like any other client.
  await app.register(consoleRoutes, { sessions: services.sessions, config });
  // Browsers asking for an unknown page get the console's styled 404; API clients keep JSON.
  setBrowserNotFoundPage(app, consoleNotFoundPage());
  // Pages behind invitation links, outside the API.
  await app.register(invitationPages(services.invitations, config.publicUrl), {
    sessions: services.sessions,
    config,
  });
  // The page behind a project-sharing sign-up link: the same flow (console/signup-page.ts).
  await app.register(sharingPages(services.sharing, config.publicUrl), {
    sessions: services.sessions,
    config,
  });
  // Neon's serverless driver: SQL over HTTP (/sql) and the WebSocket tunnel (/v2), data plane.
  await app.register(serverlessRoutes, {
    sql: services.serverless.sql,
    tunnels: services.serverless.tunnels,
  });

  await app.ready();
  return { app, services };
}
