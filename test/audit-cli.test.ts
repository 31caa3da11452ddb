// `orgplane audit verify | export | prune` as an operator runs them, against a database the
// services wrote (SQLite file, or a PostgreSQL schema of its own).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase, type Db } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { createServices } from '../src/services.ts';
import { DIALECT, freshDatabase, testConfig } from './helpers/app.ts';
import { buildWorld } from './helpers/factories.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const silent = { info: () => {}, warn: () => {}, error: () => {} };

test(`audit verify names the first broken event; export and prune (${DIALECT})`, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-audit-cli-'));
  let db: Db;
  let dispose: () => Promise<void>;
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ORGPLANE_DATA_DIR: dir, LOG_LEVEL: 'warn' };
  if (DIALECT === 'postgres') {
    const f = await freshDatabase();
    db = f.db;
    dispose = f.dispose;
    env.DATABASE_URL = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
    env.ORGPLANE_PG_SCHEMA = f.pgSchema;
  } else {
    db = openDatabase({ dataDir: dir });
    await migrateToLatest(db);
    dispose = () => db.close();
  }
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['bin/orgplane.js', 'audit', ...args], { cwd: root, env, encoding: 'utf8' });
  try {
    const s = createServices(db, testConfig(), silent);
    const w = await buildWorld(s);
    const org = w.orgA.id;
    const rows = await db.kysely
      .selectFrom('audit_events')
      .selectAll()
      .where('chain', '=', `org:${org}`)
      .orderBy('seq')
      .execute();
    assert.ok(rows.length >= 5);

    const ok = run('verify', '--org', org);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`org:${org}: ok \\(${rows.length} events\\)`));
    assert.equal(run('verify').status, 0);

    const exported = run('export', '--org', org);
    assert.equal(exported.status, 0, exported.stderr);
    const lines = exported.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; hash: string });
    assert.deepEqual(
      lines.map((l) => l.id),
      rows.map((r) => r.id),
    );
    const all = run('export');
    assert.ok(all.stdout.trim().split('\n').length > lines.length);

    const victim = rows[2];
    assert.ok(victim);
    await db.kysely
      .updateTable('audit_events')
      .set({ changes: '{"role":"admin"}' })
      .where('id', '=', victim.id)
      .execute();
    const bad = run('verify', '--org', org);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stdout, new RegExp(`BROKEN at event ${victim.id} \\(seq ${victim.seq}\\)`));
    assert.match(bad.stderr, /1 audit chain\(s\) failed verification/);
    await db.kysely
      .updateTable('audit_events')
      .set({ changes: victim.changes })
      .where('id', '=', victim.id)
      .execute();

    const pruned = run('prune', '--days', '0');
    assert.equal(pruned.status, 0, pruned.stderr);
    assert.match(pruned.stdout, /removed \d+ audit event\(s\)/);
    const after = run('verify');
    assert.equal(after.status, 0, after.stdout);
    assert.equal(run('prune', '--days', 'x').status, 1);
  } finally {
    await dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
