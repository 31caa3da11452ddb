// How a credential becomes a principal, and when a change to it is seen. Nothing else in the
// code base reads a key, a session or a role to decide who is calling.
//
//   bearer token ──checksum──▶ SHA-256 ──cache or api_keys──▶ Principal (+ its roles, memoised)
//   session cookie ──────────────────────────sessions──────▶ Principal (never cached)
//
// The cache (token hash → principal and the roles it has looked up) belongs to one *access
// version*. Database triggers (migration 0006) mark every change to a row that decides access —
// a key revoked or deleted, a membership added, changed or removed, a project moved or deleted,
// a project shared or its grant revoked (0007) —
// whichever process or tool made it:
//   SQLite: triggers bump access_version.n, and every request reads it first (one indexed read of
//     the shared file), so every change from any process is seen on the very next request.
//   PostgreSQL: triggers notify the schema's access channel, which this process LISTENs on. In
//     this process, every unsafe request (POST, PUT, PATCH, DELETE) also moves the version before
//     its response leaves, so the next request after a change never sees the old state. Other
//     processes see it when the notification arrives: within 100 ms (tested; in practice about a
//     millisecond). The bound holds whatever happens to the listening connection: the listener
//     sends itself a heartbeat through the channel every 25 ms, and the cache is used only while
//     a heartbeat sent at most 100 ms ago has come back (notifications arrive in commit order, so
//     every change committed before it was seen). A connection that dies silently (a NAT timeout)
//     turns the cache off within the bound, and is replaced (db/connect.ts).
// Key expiry needs no signal: an entry carries its key's expiry and is checked against the clock
// on every use, cached or not. Canary (honeytoken) keys are never cached: each use answers exactly
// like an unknown key and is reported to onCanaryUse after the answer has left (deferReport), so
// the request's path does the same work as for an unknown key: one lookup, no write.
import type { Kysely, Transaction } from 'kysely';
import type { Db, HeartbeatOptions } from '../db/connect.ts';
import type { Database, MemberRole } from '../db/schema.ts';
import { AppError } from '../domain/errors.ts';
import { hashToken, isWellFormedToken } from '../domain/ids.ts';
import type { Principal } from '../domain/principal.ts';
import type { Subject } from '../policy/index.ts';
import { systemClock, type Clock } from '../domain/time.ts';
import {
  findActiveKeyByHash,
  findRole,
  hasLiveGrant,
  readAccessVersion,
  type AuthKey,
} from './auth.repository.ts';

/** At most this many keys are cached; past it the cache starts again (bounded memory). */
const MAX_ENTRIES = 10_000;

interface Entry {
  principal: Principal;
  keyId: number;
  /** When the key stops working (ms since the epoch); null: never. */
  expiresAt: number | null;
  /** The access version this entry was read in. */
  version: number;
  /** Roles of a user principal, by organization (null: not a member), as read in that version. */
  roles: Map<string, MemberRole | null>;
  /** Whether a user principal holds a live grant, by project, as read in that version. */
  grants: Map<string, boolean>;
}

/** Roles whose organization-wide rights include everything a project grant gives (no lookup needed). */
const GRANT_COVERED: ReadonlySet<MemberRole | null> = new Set<MemberRole | null>(['admin', 'member']);

/** What the authenticator needs to learn that its key was used (batched last-used times). */
export interface KeyUseRecorder {
  record(keyId: number, addr: string): void;
}

/** A canary key that was just presented; addr and userAgent are the client's. */
export type CanaryUseHandler = (key: AuthKey, addr: string, userAgent: string) => Promise<void>;

export const EXPIRED_MESSAGE = 'this API key has expired; create a new one';

export interface AuthenticatorOptions {
  clock?: Clock;
  /** Records a canary key's use (event, alert email). Errors are the handler's to log. */
  onCanaryUse?: CanaryUseHandler;
  /** PostgreSQL: the listener's heartbeat (tests inject its clock and timer). */
  heartbeat?: ListenerHeartbeat;
}

export interface ListenerHeartbeat extends HeartbeatOptions {
  /**
   * How stale another process's change may be seen here (default 100 ms): the cache is used only
   * while a heartbeat sent at most this long ago (heartbeat clock) has come back.
   */
  boundMs?: number;
}

/** The documented bound on seeing another process's change (README: scale-out). */
export const CHANGE_BOUND_MS = 100;

export class Authenticator {
  private readonly entries = new Map<string, Entry>();
  /** The version the cached entries belong to; -1: none yet. */
  private cachedVersion = -1;
  /** PostgreSQL: the local version, moved by notifications, reconnects and local writes. */
  private localVersion = 0;
  /** PostgreSQL: the send time of the newest heartbeat that came back; null: none on this connection. */
  private provenAt: number | null = null;
  private readonly heartbeat: ListenerHeartbeat;
  private readonly heartbeatClock: () => number;
  private readonly boundMs: number;
  private stopListening: (() => Promise<void>) | undefined;
  /** A cached principal's entry, to find its role memo (the same object serves every request). */
  private readonly entryOf = new WeakMap<Principal, Entry>();

  private readonly clock: Clock;
  private readonly onCanaryUse: CanaryUseHandler | undefined;
  /** Canary reports still running (awaited by stop() and tests). */
  private readonly reporting = new Set<Promise<void>>();

  constructor(
    private readonly db: Db,
    private readonly keyUse: KeyUseRecorder,
    opts: AuthenticatorOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.onCanaryUse = opts.onCanaryUse;
    this.heartbeat = opts.heartbeat ?? {};
    this.heartbeatClock = this.heartbeat.clock ?? (() => performance.now());
    this.boundMs = this.heartbeat.boundMs ?? CHANGE_BOUND_MS;
  }

  /** PostgreSQL: starts listening for other processes' changes. Without it the cache stays off. */
  start(): void {
    if (this.db.dialect !== 'postgres' || !this.db.listen || this.stopListening) return;
    const channel = `orgplane_access:${this.db.pgSchema ?? 'public'}`;
    this.stopListening = this.db.listen(
      channel,
      {
        onNotify: () => this.changed(),
        onState: () => {
          // Whatever happened while not listening is unknown: start again from the database, and
          // wait for a heartbeat on this connection before trusting the cache again.
          this.changed();
          this.provenAt = null;
        },
        onProof: (sentAt) => {
          if (this.provenAt === null || sentAt > this.provenAt) this.provenAt = sentAt;
        },
      },
      { ...this.heartbeat, clock: this.heartbeatClock },
    );
  }

  /**
   * PostgreSQL: whether the listener has proven, within the bound, that it hears every change.
   * SQLite: always (every request reads the version).
   */
  get live(): boolean {
    if (this.db.dialect === 'sqlite') return true;
    return this.provenAt !== null && this.heartbeatClock() - this.provenAt <= this.boundMs;
  }

  async stop(): Promise<void> {
    await this.settled();
    await this.stopListening?.();
    this.stopListening = undefined;
    this.provenAt = null;
  }

  /**
   * This process may have changed access (an unsafe request is about to answer): forget
   * everything. Called by the authentication plugin before every unsafe request's response.
   * On SQLite the triggers already tell every reader, so there is nothing to do.
   */
  changed(): void {
    if (this.db.dialect === 'postgres') this.localVersion++;
  }

  /** Waits for canary reports in flight. */
  async settled(): Promise<void> {
    while (this.reporting.size > 0) await Promise.allSettled([...this.reporting]);
  }

  /**
   * Token → principal, or null for anything that is not a live key (unknown, revoked, canary).
   * An expired key throws a 401 saying so (its holder may know it exists). The checksum is
   * checked first, so garbage and forged tokens cost no database lookup.
   */
  async authenticate(
    token: string,
    addr: string,
    userAgent = '',
    // The HTTP layer passes the hash it already computed for the rate limiter (one hash per request).
    hash = hashToken(token),
  ): Promise<Principal | null> {
    if (!isWellFormedToken(token)) return null;
    const version = await this.currentVersion();
    let entry = version === null ? undefined : this.entries.get(hash);
    if (!entry) {
      const key = await findActiveKeyByHash(this.db.kysely, hash);
      if (!key) return null;
      if (key.canary) {
        this.reportCanary(key, addr, userAgent);
        return null;
      }
      const principal = toPrincipal(key);
      if (!principal) return null;
      entry = {
        principal,
        keyId: key.id,
        expiresAt: key.expires_at === null ? null : Date.parse(key.expires_at),
        version: version ?? -1,
        roles: new Map(),
        grants: new Map(),
      };
      // Kept only if nothing moved while it was read: a read that raced a change is not cached.
      if (version !== null && this.usable(version)) {
        if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
        this.entries.set(hash, entry);
        this.entryOf.set(principal, entry);
      }
    }
    // Checked on every use, cached or not: the clock moves without any database change.
    if (entry.expiresAt !== null && this.clock() >= entry.expiresAt) {
      throw new AppError('UNAUTHORIZED', EXPIRED_MESSAGE);
    }
    this.keyUse.record(entry.keyId, addr);
    return entry.principal;
  }

  /**
   * Runs a canary report after the current request has answered (the default: the next turn of
   * the event loop, after the response's bytes were handed to the socket). The record must never
   * run on the request's path: its cost would tell a canary from an unknown key. Tests replace it
   * with a barrier.
   */
  deferReport: (report: () => void) => void = (report) => setImmediate(report);

  private reportCanary(key: AuthKey, addr: string, userAgent: string): void {
    this.keyUse.record(key.id, addr);
    const handler = this.onCanaryUse;
    if (!handler) return;
    const p: Promise<void> = new Promise<void>((resolve) =>
      this.deferReport(
        () =>
          void handler(key, addr, userAgent)
            .catch(() => {})
            .finally(resolve),
      ),
    ).finally(() => this.reporting.delete(p));
    this.reporting.add(p);
  }

  /**
   * The caller relative to orgId (and projectId for project-level actions). Pass the transaction
   * on write paths: under the organization's lock the role is always read, never memoised.
   */
  async subjectFor(
    principal: Principal,
    orgId: string,
    projectId?: string,
    trx?: Transaction<Database>,
  ): Promise<Subject> {
    switch (principal.kind) {
      case 'user': {
        const role = await this.roleOf(principal.userId, orgId, principal, trx);
        if (projectId === undefined || GRANT_COVERED.has(role)) return { kind: 'user', role };
        return { kind: 'user', role, shared: await this.sharedWith(principal, projectId, trx) };
      }
      case 'org_key':
        return { kind: 'org_key', sameOrg: principal.orgId === orgId };
      case 'project_key':
        return {
          kind: 'project_key',
          sameOrg: principal.orgId === orgId,
          ...(projectId === undefined ? {} : { sameProject: principal.projectId === projectId }),
        };
    }
  }

  /** The user's role in the organization, or null when not a member. */
  async roleOf(
    userId: string,
    orgId: string,
    principal?: Principal,
    trx?: Kysely<Database>,
  ): Promise<MemberRole | null> {
    if (trx) return findRole(trx, orgId, userId);
    const entry = principal ? this.entryOf.get(principal) : undefined;
    // The memo holds only while its entry's version is the latest one seen. The version is not
    // read again here: this request's authentication read it moments ago, and answering as of
    // that moment is what a request running alongside a change may do.
    if (!entry || !this.usable(entry.version)) return findRole(this.db.kysely, orgId, userId);
    const known = entry.roles.get(orgId);
    if (known !== undefined) return known;
    const role = await findRole(this.db.kysely, orgId, userId);
    if (this.usable(entry.version)) entry.roles.set(orgId, role);
    return role;
  }

  /** Whether the user holds a live grant on the project (a share), memoised like roles. */
  async sharedWith(
    principal: Extract<Principal, { kind: 'user' }>,
    projectId: string,
    trx?: Kysely<Database>,
  ): Promise<boolean> {
    if (trx) return hasLiveGrant(trx, principal.userId, projectId);
    const entry = this.entryOf.get(principal);
    if (!entry || !this.usable(entry.version))
      return hasLiveGrant(this.db.kysely, principal.userId, projectId);
    const known = entry.grants.get(projectId);
    if (known !== undefined) return known;
    const shared = await hasLiveGrant(this.db.kysely, principal.userId, projectId);
    if (this.usable(entry.version)) entry.grants.set(projectId, shared);
    return shared;
  }

  /** For tests and diagnostics: how many keys are cached. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The access version now, clearing the cache when it moved; null when the cache may not be
   * used (PostgreSQL without a heartbeat proven within the bound).
   */
  private async currentVersion(): Promise<number | null> {
    let version: number;
    if (this.db.dialect === 'sqlite') version = await readAccessVersion(this.db.kysely);
    else if (this.live) version = this.localVersion;
    else {
      this.clear();
      return null;
    }
    if (version !== this.cachedVersion) {
      this.clear();
      this.cachedVersion = version;
    }
    return version;
  }

  /** Whether what was read under `version` is still current (nothing moved since). */
  private usable(version: number): boolean {
    if (version !== this.cachedVersion) return false;
    return this.db.dialect === 'sqlite' || (this.live && this.localVersion === version);
  }

  private clear(): void {
    this.entries.clear();
  }
}

function toPrincipal(key: AuthKey): Principal | null {
  if (key.kind === 'personal' && key.user_id) return { kind: 'user', userId: key.user_id, keyId: key.id };
  if (key.kind === 'org' && key.org_id) return { kind: 'org_key', orgId: key.org_id, keyId: key.id };
  if (key.kind === 'project' && key.org_id && key.project_id) {
    return { kind: 'project_key', orgId: key.org_id, projectId: key.project_id, keyId: key.id };
  }
  return null;
}
