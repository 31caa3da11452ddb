// The operator CLI (in-process, run(argv, io)) against a running server process: `users setup-link` ends the user's
// sessions when it is issued and says which base URL its link uses; `projects create` refuses an
// owner outside the organization; CLI writes while the server is under write load never fail.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { DIALECT } from './helpers/app.ts';
import { freePort } from './helpers/net.ts';
import { BIN, cliWith, ROOT as root, userEnvironment, type CliRun as Run } from './helpers/cli.ts';

describe(`CLI security (${DIALECT})`, () => {
  let env: NodeJS.ProcessEnv;
  let disposeEnvironment = async () => {};
  let server: ChildProcess | undefined;
  let port = 0;
  let base = '';
  let adminKey = '';
  let orgId = '';

  // One queue for every run, whatever extra variables it is given (see cliWith).
  let queue: Promise<unknown> = Promise.resolve();
  function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
    const next = queue.then(() => cliWith({ ...env, ...extraEnv })(...args));
    queue = next.catch(() => {});
    return next;
  }

  before(async () => {
    ({ env, dispose: disposeEnvironment } = await userEnvironment('cli-sec'));
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, [BIN, 'serve'], {
      env: { ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    server.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    server.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    // Ready when it answers and has printed its first key; no time budget.
    for (;;) {
      assert.equal(server.exitCode, null, `serve exited early:\n${out}`);
      const ok = await fetch(`${base}/readyz`)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok && /napi_[A-Za-z0-9]{64}/.test(out)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    adminKey = /napi_[A-Za-z0-9]{64}/.exec(out)?.[0] ?? '';
    const orgs = (await (
      await fetch(`${base}/api/v2/users/me/organizations`, {
        headers: { authorization: `Bearer ${adminKey}` },
      })
    ).json()) as { organizations: Array<{ id: string }> };
    orgId = orgs.organizations[0]?.id ?? '';
    assert.ok(orgId);
  });

  after(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server?.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    await disposeEnvironment();
  });

  /** Sets the password through a setup link and returns the console session cookie. */
  async function signInThrough(link: string): Promise<string> {
    const token = new URL(link).searchParams.get('token') ?? '';
    const res = await fetch(`${base}/console/setup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, password: 'correct horse battery' }),
    });
    assert.equal(res.status, 200, await res.text());
    const cookie = /orgplane_session=[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0];
    assert.ok(cookie);
    return cookie;
  }
  const sessionStatus = async (cookie: string) =>
    (await fetch(`${base}/console/session`, { headers: { cookie } })).status;

  test('users setup-link ends the user’s console sessions when the link is issued', async () => {
    const first = await cli(['users', 'setup-link', '--email', 'admin@localhost'], { PORT: String(port) });
    assert.equal(first.code, 0, first.stderr);
    const cookie = await signInThrough(first.stdout.trim());
    assert.equal(await sessionStatus(cookie), 200, 'signed in');

    const second = await cli(['users', 'setup-link', '--email', 'admin@localhost'], { PORT: String(port) });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /ended 1 console session\(s\) of admin@localhost/);
    // Not only once the new link is used: right now.
    assert.equal(await sessionStatus(cookie), 401, 'the session ended when the link was issued');
    // The new link still works, once.
    const again = await signInThrough(second.stdout.trim());
    assert.equal(await sessionStatus(again), 200);
  });

  test('users setup-link says which base URL it used and how to change it', async () => {
    const plain = await cli(['users', 'setup-link', '--email', 'admin@localhost']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(
      plain.stdout,
      /^http:\/\/127\.0\.0\.1:4000\/setup\?token=[A-Za-z0-9_-]+\n$/,
      'stdout is the link alone',
    );
    assert.match(
      plain.stderr,
      /base URL http:\/\/127\.0\.0\.1:4000 \(made from HOST and PORT: PUBLIC_URL is not set\)/,
    );
    assert.match(plain.stderr, /PUBLIC_URL=/, 'it says how to change it');

    const pub = await cli(['users', 'setup-link', '--email', 'admin@localhost'], {
      PUBLIC_URL: 'https://orgplane.example.com',
    });
    assert.equal(pub.code, 0, pub.stderr);
    assert.match(pub.stdout, /^https:\/\/orgplane\.example\.com\/setup\?token=/);
    assert.match(pub.stderr, /base URL https:\/\/orgplane\.example\.com \(from PUBLIC_URL\)/);
  });

  test('projects create --owner X --org Y refuses an owner who is not a member of Y', async () => {
    const email = `outsider-${randomBytes(3).toString('hex')}@example.com`;
    const user = await cli(['users', 'create', '--email', email]);
    assert.equal(user.code, 0, user.stderr);
    const before = (await (
      await fetch(`${base}/api/v2/projects?org_id=${orgId}&limit=400`, {
        headers: { authorization: `Bearer ${adminKey}` },
      })
    ).json()) as { projects: unknown[] };

    const r = await cli(['projects', 'create', '--owner', email, '--org', orgId, '--name', 'sneaky']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? '',
      new RegExp(`^orgplane: user ${email} is not a member of organization ${orgId}`),
    );
    assert.match(lines[0] ?? '', /members add/);

    const afterList = (await (
      await fetch(`${base}/api/v2/projects?org_id=${orgId}&limit=400`, {
        headers: { authorization: `Bearer ${adminKey}` },
      })
    ).json()) as { projects: unknown[] };
    assert.equal(afterList.projects.length, before.projects.length, 'no project was created');

    const missing = await cli(['projects', 'create', '--owner', email, '--org', 'org-nope-12345678']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /organization org-nope-12345678 not found/);

    // A member may own one.
    const added = await cli(['members', 'add', '--org', orgId, '--email', email]);
    assert.equal(added.code, 0, added.stderr);
    const ok = await cli(['projects', 'create', '--owner', email, '--org', orgId, '--name', 'fine']);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('CLI writes while the server is under write load never fail (and the server answers no 503)', async () => {
    let stop = false;
    const statuses = new Map<number, number>();
    const worker = async () => {
      while (!stop) {
        const res = await fetch(`${base}/api/v2/api_keys`, {
          method: 'POST',
          headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ key_name: `load-${randomBytes(3).toString('hex')}` }),
        });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        await res.body?.cancel();
      }
    };
    const load = Array.from({ length: 6 }, worker);
    try {
      // The load is on before the CLI writes: counted, not waited for.
      while ([...statuses.values()].reduce((a, b) => a + b, 0) < 5)
        await new Promise((r) => setTimeout(r, 10));
      const runs = await Promise.all(
        Array.from({ length: 4 }, (_, i) => {
          const email = `load-${i}-${randomBytes(3).toString('hex')}@example.com`;
          return cli(['users', 'create', '--email', email]).then(async (u) =>
            u.code === 0 ? cli(['keys', 'create', '--email', email, '--name', 'cli']) : u,
          );
        }),
      );
      for (const r of runs) assert.equal(r.code, 0, `the CLI failed under load: ${r.stderr}`);
    } finally {
      stop = true;
      await Promise.all(load);
    }
    assert.ok((statuses.get(200) ?? 0) > 10, `the server was under load: ${JSON.stringify([...statuses])}`);
    assert.deepEqual(
      [...statuses.keys()],
      [200],
      `every API write succeeded: ${JSON.stringify([...statuses])}`,
    );
  });
});
