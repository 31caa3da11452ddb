// Every rate limit in one place. One @fastify/rate-limit store serves them all: in memory (each
// process counts for itself) or, with REDIS_URL, in Redis, shared by every process.
//   - the per-key budget (Neon: 700 requests a minute) on every /api/v2 request, before
//     authentication, so garbage tokens meet it too (they share their client address's budget);
//   - per-route limits in a route's `config.rateLimit` (creating organization keys, console
//     sign-in and set-up attempts), applied by the plugin after authentication.
// Redis unreachable: requests are served without limits (fail open) and a warning is logged at
// most once a minute; limits resume when Redis is back.
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { RateLimitConfig } from '../config.ts';
import { AppError } from '../domain/errors.ts';
import { hashToken, isWellFormedToken } from '../domain/ids.ts';
import { bearerToken } from './authenticate.ts';

/** The limiter's key: the key's hash for well-formed tokens, else the client address. */
function budgetKey(req: { headers: { authorization?: string | undefined }; ip: string }): string {
  const token = bearerToken(req.headers.authorization);
  return token && isWellFormedToken(token) ? `k:${hashToken(token)}` : `ip:${req.ip}`;
}

/** Registers the store and per-route limits (root scope). Returns the Redis client, if any. */
export async function rateLimits(
  app: FastifyInstance,
  config: { rateLimit: RateLimitConfig; redisUrl: string | undefined },
): Promise<void> {
  if (!config.rateLimit.enabled) return;
  // Loaded only when used: a server with limits off (or without Redis) keeps them out of memory.
  const { default: rateLimit } = await import('@fastify/rate-limit');
  let redis: Redis | undefined;
  if (config.redisUrl) {
    const { Redis } = await import('ioredis');
    let lastWarning = 0;
    redis = new Redis(config.redisUrl, {
      // Fail fast while Redis is away instead of queueing requests behind it.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 1000,
      commandTimeout: 500,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    redis.on('error', (err: Error) => {
      if (Date.now() - lastWarning < 60_000) return;
      lastWarning = Date.now();
      app.log.warn({ err: err.message }, 'Redis unavailable: rate limits are not enforced until it is back');
    });
    const client = redis;
    app.addHook('onClose', async () => {
      client.disconnect();
    });
  }
  await app.register(rateLimit, {
    // Not `global`: the plugin would add its hook per route, after authentication, so garbage
    // tokens would get 401s forever without meeting the limit. perKeyBudget runs first instead.
    global: false,
    max: config.rateLimit.perMinute,
    timeWindow: 60_000,
    keyGenerator: budgetKey,
    skipOnError: true,
    ...(redis ? { redis, nameSpace: 'orgplane-rl:' } : {}),
    errorResponseBuilder: (req, ctx) =>
      req.url.startsWith('/console/')
        ? new AppError('RATE_LIMITED', `too many attempts; retry in ${ctx.after}`)
        : new AppError(
            'RATE_LIMITED',
            `rate limit exceeded (${ctx.max} requests per window); retry in ${ctx.after}`,
          ),
  });
}

/** The per-key budget on every request of this scope (the API), before authentication. */
export function perKeyBudget(api: FastifyInstance, config: { rateLimit: RateLimitConfig }): void {
  if (!config.rateLimit.enabled) return;
  // createRateLimit does not mark the request, so a route's own limit still runs after this one.
  const check = api.createRateLimit();
  api.addHook('onRequest', async (req, reply) => {
    const r = await check(req);
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
