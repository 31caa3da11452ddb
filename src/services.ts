// Every service built once from the database and config (app.ts, the CLI and tests compose them;
// none of them imports Fastify). The authenticator is built first: services ask it who the caller
// is relative to an organization.
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Db } from './db/connect.ts';
import { Authenticator } from './auth/authenticator.ts';
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
import { ProjectsService } from './projects/projects.service.ts';
import { TransferRequestsService } from './projects/transfer-requests.service.ts';
import { TransfersService } from './projects/transfers.service.ts';
import { SharingService } from './sharing/sharing.service.ts';
import { UsersService } from './users/users.service.ts';

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
  /** A project's branches, endpoints, databases and roles, read-only. */
  children: ChildrenService;
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
  /** Starts background work (batched writes); the server calls it, one-shot CLI commands do not. */
  start(): void;
  /** Stops background work and flushes what is pending. Does not close the database. */
  stop(): Promise<void>;
}

export function createServices(
  db: Db,
  config: Config,
  log: Pick<Logger, 'info' | 'warn' | 'error'>,
  opts: { clock?: Clock } = {},
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
  const access = new Authenticator(db, lastUsed, { clock, onCanaryUse: canary.onCanaryUse });
  const audit = new AuditLog(db, access, config.auditRetentionDays);
  const transfers = new TransfersService(db, access, config);
  let pruneTimer: NodeJS.Timeout | undefined;
  const services: Services = {
    db,
    config,
    lastUsed,
    access,
    audit,
    explain: new ExplainService(db, access),
    users: new UsersService(db),
    organizations: new OrganizationsService(db, access, config),
    members: new MembersService(db, access),
    apiKeys: new ApiKeysService(db, access, lastUsed, clock),
    projects: new ProjectsService(db, access, config),
    transfers,
    children: new ChildrenService(db, access),
    transferRequests: new TransferRequestsService(db, access, transfers),
    sessions: new SessionsService(db),
    mail,
    invitations: new InvitationsService(db, access, config, mail),
    sharing: new SharingService(db, access, config, mail),
    canary,
    clock,
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
    },
    async stop() {
      if (pruneTimer) clearInterval(pruneTimer);
      pruneTimer = undefined;
      await mail.stop();
      await lastUsed.stop();
      await access.stop();
    },
  };
  return services;
}
