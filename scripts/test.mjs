#!/usr/bin/env node
// `npm test`: the whole suite on SQLite and, at the same time, on PostgreSQL in a fresh database made
// for this run (TEST_DATABASE_URL names the server; default postgres://postgres@127.0.0.1:5432/postgres).
// Each pass runs its fast files first, then the slow ones (files that start servers, CLIs or a
// browser, or wait for outages), so failures in the fast group show within a minute or two.
// Each group's output is printed whole when it finishes (the passes never interleave line by line).
// On CI (CI=true) an unreachable PostgreSQL fails the run: PostgreSQL tests are never skipped silently.
// Redis-backed tests read TEST_REDIS_URL (default redis://127.0.0.1:6379) and fail on CI without it.
// Usage: npm test [-- --only sqlite|postgres] [-- --fast] [-- file-filter …]
//   --fast: the fast group only. ORGPLANE_TEST_CONCURRENCY overrides the files run at once per pass.
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { clearInterval, setInterval } from 'node:timers';
import pg from 'pg';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
let only = null;
let fastOnly = false;
const filters = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--only') only = args[++i];
  else if (args[i] === '--fast') fastOnly = true;
  else if (args[i] === '--') continue;
  else filters.push(args[i]);
}

function findTests(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTests(p));
    else if (entry.name.endsWith('.test.ts')) out.push(path.relative(root, p));
  }
  return out;
}
const files = ['src', 'test']
  .filter((d) => fs.existsSync(path.join(root, d)))
  .flatMap((d) => findTests(path.join(root, d)))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

// Slow: starts processes (servers, the CLI, a browser) or waits out an outage. Found by what the
// file uses, so a new file of that kind lands in the slow group by itself.
const SLOW_ALSO = ['test/db-down.test.ts'];
const isSlow = (f) =>
  SLOW_ALSO.includes(f) ||
  /node:child_process|helpers\/servers\.ts|playwright/.test(fs.readFileSync(path.join(root, f), 'utf8'));
const groups = [
  { name: 'fast', files: files.filter((f) => !isSlow(f)) },
  { name: 'slow', files: fastOnly ? [] : files.filter(isSlow) },
].filter((g) => g.files.length > 0);

const passes = only ? 1 : 2;
// Tests mostly wait on databases and sockets, so each pass runs at least two files at once.
const concurrency =
  Number(process.env.ORGPLANE_TEST_CONCURRENCY) || Math.max(2, Math.ceil(os.availableParallelism() / passes));

const totals = { pass: 0, fail: 0, skipped: 0 };
const started = Date.now();
const running = new Set();
const secs = (ms) => `${Math.round(ms / 1000)} s`;
const heartbeat = setInterval(() => {
  if (running.size > 0)
    console.log(`… still running (${secs(Date.now() - started)}): ${[...running].join(', ')}`);
}, 120_000);

/** Runs one group of one pass as its own node --test process; prints its output when it ends. */
function runGroup(label, group, env) {
  const name = `${label}/${group.name}`;
  const tap = path.join(os.tmpdir(), `orgplane-tap-${process.pid}-${label}-${group.name}.txt`);
  const t0 = Date.now();
  running.add(name);
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        `--test-concurrency=${concurrency}`,
        // A limit that ends a hang, not a budget: 10 minutes per test file in the fast group, 30 in
        // the slow one (a browser walk through every page for five kinds of user takes 10 minutes
        // on a loaded 2-core machine). (Not --test-force-exit: it cuts the TAP file short, and the
        // counts below come from it.)
        `--test-timeout=${group.name === 'slow' ? 1_800_000 : 600_000}`,
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=tap',
        `--test-reporter-destination=${tap}`,
        ...group.files,
      ],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        // Piped, so the reporter would drop its colours; keep them for a terminal.
        env: {
          // Servers the tests spawn run like testConfig's in-process apps: no computes (the compute
          // tests turn them on themselves) and one fixed server key across restarts.
          ORGPLANE_COMPUTE: 'off',
          ORGPLANE_SECRET: '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff',
          ...process.env,
          ...env,
          ORGPLANE_RATE_LIMIT: 'off',
          ...(process.stdout.isTTY ? { FORCE_COLOR: '1' } : {}),
        },
      },
    );
    const out = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => out.push(d));
    child.on('close', (code, signal) => {
      running.delete(name);
      const text = fs.existsSync(tap) ? fs.readFileSync(tap, 'utf8') : '';
      fs.rmSync(tap, { force: true });
      const num = (k) => Number(new RegExp(`^# ${k} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
      const pass = num('pass');
      let fail = num('fail') + num('cancelled');
      const skipped = num('skipped') + num('todo');
      if (code !== 0 && fail === 0) fail += 1; // a crash outside any test still fails the run
      totals.pass += pass;
      totals.fail += fail;
      totals.skipped += skipped;
      const status = signal ? `signal ${signal}` : `exit ${code}`;
      process.stdout.write(
        `\n=== ${name}: ${group.files.length} test files, concurrency ${concurrency} ===\n\n` +
          Buffer.concat(out).toString() +
          `\n${name}: ${pass} passed, ${fail} failed, ${skipped} skipped (${status}, ${secs(Date.now() - t0)})\n`,
      );
      resolve();
    });
  });
}

async function runPass(label, env) {
  for (const group of groups) await runGroup(label, group, env);
}

async function withFreshPostgres(fn) {
  const base = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const admin = new pg.Client({ connectionString: base, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (err) {
    const msg = `PostgreSQL is not reachable at ${base.replace(/:[^:@/]*@/, ':***@')}: ${err.message}`;
    if (process.env.CI) {
      console.error(`FATAL: ${msg}. PostgreSQL tests must run on CI.`);
      totals.fail += 1;
      return;
    }
    console.warn(`\n!!! ${msg}\n!!! PostgreSQL tests SKIPPED. Start PostgreSQL or set TEST_DATABASE_URL.\n`);
    return;
  }
  const name = `orgplane_test_${Date.now()}_${process.pid}`;
  await admin.query(`create database ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  try {
    await fn(url.toString());
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`).catch(() => {});
    await admin.end();
  }
}

console.log(
  `${files.length} test files (${groups.map((g) => `${g.files.length} ${g.name}`).join(', ')}); ` +
    `${only ? `${only} only` : 'SQLite and PostgreSQL in parallel'}, ${concurrency} files at once per pass`,
);
await Promise.all([
  only !== 'postgres' ? runPass('sqlite', { ORGPLANE_TEST_DB: 'sqlite' }) : null,
  only !== 'sqlite'
    ? withFreshPostgres((url) =>
        runPass('postgres', { ORGPLANE_TEST_DB: 'postgres', TEST_DATABASE_URL: url }),
      )
    : null,
]);
clearInterval(heartbeat);
console.log(`\n(${secs(Date.now() - started)} in all)`);
console.log(`\n${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
process.exit(totals.fail > 0 ? 1 : 0);
