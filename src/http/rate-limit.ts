// Every rate limit in one place. One @fastify/rate-limit store serves them all: in memory (each
// process counts for itself) or, with REDIS_URL, in Redis, shared by every process.
//   - the per-key budget (Neon: 700 requests a minute) on every /api/v2 request, before
//     authentication, so garbage tokens meet it too (they share their client address's budget);
//   - per-route limits in a route's `config.rateLimit` (creating organization keys, console
//     sign-in and set-up attempts), applied by the plugin after authentication. Each route counts
//     in its own keys (Redis: PREFIX + method + route + "-" + budget key), apart from the budget.
// Redis unreachable or not answering (500 ms): requests are served without limits (fail open),
// a warning is logged at most once a minute, and limits resume when Redis answers again.
import { createRequire } from 'node:module';
import rateLimit, { type FastifyRateLimitStore, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type * as IORedis from 'ioredis';
import type { Redis } from 'ioredis';
import type { RateLimitConfig } from '../config.ts';
import { AppError } from '../domain/errors.ts';
import type { Clock } from '../domain/time.ts';
import { tokenHashOf } from './authenticate.ts';

/** The limiter's key: the key's hash for well-formed tokens, else the client address. */
function budgetKey(req: FastifyRequest): string {
  const hash = tokenHashOf(req);
  return hash ? `k:${hash}` : `ip:${req.ip}`;
}

type Callback = (error: Error | null, result?: { current: number; ttl: number }) => void;
type Store = FastifyRateLimitStore & {
  read?(key: string, cb: Callback, timeWindow: number, max: number): void;
};
// The plugin's own Redis store (its atomic INCR + PEXPIRE script); it ships no types for the path.
const RedisStore = createRequire(import.meta.url)('@fastify/rate-limit/store/RedisStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: Redis,
  key: string,
) => Store;

/** Whether Redis answers, for the log: one warning when it stops (then at most one a minute), one line when it is back. */
class RedisHealth {
  private down = false;
  private lastWarning = 0;
  constructor(private readonly log: FastifyBaseLogger) {}
  failed(err: Error): void {
    this.down = true;
    if (Date.now() - this.lastWarning < 60_000) return;
    this.lastWarning = Date.now();
    this.log.warn({ err: err.message }, 'Redis unavailable: rate limits are not enforced until it is back');
  }
  answered(): void {
    if (!this.down) return;
    this.down = false;
    this.lastWarning = 0;
    this.log.info('Redis answers again: rate limits are enforced');
  }
}

/** The Redis store, reporting each command's outcome (the plugin then skips failed counts: fail open). */
class ReportingStore implements Store {
  constructor(
    private readonly inner: Store,
    private readonly health: RedisHealth,
  ) {}
  private report(cb: Callback): Callback {
    return (err, result) => {
      if (err) this.health.failed(err);
      else this.health.answered();
      cb(err, result);
    };
  }
  incr(key: string, cb: Callback, timeWindow: number, max: number): void {
    this.inner.incr(key, this.report(cb), timeWindow, max);
  }
  read(key: string, cb: Callback, timeWindow: number, max: number): void {
    this.inner.read?.(key, this.report(cb), timeWindow, max);
  }
  child(routeOptions: Parameters<FastifyRateLimitStore['child']>[0]): Store {
    return new ReportingStore(this.inner.child(routeOptions), this.health);
  }
}

/**
 * The in-memory store: the plugin's LocalStore (fixed windows, the newest 5000 keys) on an
 * injectable clock, so tests move time instead of waiting for a window to pass. (We use neither
 * continueExceeding nor exponential back-off, so neither is implemented.)
 */
class MemoryStore implements Store {
  private readonly windows = new Map<string, { current: number; ttl: number; startMs: number }>();
  constructor(
    private readonly clock: Clock,
    private readonly size = 5000,
  ) {}
  incr(key: string, cb: Callback, timeWindow: number): void {
    const now = this.clock();
    let w = this.windows.get(key);
    if (!w || w.startMs + timeWindow <= now) w = { current: 1, ttl: timeWindow, startMs: now };
    else {
      w.current++;
      w.ttl = timeWindow - (now - w.startMs);
    }
    // Re-inserted, so the Map's order is least recently used first.
    this.windows.delete(key);
    this.windows.set(key, w);
    if (this.windows.size > this.size) this.windows.delete(this.windows.keys().next().value as string);
    cb(null, { current: w.current, ttl: w.ttl });
  }
  read(key: string, cb: Callback, timeWindow: number): void {
    const now = this.clock();
    const w = this.windows.get(key);
    if (!w || w.startMs + timeWindow <= now) cb(null, { current: 0, ttl: 0 });
    else cb(null, { current: w.current, ttl: timeWindow - (now - w.startMs) });
  }
  child(): Store {
    return new MemoryStore(this.clock, this.size);
  }
}

/** "per second", "per minute", "per 5 s" for a window in ms. */
function perWindow(ms: unknown): string {
  if (ms === 1000) return 'per second';
  if (ms === 60_000) return 'per minute';
  if (ms === 3_600_000) return 'per hour';
  return typeof ms === 'number' ? `per ${ms / 1000} s` : 'per window';
}

/** Registers the store and per-route limits (root scope). */
export async function rateLimits(
  app: FastifyInstance,
  config: { rateLimit: RateLimitConfig; redisUrl: string | undefined; redisPrefix: string },
  clock: Clock = Date.now,
): Promise<void> {
  if (!config.rateLimit.enabled) return;
  let store: Store = new MemoryStore(clock);
  if (config.redisUrl) {
    const health = new RedisHealth(app.log);
    // Loaded only with REDIS_URL: a single-process server never needs the client in memory.
    const { Redis: RedisClient } = createRequire(import.meta.url)('ioredis') as typeof IORedis;
    const redis = new RedisClient(config.redisUrl, {
      // Fail fast while Redis is away instead of queueing requests behind it.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 1000,
      commandTimeout: 500,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    redis.on('error', (err: Error) => health.failed(err));
    app.addHook('onClose', async () => {
      redis.disconnect();
    });
    store = new ReportingStore(new RedisStore(false, false, redis, config.redisPrefix), health);
    // Commands are not queued while connecting: wait for the connection (at most its timeout) so
    // that limits hold from the first request; a Redis that is down does not hold up the start.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, 1500);
      function done() {
        clearTimeout(timer);
        redis.off('ready', done);
        resolve();
      }
      redis.once('ready', done);
    });
  }
  const shared = store;
  await app.register(rateLimit, {
    // Not `global`: the plugin would add its hook per route, after authentication, so garbage
    // tokens would get 401s forever without meeting the limit. perKeyBudget runs first instead.
    global: false,
    max: config.rateLimit.perMinute,
    timeWindow: 60_000,
    keyGenerator: budgetKey,
    skipOnError: true,
    // The plugin constructs its store itself (`new Store(options)`): hand it the one built above.
    store: function sharedStore() {
      return shared;
    } as unknown as FastifyRateLimitStoreCtor,
    errorResponseBuilder: (req, ctx) => {
      const window = perWindow(
        (req.routeOptions.config as { rateLimit?: { timeWindow?: unknown } }).rateLimit?.timeWindow,
      );
      return req.url.startsWith('/console/')
        ? new AppError('RATE_LIMITED', `too many attempts; retry in ${ctx.after}`)
        : new AppError(
            'RATE_LIMITED',
            `rate limit exceeded (${ctx.max} requests ${window}); retry in ${ctx.after}`,
          );
    },
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
