#!/usr/bin/env node
// `npm test`: the whole suite on SQLite, then again on PostgreSQL in a fresh database made for
// this run (TEST_DATABASE_URL names the server; default postgres://postgres@127.0.0.1:5432/postgres).
// On CI (CI=true) an unreachable PostgreSQL fails the run: PostgreSQL tests are never skipped silently.
// Usage: npm test [-- --only sqlite|postgres] [-- file-filter …]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
let only = null;
const filters = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--only') only = args[++i];
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

const totals = { pass: 0, fail: 0, skipped: 0 };

function run(label, env) {
  console.log(`\n=== ${label}: ${files.length} test files ===\n`);
  const tap = path.join(os.tmpdir(), `orgplane-tap-${process.pid}-${label}.txt`);
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=2',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      ...files,
    ],
    { cwd: root, stdio: 'inherit', env: { ...process.env, ...env, ORGPLANE_RATE_LIMIT: 'off' } },
  );
  const text = fs.existsSync(tap) ? fs.readFileSync(tap, 'utf8') : '';
  fs.rmSync(tap, { force: true });
  const num = (k) => Number(new RegExp(`^# ${k} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  const pass = num('pass');
  const fail = num('fail') + num('cancelled');
  const skipped = num('skipped') + num('todo');
  totals.pass += pass;
  totals.fail += fail;
  totals.skipped += skipped;
  console.log(`\n${label}: ${pass} passed, ${fail} failed, ${skipped} skipped (exit ${r.status})`);
  if (r.status !== 0 && fail === 0) totals.fail += 1; // a crash outside any test still fails the run
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

if (only !== 'postgres') run('sqlite', { ORGPLANE_TEST_DB: 'sqlite' });
if (only !== 'sqlite') {
  await withFreshPostgres(async (url) =>
    run('postgres', { ORGPLANE_TEST_DB: 'postgres', TEST_DATABASE_URL: url }),
  );
}
console.log(`\n${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
process.exit(totals.fail > 0 ? 1 : 0);
