// Connections from orgplane to computes for SQL over HTTP, pooled per (endpoint, address, role,
// database, password hash): a connection is only ever reused by a request that presented the very
// same credentials, so PostgreSQL has already accepted that password for that role. Bounded: at
// most maxPerKey connections per key and maxKeys keys (the least recently used idle pool closes
// first); idle connections close after idleMs so they do not keep a compute from suspending.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { pgDriver } from '../db/pg-driver.ts';
import type { ComputeTarget } from './resolver.ts';

export interface Credentials {
  user: string;
  password: string;
  database: string;
  applicationName?: string | undefined;
  options?: string | undefined;
}

export interface PoolLimits {
  /** Connections per (endpoint, role, database, password). Default 10. */
  maxPerKey: number;
  /** Distinct keys kept at once. Default 200. */
  maxKeys: number;
  /** An idle connection closes after this many ms. Default 30 s. */
  idleMs: number;
  /** How long a request waits for a connection (connect included), in ms. Default 15 s. */
  acquireTimeoutMs: number;
}

export const DEFAULT_POOL_LIMITS: PoolLimits = {
  maxPerKey: 10,
  maxKeys: 200,
  idleMs: 30_000,
  acquireTimeoutMs: 15_000,
};

/** node-postgres options for a compute: its role's credentials, TLS verified against the local CA. */
export function clientConfig(target: ComputeTarget, creds: Credentials): pg.ClientConfig {
  return {
    host: target.host,
    port: target.port,
    user: creds.user,
    password: creds.password,
    database: creds.database,
    ...(creds.applicationName !== undefined ? { application_name: creds.applicationName } : {}),
    ...(creds.options !== undefined ? { options: creds.options } : {}),
    // SCRAM-SHA-256-PLUS when the compute offers it (it does over TLS), as libpq would.
    ...(target.ca !== undefined ? { ssl: { ca: target.ca }, enableChannelBinding: true } : { ssl: false }),
  };
}

function keyOf(target: ComputeTarget, creds: Credentials): string {
  const secret = createHash('sha256').update(creds.password).digest('base64url');
  return JSON.stringify([target.endpointId, target.host, target.port, creds.user, creds.database, secret]);
}

export class ComputePools {
  /** Insertion order = recency: a pool is moved to the end when used. */
  private readonly pools = new Map<string, pg.Pool>();
  private closed = false;

  constructor(
    private readonly limits: PoolLimits = DEFAULT_POOL_LIMITS,
    private readonly onIdleError: (err: Error) => void = () => {},
  ) {}

  async acquire(target: ComputeTarget, creds: Credentials): Promise<pg.PoolClient> {
    if (this.closed) throw new Error('connection pools are closed');
    const key = keyOf(target, creds);
    let pool = this.pools.get(key);
    if (pool) {
      this.pools.delete(key);
    } else {
      pool = new (pgDriver().Pool)({
        ...clientConfig(target, creds),
        max: this.limits.maxPerKey,
        idleTimeoutMillis: this.limits.idleMs,
        connectionTimeoutMillis: this.limits.acquireTimeoutMs,
        allowExitOnIdle: true,
      });
      // A compute that stops (suspend, restart, branch reset) ends idle connections: not a failure.
      pool.on('error', this.onIdleError);
      // An error while checked out reaches the request through its query; the client's own
      // 'error' event then has nothing to add (and would otherwise be thrown).
      pool.on('connect', (client) => client.on('error', () => {}));
      this.evict();
    }
    this.pools.set(key, pool);
    return pool.connect();
  }

  /** Keeps at most maxKeys pools, closing the least recently used idle ones. */
  private evict(): void {
    for (const [key, pool] of this.pools) {
      if (this.pools.size < this.limits.maxKeys) return;
      if (pool.totalCount - pool.idleCount > 0) continue;
      this.pools.delete(key);
      void pool.end().catch(() => {});
    }
  }

  /** Open connections, for tests and metrics. */
  stats(): { pools: number; connections: number; idle: number } {
    let connections = 0;
    let idle = 0;
    for (const p of this.pools.values()) {
      connections += p.totalCount;
      idle += p.idleCount;
    }
    return { pools: this.pools.size, connections, idle };
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.end().catch(() => {})));
  }
}
