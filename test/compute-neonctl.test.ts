// Neon's branch-per-PR flow, end to end, with Neon's real CLI (the pinned neonctl, offline with
// --api-host) and /usr/bin/psql against real computes: the connection strings `neonctl cs`
// prints connect unchanged (sslmode=require&channel_binding=require, so SCRAM-SHA-256-PLUS).
// One flow, run with orgplane as root (its computes then run as an unprivileged OS user) and as a
// normal user (computes run as orgplane's own user). Run by root, the tests start the real server
// as that unprivileged user for the second; run by a normal user, the in-process app is the second
// and the first cannot be run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { computeOsUser } from '../src/compute/osuser.ts';
import { DIALECT } from './helpers/app.ts';
import {
  buildComputeApp,
  computeUid,
  psql,
  query,
  startComputeServerAs,
  type ComputeServer,
} from './helpers/compute.ts';
import { createOrg, createUser } from './helpers/factories.ts';

const require = createRequire(import.meta.url);
const CLI = path.join(path.dirname(require.resolve('neonctl/package.json')), 'bin', 'cli.js');
/** Generous per call (a busy machine starts Node slowly); what is asserted is the outcome. */
const CALL_TIMEOUT_MS = 180_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

interface ApiResult {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
  body: any;
}

/** A running orgplane the flow talks to: its API, an organization and its admin's key. */
type Orgplane = ComputeServer;

/** The in-process app, as the tests' own user. */
async function inProcess(endpointMode: 'relay' | 'direct' = 'relay'): Promise<Orgplane> {
  const { t, root, dispose } = await buildComputeApp({}, { endpointMode });
  const admin = await createUser(t.services, 'admin');
  const orgId = (await createOrg(t.services, admin, 'Compute')).id;
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  return {
    base: `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`,
    token: admin.token,
    orgId,
    uid: process.getuid?.() ?? -1,
    dataDir: root,
    close: dispose,
  };
}

const testsUid = process.getuid?.() ?? -1;
const runs: { as: string; root: boolean; skip: string | false; start: () => Promise<Orgplane> }[] = [
  {
    as: 'root (computes as an unprivileged OS user)',
    root: true,
    skip:
      testsUid === 0
        ? false
        : `the tests run as a normal user (uid ${testsUid}), so orgplane cannot be started as root here; run them as root (as CI does) for this case`,
    start: () => inProcess(),
  },
  {
    as: 'a normal user',
    root: false,
    skip: false,
    start: async () => {
      if (testsUid !== 0) return inProcess();
      // Root starts orgplane itself as the unprivileged user (no user switching inside orgplane).
      const user = await computeOsUser(undefined);
      assert.ok(user, 'root has an unprivileged OS user to run orgplane as');
      return startComputeServerAs(user);
    },
  },
  {
    // ORGPLANE_ENDPOINT_MODE=direct: an awake compute's postgres listens on the endpoint's port itself.
    as: "the tests' user, with direct endpoints",
    root: testsUid === 0,
    skip: false,
    start: () => inProcess('direct'),
  },
];

for (const run of runs) {
  describe(
    `neonctl and psql against real computes, orgplane as ${run.as} (${DIALECT})`,
    { timeout: 1_800_000 },
    () => {
      let o: Orgplane;
      let root: string;
      let spawns = 0;

      function neonctl(args: string[]): Promise<Run> {
        spawns++;
        const configDir = fs.mkdtempSync(path.join(root, 'neonctl-'));
        const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true', HOME: root, NO_COLOR: '1' };
        delete env.NEON_API_KEY;
        delete env.NEON_API_HOST;
        return new Promise((resolve) => {
          execFile(
            process.execPath,
            [
              CLI,
              ...args,
              '--no-analytics',
              '--api-host',
              `${o.base}/api/v2`,
              '--api-key',
              o.token,
              '--config-dir',
              configDir,
            ],
            { cwd: configDir, env, timeout: CALL_TIMEOUT_MS, killSignal: 'SIGKILL' },
            (err, stdout, stderr) => {
              const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
              resolve({ code, stdout, stderr });
            },
          );
        });
      }
      const ok = (r: Run): string => {
        assert.equal(r.code, 0, `neonctl exit ${r.code}: ${r.stderr}`);
        return r.stdout;
      };
      async function api(method: string, url: string, body?: unknown): Promise<ApiResult> {
        const res = await fetch(`${o.base}/api/v2${url}`, {
          method,
          headers: {
            authorization: `Bearer ${o.token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : undefined };
      }

      before(async () => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-neonctl-'));
        // A skipped run starts nothing (its test is skipped, so the runner counts it).
        if (!run.skip) o = await run.start();
      });
      after(async () => {
        await o?.close();
        if (root) fs.rmSync(root, { recursive: true, force: true });
      });

      test(
        'projects create → cs → branches create/reset/delete, roles and databases, refusals',
        { skip: run.skip },
        async () => {
          // The case this run is: orgplane as root, or as a normal user.
          assert.equal(o.uid === 0, run.root, `orgplane runs as uid ${o.uid}`);
          const orgId = o.orgId;

          // projects create, then the default branch's string connects and takes writes.
          const created = JSON.parse(
            ok(await neonctl(['projects', 'create', '--name', 'cli', '--org-id', orgId, '-o', 'json'])),
          ) as {
            project: { id: string };
          };
          const p = ['--project-id', created.project.id];
          const mainUri = ok(await neonctl(['cs', ...p])).trim();
          assert.match(
            mainUri,
            /^postgresql:\/\/neondb_owner:npg_\w+@127\.0\.0\.1:\d+\/neondb\?sslmode=require&channel_binding=require$/,
          );
          await query(mainUri, 'CREATE TABLE items (x int); INSERT INTO items VALUES (1)');
          // Direct endpoints: the postgres answering is the one listening on the string's port itself.
          const endpointPort = new URL(mainUri).port;
          assert.equal(
            (await query(mainUri, 'SELECT inet_server_port()')) === endpointPort,
            run.as.includes('direct'),
          );
          // PostgreSQL runs as orgplane's own user, or, orgplane being root, as an unprivileged one.
          const branches = await api('GET', `/projects/${created.project.id}/branches`);
          const pgUid = computeUid(o.dataDir, branches.body.branches[0].id as string);
          if (o.uid === 0) assert.notEqual(pgUid, 0);
          else assert.equal(pgUid, o.uid);

          // A branch sees its parent's rows; writes on each side stay on that side.
          ok(await neonctl(['branches', 'create', '--name', 'pr-1', ...p, '-o', 'json']));
          const prUri = ok(await neonctl(['cs', 'pr-1', ...p])).trim();
          assert.notEqual(prUri, mainUri);
          assert.equal(await query(prUri, "SELECT string_agg(x::text, ',' ORDER BY x) FROM items"), '1');
          await query(mainUri, 'INSERT INTO items VALUES (2)');
          await query(prUri, 'INSERT INTO items VALUES (10)');
          assert.equal(await query(mainUri, "SELECT string_agg(x::text, ',' ORDER BY x) FROM items"), '1,2');
          assert.equal(await query(prUri, "SELECT string_agg(x::text, ',' ORDER BY x) FROM items"), '1,10');

          // Reset to parent: the branch takes the parent's current data (its own writes are gone).
          ok(await neonctl(['branches', 'reset', 'pr-1', '--parent', ...p]));
          assert.equal(await query(prUri, "SELECT string_agg(x::text, ',' ORDER BY x) FROM items"), '1,2');

          // A new role and database, then connect as them through cs.
          const role = JSON.parse(
            ok(await neonctl(['roles', 'create', '--name', 'alice', ...p, '-o', 'json'])),
          ) as { name: string };
          // neonctl prints the created role itself.
          assert.equal(role.name, 'alice');
          ok(await neonctl(['databases', 'create', '--name', 'appdb', '--owner-name', 'alice', ...p]));
          const aliceUri = ok(
            await neonctl(['cs', '--role-name', 'alice', '--database-name', 'appdb', ...p]),
          ).trim();
          assert.equal(
            await query(aliceUri, "SELECT current_user || '@' || current_database()"),
            'alice@appdb',
          );

          // A wrong password and another project's credentials are refused.
          const wrong = new URL(mainUri);
          wrong.password = 'npg_wrongpassword1';
          const refused = await psql(wrong.href, 'SELECT 1');
          assert.notEqual(refused.code, 0);
          assert.match(refused.stderr, /password authentication failed/);
          const other = await api('POST', '/projects', { project: { name: 'other', org_id: orgId } });
          assert.equal(other.status, 201, JSON.stringify(other.body));
          const otherUri = new URL(other.body.connection_uris[0].connection_uri as string);
          const crossed = new URL(mainUri);
          crossed.username = otherUri.username;
          crossed.password = otherUri.password;
          crossed.pathname = otherUri.pathname;
          assert.equal(crossed.username, 'neondb_owner');
          const cross = await psql(crossed.href, 'SELECT 1');
          assert.notEqual(cross.code, 0, 'another project’s credentials must not open this project');
          assert.match(cross.stderr, /password authentication failed/);
          // …while they open their own project.
          assert.equal(await query(otherUri.href, 'SELECT 1'), '1');

          // Deleting the branch makes its string stop working.
          ok(await neonctl(['branches', 'delete', 'pr-1', ...p]));
          const gone = await psql(prUri, 'SELECT 1');
          assert.notEqual(gone.code, 0);
          assert.equal(await query(mainUri, 'SELECT count(*) FROM items'), '2');

          // Every operation the CLI caused has finished.
          const ops = await api('GET', `/projects/${created.project.id}/operations?limit=100`);
          assert.equal(ops.status, 200);
          assert.ok(ops.body.operations.length >= 6);
          for (const op of ops.body.operations) assert.equal(op.status, 'finished', JSON.stringify(op));
          // Counted, not timed: one CLI process per step.
          assert.equal(spawns, 9);
        },
      );
    },
  );
}
