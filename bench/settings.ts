// Benchmark settings, all overridable by environment variables. BENCH_QUICK=1 is a few-minute
// development run (short runs, smaller data sets, no soak; its numbers are not comparable to a full
// run's, but the ratios measured side by side in it are). BENCH_ONLY picks phases.
const env = process.env;
const quick = ['1', 'true', 'yes'].includes((env.BENCH_QUICK ?? '').toLowerCase());

function num(name: string, full: number, smoke: number): number {
  const raw = env[name];
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
    return n;
  }
  return quick ? smoke : full;
}

export interface Settings {
  quick: boolean;
  /** Concurrent connections of the load generator. */
  connections: number;
  /** Seconds of warm-up per target before the measured runs. */
  warmupSeconds: number;
  /** Seconds per measured run. */
  runSeconds: number;
  /** Measured runs per target; figures are medians over them. */
  runs: number;
  /** Keys in the large-key-table authentication scenario. */
  manyKeys: number;
  /** Members of the large organization (page 1 vs the last page of 10). */
  bigOrgMembers: number;
  /** Projects of the large organization. */
  bigOrgProjects: number;
  /** Projects per transfer in the large transfer. */
  transferMany: number;
  /** Sequential transfer calls per size. */
  transferIterations: number;
  /** Earlier invitations of the organization in the invitation scaling case. */
  manyInvitations: number;
  /**
   * A built checkout of an earlier orgplane (BENCH_BASELINE_DIR, e.g. commit f1267c9): PATCH role on
   * PostgreSQL is then measured against it in the same run; without it, bench/baseline.json's
   * recorded figure is used.
   */
  baselineDir: string | undefined;
  /** Where results.json goes. */
  resultsFile: string;
  /** postgres://… server on which a fresh benchmark database is created and dropped. */
  databaseUrl: string | undefined;
  /**
   * The code before this round of performance work (a git ref of this repository): checked out into
   * a temporary directory (BENCH_BASELINE_REF, default 0f1caad) and measured side by side for the
   * "× today's" PostgreSQL write targets. BENCH_BASELINE_REF=none skips it.
   */
  baselineRef: string | undefined;
  /** Phases to run (BENCH_ONLY=startup,npx,sqlite,scaling,costs,postgres; default: all). */
  only: Set<string> | null;
  /** Seconds of the mixed soak (reads beside create + revoke); 0 skips it. */
  soakSeconds: number;
}

export const PHASES = ['startup', 'npx', 'sqlite', 'scaling', 'costs', 'postgres', 'soak'] as const;

export function loadSettings(): Settings {
  return {
    quick,
    connections: num('BENCH_CONNECTIONS', 32, 32),
    warmupSeconds: num('BENCH_WARMUP', 2, 1),
    runSeconds: num('BENCH_DURATION', 2, 1.5),
    runs: num('BENCH_RUNS', 5, 1),
    manyKeys: num('BENCH_KEYS', 1_000_000, 20_000),
    bigOrgMembers: num('BENCH_MEMBERS', 10_000, 2_000),
    bigOrgProjects: num('BENCH_PROJECTS', 100_000, 5_000),
    transferMany: num('BENCH_TRANSFER', 400, 100),
    transferIterations: num('BENCH_TRANSFER_ITERATIONS', 20, 4),
    manyInvitations: num('BENCH_INVITATIONS', 100_000, 10_000),
    baselineDir: env.BENCH_BASELINE_DIR || undefined,
    resultsFile: env.BENCH_RESULTS || (quick ? 'bench/tmp/results-quick.json' : 'bench/results.json'),
    databaseUrl: env.DATABASE_URL || undefined,
    baselineRef: env.BENCH_BASELINE_REF === 'none' ? undefined : env.BENCH_BASELINE_REF || '0f1caad',
    only: env.BENCH_ONLY
      ? new Set(
          env.BENCH_ONLY.split(',')
            .map((x) => x.trim())
            .filter(Boolean),
        )
      : null,
    soakSeconds: num('BENCH_SOAK', 90, 0),
  };
}
