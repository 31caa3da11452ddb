// `orgplane audit verify | export | prune` as an operator runs them, against a database the
// services wrote (SQLite file, or a PostgreSQL schema of its own).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServices } from '../src/services.ts';
import { DIALECT, testConfig } from './helpers/app.ts';
import { cliDatabase } from './helpers/cli.ts';
import { buildWorld } from './helpers/factories.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const silent = { info: () => {}, warn: () => {}, error: () => {} };

test(`audit verify names the first broken event; export and prune (${DIALECT})`, async () => {
  const { db, env, dataDir: dir, dispose } = await cliDatabase('audit-cli');
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

    // Signed checkpoints: made by the CLI (key in the data directory), then a truncation that
    // keeps the chain intact (newest event deleted, head rewound) passes plain verify but not
    // verify --checkpoints.
    const cpFile = path.join(dir, 'audit-checkpoints.jsonl');
    assert.equal(run('checkpoint').status, 0);
    const clean = run('verify', '--checkpoints', cpFile);
    assert.equal(clean.status, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /agrees with every checkpoint/);
    const newest = rows[rows.length - 1];
    const prev = rows[rows.length - 2];
    assert.ok(newest && prev);
    await db.kysely.deleteFrom('audit_events').where('id', '=', newest.id).execute();
    await db.kysely
      .updateTable('audit_chains')
      .set({ seq: prev.seq, head_hash: prev.hash })
      .where('chain', '=', `org:${org}`)
      .execute();
    assert.equal(run('verify', '--org', org).status, 0, 'the chain alone looks intact');
    const caught = run('verify', '--checkpoints', cpFile);
    assert.equal(caught.status, 1);
    assert.match(caught.stdout, new RegExp(`org:${org}: TAMPERED: truncated`));

    const pruned = run('prune', '--days', '0');
    assert.equal(pruned.status, 0, pruned.stderr);
    assert.match(pruned.stdout, /removed \d+ audit event\(s\)/);
    const after = run('verify');
    assert.equal(after.status, 0, after.stdout);
    assert.equal(run('prune', '--days', 'x').status, 1);
  } finally {
    await dispose();
  }
});
