// The engine behind ComputeEngine: branch data directories, one postgres per running branch, endpoint
// listeners that wake computes on connect and suspend them when idle. All state lives in one instance.
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import type { Config } from '../config.ts';
import { AppError, badRequest, notFound } from '../domain/errors.ts';
import { findPgDump, resolvePgBinaries, type PgBinaries } from './binaries.ts';
import { copyDataDir, copyFiles } from './copy.ts';
import type { ComputeEngine, ComputeState, EndpointSpec } from './types.ts';
import { acquireDirLock, type DirLock } from './lock.ts';
import { computeOsUser, type OsUser } from './osuser.ts';
import { livePostmaster, spawnEnv, startPostgres, stopOrphan, type RunningPostgres } from './process.ts';
import { catalogSchemaDump } from './schema.ts';
import { ensureTls, type TlsFiles } from './tls.ts';

const run = promisify(execFile);
// The driver loads on first use (about 150 ms of CPU at start-up, see src/db/pg-driver.ts); compute/
// does not import db/.
const pgDriver = (): typeof pg => createRequire(import.meta.url)('pg') as typeof pg;

/** The cluster superuser orgplane manages branches with (Neon's name); reachable only over the private socket. */
export const SUPERUSER = 'cloud_admin';
export const DEFAULT_SUSPEND_SECONDS = 300;

/** Timers the idle suspension uses; tests pass one they advance by hand. */
export interface ComputeTimer {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}
export const realTimer: ComputeTimer = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface ComputeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ComputeEngineDeps {
  timer?: ComputeTimer;
  logger?: ComputeLogger;
  /** OS user computes run as when orgplane is root (ORGPLANE_COMPUTE_USER); default orgplane-pg. */
  osUserName?: string;
  /** Crash tests only: awaited at the named points of data operations, so a test can kill orgplane
   *  or a compute exactly there (the server never passes it). */
  step?: (name: ComputeStep) => Promise<void>;
}

/** Points inside data operations where a crash leaves distinct on-disk states. */
export type ComputeStep =
  | 'create:backup-started'
  | 'create:built'
  | 'replace:backup-started'
  | 'replace:built'
  | 'replace:old-aside'
  | 'delete:aside';

interface Compute {
  id: string;
  proc: RunningPostgres | undefined;
  starting: Promise<RunningPostgres> | undefined;
  stopping: Promise<void> | undefined;
  /** A replace or delete in progress: starts wait for it. */
  gate: Promise<void> | undefined;
  /** Open proxied connections plus admin() calls and copies in progress. */
  refs: number;
  timer: unknown;
  /** Direct mode: the idle timer's count of the compute's own sessions, in progress. */
  checking: Promise<void> | undefined;
}

interface Endpoint {
  spec: EndpointSpec;
  /** orgplane's listener on the port; undefined while a compute's postgres listens there itself (direct mode). */
  server: net.Server | undefined;
  /** Direct mode: the postgres that holds this endpoint's port. */
  heldBy: RunningPostgres | undefined;
  sockets: Set<net.Socket>;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const WAL_RE = /^[0-9A-F]{24}$/;

/** PostgreSQL's ErrorResponse: what a client that cannot be joined to a compute reads before the close. */
export function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.concat([
    Buffer.from('SFATAL\0VFATAL\0', 'utf8'),
    Buffer.from(`C${code}\0M${message}\0\0`, 'utf8'),
  ]);
  const head = Buffer.alloc(5);
  head.write('E', 0, 'ascii');
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export class ComputeRuntime implements ComputeEngine {
  readonly dir: string;
  private readonly branchesDir: string;
  private readonly tmpDir: string;
  private readonly runDir: string;
  private readonly logDir: string;
  private readonly templateDir: string;
  private readonly tlsDir: string;
  private readonly timer: ComputeTimer;
  private readonly logger: ComputeLogger | undefined;
  private initPromise: Promise<void> | undefined;
  private closed = false;
  private bins!: PgBinaries;
  private user: OsUser | undefined;
  private tls!: TlsFiles;
  private lock: DirLock | undefined;
  private pgDump: string | null | undefined;
  private templateBuild: Promise<void> | undefined;
  private readonly computes = new Map<string, Compute>();
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly reservedPorts = new Set<number>();
  /** Direct mode: each stopped postgres gives its endpoint ports back to orgplane's listeners once. */
  private readonly handBacks = new WeakMap<RunningPostgres, Promise<void>>();
  /** Per-branch mutex for data operations (create, replace, delete). */
  private readonly locks = new Map<string, Promise<void>>();

  constructor(
    private readonly config: Config,
    deps: ComputeEngineDeps = {},
  ) {
    this.dir = config.compute.dir ?? path.join(config.dataDir, 'compute');
    this.branchesDir = path.join(this.dir, 'branches');
    this.tmpDir = path.join(this.dir, 'tmp');
    this.runDir = path.join(this.dir, 'run');
    this.logDir = path.join(this.dir, 'logs');
    this.templateDir = path.join(this.dir, 'template');
    this.tlsDir = path.join(this.dir, 'tls');
    this.timer = deps.timer ?? realTimer;
    this.logger = deps.logger;
    this.osUserName = deps.osUserName ?? config.compute.osUser;
    this.step = deps.step ?? (() => Promise.resolve());
  }
  private readonly step: (name: ComputeStep) => Promise<void>;
  private readonly osUserName: string | undefined;

  // ---- start-up -------------------------------------------------------------------------------------------

  /** Takes the directory lock, makes the CA, removes half-made directories and stops orphan postgres. */
  init(): Promise<void> {
    if (this.closed) return Promise.reject(new AppError('UNAVAILABLE', 'the compute engine is closed'));
    this.initPromise ??= this.doInit().catch((err: unknown) => {
      this.initPromise = undefined;
      this.lock?.release();
      this.lock = undefined;
      throw err;
    });
    return this.initPromise;
  }

  private async doInit(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    this.lock = acquireDirLock(path.join(this.dir, 'orgplane.lock'));
    this.bins = await resolvePgBinaries(this.config.compute.pgBin);
    this.user = await computeOsUser(this.osUserName);
    // The compute user owns what postgres writes; orgplane keeps the directory itself and the CA key.
    fs.chmodSync(this.dir, 0o755);
    for (const d of [this.branchesDir, this.tmpDir, this.runDir, this.logDir]) {
      fs.mkdirSync(d, { recursive: true, mode: 0o700 });
      fs.chmodSync(d, 0o700);
      this.own(d);
    }
    if (this.user) await this.preflight();
    this.tls = ensureTls(this.tlsDir, this.user);
    await this.recover();
  }

  private own(p: string): void {
    if (this.user) fs.chownSync(p, this.user.uid, this.user.gid);
  }

  /** As root: the compute user must reach the binaries and the compute directory (a 0700 parent hides them). */
  private async preflight(): Promise<void> {
    const user = this.user;
    if (!user) return;
    try {
      await run(
        '/bin/sh',
        [
          '-c',
          'test -x "$0" && test -w "$1" && test -w "$2"',
          this.bins.postgres,
          this.branchesDir,
          this.tmpDir,
        ],
        {
          uid: user.uid,
          gid: user.gid,
          env: spawnEnv(),
        },
      );
    } catch {
      throw new AppError(
        'UNAVAILABLE',
        `orgplane runs as root, so computes run as OS user ${user.name}, who cannot reach ${this.bins.postgres} or ${this.dir}: make every parent directory searchable by others (chmod o+x), or move the data directory (ORGPLANE_DATA_DIR / ORGPLANE_COMPUTE_DIR)`,
      );
    }
  }

  /** Crash recovery at start: every branch directory is whole (built aside, renamed in); what is aside goes. */
  private async recover(): Promise<void> {
    for (const name of fs.readdirSync(this.tmpDir)) {
      const full = path.join(this.tmpDir, name);
      const old = /^(.+)\.old\.[0-9a-f]+$/.exec(name);
      if (old?.[1] && !fs.existsSync(path.join(this.branchesDir, old[1]))) {
        // A replace died between its two renames: the branch keeps its previous data (the replace never happened).
        await this.stopOrphanIn(full);
        fs.renameSync(full, path.join(this.branchesDir, old[1]));
        this.logger?.warn({ branch: old[1] }, 'compute: interrupted replace rolled back');
        continue;
      }
      await this.stopOrphanIn(full);
      await fs.promises.rm(full, { recursive: true, force: true });
    }
    const dirs = [
      this.templateDir,
      ...fs.readdirSync(this.branchesDir).map((b) => path.join(this.branchesDir, b)),
    ];
    for (const d of dirs) await this.stopOrphanIn(d);
    for (const name of fs.readdirSync(this.runDir))
      fs.rmSync(path.join(this.runDir, name), { recursive: true, force: true });
  }

  private async stopOrphanIn(dataDir: string): Promise<void> {
    const pid = livePostmaster(dataDir);
    if (pid === undefined) return;
    this.logger?.warn({ pid, dataDir }, 'compute: stopping a postgres left by a previous orgplane');
    await stopOrphan(pid);
  }

  // ---- branch data ----------------------------------------------------------------------------------------

  private branchDir(id: string): string {
    if (!ID_RE.test(id)) throw badRequest(`invalid branch id "${id}"`);
    return path.join(this.branchesDir, id);
  }

  private exists(id: string): boolean {
    return fs.existsSync(path.join(this.branchDir(id), 'PG_VERSION'));
  }

  private aside(id: string, kind: 'building' | 'old' | 'deleting'): string {
    return path.join(this.tmpDir, `${id}.${kind}.${crypto.randomBytes(6).toString('hex')}`);
  }

  /** Serializes data operations per branch id; several ids are taken in a fixed order (no deadlock). */
  private async withLocks<T>(ids: string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(ids)].sort();
    const releases: (() => void)[] = [];
    try {
      for (const id of sorted) {
        for (;;) {
          const held = this.locks.get(id);
          if (!held) break;
          await held;
        }
        let release!: () => void;
        this.locks.set(id, new Promise<void>((r) => (release = r)));
        releases.push(() => {
          this.locks.delete(id);
          release();
        });
      }
      return await fn();
    } finally {
      for (const r of releases.reverse()) r();
    }
  }

  async createBranchData(branchId: string, parentBranchId?: string): Promise<void> {
    await this.init();
    const final = this.branchDir(branchId);
    if (parentBranchId !== undefined) this.branchDir(parentBranchId);
    if (parentBranchId === branchId) throw badRequest('a branch cannot be its own parent');
    await this.withLocks([branchId, ...(parentBranchId ? [parentBranchId] : [])], async () => {
      if (this.exists(branchId)) return;
      if (parentBranchId !== undefined && !this.exists(parentBranchId))
        throw notFound(`data of parent branch ${parentBranchId}`);
      const building = this.aside(branchId, 'building');
      try {
        if (parentBranchId === undefined) {
          await this.ensureTemplate();
          await copyDataDir(this.templateDir, building, { owner: this.user, asBackup: false });
        } else {
          await this.backupCopy(parentBranchId, building, 'create:backup-started');
        }
        await this.step('create:built');
        // A leftover without PG_VERSION (cannot happen through rename, but a hand-made one could) is replaced.
        await fs.promises.rm(final, { recursive: true, force: true });
        await fs.promises.rename(building, final);
      } catch (err) {
        await fs.promises.rm(building, { recursive: true, force: true });
        throw err;
      }
      this.logger?.info(
        { branch: branchId, parent: parentBranchId ?? 'template' },
        'compute: branch data created',
      );
    });
  }

  async replaceBranchData(branchId: string, sourceBranchId: string): Promise<void> {
    await this.init();
    const final = this.branchDir(branchId);
    this.branchDir(sourceBranchId);
    if (sourceBranchId === branchId) throw badRequest('a branch cannot be restored from itself');
    await this.withLocks([branchId, sourceBranchId], async () => {
      if (!this.exists(branchId)) throw notFound(`data of branch ${branchId}`);
      if (!this.exists(sourceBranchId)) throw notFound(`data of branch ${sourceBranchId}`);
      await this.gated(branchId, async () => {
        const building = this.aside(branchId, 'building');
        try {
          await this.backupCopy(sourceBranchId, building, 'replace:backup-started');
        } catch (err) {
          await fs.promises.rm(building, { recursive: true, force: true });
          throw err;
        }
        await this.step('replace:built');
        // Sessions on this branch end here (as on Neon); the copy above was taken before, so it is current.
        await this.suspendCompute(branchId);
        const old = this.aside(branchId, 'old');
        await fs.promises.rename(final, old);
        await this.step('replace:old-aside');
        await fs.promises.rename(building, final);
        await fs.promises.rm(old, { recursive: true, force: true });
      });
      this.logger?.info({ branch: branchId, source: sourceBranchId }, 'compute: branch data replaced');
    });
  }

  async deleteBranchData(branchId: string): Promise<void> {
    await this.init();
    const final = this.branchDir(branchId);
    await this.withLocks([branchId], async () => {
      await this.gated(branchId, async () => {
        await this.suspendCompute(branchId);
        if (fs.existsSync(final)) {
          const gone = this.aside(branchId, 'deleting');
          await fs.promises.rename(final, gone);
          await this.step('delete:aside');
          await fs.promises.rm(gone, { recursive: true, force: true });
        }
        fs.rmSync(path.join(this.logDir, `${branchId}.log`), { force: true });
      });
      const c = this.computes.get(branchId);
      if (c && c.refs === 0) this.computes.delete(branchId);
    });
  }

  async listBranchData(): Promise<string[]> {
    await this.init();
    return fs
      .readdirSync(this.branchesDir)
      .filter((b) => ID_RE.test(b) && fs.existsSync(path.join(this.branchesDir, b, 'PG_VERSION')))
      .sort();
  }

  /** Runs fn while starts of this branch wait (its data is being swapped or removed). */
  private async gated(branchId: string, fn: () => Promise<void>): Promise<void> {
    const c = this.compute(branchId);
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const previous = c.gate;
    c.gate = gate;
    try {
      if (previous) await previous;
      await fn();
    } finally {
      if (c.gate === gate) c.gate = undefined;
      open();
    }
  }

  private async ensureTemplate(): Promise<void> {
    const version = path.join(this.templateDir, 'PG_VERSION');
    if (fs.existsSync(version) && Number(fs.readFileSync(version, 'utf8').trim()) === this.bins.major) return;
    this.templateBuild ??= this.buildTemplate().finally(() => (this.templateBuild = undefined));
    return this.templateBuild;
  }

  private async buildTemplate(): Promise<void> {
    const building = path.join(this.tmpDir, `template.building.${crypto.randomBytes(6).toString('hex')}`);
    fs.mkdirSync(building, { mode: 0o700 });
    this.own(building);
    const locale =
      this.bins.major >= 17
        ? ['--locale=C', '--locale-provider=builtin', '--builtin-locale=C.UTF-8']
        : ['--locale=C'];
    try {
      await run(
        this.bins.initdb,
        [
          '-D',
          building,
          '-U',
          SUPERUSER,
          '--encoding=UTF8',
          ...locale,
          '--auth-local=trust',
          '--auth-host=reject',
          '--no-instructions',
          '--no-sync', // the template is synced by hand below: same safety, half the time
        ],
        { env: spawnEnv(), ...(this.user ? { uid: this.user.uid, gid: this.user.gid } : {}) },
      );
      const hba = [
        '# orgplane: the superuser only over the private socket (directory mode 0700); every other role only',
        '# over TLS with SCRAM (so channel binding works); no replication connections.',
        `local   all   ${SUPERUSER}   trust`,
        'local   all   all   reject',
        `hostssl all   ${SUPERUSER}   all   reject`,
        'hostssl all   all   all   scram-sha-256',
        'host    all   all   all   reject',
        '',
      ].join('\n');
      fs.writeFileSync(path.join(building, 'pg_hba.conf'), hba);
      fs.appendFileSync(
        path.join(building, 'postgresql.conf'),
        "\n# orgplane\npassword_encryption = 'scram-sha-256'\n",
      );
      await run('sync', ['-f', path.join(building, 'PG_VERSION')]).catch(() => undefined);
      const old = path.join(this.tmpDir, `template.old.${crypto.randomBytes(6).toString('hex')}x`);
      if (fs.existsSync(this.templateDir)) fs.renameSync(this.templateDir, old);
      fs.renameSync(building, this.templateDir);
      fs.rmSync(old, { recursive: true, force: true });
    } catch (err) {
      fs.rmSync(building, { recursive: true, force: true });
      if (err instanceof AppError) throw err;
      const e = err as { stderr?: string; message: string };
      throw new AppError('UNAVAILABLE', `initdb failed: ${(e.stderr || e.message).trim()}`);
    }
  }

  /** A consistent copy of a running branch without stopping it: PostgreSQL's low-level backup API. */
  private async backupCopy(sourceId: string, dst: string, started: ComputeStep): Promise<void> {
    const src = path.join(this.branchesDir, sourceId);
    await this.withCompute(sourceId, async (proc) => {
      const client = this.client(proc, 'postgres');
      await client.connect();
      try {
        // A temporary slot holds the WAL the copy needs until it is copied (a checkpoint may not recycle it).
        const slot = `orgplane_copy_${crypto.randomBytes(6).toString('hex')}`;
        await client.query('SELECT pg_create_physical_replication_slot($1, true, true)', [slot]);
        const start = await client.query<{ file: string }>(
          'SELECT pg_walfile_name(lsn) AS file FROM pg_backup_start($1, fast => true) AS lsn',
          [`orgplane ${path.basename(dst)}`],
        );
        await this.step(started);
        await copyDataDir(src, dst, { owner: this.user, asBackup: true });
        const stop = await client.query<{ labelfile: string; spcmapfile: string }>(
          'SELECT labelfile, spcmapfile FROM pg_backup_stop(wait_for_archive => false)',
        );
        const end = await client.query<{ file: string }>(
          'SELECT pg_walfile_name(pg_current_wal_flush_lsn()) AS file',
        );
        const first = start.rows[0]?.file ?? '';
        const last = end.rows[0]?.file ?? '';
        const label = stop.rows[0];
        if (!first || !last || !label)
          throw new AppError('UNAVAILABLE', 'backup of the parent branch failed');
        const wal = (await fs.promises.readdir(path.join(src, 'pg_wal'))).filter(
          (f) =>
            (WAL_RE.test(f) && f.slice(8) >= first.slice(8) && f.slice(8) <= last.slice(8)) ||
            f.endsWith('.history'),
        );
        await copyFiles(
          wal.sort().map((f) => [path.join(src, 'pg_wal', f), path.join(dst, 'pg_wal', f)]),
          this.user,
        );
        this.writeOwned(path.join(dst, 'backup_label'), label.labelfile);
        if (label.spcmapfile) this.writeOwned(path.join(dst, 'tablespace_map'), label.spcmapfile);
        await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
      } finally {
        await client.end().catch(() => undefined);
      }
    });
  }

  private writeOwned(file: string, text: string): void {
    fs.writeFileSync(file, text, { mode: 0o600 });
    this.own(file);
  }

  // ---- computes -------------------------------------------------------------------------------------------

  private compute(id: string): Compute {
    let c = this.computes.get(id);
    if (!c) {
      c = {
        id,
        proc: undefined,
        starting: undefined,
        stopping: undefined,
        gate: undefined,
        refs: 0,
        timer: undefined,
        checking: undefined,
      };
      this.computes.set(id, c);
    }
    return c;
  }

  /** The postmaster pid of a running branch (tests, diagnostics). */
  runningPid(branchId: string): number | undefined {
    return this.computes.get(branchId)?.proc?.pid;
  }

  /** Resolves when the branch's start or stop in progress (if any) has finished. */
  async settled(branchId: string): Promise<void> {
    const c = this.computes.get(branchId);
    await c?.checking;
    await c?.starting?.catch(() => undefined);
    await c?.stopping?.catch(() => undefined);
  }

  /** Resolves once the branch's postgres (if one runs) has exited and, in direct mode, given its port back. */
  async whenStopped(branchId: string): Promise<void> {
    const proc = this.computes.get(branchId)?.proc;
    if (proc) await this.handBack(proc);
  }

  /** Running computes (started or starting). */
  runningCount(): number {
    let n = 0;
    for (const c of this.computes.values()) if (c.proc || c.starting) n++;
    return n;
  }

  private async ensureRunning(c: Compute): Promise<RunningPostgres> {
    for (;;) {
      if (c.gate) {
        await c.gate;
        continue;
      }
      if (c.stopping) {
        await c.stopping;
        continue;
      }
      if (c.proc && c.refs === 1 && this.shouldMoveToPort(c.proc, c.id)) {
        // Direct mode: started before its endpoint opened (to make roles and databases), the compute listens
        // on a private port; with no one else on it, it restarts on the endpoint's port.
        await this.suspendCompute(c.id);
        continue;
      }
      if (c.proc) return c.proc;
      if (c.starting) return await c.starting;
      if (this.closed) throw new AppError('UNAVAILABLE', 'the compute engine is closed');
      const max = this.config.compute.maxComputes;
      if (this.runningCount() >= max)
        throw new AppError(
          'RATE_LIMITED',
          `too many running computes: ${max} of ${max} are running (ORGPLANE_MAX_COMPUTES); suspend an endpoint or raise the limit`,
        );
      const starting = this.startCompute(c.id);
      c.starting = starting;
      try {
        const proc = await starting;
        c.proc = proc;
        void proc.exited.then(() => {
          if (c.proc === proc) {
            c.proc = undefined;
            this.clearTimer(c);
          }
          return this.handBack(proc);
        });
        return proc;
      } finally {
        c.starting = undefined;
      }
    }
  }

  private async startCompute(id: string): Promise<RunningPostgres> {
    const dataDir = path.join(this.branchesDir, id);
    if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) throw notFound(`data of branch ${id}`);
    const major = Number(fs.readFileSync(path.join(dataDir, 'PG_VERSION'), 'utf8').trim());
    if (major !== this.bins.major)
      throw new AppError(
        'CONFLICT',
        `branch ${id} holds PostgreSQL ${major} data but the binaries (${this.bins.dir}) are PostgreSQL ${this.bins.major}`,
      );
    // A postmaster left by a killed orgplane holds the directory; one of a dead process is only a stale file.
    const pid = livePostmaster(dataDir);
    if (pid !== undefined) await stopOrphan(pid);
    else fs.rmSync(path.join(dataDir, 'postmaster.pid'), { force: true });
    let socketDir = path.join(this.runDir, id);
    if (socketDir.length > 90) {
      // Unix socket paths are limited to ~107 bytes; a deep data directory gets its sockets in the temp dir.
      socketDir = path.join(
        os.tmpdir(),
        `orgplane-${crypto.createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}`,
      );
    }
    fs.mkdirSync(socketDir, { recursive: true, mode: 0o700 });
    fs.chmodSync(socketDir, 0o700);
    this.own(socketDir);
    const logFile = path.join(this.logDir, `${id}.log`);
    // Direct mode: postgres takes its endpoint's port, released by orgplane's listener just before the spawn
    // (from here until postgres is ready, connections to that port are refused: the mode's stated cost).
    const direct = this.config.compute.endpointMode === 'direct' ? this.directEndpoint(id) : undefined;
    let lastErr: unknown;
    for (let attempt = 0; attempt < 4; attempt++) {
      const takeover = attempt === 0 ? direct : undefined;
      const port = takeover ? takeover.spec.port : await freePort();
      if (takeover) this.unlisten(takeover);
      try {
        const proc = await startPostgres({
          bins: this.bins,
          dataDir,
          socketDir,
          port,
          logFile,
          user: this.user,
          settings: {
            ssl: 'on',
            ssl_cert_file: this.tls.serverCert,
            ssl_key_file: this.tls.serverKey,
            cluster_name: id,
          },
        });
        if (takeover) takeover.heldBy = proc;
        this.logger?.info({ branch: id, pid: proc.pid, port }, 'compute: started');
        return proc;
      } catch (err) {
        lastErr = err;
        // The endpoint's port goes back to orgplane; the next attempts relay to a private port.
        if (takeover) await this.relisten(takeover);
        const msg = (err as Error).message;
        // Another process took the port between the probe and the bind, or the previous postmaster's
        // children are still detaching from shared memory: try again.
        if (!/could not bind|Address already in use|shared memory block is still in use|lock file/.test(msg))
          throw err;
        await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
      }
    }
    throw lastErr;
  }

  private async suspendCompute(id: string): Promise<void> {
    const c = this.computes.get(id);
    if (!c) return;
    this.clearTimer(c);
    if (c.starting) await c.starting.catch(() => undefined);
    if (c.stopping) return c.stopping;
    const proc = c.proc;
    if (!proc) return;
    c.stopping = proc
      .stop()
      .then(() => this.handBack(proc))
      .finally(() => {
        if (c.proc === proc) c.proc = undefined;
        c.stopping = undefined;
        this.logger?.info({ branch: id }, 'compute: suspended');
      });
    return c.stopping;
  }

  private clearTimer(c: Compute): void {
    if (c.timer !== undefined) this.timer.clear(c.timer);
    c.timer = undefined;
  }

  /** Seconds of idleness before the branch's postgres stops: the longest of its endpoints' timeouts. */
  private idleSeconds(branchId: string): number {
    let seconds: number | undefined;
    for (const ep of this.endpoints.values()) {
      if (ep.spec.branchId !== branchId) continue;
      const t = ep.spec.suspendTimeoutSeconds;
      if (t < 0) return -1;
      const s = t === 0 ? DEFAULT_SUSPEND_SECONDS : t;
      seconds = Math.max(seconds ?? 0, s);
    }
    return seconds ?? DEFAULT_SUSPEND_SECONDS;
  }

  private arm(c: Compute): void {
    this.clearTimer(c);
    if (c.refs > 0 || !c.proc) return;
    const seconds = this.idleSeconds(c.id);
    if (seconds < 0) return;
    c.timer = this.timer.set(() => {
      c.timer = undefined;
      if (c.refs !== 0) return;
      if (!this.holdsPort(c.proc)) return void this.suspendCompute(c.id).catch(() => undefined);
      c.checking = this.suspendIfIdle(c).finally(() => (c.checking = undefined));
    }, seconds * 1000);
  }

  private shouldMoveToPort(proc: RunningPostgres, branchId: string): boolean {
    return (
      this.config.compute.endpointMode === 'direct' &&
      !this.holdsPort(proc) &&
      this.directEndpoint(branchId) !== undefined
    );
  }

  private holdsPort(proc: RunningPostgres | undefined): boolean {
    if (!proc) return false;
    for (const ep of this.endpoints.values()) if (ep.heldBy === proc) return true;
    return false;
  }

  /** Direct mode: sessions reach postgres without orgplane, so the idle timer asks postgres for them. With a
   *  session open the countdown starts again: a compute suspends one to two timeouts after its last session. */
  private async suspendIfIdle(c: Compute): Promise<void> {
    const proc = c.proc;
    if (!proc || c.stopping) return;
    let sessions: number;
    const client = this.client(proc, 'postgres');
    try {
      await client.connect();
      // orgplane's own sessions (the superuser's) are counted in refs, and one that is ending must not hold it.
      const r = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND usename <> $1",
        [SUPERUSER],
      );
      sessions = r.rows[0]?.n ?? 0;
    } catch {
      return; // the compute is stopping or gone: its exit hands the port back
    } finally {
      await client.end().catch(() => undefined);
    }
    if (c.proc !== proc || c.refs !== 0) return;
    if (sessions > 0) return this.arm(c);
    await this.suspendCompute(c.id).catch(() => undefined);
  }

  private async acquire(id: string): Promise<RunningPostgres> {
    const c = this.compute(id);
    c.refs++;
    this.clearTimer(c);
    try {
      return await this.ensureRunning(c);
    } catch (err) {
      this.release(id);
      throw err;
    }
  }

  private release(id: string): void {
    const c = this.computes.get(id);
    if (!c) return;
    c.refs = Math.max(0, c.refs - 1);
    if (c.refs === 0) this.arm(c);
  }

  private async withCompute<T>(id: string, fn: (proc: RunningPostgres) => Promise<T>): Promise<T> {
    const proc = await this.acquire(id);
    try {
      return await fn(proc);
    } finally {
      this.release(id);
    }
  }

  private client(proc: RunningPostgres, database: string): pg.Client {
    const client = new (pgDriver().Client)({
      host: proc.socketDir,
      port: proc.port,
      user: SUPERUSER,
      database,
    });
    // A compute stopping under an idle client emits 'error' outside any query; unhandled, it would end orgplane.
    // Errors during a query still reject that query.
    client.on('error', (err) => this.logger?.warn({ err: err.message }, 'compute: admin connection lost'));
    return client;
  }

  async admin<T>(branchId: string, fn: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
    await this.init();
    this.branchDir(branchId);
    return this.withCompute(branchId, async (proc) => {
      const client = this.client(proc, database);
      await client.connect();
      try {
        return await fn(client);
      } finally {
        await client.end().catch(() => undefined);
      }
    });
  }

  async schemaDump(branchId: string, database: string): Promise<string> {
    await this.init();
    this.branchDir(branchId);
    if (this.pgDump === undefined) this.pgDump = (await findPgDump(this.bins)) ?? null;
    const pgDump = this.pgDump;
    return this.withCompute(branchId, async (proc) => {
      if (pgDump) {
        try {
          const { stdout } = await run(
            pgDump,
            [
              '--schema-only',
              '--no-password',
              '-h',
              proc.socketDir,
              '-p',
              String(proc.port),
              '-U',
              SUPERUSER,
              '-d',
              database,
            ],
            { env: spawnEnv(), maxBuffer: 64 * 1024 * 1024 },
          );
          // pg_dump ≥ 17.6/16.10/15.14 brackets its output with \restrict <random key>: drop those lines, so
          // two dumps of the same schema are equal (schema-diff compares them).
          return stdout.replace(/^\\(?:un)?restrict .*\n/gm, '');
        } catch (err) {
          const e = err as { stderr?: string; message: string };
          if (/does not exist/.test(e.stderr ?? '')) throw notFound(`database ${database}`);
          throw new AppError('UNAVAILABLE', `pg_dump failed: ${(e.stderr || e.message).trim()}`);
        }
      }
      const client = this.client(proc, database);
      try {
        await client.connect();
      } catch (err) {
        if ((err as { code?: string }).code === '3D000') throw notFound(`database ${database}`);
        throw err;
      }
      try {
        return await catalogSchemaDump(client);
      } finally {
        await client.end().catch(() => undefined);
      }
    });
  }

  // ---- endpoints ------------------------------------------------------------------------------------------

  async allocatePort(): Promise<number> {
    await this.init();
    const used = new Set([...this.reservedPorts, ...[...this.endpoints.values()].map((e) => e.spec.port)]);
    // Below Linux's ephemeral range (32768–60999), so an outgoing connection never holds an endpoint's port
    // while orgplane is down.
    const low = 20000;
    const span = 12000;
    const offset = crypto.randomInt(span);
    for (let i = 0; i < span; i++) {
      const port = low + ((offset + i) % span);
      if (used.has(port)) continue;
      if (await canBind(port)) {
        this.reservedPorts.add(port);
        return port;
      }
    }
    throw new AppError('UNAVAILABLE', 'no free loopback port for an endpoint');
  }

  async openEndpoint(spec: EndpointSpec): Promise<void> {
    await this.init();
    this.branchDir(spec.branchId);
    const existing = this.endpoints.get(spec.endpointId);
    if (existing && existing.spec.port === spec.port) {
      const previous = existing.spec;
      existing.spec = { ...spec };
      if (previous.branchId !== spec.branchId) for (const s of existing.sockets) s.destroy();
      if (previous.branchId !== spec.branchId || spec.disabled) {
        // A postgres holding the port serves the old branch, or would let a disabled endpoint's clients in.
        await this.computes.get(previous.branchId)?.starting?.catch(() => undefined);
        if (existing.heldBy) await this.suspendCompute(previous.branchId);
      }
      const c = this.computes.get(spec.branchId);
      if (c) this.arm(c);
      return;
    }
    if (existing) await this.closeEndpoint(spec.endpointId);
    const ep: Endpoint = { spec: { ...spec }, server: undefined, heldBy: undefined, sockets: new Set() };
    await this.listen(ep);
    this.reservedPorts.delete(spec.port);
    this.endpoints.set(spec.endpointId, ep);
    const c = this.computes.get(spec.branchId);
    if (c?.proc && c.refs === 0 && this.shouldMoveToPort(c.proc, c.id)) {
      // Direct mode: the compute that made the project's role and database moves onto the port now, before
      // any client has the string, so the first connections find postgres there (no wake to race).
      await this.withCompute(c.id, () => Promise.resolve()).catch((err: unknown) =>
        this.logger?.warn({ err, branch: c.id }, 'compute: not moved onto its endpoint port'),
      );
    } else if (c) this.arm(c);
  }

  /** orgplane's listener on the endpoint's port: every connection to it is joined to the branch's compute. */
  private async listen(ep: Endpoint): Promise<void> {
    const server = net.createServer();
    server.on('connection', (socket) => this.onConnection(ep, socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE'
            ? new AppError(
                'CONFLICT',
                `port ${ep.spec.port} of endpoint ${ep.spec.endpointId} is in use by another program`,
              )
            : err,
        ),
      );
      server.listen({ port: ep.spec.port, host: '127.0.0.1', exclusive: true }, () => resolve());
    });
    server.on('error', (err) =>
      this.logger?.warn({ err, endpoint: ep.spec.endpointId }, 'compute: listener error'),
    );
    ep.server = server;
  }

  /** Closes orgplane's listener at once (the socket, not the connections it accepted). */
  private unlisten(ep: Endpoint): void {
    ep.server?.close();
    ep.server = undefined;
  }

  private async relisten(ep: Endpoint): Promise<void> {
    if (this.closed || ep.server || this.endpoints.get(ep.spec.endpointId) !== ep) return;
    await this.listen(ep).catch((err: unknown) =>
      this.logger?.warn({ err, endpoint: ep.spec.endpointId }, 'compute: endpoint port not taken back'),
    );
  }

  /** Direct mode: the endpoint whose port the branch's postgres takes when it starts (the first one open). */
  private directEndpoint(branchId: string): Endpoint | undefined {
    for (const ep of this.endpoints.values())
      if (ep.spec.branchId === branchId && !ep.spec.disabled && ep.server && !ep.heldBy) return ep;
    return undefined;
  }

  /** A stopped postgres's endpoint ports go back to orgplane's listeners (once, however often it is asked). */
  private handBack(proc: RunningPostgres): Promise<void> {
    let done = this.handBacks.get(proc);
    if (!done) {
      done = (async () => {
        await proc.exited;
        for (const ep of [...this.endpoints.values()]) {
          if (ep.heldBy !== proc) continue;
          ep.heldBy = undefined;
          await this.relisten(ep);
        }
      })();
      this.handBacks.set(proc, done);
    }
    return done;
  }

  private onConnection(ep: Endpoint, socket: net.Socket): void {
    ep.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.once('close', () => ep.sockets.delete(socket));
    const refuse = (code: string, message: string) => {
      // Sent before any reply to SSLRequest: psql shows it for a plain connection; with sslmode=require,
      // newer libpq and node-postgres report only that the SSL negotiation failed.
      socket.end(errorResponse(code, message));
    };
    if (ep.spec.disabled) return refuse('57P03', `endpoint ${ep.spec.endpointId} is disabled`);
    const branchId = ep.spec.branchId;
    this.acquire(branchId).then(
      (proc) => {
        if (socket.destroyed) return this.release(branchId);
        const upstream = net.connect(proc.port, '127.0.0.1');
        upstream.setNoDelay(true);
        let open = 2;
        const closed = () => {
          if (--open === 0) this.release(branchId);
        };
        upstream.on('error', () => socket.destroy());
        socket.on('error', () => upstream.destroy());
        upstream.once('close', () => {
          socket.destroy();
          closed();
        });
        socket.once('close', () => {
          upstream.destroy();
          closed();
        });
        socket.pipe(upstream);
        upstream.pipe(socket);
      },
      (err: unknown) => {
        const e = err instanceof AppError ? err : new AppError('UNAVAILABLE', String(err));
        this.logger?.warn({ endpoint: ep.spec.endpointId, err: e.message }, 'compute: connection refused');
        refuse(e.code === 'RATE_LIMITED' ? '53300' : e.code === 'NOT_FOUND' ? '3D000' : '57P03', e.message);
      },
    );
  }

  async closeEndpoint(endpointId: string): Promise<void> {
    const ep = this.endpoints.get(endpointId);
    if (!ep) return;
    this.endpoints.delete(endpointId);
    for (const s of ep.sockets) s.destroy();
    this.unlisten(ep);
    const stillServed = [...this.endpoints.values()].some((e) => e.spec.branchId === ep.spec.branchId);
    const c = this.computes.get(ep.spec.branchId);
    await c?.starting?.catch(() => undefined);
    if (ep.heldBy) {
      await this.suspendCompute(ep.spec.branchId); // postgres holds the port: the endpoint's strings stop here
    } else if (!stillServed) {
      if (c && c.refs === 0) await this.suspendCompute(ep.spec.branchId);
    } else if (c) {
      this.arm(c); // the branch's idle timeout may have changed with this endpoint gone
    }
  }

  private endpoint(endpointId: string): Endpoint {
    const ep = this.endpoints.get(endpointId);
    if (!ep) throw notFound(`endpoint ${endpointId}`);
    return ep;
  }

  async startEndpoint(endpointId: string): Promise<void> {
    await this.init();
    const ep = this.endpoint(endpointId);
    if (ep.spec.disabled) throw new AppError('CONFLICT', `endpoint ${endpointId} is disabled`);
    await this.acquire(ep.spec.branchId);
    this.release(ep.spec.branchId); // starts the idle countdown
  }

  async awake(endpointId: string): Promise<void> {
    if (this.config.compute.endpointMode !== 'direct') return;
    const ep = this.endpoints.get(endpointId);
    if (!ep || ep.spec.disabled) return;
    const c = this.computes.get(ep.spec.branchId);
    if (c?.proc && !c.stopping && this.holdsPort(c.proc)) return;
    try {
      await this.acquire(ep.spec.branchId);
      this.release(ep.spec.branchId);
    } catch {
      // the limit, a missing branch: the connection that follows is refused with the reason
    }
  }

  async suspendEndpoint(endpointId: string): Promise<void> {
    await this.init();
    await this.suspendCompute(this.endpoint(endpointId).spec.branchId);
  }

  async restartEndpoint(endpointId: string): Promise<void> {
    await this.suspendEndpoint(endpointId);
    await this.startEndpoint(endpointId);
  }

  state(endpointId: string): ComputeState {
    const ep = this.endpoints.get(endpointId);
    const c = ep && this.computes.get(ep.spec.branchId);
    if (!c) return 'idle';
    if (c.starting) return 'init';
    if (c.proc && !c.stopping) return 'active';
    return 'idle';
  }

  hostFor(spec: EndpointSpec): string {
    // An IP literal: `*.localhost` names do not resolve through glibc, and "localhost" may resolve to ::1
    // first. libpq's sslmode=require does not check the name; verifying clients find 127.0.0.1 in the SAN.
    return `127.0.0.1:${spec.port}`;
  }

  caCertPath(): string {
    return path.join(this.tlsDir, 'ca.crt');
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.initPromise?.catch(() => undefined);
    await Promise.all([...this.endpoints.keys()].map((id) => this.closeEndpoint(id)));
    await Promise.all(
      [...this.computes.values()].map(async (c) => {
        this.clearTimer(c);
        await c.starting?.catch(() => undefined);
        await c.proc?.stop();
      }),
    );
    this.computes.clear();
    this.lock?.release();
    this.lock = undefined;
  }
}
