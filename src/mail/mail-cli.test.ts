import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DIALECT, PG_URL, testConfig } from '../../test/helpers/app.ts';
import { buildWorld } from '../../test/helpers/factories.ts';
import { openDatabase } from '../db/connect.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { createServices } from '../services.ts';
import { AuditContext } from '../audit/audit.ts';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const silent = { info: () => {}, warn: () => {}, error: () => {} };

test('`orgplane mail list` and `mail show ID` let a local user read the outbox and follow the link', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-mail-cli-'));
  // PostgreSQL: the run's own database (its public schema; each test app uses its own schema).
  const databaseUrl = DIALECT === 'postgres' ? PG_URL : undefined;
  const db = openDatabase({ dataDir: dir, databaseUrl });
  try {
    await migrateToLatest(db);
    const s = createServices(db, testConfig(), silent);
    const w = await buildWorld(s);
    const [inv] = await s.invitations.create(
      { kind: 'user', userId: w.admin.id, keyId: w.admin.keyId },
      w.orgA.id,
      [{ email: 'cli-reader@example.com', role: 'member' }],
      AuditContext.operator(),
    );
    assert.ok(inv);
  } finally {
    await db.close();
  }
  const env = {
    ...process.env,
    ORGPLANE_DATA_DIR: dir,
    DATABASE_URL: databaseUrl ?? '',
    LOG_LEVEL: 'warn',
  };
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['bin/orgplane.js', ...args], { cwd: root, env, encoding: 'utf8' });
  try {
    const list = run('mail', 'list');
    assert.equal(list.status, 0, list.stderr);
    const line = list.stdout.split('\n').find((l) => l.includes('cli-reader@example.com'));
    assert.ok(line, list.stdout);
    assert.match(line, /pending/);
    const id = line.split(/\s+/)[0] ?? '';
    const show = run('mail', 'show', id);
    assert.equal(show.status, 0, show.stderr);
    assert.match(show.stdout, /To:\s+cli-reader@example\.com/);
    assert.match(show.stdout, /http:\/\/orgplane\.test\/invitations\/accept\?token=[A-Za-z0-9_-]+/);
    const missing = run('mail', 'show', 'nope');
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /message nope not found/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
