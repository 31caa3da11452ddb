// Another orgplane process: run as an unprivileged user (the normal-user path, when the suite runs as root)
// and SIGKILLed while its compute runs. The postgres it leaves holds the data directory (and, in direct
// mode, the endpoint's port); the next engine on that directory stops it at start and serves the branch again.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { loadConfig } from '../config.ts';
import { computeOsUser } from './osuser.ts';
import { ComputeRuntime } from './runtime.ts';

const run = promisify(execFile);
const roots: string[] = [];
const engines: ComputeRuntime[] = [];
const childPids: number[] = [];

after(async () => {
  for (const pid of childPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (const engine of engines) await engine.close();
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

for (const mode of ['relay', 'direct'] as const)
  test(`an engine run by a normal user works; its orphan postgres is stopped by the next engine (${mode} endpoints)`, async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-orphan-'));
    fs.chmodSync(root, 0o755);
    roots.push(root);
    // As root, the child runs as the compute user: PostgreSQL runs as that same, non-root user (nothing special).
    const user = await computeOsUser(undefined);
    if (user) fs.chownSync(root, user.uid, user.gid);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(import.meta.dirname, 'testing-child.ts'), root, 'br-orphan', 'pw-orphan'],
      {
        cwd: process.cwd(),
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { PATH: process.env.PATH, TMPDIR: os.tmpdir(), ORGPLANE_ENDPOINT_MODE: mode },
        ...(user ? { uid: user.uid, gid: user.gid } : {}),
      },
    );
    if (child.pid !== undefined) childPids.push(child.pid);
    const exited = new Promise((r) => child.once('exit', r));
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
    const info = JSON.parse(line) as { pid: number; port: number; uid: number; ca: string };
    if (user) assert.equal(info.uid, user.uid);
    const url = `postgresql://app:pw-orphan@127.0.0.1:${info.port}/postgres?sslmode=require&channel_binding=require`;
    const made = await run(
      '/usr/bin/psql',
      [url, '-XAtqc', "SELECT made_by || ' ' || inet_server_port() FROM marker"],
      {
        env: { PATH: process.env.PATH },
      },
    );
    const [madeBy, serverPort] = made.stdout.trim().split(' ');
    assert.equal(madeBy, 'cloud_admin');
    // Direct mode: postgres itself listens on the endpoint's port; relay mode: on a private one behind it.
    assert.equal(serverPort === String(info.port), mode === 'direct');

    child.kill('SIGKILL');
    await exited;
    assert.ok(alive(info.pid), 'the postmaster outlives the killed orgplane');

    const engine = new ComputeRuntime(loadConfig({ ORGPLANE_DATA_DIR: root, ORGPLANE_ENDPOINT_MODE: mode }));
    engines.push(engine);
    await engine.init();
    assert.ok(!alive(info.pid), 'init stopped the orphan');
    assert.deepEqual(await engine.listBranchData(), ['br-orphan']);
    await engine.openEndpoint({
      endpointId: 'ep-again',
      branchId: 'br-orphan',
      port: info.port,
      suspendTimeoutSeconds: 0,
      disabled: false,
    });
    const again = await run('/usr/bin/psql', [url, '-XAtqc', 'SELECT count(*) FROM marker'], {
      env: { PATH: process.env.PATH },
    });
    assert.equal(again.stdout.trim(), '1');
  });
