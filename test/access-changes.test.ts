// The Authenticator's guarantees (src/auth/authenticator.ts), through the real app on both
// databases: it caches principals and roles (the first test proves the cache is used, so the rest
// would catch stale answers), and every change to access is seen
//   - made through this process: on the very next request;
//   - made by another connection to the database (the CLI, another server): SQLite on the next
//     request (access_version triggers), PostgreSQL on the first request after its notification
//     arrived (LISTEN/NOTIFY). The test waits for that with a heartbeat barrier, not a timer; how
//     late a notification may be before the cache turns itself off is listener-heartbeat's test.
// Each case first primes the cache with a successful request, then changes access, then asserts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import SQLite from 'better-sqlite3';
import type { KyselyPlugin, OperationNode, PluginTransformQueryArgs, RootOperationNode } from 'kysely';
import pg from 'pg';
import { buildTestApp, DIALECT, HeartbeatBarrier, PG_URL, type Res, type TestApp } from './helpers/app.ts';
import { addMember, createOrg, createOrgKey, createProjectRecord, createUser } from './helpers/factories.ts';
import { assertMatchesSpec } from './helpers/spec.ts';
import { nowIso } from '../src/domain/time.ts';

/** Counts SELECTs per table: the cache is used when a primed request reads no key or role. */
class SelectCounter implements KyselyPlugin {
  readonly counts = new Map<string, number>();
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (args.node.kind === 'SelectQueryNode') {
      for (const from of args.node.from?.froms ?? []) {
        const name = tableName(from);
        if (name) this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
      }
    }
    return args.node;
  }
  async transformResult<T>(args: { result: T }): Promise<T> {
    return args.result;
  }
  /** SELECTs from table during fn. */
  async during(table: string, fn: () => Promise<unknown>): Promise<number> {
    const before = this.counts.get(table) ?? 0;
    await fn();
    return (this.counts.get(table) ?? 0) - before;
  }
}

function tableName(node: OperationNode): string | undefined {
  const n = node as { kind: string; node?: OperationNode; table?: { identifier: { name: string } } };
  if (n.kind === 'AliasNode' && n.node) return tableName(n.node);
  if (n.kind === 'TableNode') return n.table?.identifier.name;
  return undefined;
}

/** Another connection to the same database, as the CLI in another process would have. */
interface OtherConnection {
  run(sqlText: string, params: unknown[]): Promise<void>;
  close(): Promise<void>;
}

async function otherConnection(t: TestApp): Promise<OtherConnection> {
  if (DIALECT === 'sqlite') {
    assert.ok(t.sqliteFile);
    const c = new SQLite(t.sqliteFile);
    c.pragma('busy_timeout = 5000');
    return {
      run: async (sqlText, params) => void c.prepare(sqlText).run(...params),
      close: async () => void c.close(),
    };
  }
  const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${t.pgSchema}` });
  await c.connect();
  return {
    run: async (sqlText, params) => {
      let i = 0;
      await c.query(
        sqlText.replace(/\?/g, () => `$${++i}`),
        params,
      );
    },
    close: () => c.end(),
  };
}

describe('access changes: cached principals and roles never outlive a change', () => {
  let t: TestApp;
  const selects = new SelectCounter();
  const heartbeat = new HeartbeatBarrier();
  before(async () => {
    t = await buildTestApp(
      {},
      { kyselyPlugins: [selects], sqliteOnDisk: true, listenerHeartbeat: heartbeat.options },
    );
    const u = await createUser(t.services, 'warmup');
    // PostgreSQL: the cache is used only once the LISTEN connection has proven itself.
    await heartbeat.sync(t);
    assert.equal((await t.call('GET', '/api/v2/auth', { token: u.token })).status, 200);
    assert.ok(t.services.access.size > 0, 'the authenticator caches keys');
  });
  after(() => t.close());

  /**
   * Primes the cache: the request succeeds, and a repetition reads no key from the database.
   * PostgreSQL: the factories' own writes notify this process (and empty its cache); the barrier
   * waits until those notifications have arrived, so the priming request is the last read.
   */
  async function prime(fn: () => Promise<Res>, status = 200): Promise<void> {
    await heartbeat.sync(t);
    assert.equal((await fn()).status, status);
    let res: Res | undefined;
    const keyReads = await selects.during('api_keys', async () => {
      res = await fn();
    });
    assert.equal(res?.status, status, res?.text);
    assert.equal(keyReads, 0, 'a primed key is served from the cache');
  }

  test('the cache is used: a known key and a known role are not read again', async () => {
    const u = await createUser(t.services, 'cached');
    const org = await createOrg(t.services, u, 'Cached');
    const getOrg = () => t.call('GET', `/api/v2/organizations/${org.id}`, { token: u.token });
    assert.ok((await selects.during('api_keys', getOrg)) >= 1, 'the first request reads its key');
    await prime(getOrg);
    const sizeAfterFirst = t.services.access.size;
    assert.ok(sizeAfterFirst >= 1);
    assert.equal(await selects.during('members', getOrg), 0, 'nor its role');
    assert.equal(t.services.access.size, sizeAfterFirst);
  });

  test('a personal key revoked through the API: refused on the very next request', async () => {
    const u = await createUser(t.services, 'revokee');
    const me = () => t.call('GET', '/api/v2/users/me', { token: u.token });
    await prime(me);
    const del = await t.call('DELETE', `/api/v2/api_keys/${u.keyId}`, { token: u.token });
    assert.equal(del.status, 200, del.text);
    const res = await me();
    assert.equal(res.status, 401);
    assertMatchesSpec('getCurrentUserInfo', res.status, res.body);
  });

  test('an organization key revoked through the API: refused on the very next request', async () => {
    const admin = await createUser(t.services, 'admin');
    const org = await createOrg(t.services, admin, 'Keys');
    const key = await createOrgKey(t.services, org.id, admin);
    const members = () => t.call('GET', `/api/v2/organizations/${org.id}/members`, { token: key.token });
    await prime(members);
    const del = await t.call('DELETE', `/api/v2/organizations/${org.id}/api_keys/${key.id}`, {
      token: admin.token,
    });
    assert.equal(del.status, 200, del.text);
    const res = await members();
    assert.equal(res.status, 401);
    assertMatchesSpec('getOrganizationMembers', res.status, res.body);
  });

  test('a member removed through the API: the organization is gone on the very next request', async () => {
    const admin = await createUser(t.services, 'admin');
    const org = await createOrg(t.services, admin, 'Removal');
    const u = await createUser(t.services, 'removee');
    const row = await addMember(t.services, org.id, u, 'member');
    const getOrg = () => t.call('GET', `/api/v2/organizations/${org.id}`, { token: u.token });
    await prime(getOrg);
    const del = await t.call('DELETE', `/api/v2/organizations/${org.id}/members/${row.id}`, {
      token: admin.token,
    });
    assert.equal(del.status, 200, del.text);
    const res = await getOrg();
    assert.equal(res.status, 404);
    assertMatchesSpec('getOrganization', res.status, res.body);
  });

  test('an admin demoted to member through the API: admin actions refused on the very next request', async () => {
    const admin = await createUser(t.services, 'admin');
    const org = await createOrg(t.services, admin, 'Demotion');
    const u = await createUser(t.services, 'demotee');
    const row = await addMember(t.services, org.id, u, 'admin');
    // Creating an organization key is for admins, and asks the (memoised) role outside any lock.
    const adminAction = () =>
      t.call('POST', `/api/v2/organizations/${org.id}/api_keys`, { token: u.token, body: { key_name: 'k' } });
    assert.equal((await adminAction()).status, 200);
    const getOrg = () => t.call('GET', `/api/v2/organizations/${org.id}`, { token: u.token });
    await prime(getOrg);
    assert.equal(await selects.during('members', getOrg), 0, 'the admin role is memoised');
    const patch = await t.call('PATCH', `/api/v2/organizations/${org.id}/members/${row.id}`, {
      token: admin.token,
      body: { role: 'member' },
    });
    assert.equal(patch.status, 200, patch.text);
    const res = await adminAction();
    assert.equal(res.status, 403, res.text);
    assertMatchesSpec('createOrgApiKey', res.status, res.body);
  });

  test('a project transferred to another organization: its project-scoped keys stop on the very next request', async () => {
    const admin = await createUser(t.services, 'admin');
    const from = await createOrg(t.services, admin, 'From');
    const to = await createOrg(t.services, admin, 'To');
    const project = await createProjectRecord(t.services, from.id, admin.id, 'moving');
    const key = await createOrgKey(t.services, from.id, admin, project);
    const getProject = () => t.call('GET', `/api/v2/projects/${project}`, { token: key.token });
    await prime(getProject);
    const moved = await t.call('POST', `/api/v2/organizations/${from.id}/projects/transfer`, {
      token: admin.token,
      body: { destination_org_id: to.id, project_ids: [project] },
    });
    assert.equal(moved.status, 200, moved.text);
    const res = await getProject();
    assert.equal(res.status, 401, res.text);
    assertMatchesSpec('getProject', res.status, res.body);
  });

  describe('changes made by another connection to the database', () => {
    let other: OtherConnection;
    before(async () => {
      other = await otherConnection(t);
    });
    after(() => other.close());

    /**
     * The next request after the change was seen answers `status`: SQLite at once (the request
     * reads the version), PostgreSQL once the change's notification has arrived (the barrier).
     */
    async function seen(fn: () => Promise<Res>, status: number): Promise<void> {
      await heartbeat.sync(t);
      const res = await fn();
      assert.equal(res.status, status, res.text);
    }

    test('a key revoked by another connection', async () => {
      const u = await createUser(t.services, 'cli-revokee');
      const me = () => t.call('GET', '/api/v2/users/me', { token: u.token });
      await prime(me);
      await other.run('update api_keys set revoked_at = ? where id = ?', [nowIso(), u.keyId]);
      await seen(me, 401);
      for (let i = 0; i < 5; i++) assert.equal((await me()).status, 401);
    });

    test('a member removed and an admin demoted by another connection', async () => {
      const admin = await createUser(t.services, 'admin');
      const org = await createOrg(t.services, admin, 'CLI');
      const gone = await createUser(t.services, 'cli-removee');
      await addMember(t.services, org.id, gone, 'member');
      const demoted = await createUser(t.services, 'cli-demotee');
      await addMember(t.services, org.id, demoted, 'admin');
      const getOrg = () => t.call('GET', `/api/v2/organizations/${org.id}`, { token: gone.token });
      const adminAction = () =>
        t.call('POST', `/api/v2/organizations/${org.id}/api_keys`, {
          token: demoted.token,
          body: { key_name: 'k' },
        });
      assert.equal((await adminAction()).status, 200);
      await prime(getOrg);
      // The demotee's role as admin is memoised by a read (after the write above moved the version).
      await prime(() => t.call('GET', `/api/v2/organizations/${org.id}`, { token: demoted.token }));
      await other.run('delete from members where org_id = ? and user_id = ?', [org.id, gone.id]);
      await seen(getOrg, 404);
      await other.run("update members set role = 'member' where org_id = ? and user_id = ?", [
        org.id,
        demoted.id,
      ]);
      // The probe is a write, but this process resets its cache after a write, not before its
      // role check: only the notification can make this 403.
      await seen(adminAction, 403);
      assert.equal((await getOrg()).status, 404);
      assert.equal((await adminAction()).status, 403);
    });
  });
});
