// Every service built once from the database and config (app.ts, the CLI and tests compose them;
// none of them imports Fastify). The authenticator is built first: services ask it who the caller
// is relative to an organization.
import fs from 'node:fs';
import type { Logger } from 'pino';
import { AppError } from './domain/errors.ts';
import type { Config } from './config.ts';
import type { Db } from './db/connect.ts';
import { Authenticator, type ListenerHeartbeat } from './auth/authenticator.ts';
import { ExplainService } from './access/explain.service.ts';
import { AuditLog } from './audit/audit.service.ts';
import { ApiKeysService } from './api-keys/api-keys.service.ts';
import { CanaryAlerts, canaryAuditEvent, canaryUsesTable, type CanaryUseSink } from './api-keys/canary.ts';
import { systemClock, type Clock } from './domain/time.ts';
import { LastUsedTracker } from './api-keys/last-used.ts';
import { SessionsService } from './console/sessions.service.ts';
import { InvitationsService } from './invitations/invitations.service.ts';
import { MailWorker } from './mail/mail.worker.ts';
import { MembersService } from './members/members.service.ts';
import { OrganizationsService } from './organizations/organizations.service.ts';
import { ChildrenService } from './projects/children.service.ts';
import { ProjectCapabilitiesService } from './projects/project-capabilities.service.ts';
import { ProjectsService } from './projects/projects.service.ts';
import { TransferRequestsService } from './projects/transfer-requests.service.ts';
import { TransfersService } from './projects/transfers.service.ts';
import { ComputePools } from './serverless/compute-pools.ts';
import { NoComputeResolver, RecordsEndpointResolver, type EndpointResolver } from './serverless/resolver.ts';
import { findEndpointForConnection } from './serverless/serverless.repository.ts';
import { SqlOverHttp } from './serverless/sql.service.ts';
import { WsTunnels } from './serverless/ws-tunnel.ts';
import { SharingService } from './sharing/sharing.service.ts';
import { UsersService } from './users/users.service.ts';
import { BranchesService } from './branches/branches.service.ts';
import { defaultChildrenRecords } from './branches/defaults.ts';
import { createComputeEngine, type ComputeEngine } from './compute/engine.ts';
import type { SecretBox } from './domain/secret-box.ts';
import { OperationsService } from './operations/operations.service.ts';
import { loadSecretBox } from './secret-key.ts';
import { ComputeReconciler, sealStoredPasswords, type ReconcileReport } from './branches/reconcile.ts';

export interface Services {
  db: Db;
  config: Config;
  lastUsed: LastUsedTracker;
  /** The audit log: append (also from outside a request), read, verify, prune. */
  audit: AuditLog;
  /** "Can this key do X?", decided by the request path's own code. */
  explain: ExplainService;
  /** Credential → principal, with the principal cache; see src/auth/authenticator.ts. */
  access: Authenticator;
  users: UsersService;
  organizations: OrganizationsService;
  members: MembersService;
  apiKeys: ApiKeysService;
  projects: ProjectsService;
  transfers: TransfersService;
  /** A project's branches, endpoints, databases and roles, read-only (compute off). */
  children: ChildrenService;
  projectCapabilities: ProjectCapabilitiesService;
  /** The compute engine (undefined when ORGPLANE_COMPUTE=off). */
  engine: ComputeEngine | undefined;
  /** Branches, endpoints, databases and roles on the engine (undefined when compute is off). */
  branches: BranchesService | undefined;
  operations: OperationsService;
  /** Seals revealable secrets (role passwords) with the server key. */
  secrets: SecretBox;
  transferRequests: TransferRequestsService;
  sessions: SessionsService;
  /** The mail outbox relay (SMTP sender); started with the server. */
  mail: MailWorker;
  invitations: InvitationsService;
  /** Project sharing: grants, revocations, shared projects, sign-up links. */
  sharing: SharingService;
  /** Records canary key uses and emails the people responsible (the authenticator's onCanaryUse). */
  canary: CanaryAlerts;
  /** The clock expiry decisions use (injectable for tests). */
  clock: Clock;
  /** Neon's serverless driver paths: SQL over HTTP, its compute connections, WebSocket tunnels. */
  serverless: { sql: SqlOverHttp; pools: ComputePools; tunnels: WsTunnels };
  /**
   * Before serving: seals plain stored passwords and, with compute on, repairs what a crash left
   * (records vs. data) and opens every endpoint. The server calls it; tests of compute too.
   */
  startCompute(): Promise<ReconcileReport | undefined>;
  /** Starts background work (batched writes); the server calls it, one-shot CLI commands do not. */
  start(): void;
  /** Stops background work and flushes what is pending. Does not close the database. */
  stop(): Promise<void>;
}

/** How often the server deletes branches past their expires_at. */
const BRANCH_EXPIRY_SWEEP_MS = 60_000;

export function createServices(
  db: Db,
  config: Config,
  log: Pick<Logger, 'info' | 'warn' | 'error'>,
  opts: {
    clock?: Clock;
    heartbeat?: ListenerHeartbeat;
    engine?: ComputeEngine;
    endpointResolver?: EndpointResolver;
  } = {},
): Services {
  const clock = opts.clock ?? systemClock;
  const lastUsed = new LastUsedTracker(db.kysely, config.lastUsedFlushMs, (err) =>
    log.warn({ err }, 'could not record API key last-used times; will retry'),
  );
  const mail = new MailWorker(db, config, log);
  // Canary uses go to CanaryAlerts (its own table and the mail outbox) and, in the same
  // transaction, to the key's audit chain as api_key.canary_used.
  const canarySink: CanaryUseSink = async (trx, use, emailed) => {
    await canaryUsesTable(trx, use, emailed);
    // audit is assigned below; the sink only runs on a request, long after.
    await audit.append(trx, canaryAuditEvent(use, emailed));
  };
  const canary = new CanaryAlerts(db, config, mail, log, clock, canarySink);
  const access = new Authenticator(db, lastUsed, {
    clock,
    onCanaryUse: canary.onCanaryUse,
    ...(opts.heartbeat ? { heartbeat: opts.heartbeat } : {}),
  });
  const audit = new AuditLog(db, access, config.auditRetentionDays, {
    dataDir: config.dataDir,
    key: config.auditKey,
    file: config.auditCheckpointFile,
  });
  const transfers = new TransfersService(db, access, config);
  const secrets = loadSecretBox(config);
  const engine = config.compute.enabled ? (opts.engine ?? createComputeEngine(config)) : undefined;
  const branches = engine ? new BranchesService(db, access, engine, secrets, clock) : undefined;
  let pruneTimer: NodeJS.Timeout | undefined;
  let checkpointTimer: NodeJS.Timeout | undefined;
  let purgeTimer: NodeJS.Timeout | undefined;
  let expiryTimer: NodeJS.Timeout | undefined;
  const reconciler = engine && branches ? new ComputeReconciler(db, engine, branches, log) : undefined;
  // /sql and /v2 find computes through the endpoint records (by id or loopback port), TLS checked
  // against the engine's CA; with compute off they answer one clear refusal.
  const endpointResolver =
    opts.endpointResolver ??
    (engine
      ? new RecordsEndpointResolver(
          (by) => findEndpointForConnection(db.kysely, by),
          () => fs.promises.readFile(engine.caCertPath(), 'utf8'),
          (id) => engine.awake(id),
        )
      : new NoComputeResolver());
  const pools = new ComputePools(undefined, (err) =>
    log.info({ err: err.message }, 'an idle compute connection closed'),
  );
  const tunnels = new WsTunnels(endpointResolver, undefined, log);
  const services: Services = {
    db,
    config,
    lastUsed,
    access,
    audit,
    explain: new ExplainService(db, access, clock, engine !== undefined),
    users: new UsersService(db),
    organizations: new OrganizationsService(db, access, config),
    members: new MembersService(db, access),
    apiKeys: new ApiKeysService(db, access, lastUsed, clock),
    projects: new ProjectsService(db, access, config, secrets, defaultChildrenRecords, branches),
    transfers,
    projectCapabilities: new ProjectCapabilitiesService(db, access),
    children: new ChildrenService(db, access, secrets),
    engine,
    branches,
    operations: new OperationsService(db, access),
    secrets,
    transferRequests: new TransferRequestsService(db, access, transfers),
    sessions: new SessionsService(db),
    mail,
    invitations: new InvitationsService(db, access, config, mail),
    sharing: new SharingService(db, access, config, mail),
    canary,
    clock,
    serverless: { sql: new SqlOverHttp(endpointResolver, pools), pools, tunnels },
    async startCompute() {
      const sealed = await sealStoredPasswords(db, secrets);
      if (sealed > 0) log.info({ sealed }, 'sealed stored role passwords under the current server key');
      if (!reconciler || !engine) return undefined;
      try {
        await engine.init();
      } catch (err) {
        // The organizations API still serves; every compute operation answers this same error (each
        // calls init again), so a host the computes cannot run on is loud but not fatal.
        if (!(err instanceof AppError)) throw err;
        log.error({ err: err.message }, 'computes are unavailable on this host');
        return undefined;
      }
      const report = await reconciler.reconcile();
      log.info({ ...report }, 'compute reconciled');
      if (!purgeTimer) {
        // Deleted projects' data goes when their recovery window ends.
        purgeTimer = setInterval(() => {
          void reconciler
            .purgeExpired()
            .catch((err: unknown) => log.warn({ err }, 'could not purge expired projects'));
        }, 3600_000);
        purgeTimer.unref();
      }
      if (!expiryTimer && branches) {
        // Branches past their expires_at go with their data and endpoints (Neon: "deletion is
        // performed by a background job and may not occur exactly at the specified time").
        const sweep = (): void => {
          void branches
            .deleteExpired((branch, err) => log.warn({ err, branch }, 'could not delete an expired branch'))
            .then((ids) => {
              if (ids.length > 0) log.info({ branches: ids }, 'deleted expired branches');
            })
            .catch((err: unknown) => log.warn({ err }, 'could not sweep expired branches'));
        };
        expiryTimer = setInterval(sweep, BRANCH_EXPIRY_SWEEP_MS);
        expiryTimer.unref();
        sweep();
      }
      return report;
    },
    start() {
      lastUsed.start();
      mail.start();
      if (config.auditPruneIntervalMs > 0 && !pruneTimer) {
        const prune = (): void => {
          void audit
            .prune()
            .catch((err: unknown) => log.warn({ err }, 'could not prune the audit log; will retry'));
        };
        pruneTimer = setInterval(prune, config.auditPruneIntervalMs);
        pruneTimer.unref();
        prune();
      }
      if (config.auditCheckpointIntervalMs > 0 && !checkpointTimer) {
        // Signed heads written outside the database as they are made (docs/security.md).
        const checkpoint = (): void => {
          void audit
            .checkpoint()
            .catch((err: unknown) => log.error({ err }, 'could not write an audit checkpoint; will retry'));
        };
        checkpointTimer = setInterval(checkpoint, config.auditCheckpointIntervalMs);
        checkpointTimer.unref();
        checkpoint();
      }
    },
    async stop() {
      if (pruneTimer) clearInterval(pruneTimer);
      if (purgeTimer) clearInterval(purgeTimer);
      purgeTimer = undefined;
      if (expiryTimer) clearInterval(expiryTimer);
      expiryTimer = undefined;
      pruneTimer = undefined;
      if (checkpointTimer) clearInterval(checkpointTimer);
      checkpointTimer = undefined;
      await mail.stop();
      await lastUsed.stop();
      await access.stop();
      tunnels.close();
      await pools.close();
      await engine?.close();
    },
  };
  return services;
}
