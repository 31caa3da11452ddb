// Redis for the shared rate-limit tests (TEST_REDIS_URL, default redis://127.0.0.1:6379). Like
// PostgreSQL: unreachable on CI (CI=true) fails the tests; locally they are skipped with a warning.
// Each test run counts under its own key prefix and deletes its keys afterwards.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';

/** Whether Redis answers PING. On CI an unreachable Redis throws instead. */
export async function redisAvailable(): Promise<boolean> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0 });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch (err) {
    const msg = `Redis is not reachable at ${REDIS_URL}: ${(err as Error).message.replace(/\.$/, '')}`;
    if (process.env.CI) throw new Error(`${msg}. Redis tests must run on CI.`);
    console.warn(`\n!!! ${msg}\n!!! Redis tests SKIPPED. Start redis-server or set TEST_REDIS_URL.\n`);
    return false;
  } finally {
    r.disconnect();
  }
}

/** A key prefix of its own for this run, and a function deleting every key under it. */
export function redisNamespace(): { prefix: string; cleanup: () => Promise<void> } {
  const prefix = `orgplane-test-${randomBytes(6).toString('hex')}:`;
  return {
    prefix,
    async cleanup() {
      const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 0 });
      r.on('error', () => {});
      try {
        let cursor = '0';
        do {
          const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) await r.del(...keys);
        } while (cursor !== '0');
      } catch {
        // best effort: the keys expire within a minute anyway
      } finally {
        r.disconnect();
      }
    },
  };
}

/**
 * A TCP proxy in front of Redis that a test can cut (connections refused and dropped), freeze
 * (connections accepted, nothing answered) and restore. unanswered counts what clients sent while
 * frozen (each a command that got no reply).
 */
export async function redisProxy(): Promise<{
  url: string;
  cut(): void;
  freeze(): void;
  restore(): void;
  readonly unanswered: number;
  close(): Promise<void>;
}> {
  const target = new URL(REDIS_URL);
  let mode: 'open' | 'cut' | 'frozen' = 'open';
  let unanswered = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (mode === 'cut') return void client.destroy();
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('error', close);
      s.on('close', close);
    }
    client.on('data', (d) => {
      if (mode === 'open') upstream.write(d);
      else if (mode === 'frozen') unanswered++;
    });
    upstream.on('data', (d) => mode === 'open' && client.write(d));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  const url = new URL(REDIS_URL);
  url.host = `127.0.0.1:${port}`;
  return {
    url: url.toString(),
    cut() {
      mode = 'cut';
      for (const s of sockets) s.destroy();
    },
    freeze() {
      mode = 'frozen';
    },
    restore() {
      mode = 'open';
    },
    get unanswered() {
      return unanswered;
    },
    async close() {
      mode = 'cut';
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
