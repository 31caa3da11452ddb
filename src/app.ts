// Builds the Fastify application: validation, errors, authentication, rate limits, OpenAPI and
// every route under /api/v2. It never listens (main.ts does), so tests inject requests directly.
import Fastify, {
  type FastifyInstance,
  type FastifySchemaValidationError,
  type FastifyServerOptions,
} from 'fastify';
import rateLimit from '@fastify/rate-limit';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { createRequire } from 'node:module';
import { sql } from 'kysely';
import type { Config } from './config.ts';
import { consoleRoutes, sessionResolver } from './console/console.routes.ts';
import type { Db } from './db/connect.ts';
import { AppError } from './domain/errors.ts';
import { hashToken, isWellFormedToken, newRequestId, redactTokens } from './domain/ids.ts';
import { bearerToken, installAuthentication, type PrincipalResolver } from './http/authenticate.ts';
import { installBodyGuard } from './http/body-guard.ts';
import { GeneralErrorSchema } from './http/common-schemas.ts';
import { formatSchemaErrors, installErrorHandling, sendError } from './http/error-handler.ts';
import { registerApiRoutes, sharedSchemas } from './http/routes.ts';
import { invitationPages } from './invitations/invitations.pages.ts';
import { createServices, type Services } from './services.ts';

export interface BuildOptions {
  config: Config;
  db: Db;
  /** pino options, or false for silence (tests). */
  logger?: FastifyServerOptions['logger'];
  /** Where the production logger writes (default stdout); tests capture log lines with it. */
  logStream?: { write(line: string): void };
  /** Additional authentication (the console's sessions). */
  principalResolvers?: PrincipalResolver[];
}

export interface BuiltApp {
  app: FastifyInstance;
  services: Services;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

type Validate = ((data: unknown) => boolean) & { errors?: FastifySchemaValidationError[] | null };

function makeValidators() {
  // Query strings and path params arrive as text: coerce them. Bodies are JSON: never coerce.
  const common = { useDefaults: true, removeAdditional: true, allErrors: true, strict: false } as const;
  const coercing = new Ajv({ ...common, coerceTypes: 'array' });
  const strict = new Ajv({ ...common, coerceTypes: false });
  for (const ajv of [coercing, strict]) addFormats.default(ajv);
  // Compiled on first use, not at start-up: most routes are never called by a given server, and
  // compiling them all cost a large share of start-up time and memory. Fastify reads `errors`.
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) => {
    let compiled: Validate | undefined;
    const validate: Validate = (data) => {
      compiled ??= (httpPart === 'body' ? strict : coercing).compile(schema) as Validate;
      const ok = compiled(data);
      validate.errors = compiled.errors;
      return ok;
    };
    return validate;
  };
}

type SerializerFactory = (
  externalSchemas: unknown,
  options: unknown,
) => (route: { schema?: unknown }) => (data: unknown) => string;

/**
 * Fastify's own response serializer compiler (fast-json-stringify), compiling each route's
 * serializer on its first response instead of at start-up (same output, same schemas).
 * Loaded from Fastify's own dependencies.
 */
function lazySerializers(): { buildSerializer: SerializerFactory } {
  const fastifyRequire = createRequire(createRequire(import.meta.url).resolve('fastify'));
  const { SerializerSelector } = fastifyRequire('@fastify/fast-json-stringify-compiler') as {
    SerializerSelector: () => SerializerFactory;
  };
  const defaults = SerializerSelector();
  return {
    buildSerializer: (externalSchemas, options) => {
      const compile = defaults(externalSchemas, options);
      return (route) => {
        let serialize: ((data: unknown) => string) | undefined;
        return (data) => (serialize ??= compile(route))(data);
      };
    },
  };
}

export async function buildApp(opts: BuildOptions): Promise<BuiltApp> {
  const { config, db } = opts;
  const app = Fastify({
    logger: opts.logger ?? {
      level: config.logLevel,
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
    },
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    bodyLimit: 1024 * 1024,
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : newRequestId();
    },
    requestTimeout: 30_000,
    keepAliveTimeout: 5_000,
    schemaErrorFormatter: formatSchemaErrors,
    // Undecodable URLs (e.g. %ff) fail before routing; without this they get Fastify's own body.
    frameworkErrors: (error, request, reply) => {
      reply.header('x-request-id', request.id);
      reply.header('x-neon-ret-request-id', request.id);
      return sendError(reply, 400, 'BAD_REQUEST', `invalid request: ${error.message}`);
    },
    ajv: { customOptions: { strict: false } },
    schemaController: { compilersFactory: lazySerializers() },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Slow-header clients (slowloris) are cut off after 10 s.
  app.server.headersTimeout = 10_000;
  app.setValidatorCompiler(makeValidators());

  const services = createServices(db, config, app.log);
  app.addHook('onClose', async () => {
    await services.stop();
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('x-neon-ret-request-id', request.id);
  });

  installErrorHandling(app);
  await app.register(cookie);

  // A DELETE or GET sent with "Content-Type: application/json" and no body (as some HTTP clients
  // do) is a request without a body, as on Neon; routes that take a body still refuse an empty one.
  const parseJson = app.getDefaultJsonParser('remove', 'remove');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '' && !req.routeOptions.schema?.body) {
      done(null, undefined);
      return;
    }
    parseJson(req, body as string, done);
  });
  app.addSchema(GeneralErrorSchema);
  for (const s of sharedSchemas) app.addSchema(s);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'orgplane: Neon Organizations API (v2)',
        version: 'v2',
        description:
          "A self-hosted implementation of Neon's control-plane API v2 for organizations, API keys, members, invitations, projects and transfers.",
      },
      servers: [{ url: `${config.publicUrl}/api/v2` }],
      components: { securitySchemes: { BearerAuth: { type: 'http', scheme: 'bearer' } } },
      security: [{ BearerAuth: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transform: ({ schema, url }) => ({ schema, url: url.replace(/^\/api\/v2/, '') }),
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    try {
      await sql`select 1`.execute(db.kysely);
      return { status: 'ok' };
    } catch {
      reply.header('retry-after', '1');
      return reply.code(503).send({ status: 'database unavailable' });
    }
  });

  await app.register(
    async (api) => {
      if (config.rateLimit.enabled) {
        await api.register(rateLimit, {
          // Not `global`: the plugin would add its hook per route, and route hooks run after the
          // authentication hook, so garbage tokens got 401s forever (and a database lookup each)
          // without ever meeting the limit. The per-key budget below runs first instead.
          global: false,
          max: config.rateLimit.perMinute,
          timeWindow: 60_000,
          // Per key; forged or garbage tokens (bad checksum) share their client address's budget.
          keyGenerator: (req) => {
            const token = bearerToken(req.headers.authorization);
            return token && isWellFormedToken(token) ? `k:${hashToken(token)}` : `ip:${req.ip}`;
          },
          // Routes with their own `config.rateLimit` (creating org keys, 10/s) are limited by the
          // plugin after authentication; the error it throws is ours, so the body is Neon's.
          errorResponseBuilder: (_req, ctx) =>
            new AppError(
              'RATE_LIMITED',
              `rate limit exceeded (${ctx.max} requests per window); retry in ${ctx.after}`,
            ),
        });
        // createRateLimit does not mark the request, so a route's own limit still runs after this one.
        const perKey = api.createRateLimit();
        api.addHook('onRequest', async (req, reply) => {
          const r = await perKey(req);
          if (r.isAllowed) return;
          reply.header('x-ratelimit-limit', r.max);
          reply.header('x-ratelimit-remaining', r.remaining);
          reply.header('x-ratelimit-reset', r.ttlInSeconds);
          if (r.isExceeded) {
            reply.header('retry-after', r.ttlInSeconds);
            throw new AppError(
              'RATE_LIMITED',
              `rate limit exceeded (${r.max} requests per minute); retry in ${r.ttlInSeconds} s`,
            );
          }
        });
      }
      installAuthentication(api, services.apiKeys, [
        ...(opts.principalResolvers ?? []),
        sessionResolver(services),
      ]);
      installBodyGuard(api);
      api.get('/openapi.json', { config: { auth: false }, schema: { hide: true } }, async () =>
        app.swagger(),
      );
      await registerApiRoutes(api, services, config);
    },
    { prefix: '/api/v2' },
  );
  // The web console (pages, assets, sign-in); it calls the API above like any other client.
  await app.register(consoleRoutes, { services, config });
  // Pages behind invitation links, outside the API.
  await app.register(invitationPages, { services, config });

  await app.ready();
  return { app, services };
}
