// Two real server processes (`node bin/orgplane.js serve`) on one PostgreSQL database: a change made
// through process A (revoking a key, removing a member, demoting an admin) is refused by process B
// once B has heard of it (B caches principals and roles and hears of changes by LISTEN/NOTIFY),
// and from then on for good. How stale B may be meanwhile (the 100 ms bound, kept by heartbeats)
// is test/listener-heartbeat.test.ts's, on an injected clock: here B's stale answers are counted
// (a diagnostic), never timed. Key expiry runs on a clock the test holds in both processes
// (test/helpers/clock-server.ts), so the end of a rotation's overlap is set, not waited for.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Services } from '../src/services.ts';
import { DIALECT } from './helpers/app.ts';
import { addMember, buildWorld, createOrgKey, createUser, type World } from './helpers/factories.ts';
import { call, setClock, sharedPostgres, startServer, stopServer, type Server } from './helpers/servers.ts';
import { assertMatchesSpec } from './helpers/spec.ts';

const RETRIES = 20;
/** A guard against a B that never hears (the test would otherwise poll until its timeout). */
const MAX_POLLS = 5000;

/**
 * Polls fn until it answers `status` (B has heard of the change), then asserts RETRIES more
 * answers are the same. Returns how many stale answers came first, for the diagnostic.
 */
async function seenThenForGood(
  fn: () => Promise<{ status: number; body: unknown }>,
  status: number,
  operationId: string,
): Promise<string> {
  let stale = 0;
  for (;;) {
    const res = await fn();
    assertMatchesSpec(operationId, res.status, res.body);
    if (res.status === status) break;
    stale++;
    assert.ok(stale < MAX_POLLS, `still ${res.status} after ${stale} requests: B never heard of the change`);
  }
  for (let i = 0; i < RETRIES; i++) {
    const res = await fn();
    assert.equal(res.status, status, `retry ${i}`);
    assertMatchesSpec(operationId, res.status, res.body);
  }
  return `after ${stale} stale answer(s)`;
}

describe('two server processes on one PostgreSQL', () => {
  let shared: Awaited<ReturnType<typeof sharedPostgres>> | undefined;
  let s: Services;
  let w: World;
  let a: Server | undefined;
  let b: Server | undefined;

  before(async () => {
    if (DIALECT !== 'postgres') return;
    shared = await sharedPostgres('orgplane_mp');
    s = shared.services;
    w = await buildWorld(s);
    [a, b] = await Promise.all([
      startServer('A', shared.databaseUrl, shared.dataDir, {}, { clock: true }),
      startServer('B', shared.databaseUrl, shared.dataDir, {}, { clock: true }),
    ]);
  });

  after(async () => {
    if (DIALECT !== 'postgres') return;
    await Promise.all([stopServer(a), stopServer(b)]);
    await shared?.dispose();
  });

  const servers = () => {
    assert.ok(a && b);
    return { A: a, B: b };
  };

  test('a personal key revoked through A is refused by B once B heard of it, and for good', async (c) => {
    if (DIALECT !== 'postgres') return c.skip('PostgreSQL only');
    const { A, B } = servers();
    const u = await createUser(s, 'revokee');
    // Both processes have seen the key working (a per-process cache would now hold it).
    for (const srv of [A, B, B]) assert.equal((await call(srv, 'GET', '/api/v2/auth', u.token)).status, 200);
    const del = await call(A, 'DELETE', `/api/v2/api_keys/${u.keyId}`, u.token);
    assert.equal(del.status, 200);
    assertMatchesSpec('revokeApiKey', del.status, del.body);
    const stale = await seenThenForGood(() => call(B, 'GET', '/api/v2/auth', u.token), 401, 'getAuthDetails');
    c.diagnostic(`B refused the revoked key ${stale}`);
    assert.equal((await call(A, 'GET', '/api/v2/auth', u.token)).status, 401);
  });

  test('an organization key revoked through A is refused by B once B heard of it, and for good', async (c) => {
    if (DIALECT !== 'postgres') return c.skip('PostgreSQL only');
    const { A, B } = servers();
    const key = await createOrgKey(s, w.orgA.id, w.admin);
    const url = `/api/v2/organizations/${w.orgA.id}/members`;
    for (const srv of [A, B, B]) assert.equal((await call(srv, 'GET', url, key.token)).status, 200);
    const del = await call(
      A,
      'DELETE',
      `/api/v2/organizations/${w.orgA.id}/api_keys/${key.id}`,
      w.admin.token,
    );
    assert.equal(del.status, 200);
    assertMatchesSpec('revokeOrgApiKey', del.status, del.body);
    const stale = await seenThenForGood(() => call(B, 'GET', url, key.token), 401, 'getOrganizationMembers');
    c.diagnostic(`B refused the revoked organization key ${stale}`);
  });

  test('a member removed through A gets 404 on the organization through B once B heard of it', async (c) => {
    if (DIALECT !== 'postgres') return c.skip('PostgreSQL only');
    const { A, B } = servers();
    const u = await createUser(s, 'removee');
    const row = await addMember(s, w.orgA.id, u, 'member');
    const url = `/api/v2/organizations/${w.orgA.id}`;
    for (const srv of [A, B, B]) assert.equal((await call(srv, 'GET', url, u.token)).status, 200);
    const del = await call(
      A,
      'DELETE',
      `/api/v2/organizations/${w.orgA.id}/members/${row.id}`,
      w.admin.token,
    );
    assert.equal(del.status, 200);
    assertMatchesSpec('removeOrganizationMember', del.status, del.body);
    const stale = await seenThenForGood(() => call(B, 'GET', url, u.token), 404, 'getOrganization');
    c.diagnostic(`B refused the removed member ${stale}`);
    // The key itself still authenticates (it is the user's), it just reaches nothing in A.
    const orgs = await call(B, 'GET', '/api/v2/users/me/organizations', u.token);
    assert.equal(orgs.status, 200);
    assert.deepEqual(orgs.body.organizations, []);
  });

  test('two admins demoting each other through different processes at once leave exactly one admin', async (c) => {
    if (DIALECT !== 'postgres') return c.skip('PostgreSQL only');
    const { A, B } = servers();
    for (let round = 0; round < 10; round++) {
      const x = await createUser(s, 'x');
      const y = await createUser(s, 'y');
      const org = await s.organizations.createWithAdmin(x.id, { name: 'Race' });
      const yRow = await addMember(s, org.id, y, 'admin');
      const xRow = await s.db.kysely
        .selectFrom('members')
        .select('id')
        .where('org_id', '=', org.id)
        .where('user_id', '=', x.id)
        .executeTakeFirstOrThrow();
      const [rx, ry] = await Promise.all([
        call(A, 'PATCH', `/api/v2/organizations/${org.id}/members/${yRow.id}`, x.token, { role: 'member' }),
        call(B, 'PATCH', `/api/v2/organizations/${org.id}/members/${xRow.id}`, y.token, { role: 'member' }),
      ]);
      assertMatchesSpec('updateOrganizationMember', rx.status, rx.body);
      assertMatchesSpec('updateOrganizationMember', ry.status, ry.body);
      assert.deepEqual([rx.status, ry.status].sort(), [200, 403], `round ${round}`);
      const admins = await s.db.kysely
        .selectFrom('members')
        .select('user_id')
        .where('org_id', '=', org.id)
        .where('role', '=', 'admin')
        .execute();
      assert.equal(admins.length, 1, `round ${round}`);
    }
  });

  test('an admin demoted through A is refused admin actions by B once B heard of it', async (c) => {
    if (DIALECT !== 'postgres') return c.skip('PostgreSQL only');
    const { A, B } = servers();
    const u = await createUser(s, 'demotee');
    const row = await addMember(s, w.orgA.id, u, 'admin');
    const adminAction = () =>
      call(B, 'POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, u.token, { key_name: 'mp' });
    const warm = await adminAction();
    assert.equal(warm.status, 200);
    // A read memoises the admin role in B (the write above moved B's version).
    const getOrg = () => call(B, 'GET', `/api/v2/organizations/${w.orgA.id}`, u.token);
    for (let i = 0; i < 3; i++) assert.equal((await getOrg()).status, 200);
    const patch = await call(
      A,
      'PATCH',
      `/api/v2/organizations/${w.orgA.id}/members/${row.id}`,
      w.admin.token,
      {
        role: 'member',
      },
    );
    assert.equal(patch.status, 200);
    assertMatchesSpec('updateOrganizationMember', patch.status, patch.body);
    assert.equal(patch.body.role, 'member');
    // The probe is a write, which resets B's cache itself: at most one stale answer, then B
    // reads the role again. "For good" is the claim here; the bound is the heartbeat test's.
    const stale = await seenThenForGood(adminAction, 403, 'createOrgApiKey');
    c.diagnostic(`B refused the demoted admin ${stale}`);
  });

  test('one Idempotency-Key sent to both processes at once: the work is done once', async (c) => {
    if (DIALECT !== 'postgres') return c.skip('PostgreSQL only');
    const { A, B } = servers();
    const url = `/api/v2/organizations/${w.orgA.id}/api_keys`;
    const headers = { 'idempotency-key': `mp-${randomBytes(4).toString('hex')}` };
    const results = await Promise.all(
      [A, B, A, B, A, B].map((srv) =>
        call(srv, 'POST', url, w.admin.token, { key_name: 'mp-idem' }, headers),
      ),
    );
    const statuses = results.map((r) => r.status);
    assert.ok(
      statuses.every((x) => x === 200 || x === 409),
      statuses.join(','),
    );
    const firsts = results.filter((r) => r.status === 200 && r.headers.get('idempotent-replayed') === null);
    assert.equal(firsts.length, 1, statuses.join(','));
    const again = await call(B, 'POST', url, w.admin.token, { key_name: 'mp-idem' }, headers);
    assert.equal(again.status, 200);
    assert.equal(again.body.id, firsts[0]?.body.id);
    assert.equal(again.headers.get('idempotent-token-redacted'), 'true');
    const rows = await s.db.kysely
      .selectFrom('api_keys')
      .select('id')
      .where('name', '=', 'mp-idem')
      .execute();
    assert.equal(rows.length, 1);
  });

  test('a key rotated through A with an overlap works on B until the overlap ends, then not', async (c) => {
    if (DIALECT !== 'postgres') return c.skip('PostgreSQL only');
    const { A, B } = servers();
    const key = await createOrgKey(s, w.orgA.id, w.admin);
    for (const srv of [A, B, B])
      assert.equal((await call(srv, 'GET', '/api/v2/auth', key.token)).status, 200);
    // Both clocks held at one whole second (the overlap's end is rounded up to one), moved by the
    // test: the end of the overlap is an instant both processes are put at, not one waited for.
    const t0 = Math.ceil(Date.now() / 1000) * 1000;
    const at = (ms: number) => Promise.all([setClock(A, ms), setClock(B, ms)]);
    c.after(() => Promise.all([setClock(A, 'real'), setClock(B, 'real')]));
    await at(t0);
    const rot = await call(
      A,
      'POST',
      `/api/v2/organizations/${w.orgA.id}/api_keys/${key.id}/rotate`,
      w.admin.token,
      {
        overlap_seconds: 2,
      },
    );
    assert.equal(rot.status, 200);
    const end = Date.parse(rot.body.rotated_from.expires_at);
    assert.equal(end, t0 + 2000, "the overlap ends 2 s after the rotation, on A's clock");
    assert.equal((await call(B, 'GET', '/api/v2/auth', key.token)).status, 200, 'during the overlap');
    await at(end - 1);
    assert.equal(
      (await call(B, 'GET', '/api/v2/auth', key.token)).status,
      200,
      'B, last instant of the overlap',
    );
    await at(end);
    assert.equal((await call(B, 'GET', '/api/v2/auth', key.token)).status, 401, 'B after the overlap');
    assert.equal((await call(A, 'GET', '/api/v2/auth', key.token)).status, 401, 'A after the overlap');
    assert.equal((await call(B, 'GET', '/api/v2/auth', rot.body.key)).status, 200);
  });
});
