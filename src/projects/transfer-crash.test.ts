// kill -9 of the real server in the middle of a 400-project transfer: after a restart every project
// is wholly in the source or wholly in the destination, and project keys are revoked exactly when
// their projects moved. a pausing server (test/helpers/pausing-server.ts) holds the transfer's transaction open
// (after its UPDATE and key revocation, before COMMIT) so the kill lands inside it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import pino from 'pino';
import { DIALECT, testConfig } from '../../test/helpers/app.ts';
import { crashEnvironment, startCrashServer, type CrashServer } from '../../test/helpers/crash.ts';
import { createOrg, createOrgKey, createProjects, createUser } from '../../test/helpers/factories.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { createServices } from '../services.ts';
import { assertMatchesSpec } from '../../test/helpers/spec.ts';

/** What test/helpers/pausing-server.ts prints once a transfer is held before its commit. */
const PAUSED_LINE = 'orgplane-test: transfer paused before commit';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

describe(`kill -9 during a 400-project transfer (${DIALECT})`, () => {
  const crash = crashEnvironment('crash');
  const { env, open } = crash;

  let token = '';
  let src = '';
  let dst = '';
  let ids: string[] = [];
  let keyIds: number[] = [];
  let server: CrashServer | undefined;

  before(async () => {
    await crash.setUp();
    const db = open();
    try {
      await migrateToLatest(db);
      const s = createServices(db, testConfig(), pino({ level: 'silent' }));
      const u = await createUser(s, 'crash');
      token = u.token;
      src = (await createOrg(s, u, 'Crash source', 'scale')).id;
      dst = (await createOrg(s, u, 'Crash destination', 'scale')).id;
      ids = await createProjects(s, src, u.id, 400);
      keyIds = (await Promise.all(ids.slice(0, 3).map((id) => createOrgKey(s, src, u, id)))).map((k) => k.id);
    } finally {
      await db.close();
    }
  });

  after(async () => {
    await server?.kill();
    await crash.tearDown();
  });

  /** Resolves when the pausing server reports a transfer held before its commit. */
  let pausedSeen: Promise<void> = Promise.resolve();

  async function start(paused = false): Promise<string> {
    // The pausing server is the real one with its transfers held open before commit.
    const args = paused
      ? ['--import', 'tsx', 'test/helpers/pausing-server.ts']
      : ['bin/orgplane.js', 'serve'];
    server = await startCrashServer(args, env);
    pausedSeen = server.line(PAUSED_LINE).then(() => undefined);
    return server.base;
  }

  async function kill(): Promise<void> {
    await server?.kill();
    server = undefined;
  }

  /** Where the 400 projects are, and which of their keys are revoked, read straight from the database. */
  async function state(): Promise<{ orgs: Map<string | null, number>; revoked: number }> {
    const db = open();
    try {
      const rows = await db.kysely.selectFrom('projects').select('org_id').where('id', 'in', ids).execute();
      const orgs = new Map<string | null, number>();
      for (const r of rows) orgs.set(r.org_id, (orgs.get(r.org_id) ?? 0) + 1);
      const keys = await db.kysely
        .selectFrom('api_keys')
        .select('revoked_at')
        .where('id', 'in', keyIds)
        .execute();
      return { orgs, revoked: keys.filter((k) => k.revoked_at !== null).length };
    } finally {
      await db.close();
    }
  }

  const transferFrom = (base: string, from: string, to: string) =>
    fetch(`${base}/api/v2/organizations/${from}/projects/transfer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ destination_org_id: to, project_ids: ids }),
    });

  test('killed inside the open transaction: nothing moved, no key revoked, the server comes back', async () => {
    const base = await start(true);
    let settled = false;
    const pending = transferFrom(base, src, dst)
      .catch((err: unknown) => err)
      .finally(() => (settled = true));
    // The server says when the 400-row UPDATE and the key revocation are done and COMMIT is held.
    await pausedSeen;
    assert.equal(settled, false, 'the transfer is still in flight when the server dies');
    await kill();
    const outcome = await pending;
    assert.ok(outcome instanceof Error, 'the client never got an answer');

    const s = await state();
    assert.deepEqual([...s.orgs.entries()], [[src, 400]], 'every project is still in the source');
    assert.equal(s.revoked, 0, 'no key was revoked by the lost transaction');

    const again = await start();
    const list = await fetch(`${again}/api/v2/projects?org_id=${src}&limit=400`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(list.status, 200);
    const listed = (await list.json()) as { projects: unknown[] };
    assertMatchesSpec('listProjects', list.status, listed);
    assert.equal(listed.projects.length, 400);
    // The same transfer, uninterrupted, now succeeds as a whole.
    const ok = await transferFrom(again, src, dst);
    assert.equal(ok.status, 200);
    assertMatchesSpec('transferProjectsFromOrgToOrg', ok.status, await ok.json());
    await kill();
    const done = await state();
    assert.deepEqual([...done.orgs.entries()], [[dst, 400]]);
    assert.equal(done.revoked, keyIds.length);
  });

  test('killed at arbitrary moments of transfers back and forth: always all in one place', async () => {
    let here = dst;
    let there = src;
    for (const delay of [5, 40, 150]) {
      const base = await start();
      const pending = transferFrom(base, here, there).catch((err: unknown) => err);
      await new Promise((r) => setTimeout(r, delay));
      await kill();
      const res = await pending;
      const s = await state();
      assert.equal(
        s.orgs.size,
        1,
        `delay ${delay}ms: projects split across ${[...s.orgs.keys()].join(', ')}`,
      );
      const [where, count] = [...s.orgs.entries()][0] ?? [null, 0];
      assert.equal(count, 400);
      assert.ok(where === here || where === there);
      if (res instanceof Response) {
        // An acknowledged transfer is durable.
        if (res.status === 200) assert.equal(where, there, 'a 200 was not lost');
        // A response may be cut mid-body by the kill; a whole one must match the spec.
        const body: unknown = await res.json().catch(() => undefined);
        if (body !== undefined) assertMatchesSpec('transferProjectsFromOrgToOrg', res.status, body);
      }
      if (where === there) [here, there] = [there, here];
    }
  });
  test('integrations recorded through the operator CLI block a transfer with 422', async () => {
    const cli = (...args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, ['bin/orgplane.js', ...args], { cwd: root, env });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        child.on('exit', (code) => resolve({ code, out }));
      });
    const p = ids[0] ?? '';
    const set = await cli('projects', 'set-integration', '--project', p, '--integration', 'github');
    assert.equal(set.code, 0, set.out);
    assert.deepEqual(JSON.parse(set.out), { id: p, integrations: ['github'] });
    const bad = await cli(
      'projects',
      'set-integration',
      '--project',
      'no-such-project',
      '--integration',
      'github',
    );
    assert.equal(bad.code, 1);
    assert.match(bad.out, /project no-such-project not found/);

    const where = [...(await state()).orgs.keys()][0] ?? src;
    const other = where === src ? dst : src;
    const base = await start();
    const res = await fetch(`${base}/api/v2/organizations/${where}/projects/transfer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ destination_org_id: other, project_ids: [p] }),
    });
    assert.equal(res.status, 422);
    assert.deepEqual(((await res.json()) as { projects: unknown }).projects, [
      { id: p, integration: 'github' },
    ]);
    await kill();
    const removed = await cli(
      'projects',
      'set-integration',
      '--project',
      p,
      '--integration',
      'github',
      '--remove',
    );
    assert.equal(removed.code, 0, removed.out);
    assert.deepEqual(JSON.parse(removed.out).integrations, []);
  });
});
