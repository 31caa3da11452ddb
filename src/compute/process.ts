// One postgres postmaster: started directly (not through pg_ctl) so orgplane holds the child, learns of its
// exit at once and stops it with a fast shutdown. Its log goes to a file beside the data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../domain/errors.ts';
import type { PgBinaries } from './binaries.ts';
import type { OsUser } from './osuser.ts';

export interface StartOptions {
  bins: PgBinaries;
  dataDir: string;
  socketDir: string;
  port: number;
  logFile: string;
  user: OsUser | undefined;
  /** Extra settings (-c name=value): TLS files, cluster name. */
  settings: Record<string, string>;
  /** How long recovery (crash or backup) plus start-up may take. */
  readyTimeoutMs?: number;
}

export interface RunningPostgres {
  pid: number;
  port: number;
  socketDir: string;
  /** Resolves when the postmaster has exited (for any reason). */
  exited: Promise<void>;
  /** Fast shutdown (SIGINT): sessions are cut, data is checkpointed. Escalates if it hangs. */
  stop(): Promise<void>;
}

export function spawnEnv(): NodeJS.ProcessEnv {
  // A fixed, small environment: nothing of orgplane's (secrets, PG* variables) reaches the compute.
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', TZ: 'UTC' };
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Starts postgres and resolves once it accepts connections (its log says so), or rejects with the log tail. */
export async function startPostgres(opts: StartOptions): Promise<RunningPostgres> {
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    port: String(opts.port),
    unix_socket_directories: opts.socketDir,
    unix_socket_permissions: '0700',
    logging_collector: 'off',
    log_destination: 'stderr',
    ...opts.settings,
  };
  const args = ['-D', opts.dataDir];
  for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);
  const log = fs.openSync(opts.logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(opts.bins.postgres, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: spawnEnv(),
      cwd: opts.dataDir,
      ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
    });
  } catch (err) {
    fs.closeSync(log);
    throw err;
  }
  let buffered = '';
  let ready: (() => void) | undefined;
  const readyPromise = new Promise<void>((resolve) => (ready = resolve));
  let logOpen = true;
  const onData = (chunk: Buffer) => {
    // Output can still arrive after the exit event (the pipes drain later): write only while the log is open,
    // and never let a failed log write become an uncaught exception.
    if (logOpen) {
      try {
        fs.writeSync(log, chunk);
      } catch {
        // a full disk must not end orgplane
      }
    }
    if (ready) {
      buffered = (buffered + chunk.toString('utf8')).slice(-4096);
      if (buffered.includes('database system is ready to accept connections')) {
        ready();
        ready = undefined;
        buffered = '';
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  // Close the log once both pipes have ended (after the last data event), not at the exit event.
  const pipesClosed = [child.stdout, child.stderr].map(
    (stream) => new Promise<void>((resolve) => (stream ? stream.once('close', () => resolve()) : resolve())),
  );
  void Promise.all(pipesClosed).then(() => {
    logOpen = false;
    try {
      fs.closeSync(log);
    } catch {
      // already closed
    }
  });
  const timeoutMs = opts.readyTimeoutMs ?? 120_000;
  const timer = sleep(timeoutMs, 'timeout', { ref: false });
  const outcome = await Promise.race([
    readyPromise.then(() => 'ready' as const),
    exited.then(() => 'exit' as const),
    timer,
  ]);
  if (outcome !== 'ready') {
    if (outcome === 'timeout') child.kill('SIGQUIT');
    await exited;
    throw new AppError(
      'UNAVAILABLE',
      `compute failed to start (${outcome === 'timeout' ? `not ready after ${timeoutMs} ms` : `exit ${child.exitCode ?? child.signalCode}`}): ${tail(opts.logFile, 5)}`,
    );
  }
  const pid = child.pid;
  if (pid === undefined) throw new AppError('UNAVAILABLE', 'compute failed to start: no pid');
  let stopping: Promise<void> | undefined;
  return {
    pid,
    port: opts.port,
    socketDir: opts.socketDir,
    exited,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGINT');
        if ((await Promise.race([exited.then(() => 'ok'), sleep(30_000, 'slow', { ref: false })])) === 'ok')
          return;
        child.kill('SIGQUIT'); // immediate shutdown: recovery at next start
        if ((await Promise.race([exited.then(() => 'ok'), sleep(10_000, 'slow', { ref: false })])) === 'ok')
          return;
        child.kill('SIGKILL');
        await exited;
      })();
      return stopping;
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The postmaster pid recorded in a data directory, if that process still runs postgres on that directory. */
export function livePostmaster(dataDir: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined;
  if (process.platform === 'linux') {
    // A reused pid is not our postgres: only a postgres whose working directory is this data dir counts.
    try {
      const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      if (
        path.resolve(cwd) !== path.resolve(dataDir) &&
        path.resolve(lines[1] ?? '') !== path.resolve(dataDir)
      )
        return undefined;
      const exe = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
      if (!/postgres/.test(path.basename(exe)) && !/postgres/.test(exe)) return undefined;
    } catch {
      return undefined;
    }
  }
  return pid;
}

/** Stops a postmaster orgplane does not hold as a child (an orphan of a killed orgplane). */
export async function stopOrphan(pid: number): Promise<void> {
  const steps: [NodeJS.Signals, number][] = [
    ['SIGINT', 15_000],
    ['SIGQUIT', 5_000],
    ['SIGKILL', 5_000],
  ];
  for (const [signal, waitMs] of steps) {
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    // Not our child, so no exit event: poll its existence.
    for (let waited = 0; waited < waitMs; waited += 50) {
      if (!alive(pid)) return;
      await sleep(50);
    }
  }
}
