// Neon's real CLI (the pinned neonctl dev dependency, unchanged) against a listening orgplane on
// a free port, on this run's database: each command in a fresh working directory and config
// directory, CI=true (no prompts), analytics off, --api-host pointing here. No time budgets: a
// loaded machine makes each start slow, not wrong (the runner's timeout still ends a hang).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { buildTestApp, type TestApp } from './helpers/app.ts';
import { buildWorld, type World } from './helpers/factories.ts';

const require = createRequire(import.meta.url);
const CLI = path.join(path.dirname(require.resolve('neonctl/package.json')), 'bin', 'cli.js');
/** CLI processes at once: one per two cores (each start is CPU-bound; more only queue for the CPU). */
const MAX_PARALLEL = Math.max(1, Math.floor(os.availableParallelism() / 2));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  configDir: string;
}

describe('neonctl (Neon’s CLI) against orgplane', () => {
  let t: TestApp;
  let w: World;
  let apiHost: string;
  let scratch: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the create response
  let created: any;
  let projectId: string;
  let projectKey: string;

  let running = 0;
  const waiting: Array<() => void> = [];
  async function neonctl(key: string, args: string[], cwd?: string): Promise<Run> {
    if (running >= MAX_PARALLEL) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await spawnCli(key, args, cwd);
    } finally {
      running--;
      waiting.shift()?.();
    }
  }

  /** One CLI call; cwd defaults to a fresh empty directory. */
  function spawnCli(key: string, args: string[], cwd?: string): Promise<Run> {
    const dir = cwd ?? fs.mkdtempSync(path.join(scratch, 'cwd-'));
    const configDir = fs.mkdtempSync(path.join(scratch, 'config-'));
    const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true', HOME: scratch, NO_COLOR: '1' };
    delete env.NEON_API_KEY;
    delete env.NEON_API_HOST;
    delete env.DEBUG;
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [CLI, ...args, '--no-analytics', '--api-host', apiHost, '--api-key', key, '--config-dir', configDir],
        { cwd: dir, env },
        (err, stdout, stderr) => {
          // -1: killed by a signal (or not started).
          const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
          resolve({ code, stdout, stderr, configDir });
        },
      );
    });
  }
  const json = (r: Run) => {
    assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as unknown;
  };

  before(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-neonctl-'));
    t = await buildTestApp();
    w = await buildWorld(t.services);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    apiHost = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/api/v2`;
    const res = await t.call('POST', '/api/v2/projects', {
      token: w.admin.token,
      body: { project: { name: 'cli', org_id: w.orgA.id } },
    });
    assert.equal(res.status, 201);
    created = res.body;
    projectId = res.body.project.id;
    const key = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
      token: w.admin.token,
      body: { key_name: 'cli-project', project_id: projectId },
    });
    assert.equal(key.status, 200);
    projectKey = key.body.key;
  });
  after(async () => {
    await t.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  test('orgs list and me (personal key); me with keys fails cleanly (404 as Neon)', async () => {
    // Independent calls run side by side: the CLI's start-up dominates each one.
    const [orgsRun, viaKeyRun, meRun, table, org, scoped] = await Promise.all([
      neonctl(w.admin.token, ['orgs', 'list', '-o', 'json']),
      neonctl(w.orgKeyA.token, ['orgs', 'list', '-o', 'json']),
      neonctl(w.admin.token, ['me', '-o', 'json']),
      neonctl(w.admin.token, ['me']),
      neonctl(w.orgKeyA.token, ['me']),
      neonctl(projectKey, ['me']),
    ]);
    const orgs = json(orgsRun) as Array<{ id: string }>;
    assert.deepEqual(
      orgs.map((o) => o.id),
      [w.orgA.id],
    );
    const viaKey = json(viaKeyRun) as Array<{ id: string }>;
    assert.deepEqual(
      viaKey.map((o) => o.id),
      [w.orgA.id],
    );
    const me = json(meRun) as { email: string; id: string };
    assert.equal(me.email, w.admin.email);
    assert.equal(me.id, w.admin.id);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(w.admin.email.replace(/[.+]/g, '\\$&')));
    assert.equal(org.code, 1);
    assert.match(org.stderr, /ERROR: not allowed for organization API keys/);
    assert.equal(scoped.code, 1);
    assert.match(scoped.stderr, /not allowed to perform actions outside the project/);
  });

  test('projects list --org-id with organization and project-scoped keys', async () => {
    const [allRun, ownRun] = await Promise.all([
      neonctl(w.orgKeyA.token, ['projects', 'list', '--org-id', w.orgA.id, '-o', 'json']),
      neonctl(projectKey, ['projects', 'list', '--org-id', w.orgA.id, '-o', 'json']),
    ]);
    const all = json(allRun);
    assert.deepEqual(
      new Set((all as Array<{ id: string }>).map((p) => p.id)),
      new Set([w.projectA1, w.projectA2, projectId]),
    );
    const own = json(ownRun);
    assert.deepEqual(
      (own as Array<{ id: string }>).map((p) => p.id),
      [projectId],
    );
  });

  // Plain `projects list` also calls GET /projects/shared (the second table, "Shared with you").
  test('projects list (no --org-id): owned projects, and none shared with a key', async () => {
    const org = json(await neonctl(w.orgKeyA.token, ['projects', 'list', '-o', 'json'])) as {
      projects: Array<{ id: string }>;
      shared_with_you: unknown[];
    };
    assert.deepEqual(new Set(org.projects.map((p) => p.id)), new Set([w.projectA1, w.projectA2, projectId]));
    assert.deepEqual(org.shared_with_you, []);
    const scoped = json(await neonctl(projectKey, ['projects', 'list', '-o', 'json'])) as {
      projects: Array<{ id: string }>;
      shared_with_you: unknown[];
    };
    assert.deepEqual(
      scoped.projects.map((p) => p.id),
      [projectId],
    );
    assert.deepEqual(scoped.shared_with_you, []);
  });

  test('link writes .neon; then connection-string, branches, databases and roles use it', async () => {
    const cwd = fs.mkdtempSync(path.join(scratch, 'linked-'));
    const link = await neonctl(
      w.admin.token,
      ['link', '--org-id', w.orgA.id, '--project-id', projectId],
      cwd,
    );
    assert.equal(link.code, 0, link.stderr);
    assert.match(link.stdout, /Linked .*\.neon/);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(cwd, '.neon'), 'utf8')), {
      orgId: w.orgA.id,
      projectId,
      branch: 'main',
    });
    assert.match(fs.readFileSync(path.join(cwd, '.gitignore'), 'utf8'), /^\.neon$/m);
    // With --api-key nothing is stored in the config directory.
    assert.deepEqual(fs.readdirSync(link.configDir), []);

    const [cs, branchesRun, table, dbsRun, rolesRun] = await Promise.all([
      neonctl(w.admin.token, ['connection-string'], cwd),
      neonctl(w.admin.token, ['branches', 'list', '-o', 'json'], cwd),
      neonctl(w.admin.token, ['branches', 'list'], cwd),
      neonctl(w.admin.token, ['databases', 'list', '-o', 'json'], cwd),
      neonctl(w.admin.token, ['roles', 'list', '-o', 'json'], cwd),
    ]);
    assert.equal(cs.code, 0, cs.stderr);
    assert.equal(cs.stdout.trim(), created.connection_uris[0].connection_uri);

    const branches = json(branchesRun) as Array<{
      id: string;
      name: string;
      default: boolean;
    }>;
    assert.deepEqual(
      branches.map((b) => [b.id, b.name, b.default]),
      [[created.branch.id, 'main', true]],
    );
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /\[default\].*main|main.*\[default\]/);

    const dbs = json(dbsRun);
    assert.deepEqual(dbs, created.databases);
    const roles = json(rolesRun);
    const { password: _password, ...role } = created.roles[0];
    assert.deepEqual(roles, [role]);
  });

  test('connection-string with a project-scoped key and --project-id, pooled', async () => {
    const [cs, other] = await Promise.all([
      neonctl(projectKey, ['connection-string', '--project-id', projectId, '--pooled']),
      neonctl(projectKey, ['branches', 'list', '--project-id', w.projectA1]),
    ]);
    assert.equal(cs.code, 0, cs.stderr);
    const { host, pooler_host } = created.connection_uris[0].connection_parameters;
    assert.equal(cs.stdout.trim(), created.connection_uris[0].connection_uri.replace(host, pooler_host));
    // Another project of the organization does not exist for that key.
    assert.equal(other.code, 1);
    assert.match(other.stderr, /ERROR: project not found/);
  });
});
