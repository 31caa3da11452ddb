// Builds the Fastify application: validation, errors, authentication, rate limits, OpenAPI and
// every route under /api/v2. It never listens (main.ts does), so tests inject requests directly.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Config } from './config.ts';
import type { Db } from './db/connect.ts';
import { AppError } from './domain/errors.ts';
import { isWellFormedToken, newRequestId } from './domain/ids.ts';
import { bearerToken, installAuthentication, type PrincipalResolver } from './http/authenticate.ts';
import { installBodyGuard } from './http/body-guard.ts';
import { GeneralErrorSchema } from './http/common-schemas.ts';
import { formatSchemaErrors, installErrorHandling } from './http/error-handler.ts';
import { registerApiRoutes, sharedSchemas } from './http/routes.ts';
import { invitationPages } from './invitations/invitations.pages.ts';
import { createServices, type Services } from './services.ts';

export interface BuildOptions {
  config: Config;
  db: Db;
  /** pino options, or false for silence (tests). */
  logger?: FastifyServerOptions['logger'];
  /** Additional authentication (the console's sessions). */
  principalResolvers?: PrincipalResolver[];
}

export interface BuiltApp {
  app: FastifyInstance;
  services: Services;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function makeValidators() {
  // Query strings and path params arrive as text: coerce them. Bodies are JSON: never coerce.
  const common = { useDefaults: true, removeAdditional: true, allErrors: true, strict: false } as const;
  const coercing = new Ajv({ ...common, coerceTypes: 'array' });
  const strict = new Ajv({ ...common, coerceTypes: false });
  for (const ajv of [coercing, strict]) addFormats.default(ajv);
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema);
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
          url: r.url.replace(/napi_[A-Za-z0-9]*/g, 'napi_[redacted]'),
          remoteAddress: r.ip,
        }),
      },
      redact: ['req.headers.authorization', 'req.headers.cookie'],
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
    ajv: { customOptions: { strict: false } },
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
          global: true,
          max: config.rateLimit.perMinute,
          timeWindow: 60_000,
          // Per key; forged or garbage tokens (bad checksum) share their client address's budget.
          keyGenerator: (req) => {
            const token = bearerToken(req.headers.authorization);
            return token && isWellFormedToken(token)
              ? `k:${createHash('sha256').update(token).digest('base64url')}`
              : `ip:${req.ip}`;
          },
          errorResponseBuilder: (_req, ctx) =>
            new AppError(
              'RATE_LIMITED',
              `rate limit exceeded (${ctx.max} requests per window); retry in ${ctx.after}`,
            ),
        });
      }
      installAuthentication(api, services.apiKeys, opts.principalResolvers ?? []);
      installBodyGuard(api);
      api.get('/openapi.json', { config: { auth: false }, schema: { hide: true } }, async () =>
        app.swagger(),
      );
      await registerApiRoutes(api, services, config);
    },
    { prefix: '/api/v2' },
  );
  // Pages behind invitation links, outside the API.
  await app.register(invitationPages, { services, config });

  await app.ready();
  return { app, services };
}
