// The operator's CLI and the first start, as a new user meets them, on an empty SQLite data
// directory or (ORGPLANE_TEST_DB=postgres) a fresh PostgreSQL database. Commands run in-process
// (run(argv, io), what bin/orgplane.js calls); `serve`, `users create` and `npx orgplane --help`
// run as the real processes once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { buildApp } from '../src/app.ts';
import { openDatabase } from '../src/db/connect.ts';
import { DIALECT, testConfig } from './helpers/app.ts';
import { assertMatchesSpec } from './helpers/spec.ts';
import { freePort } from './helpers/net.ts';
import { BIN, cliWith, ROOT as root, spawnCli, userEnvironment, type CliRun as Run } from './helpers/cli.ts';

describe(`CLI and first start (${DIALECT})`, () => {
  let dataDir = '';
  let env: NodeJS.ProcessEnv;
  let disposeEnvironment = async () => {};
  let cli: (...args: string[]) => Promise<Run>;
  const children: ChildProcess[] = [];

  before(async () => {
    ({ env, dataDir, dispose: disposeEnvironment } = await userEnvironment('cli'));
    cli = cliWith(env);
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await disposeEnvironment();
  });

  function assertOneLineError(r: Run, pattern: RegExp): void {
    assert.notEqual(r.code, 0, 'non-zero exit');
    assert.equal(r.stdout, '');
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
    assert.match(lines[0] ?? '', /^orgplane: /);
    assert.match(lines[0] ?? '', pattern);
    assert.doesNotMatch(r.stderr, /\bat .+:\d+:\d+|node_modules/, 'no stack trace');
  }

  /** Starts `serve`, waits until it answers /readyz, returns everything it printed by then. */
  async function startServer(port: number): Promise<{ child: ChildProcess; output: () => string }> {
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: { ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    // Ready when it answers /readyz; no time budget (a loaded machine is slow, not broken).
    for (;;) {
      assert.equal(child.exitCode, null, `serve exited early:\n${out}`);
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return { child, output: () => out };
  }

  async function stop(child: ChildProcess): Promise<number | null> {
    if (child.exitCode !== null) return child.exitCode;
    // 'close': the process has exited and its output has all arrived.
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    child.kill('SIGTERM');
    return exited;
  }

  test('--help and every subcommand --help exit 0 (in-process)', async () => {
    const helps = [
      [],
      ['serve'],
      ['migrate'],
      ['users'],
      ['users', 'create'],
      ['orgs', 'create'],
      ['members', 'add'],
      ['members', 'set-role'],
      ['keys', 'create'],
    ];
    const runs = await Promise.all(helps.map((a) => cli(...a, '--help')));
    runs.forEach((r, i) => {
      assert.equal(r.code, 0, `${helps[i]?.join(' ')} --help: ${r.stderr}`);
      assert.match(r.stdout, /^Usage: orgplane/);
    });
    assert.match(
      runs[0]?.stdout ?? '',
      /serve[\s\S]*migrate[\s\S]*users[\s\S]*orgs[\s\S]*members[\s\S]*keys/,
    );
    assert.match(runs[5]?.stdout ?? '', /--plan/);
  });

  test('migrate applies the migrations once, then reports the database up to date', async () => {
    const first = await cli('migrate');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /applied: 0001_core/);
    const second = await cli('migrate');
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, 'database is up to date\n');
  });

  test('serve: the first start prints the banner once with a working key and curl line; a second start prints no secret', async () => {
    const port = await freePort();
    const first = await startServer(port);
    // The banner follows listen: wait for its last line (the curl line), not for a guessed time.
    while (!/^\s*curl .+$/m.test(first.output())) await new Promise((r) => setTimeout(r, 20));
    const out = first.output();
    const keys = out.match(/napi_[A-Za-z0-9]+/g) ?? [];
    assert.ok(keys.length >= 1, `a key in the banner:\n${out}`);
    const key = keys[0] ?? '';
    assert.equal(out.split('API key:').length - 1, 1, 'the banner appears exactly once');
    assert.match(out, /admin:\s+admin@localhost/);
    const curlLine = /^\s*(curl .+)$/m.exec(out)?.[1];
    assert.ok(curlLine, 'a ready curl line');
    assert.ok(curlLine.includes(`http://127.0.0.1:${port}/api/v2/`), curlLine);
    assert.ok(curlLine.includes(key));

    // The printed curl line, run as printed.
    const printed = await new Promise<string>((resolve, reject) =>
      execFile('sh', ['-c', curlLine], { timeout: 10_000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    const orgs = JSON.parse(printed);
    assertMatchesSpec('getCurrentUserOrganizations', 200, orgs);
    assert.equal(orgs.organizations.length, 1);

    const me = await fetch(`http://127.0.0.1:${port}/api/v2/users/me`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assert.equal(me.status, 200);
    const meBody = (await me.json()) as { email: string };
    assert.equal(meBody.email, 'admin@localhost');
    assert.equal(await stop(first.child), 0, 'SIGTERM shuts down cleanly');

    const second = await startServer(port);
    const stillWorks = await fetch(`http://127.0.0.1:${port}/api/v2/auth`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assert.equal(stillWorks.status, 200);
    await stop(second.child);
    // Everything it printed, start to exit.
    const again = second.output();
    assert.doesNotMatch(again, /napi_/, 'no secret on later starts');
    assert.doesNotMatch(again, /API key:/);
  });

  test('users create, orgs create --plan scale, members add, keys create print JSON; the key works', async () => {
    const email = `ops-${randomBytes(3).toString('hex')}@example.com`;
    // The one run of a write command as a real process (what `npx orgplane` starts).
    const user = await spawnCli(env, 'users', 'create', '--email', email, '--name', 'Ops');
    assert.equal(user.code, 0, user.stderr);
    const u = JSON.parse(user.stdout);
    assert.equal(u.email, email);
    assert.match(u.id, /^[0-9a-f-]{36}$/);

    const org = await cli('orgs', 'create', '--name', 'Ops Org', '--admin', email, '--plan', 'scale');
    assert.equal(org.code, 0, org.stderr);
    const o = JSON.parse(org.stdout);
    assert.equal(o.plan, 'scale');
    assert.match(o.id, /^org-[a-z]+-[a-z]+-\d{8}$/);

    const memberEmail = `mem-${randomBytes(3).toString('hex')}@example.com`;
    assert.equal((await cli('users', 'create', '--email', memberEmail)).code, 0);
    const added = await cli('members', 'add', '--org', o.id, '--email', memberEmail, '--role', 'admin');
    assert.equal(added.code, 0, added.stderr);
    const m = JSON.parse(added.stdout);
    assert.equal(m.org_id, o.id);
    assert.equal(m.role, 'admin');

    const key = await cli('keys', 'create', '--email', memberEmail, '--name', 'ops-key');
    assert.equal(key.code, 0, key.stderr);
    const k = JSON.parse(key.stdout);
    assert.match(k.key, /^napi_/);
    assert.equal(k.name, 'ops-key');

    // The key works against the same database (in-process: one server start less to wait for).
    const db = openDatabase({ dataDir, databaseUrl: env.DATABASE_URL });
    const { app } = await buildApp({ config: testConfig(), db, logger: false });
    try {
      const res = await app.inject({
        method: 'GET',
        url: `/api/v2/organizations/${o.id}/members/${m.id}`,
        headers: { authorization: `Bearer ${k.key}`, accept: 'application/json' },
      });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assertMatchesSpec('getOrganizationMember', 200, body);
      assert.equal(body.role, 'admin');
    } finally {
      await app.close();
      await db.close();
    }

    // Errors: one line on stderr, non-zero exit.
    const [dupe, unknownOrg, missing, badPlan, unknownUser, badRole] = await Promise.all([
      cli('users', 'create', '--email', email),
      cli('members', 'add', '--org', 'org-no-such-00000000', '--email', memberEmail),
      cli('users', 'create'),
      cli('orgs', 'create', '--name', 'X', '--admin', email, '--plan', 'gold'),
      cli('keys', 'create', '--email', 'nobody@example.com'),
      cli('members', 'add', '--org', o.id, '--email', memberEmail, '--role', 'owner'),
    ]);
    assertOneLineError(dupe, /already/);
    assertOneLineError(unknownOrg, /organization not found/);
    assertOneLineError(missing, /--email/);
    assertOneLineError(badPlan, /--plan.*gold/);
    assertOneLineError(unknownUser, /nobody@example\.com/);
    assertOneLineError(badRole, /--role/);
  });

  test('members add and members set-role take every MemberRole; the only admin stays admin', async () => {
    const adminEmail = `roles-${randomBytes(3).toString('hex')}@example.com`;
    const userEmail = `roles-m-${randomBytes(3).toString('hex')}@example.com`;
    assert.equal((await cli('users', 'create', '--email', adminEmail)).code, 0);
    assert.equal((await cli('users', 'create', '--email', userEmail)).code, 0);
    const org = JSON.parse((await cli('orgs', 'create', '--name', 'Roles', '--admin', adminEmail)).stdout);
    const added = await cli('members', 'add', '--org', org.id, '--email', userEmail, '--role', 'viewer');
    assert.equal(added.code, 0, added.stderr);
    assert.equal(JSON.parse(added.stdout).role, 'viewer');
    for (const role of ['collaborator', 'editor', 'member']) {
      const r = await cli('members', 'set-role', '--org', org.id, '--email', userEmail, '--role', role);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).role, role);
    }
    const last = await cli('members', 'set-role', '--org', org.id, '--email', adminEmail, '--role', 'viewer');
    assertOneLineError(last, /only admin/);
    const bad = await cli('members', 'set-role', '--org', org.id, '--email', userEmail, '--role', 'owner');
    assertOneLineError(bad, /--role/);
  });

  test('`npx orgplane --help` works from the project root (the package’s own bin)', async () => {
    const r = await new Promise<Run>((resolve) =>
      execFile('npx', ['--no-install', 'orgplane', '--help'], { env, cwd: root }, (err, stdout, stderr) =>
        resolve({ code: err ? 1 : 0, stdout, stderr }),
      ),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: orgplane/);
  });
});
