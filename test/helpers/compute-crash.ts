// The crash harness of test/compute-crash-*.test.ts: SIGKILL of orgplane at named steps of branch
// creation, reset (restore from the parent) and deletion, and SIGKILL of a compute in the middle of
// a branch copy. The server is the real one with its compute work held at one step
// (test/helpers/crash-compute-server.ts says on stderr when it is there): the kill lands exactly at
// that step, not after a guessed delay. After each restart: every branch the API lists connects
// and holds the rows it should, every data directory has its record and every record its data, no
// operation is left running, and a session open on the parent while it was being branched was
// never cut.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { createServices } from '../../src/services.ts';
import { DIALECT, testConfig } from './app.ts';
import { query } from './compute.ts';
import { crashEnvironment, startCrashServer, type CrashServer } from './crash.ts';
import { createOrg, createUser } from './factories.ts';

const PAUSED_PREFIX = 'orgplane-test: paused at ';
const ARMED_LINE = 'orgplane-test: armed';
const rowsSql = "SELECT coalesce(string_agg(x::text, ',' ORDER BY x), '') FROM items";

interface Running extends CrashServer {
  /** The step the server's work is held at, once it is there. */
  paused: Promise<string>;
}

export type CrashOp = 'create' | 'reset' | 'delete';

/**
 * One file's crash suite: a project with rows and a branch pr, then for each kill point the
 * operation is started, held there, orgplane is killed, and the restart is checked; with
 * computeKill, last a compute is killed during a copy. One file per operation keeps each file
 * well inside the runner's per-file timeout on a busy machine.
 */
export function crashSuite(op: CrashOp, kills: string[], computeKill = false): void {
  const title =
    kills.length > 0 ? `SIGKILL of orgplane during branch ${op}` : 'SIGKILL of a compute during a copy';
  describe(`${title} (${DIALECT})`, { timeout: 1_800_000 }, () => {
    const crash = crashEnvironment('ccrash', { ORGPLANE_COMPUTE: 'on' });
    const { dataDir, open } = crash;
    // The compute user (when tests run as root) must traverse this directory.
    fs.chmodSync(dataDir, 0o755);
    const branchesDir = path.join(dataDir, 'compute', 'branches');

    let token = '';
    let orgId = '';
    let projectId = '';
    let mainId = '';
    let server: Running | undefined;
    /** The rows the default branch holds (every branch made from it sees them). */
    let mainRows = '';

    before(async () => {
      await crash.setUp();
      const db = open();
      try {
        await migrateToLatest(db);
        const s = createServices(db, testConfig(), pino({ level: 'silent' }));
        const u = await createUser(s, 'crash');
        token = u.token;
        orgId = (await createOrg(s, u, 'Compute crash')).id;
      } finally {
        await db.close();
      }
    });

    after(async () => {
      await kill();
      // Postgres processes the last server started (they outlive a SIGKILL of orgplane).
      for (const id of fs.existsSync(branchesDir) ? fs.readdirSync(branchesDir) : []) {
        const pid = postmasterPid(id);
        if (pid !== undefined) process.kill(pid, 'SIGKILL');
      }
      await crash.tearDown();
    });

    /** The server, its compute work held at `pauseAt` (once, after start-up repair) when given. */
    async function start(pauseAt = ''): Promise<Running> {
      // Ready once start-up repair has run and the API listens (the helper says so).
      const s = await startCrashServer(
        ['--import', 'tsx', 'test/helpers/crash-compute-server.ts'],
        { ...crash.env, ORGPLANE_TEST_PAUSE_AT: pauseAt },
        { stdin: true, readyLine: ARMED_LINE },
      );
      const running = { ...s, paused: s.line(PAUSED_PREFIX) };
      server = running;
      return running;
    }

    async function kill(): Promise<void> {
      const s = server;
      server = undefined;
      await s?.kill();
    }

    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
    async function api(method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
      const s = server;
      assert.ok(s, 'a server is running');
      const res = await fetch(`${s.base}/api/v2${url}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    }

    async function uri(branchId: string): Promise<string> {
      const r = await api(
        'GET',
        `/projects/${projectId}/connection_uri?branch_id=${branchId}&database_name=neondb&role_name=neondb_owner`,
      );
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.uri as string;
    }

    async function branchByName(name: string): Promise<{ id: string } | undefined> {
      const r = await api('GET', `/projects/${projectId}/branches`);
      assert.equal(r.status, 200);
      return (r.body.branches as { id: string; name: string }[]).find((b) => b.name === name);
    }

    function postmasterPid(branchId: string): number | undefined {
      try {
        const pid = Number(
          fs.readFileSync(path.join(branchesDir, branchId, 'postmaster.pid'), 'utf8').split('\n')[0],
        );
        process.kill(pid, 0);
        return pid;
      } catch {
        return undefined;
      }
    }

    /** A session on the default branch through its endpoint, held open across the branching. */
    async function parentSession(): Promise<{ client: pg.Client; pid: number }> {
      const u = new URL(await uri(mainId));
      u.searchParams.delete('sslmode');
      u.searchParams.delete('channel_binding');
      const client = new pg.Client({
        connectionString: u.href,
        ssl: { ca: fs.readFileSync(path.join(dataDir, 'compute', 'tls', 'ca.crt'), 'utf8') },
      });
      client.on('error', () => undefined); // the kill of orgplane ends it; that is not a failure here
      await client.connect();
      const r = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      return { client, pid: r.rows[0]?.pid ?? 0 };
    }

    async function stillSame(session: { client: pg.Client; pid: number }, when: string): Promise<void> {
      const r = await session.client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      assert.equal(r.rows[0]?.pid, session.pid, `the parent's session was replaced ${when}`);
    }

    /** After a restart: records and data agree, nothing runs, every listed branch connects. */
    async function consistent(label: string): Promise<Map<string, string>> {
      const db = open();
      let ids: string[];
      let running: number;
      try {
        ids = (await db.kysely.selectFrom('branches').select('id').execute()).map((b) => b.id).sort();
        running = (
          await db.kysely
            .selectFrom('project_operations')
            .select('id')
            .where('status', '=', 'running')
            .execute()
        ).length;
      } finally {
        await db.close();
      }
      const dirs = fs
        .readdirSync(branchesDir)
        .filter((d) => fs.existsSync(path.join(branchesDir, d, 'PG_VERSION')))
        .sort();
      assert.deepEqual(dirs, ids, `${label}: data directories and branch records differ`);
      assert.equal(running, 0, `${label}: an operation is still running after the restart`);
      const aside = fs.readdirSync(path.join(dataDir, 'compute', 'tmp'));
      assert.deepEqual(aside, [], `${label}: half-made data left aside`);
      const listed = await api('GET', `/projects/${projectId}/branches`);
      assert.equal(listed.status, 200);
      const seen = new Map<string, string>();
      for (const b of listed.body.branches as { id: string; name: string }[]) {
        seen.set(b.name, await query(await uri(b.id), rowsSql));
      }
      assert.equal(seen.size, ids.length, `${label}: the API lists other branches than the records`);
      return seen;
    }

    const points = kills.map((at) => ({ op, at }));
    const COMPUTE_KILL_AT = 'create:backup-started';
    /** What the restart after kill point i waits at: the next point (the last: the compute kill's). */
    const pauseAfter = (i: number): string => points[i + 1]?.at ?? (computeKill ? COMPUTE_KILL_AT : '');

    test('setup: a project with rows; branching leaves the parent’s open session alone', async () => {
      await start();
      const created = await api('POST', '/projects', { project: { name: 'crash', org_id: orgId } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      projectId = created.body.project.id;
      mainId = created.body.branch.id;
      await query(await uri(mainId), 'CREATE TABLE items (x int); INSERT INTO items VALUES (1)');
      mainRows = '1';
      const session = await parentSession();
      await session.client.query('BEGIN');
      await session.client.query('INSERT INTO items VALUES (100)'); // uncommitted: not in any branch
      const pr = await api('POST', `/projects/${projectId}/branches`, {
        branch: { name: 'pr' },
        endpoints: [{ type: 'read_write' }],
      });
      assert.equal(pr.status, 201, JSON.stringify(pr.body));
      await stillSame(session, 'by a whole branch creation');
      await session.client.query('ROLLBACK');
      await session.client.end();
      assert.equal(await query(await uri(pr.body.branch.id), rowsSql), '1');
      await kill();
      // Each restart is already held for the next kill point (fewer starts on a busy machine).
      await start(pauseAfter(-1));
    });

    for (const [i, { op, at }] of points.entries()) {
      test(`orgplane killed at ${at} (${op}): the restart leaves every branch whole and connecting`, async () => {
        const s = server;
        assert.ok(s, 'the previous test left the server held at this point');
        const pr = await branchByName('pr');
        assert.ok(pr, 'the branch pr exists');
        // A row only the branch has (a reset drops it) and one only the parent has (a reset brings it).
        await query(await uri(pr.id), `INSERT INTO items VALUES (${1000 + i})`);
        const parentRow = 10 + i;
        await query(await uri(mainId), `INSERT INTO items VALUES (${parentRow})`);
        mainRows = `${mainRows},${parentRow}`;
        let victim = '';
        if (op === 'delete') {
          const made = await api('POST', `/projects/${projectId}/branches`, {
            branch: { name: `victim-${i}` },
            endpoints: [{ type: 'read_write' }],
          });
          assert.equal(made.status, 201, JSON.stringify(made.body));
          victim = made.body.branch.id;
        }
        const session = await parentSession();
        const request =
          op === 'create'
            ? api('POST', `/projects/${projectId}/branches`, {
                branch: { name: `c-${i}` },
                endpoints: [{ type: 'read_write' }],
              })
            : op === 'reset'
              ? api('POST', `/projects/${projectId}/branches/${pr.id}/restore`, { source_branch_id: mainId })
              : api('DELETE', `/projects/${projectId}/branches/${victim}`);
        const outcome = request.catch((err: unknown) => err);
        // An answer before the step (e.g. 423 from a project a failed restart left busy) fails
        // here with that answer, instead of waiting for a pause that never comes.
        assert.equal(await Promise.race([s.paused, outcome]), at, `${op} answered before reaching ${at}`);
        await stillSame(session, `while ${op} was held at ${at}`);
        await kill();
        assert.ok((await outcome) instanceof Error, 'the client never got an answer');
        await session.client.end().catch(() => undefined);

        await start(pauseAfter(i));
        const after = await consistent(`after ${at}`);
        assert.equal(after.get('main'), mainRows, 'the parent lost no committed row');
        if (op === 'create') assert.equal(after.has(`c-${i}`), false, 'an interrupted creation is undone');
        if (op === 'delete')
          assert.equal(after.has(`victim-${i}`), false, 'an interrupted deletion is finished');
        if (op === 'reset') assert.equal(after.get('pr'), mainRows, 'an interrupted reset is finished');
      });
    }

    if (!computeKill) {
      test('after the crashes the project takes a new branch', async () => {
        const again = await api('POST', `/projects/${projectId}/branches`, {
          branch: { name: 'after-crashes' },
          endpoints: [{ type: 'read_write' }],
        });
        assert.equal(again.status, 201, JSON.stringify(again.body));
        assert.equal(await query(await uri(again.body.branch.id), rowsSql), mainRows);
        await kill();
      });
      return;
    }

    test('a compute killed while it is being copied: the branch is whole or absent, the parent wakes', async () => {
      const s = server;
      assert.ok(s, 'the previous test left the server held at the copy');
      const session = await parentSession();
      const request = api('POST', `/projects/${projectId}/branches`, {
        branch: { name: 'copy-killed' },
        endpoints: [{ type: 'read_write' }],
      });
      const answered = request.then(
        (r) => JSON.stringify(r.body),
        (err: unknown) => String(err),
      );
      assert.equal(
        await Promise.race([s.paused, answered]),
        COMPUTE_KILL_AT,
        'the creation answered before its copy',
      );
      const pid = postmasterPid(mainId);
      assert.ok(pid, 'the parent is running');
      process.kill(pid, 'SIGKILL');
      s.child.stdin?.write('continue\n');
      const res = await request;
      await session.client.end().catch(() => undefined);
      // Either answer is honest (the copy may finish from files already read); nothing half-made.
      assert.ok(res.status === 201 || res.status === 503, JSON.stringify(res.body));
      const seen = await consistent('after the compute kill');
      assert.equal(seen.has('copy-killed'), res.status === 201);
      assert.equal(seen.get('main'), mainRows, 'the parent lost no committed row');
      // A compute killed while idle: the next connection starts it again.
      const idle = postmasterPid(mainId);
      assert.ok(idle);
      process.kill(idle, 'SIGKILL');
      assert.equal(await query(await uri(mainId), rowsSql), mainRows);
      await kill();
      // And after orgplane restarts over the compute it left behind; the project is not left locked.
      await start();
      await consistent('after a restart over a killed compute');
      const again = await api('POST', `/projects/${projectId}/branches`, {
        branch: { name: 'after-crashes' },
        endpoints: [{ type: 'read_write' }],
      });
      assert.equal(again.status, 201, JSON.stringify(again.body));
      assert.equal(await query(await uri(again.body.branch.id), rowsSql), mainRows);
      await kill();
    });
  });
}
