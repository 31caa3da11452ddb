import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createApiClient } from '@neondatabase/api-client';
import { sql } from 'kysely';
import pg from 'pg';
import { buildTestApp, DIALECT, PG_URL, type TestApp } from '../../test/helpers/app.ts';
import {
  addMember,
  buildWorld,
  createOrg,
  createOrgKey,
  createProjectRecord,
  createProjects,
  createUser,
  type World,
} from '../../test/helpers/factories.ts';
import { assertMatchesSpec } from '../../test/helpers/spec.ts';

describe('project transfers', () => {
  let t: TestApp;
  let w: World;
  /** Org C: w.admin is admin there too, so A → C transfers are allowed. */
  let orgC: { id: string };
  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
    orgC = await createOrg(t.services, w.admin, 'Org C', 'scale');
  });
  after(() => t.close());

  /** Neon's SDK needs a listening server; the first caller starts it. */
  async function sdk(token: string) {
    if (!t.app.server.listening) await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    return createApiClient({ apiKey: token, baseURL: `http://127.0.0.1:${port}/api/v2` });
  }
  const orgOf = async (id: string) =>
    (await t.db.kysely.selectFrom('projects').select('org_id').where('id', '=', id).executeTakeFirstOrThrow())
      .org_id;
  const transfer = (source: string, body: unknown, token: string, query = '') =>
    t.call('POST', `/api/v2/organizations/${source}/projects/transfer${query}`, { token, body });

  test("Neon's SDK: a transfer moves the projects, keeps connection data, and kills their project keys at once", async () => {
    const ids = await createProjects(t.services, w.orgA.id, w.admin.id, 3);
    const [p0, p1, p2] = ids as [string, string, string];
    const before = await t.db.kysely
      .selectFrom('projects')
      .selectAll()
      .where('id', '=', p0)
      .executeTakeFirstOrThrow();
    const keyMoved = await createOrgKey(t.services, w.orgA.id, w.admin, p0);
    const keyStays = await createOrgKey(t.services, w.orgA.id, w.admin, p2);
    assert.equal((await t.call('GET', `/api/v2/projects/${p0}`, { token: keyMoved.token })).status, 200);

    const api = await sdk(w.admin.token);
    const res = await api.transferProjectsFromOrgToOrg(w.orgA.id, {
      destination_org_id: orgC.id,
      project_ids: [p0, p1],
    });
    assert.equal(res.status, 200);
    assertMatchesSpec('transferProjectsFromOrgToOrg', res.status, res.data);
    assert.deepEqual(res.data, {});

    assert.equal(await orgOf(p0), orgC.id);
    assert.equal(await orgOf(p1), orgC.id);
    assert.equal(await orgOf(p2), w.orgA.id);
    const moved = await t.call('GET', `/api/v2/projects/${p0}`, { token: w.admin.token });
    assertMatchesSpec('getProject', moved.status, moved.body);
    assert.equal(moved.body.project.org_id, orgC.id);
    const row = await t.db.kysely
      .selectFrom('projects')
      .selectAll()
      .where('id', '=', p0)
      .executeTakeFirstOrThrow();
    for (const k of [
      'branch_id',
      'endpoint_id',
      'region_id',
      'database_name',
      'role_name',
      'owner_id',
    ] as const) {
      assert.equal(row[k], before[k], `${k} is unchanged`);
    }
    // The moved project's key answers 401 from the very next request; others keep working.
    const dead = await t.call('GET', `/api/v2/projects/${p0}`, { token: keyMoved.token });
    assert.equal(dead.status, 401);
    assertMatchesSpec('getProject', dead.status, dead.body);
    assert.equal((await t.call('GET', '/api/v2/auth', { token: keyMoved.token })).status, 401);
    assert.equal((await t.call('GET', `/api/v2/projects/${p2}`, { token: keyStays.token })).status, 200);
    // Lists follow the move.
    const listC = await t.call('GET', `/api/v2/projects?org_id=${orgC.id}&limit=400`, {
      token: w.admin.token,
    });
    assert.ok(listC.body.projects.some((p: { id: string }) => p.id === p0));
    const listA = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}&limit=400`, {
      token: w.admin.token,
    });
    assert.ok(!listA.body.projects.some((p: { id: string }) => p.id === p0));
  });

  test('personal keys only; admin of the source and member of the destination', async () => {
    const [p] = await createProjects(t.services, w.orgA.id, w.admin.id, 1);
    const body = { destination_org_id: orgC.id, project_ids: [p] };
    const cases: Array<[string, string, string, number, RegExp]> = [
      ['org key of the source', w.orgA.id, w.orgKeyA.token, 403, /not allowed for organization API keys/],
      ['project-scoped key', w.orgA.id, w.projectKeyA1.token, 403, /project-scoped/],
      ['member (not admin) of the source', w.orgA.id, w.member.token, 403, /only organization admins/],
      ['not a member of the source', w.orgA.id, w.outsider.token, 404, /source organization not found/],
      ['removed member', w.orgA.id, w.removed.token, 404, /source organization not found/],
    ];
    for (const [label, source, token, status, re] of cases) {
      const res = await transfer(source, body, token);
      assert.equal(res.status, status, label);
      assertMatchesSpec('transferProjectsFromOrgToOrg', res.status, res.body);
      assert.match(res.body.message, re, label);
    }
    // Admin of A but not a member of B.
    const toB = await transfer(w.orgA.id, { destination_org_id: w.orgB.id, project_ids: [p] }, w.admin.token);
    assert.equal(toB.status, 404);
    assertMatchesSpec('transferProjectsFromOrgToOrg', toB.status, toB.body);
    assert.match(toB.body.message, /destination organization not found/);
    assert.equal((await transfer(w.orgA.id, body, w.revokedToken)).status, 401);
    assert.equal(await orgOf(p ?? ''), w.orgA.id, 'nothing moved');

    // A plain member of the destination is enough.
    const u = await createUser(t.services, 'mover');
    const src = await createOrg(t.services, u, 'Mover src', 'scale');
    await addMember(t.services, w.orgB.id, u, 'member');
    const q = await createProjectRecord(t.services, src.id, u.id, 'q');
    const ok = await transfer(src.id, { destination_org_id: w.orgB.id, project_ids: [q] }, u.token);
    assert.equal(ok.status, 200);
    assertMatchesSpec('transferProjectsFromOrgToOrg', ok.status, ok.body);
    assert.equal(await orgOf(q), w.orgB.id);
  });

  test('all or nothing: unknown, deleted, foreign or duplicated ids move nothing and are named', async () => {
    const [good, gone] = (await createProjects(t.services, w.orgA.id, w.admin.id, 2)) as [string, string];
    await t.call('DELETE', `/api/v2/projects/${gone}`, { token: w.admin.token });
    const cases: Array<[string[], number, string[]]> = [
      [[good, 'unknown-project-12345678'], 404, ['unknown-project-12345678']],
      [[good, gone], 404, [gone]],
      [[good, w.projectB1], 404, [w.projectB1]],
      [[good, w.projectB1, 'nope-nope-00000000'], 404, [w.projectB1, 'nope-nope-00000000']],
      [[good, good], 400, [good]],
    ];
    for (const [ids, status, named] of cases) {
      const res = await transfer(w.orgA.id, { destination_org_id: orgC.id, project_ids: ids }, w.admin.token);
      assert.equal(res.status, status, ids.join(','));
      assertMatchesSpec('transferProjectsFromOrgToOrg', res.status, res.body);
      for (const id of named) assert.ok(res.body.message.includes(id), `${res.body.message} names ${id}`);
      assert.ok(!res.body.message.includes(`${good},`) || status === 400);
      assert.equal(await orgOf(good), w.orgA.id, 'nothing moved');
    }
    assert.equal(await orgOf(w.projectB1), w.orgB.id);
  });

  test('bad bodies are 400: 0 or 401 ids, bad ids, same organization', async () => {
    const many = Array.from({ length: 401 }, (_, i) => `p-${i}`);
    for (const body of [
      { destination_org_id: orgC.id, project_ids: [] },
      { destination_org_id: orgC.id, project_ids: many },
      { destination_org_id: orgC.id, project_ids: ['Not_Valid'] },
      { project_ids: [w.projectA1] },
      { destination_org_id: w.orgA.id, project_ids: [w.projectA1] },
    ]) {
      const res = await transfer(w.orgA.id, body, w.admin.token);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
      assertMatchesSpec('transferProjectsFromOrgToOrg', res.status, res.body);
    }
  });

  test("the destination's plan limit → 406 projects_count; a lower tier → 406 subscription_type", async () => {
    const limits = t.config.projectLimits;
    const saved = { ...limits };
    try {
      const u = await createUser(t.services, 'planner');
      const scale = await createOrg(t.services, u, 'Scale src', 'scale');
      const launch = await createOrg(t.services, u, 'Launch dst', 'launch');
      const business = await createOrg(t.services, u, 'Business dst', 'business');
      const ids = await createProjects(t.services, scale.id, u.id, 3);
      await createProjects(t.services, business.id, u.id, 1);

      // Scale → launch is a downgrade: refused whatever the counts.
      const down = await transfer(scale.id, { destination_org_id: launch.id, project_ids: ids }, u.token);
      assert.equal(down.status, 406);
      assertMatchesSpec('transferProjectsFromOrgToOrg', down.status, down.body);
      assert.deepEqual(down.body.limits, [
        { name: 'subscription_type', expected: 'scale', actual: 'launch' },
      ]);

      // Business allows 3 projects here and already has 1: moving 3 would make 4.
      limits.business = 3;
      const full = await transfer(scale.id, { destination_org_id: business.id, project_ids: ids }, u.token);
      assert.equal(full.status, 406);
      assertMatchesSpec('transferProjectsFromOrgToOrg', full.status, full.body);
      assert.deepEqual(full.body.limits, [{ name: 'projects_count', expected: '3', actual: '4' }]);
      assert.match(full.body.message, /projects_count/);
      for (const id of ids) assert.equal(await orgOf(id), scale.id);

      limits.launch = 1;
      const both = await transfer(scale.id, { destination_org_id: launch.id, project_ids: ids }, u.token);
      assert.deepEqual(
        both.body.limits.map((l: { name: string }) => l.name),
        ['projects_count', 'subscription_type'],
      );

      // Exactly at the limit is fine; upward moves are fine.
      const fits = await transfer(
        scale.id,
        { destination_org_id: business.id, project_ids: ids.slice(0, 2) },
        u.token,
      );
      assert.equal(fits.status, 200);
      assertMatchesSpec('transferProjectsFromOrgToOrg', fits.status, fits.body);
    } finally {
      Object.assign(limits, saved);
    }
  });

  test('projects with a GitHub or Vercel integration → 422 naming them; other integrations do not block', async () => {
    const [a, b, c] = (await createProjects(t.services, w.orgA.id, w.admin.id, 3)) as [
      string,
      string,
      string,
    ];
    await t.services.projects.setIntegration(a, 'github', true);
    await t.services.projects.setIntegration(b, 'vercel', true);
    await t.services.projects.setIntegration(c, 'datadog', true);
    const res = await transfer(
      w.orgA.id,
      { destination_org_id: orgC.id, project_ids: [a, b, c] },
      w.admin.token,
    );
    assert.equal(res.status, 422);
    assertMatchesSpec('transferProjectsFromOrgToOrg', res.status, res.body);
    assert.deepEqual(res.body.projects, [
      { id: a, integration: 'github' },
      { id: b, integration: 'vercel' },
    ]);
    for (const id of [a, b, c]) assert.equal(await orgOf(id), w.orgA.id);
    const onlyC = await transfer(w.orgA.id, { destination_org_id: orgC.id, project_ids: [c] }, w.admin.token);
    assert.equal(onlyC.status, 200);
    await t.services.projects.setIntegration(a, 'github', false);
    const nowA = await transfer(w.orgA.id, { destination_org_id: orgC.id, project_ids: [a] }, w.admin.token);
    assert.equal(nowA.status, 200, 'removing the integration unblocks the transfer');
  });

  test('?dry_run=true reports limits, integration blockers and keys that would stop working; changes nothing', async () => {
    const limits = t.config.projectLimits;
    const saved = limits.scale;
    try {
      const [a, b] = (await createProjects(t.services, w.orgA.id, w.admin.id, 2)) as [string, string];
      await t.services.projects.setIntegration(a, 'vercel', true);
      const key = await createOrgKey(t.services, w.orgA.id, w.admin, b);
      const clean = await transfer(
        w.orgA.id,
        { destination_org_id: orgC.id, project_ids: [b] },
        w.admin.token,
        '?dry_run=true',
      );
      assert.equal(clean.status, 200);
      assertMatchesSpec('transferProjectsFromOrgToOrg', clean.status, clean.body);
      assert.equal(clean.body.dry_run, true);
      assert.equal(clean.body.would_succeed, true);
      assert.deepEqual(clean.body.api_keys_revoked, [{ id: key.id, name: 'project-key', project_id: b }]);

      limits.scale = 1;
      const res = await transfer(
        w.orgA.id,
        { destination_org_id: orgC.id, project_ids: [a, b] },
        w.admin.token,
        '?dry_run=true',
      );
      assert.equal(res.status, 200);
      assertMatchesSpec('transferProjectsFromOrgToOrg', res.status, res.body);
      assert.equal(res.body.would_succeed, false);
      assert.deepEqual(res.body.integrations, [{ id: a, integration: 'vercel' }]);
      assert.equal(res.body.limits[0].name, 'projects_count');
      assert.deepEqual(res.body.project_ids, [a, b]);
      assert.equal(await orgOf(a), w.orgA.id);
      assert.equal(await orgOf(b), w.orgA.id);
      assert.equal(
        (await t.call('GET', `/api/v2/projects/${b}`, { token: key.token })).status,
        200,
        'key still works',
      );
      // Authorization and validation still apply to dry runs.
      const denied = await transfer(
        w.orgA.id,
        { destination_org_id: orgC.id, project_ids: [b] },
        w.member.token,
        '?dry_run=true',
      );
      assert.equal(denied.status, 403);
      const unknown = await transfer(
        w.orgA.id,
        { destination_org_id: orgC.id, project_ids: ['x-y-12345678'] },
        w.admin.token,
        '?dry_run=true',
      );
      assert.equal(unknown.status, 404);
    } finally {
      limits.scale = saved;
    }
  });

  test('POST /users/me/projects/transfer moves personal projects into an organization the caller belongs to', async () => {
    const u = await createUser(t.services, 'solo');
    const other = await createUser(t.services, 'other');
    const org = await createOrg(t.services, u, 'Solo org', 'free');
    const mine = (await Promise.all(
      [1, 2].map(() => createProjectRecord(t.services, null, u.id, 'personal')),
    )) as [string, string];
    const theirs = await createProjectRecord(t.services, null, other.id, 'theirs');
    // Personal projects are visible to their owner only.
    const own = await t.call('GET', `/api/v2/projects/${mine[0]}`, { token: u.token });
    assert.equal(own.status, 200);
    assertMatchesSpec('getProject', own.status, own.body);
    assert.equal(own.body.project.org_id, undefined);
    assert.equal((await t.call('GET', `/api/v2/projects/${mine[0]}`, { token: other.token })).status, 404);

    const call = (body: unknown, token: string, q = '') =>
      t.call('POST', `/api/v2/users/me/projects/transfer${q}`, { token, body });
    const foreign = await call({ destination_org_id: org.id, project_ids: [mine[0], theirs] }, u.token);
    assert.equal(foreign.status, 404);
    assertMatchesSpec('transferProjectsFromUserToOrg', foreign.status, foreign.body);
    assert.match(foreign.body.message, new RegExp(theirs));
    const orgProject = await call({ destination_org_id: org.id, project_ids: [w.projectA1] }, w.admin.token);
    assert.equal(orgProject.status, 404, 'organization projects are not personal');
    const notMember = await call({ destination_org_id: w.orgA.id, project_ids: [mine[0]] }, u.token);
    assert.equal(notMember.status, 404);
    assertMatchesSpec('transferProjectsFromUserToOrg', notMember.status, notMember.body);
    const byOrgKey = await call(
      { destination_org_id: w.orgA.id, project_ids: [w.projectA1] },
      w.orgKeyA.token,
    );
    assert.equal(byOrgKey.status, 403);
    const dry = await call({ destination_org_id: org.id, project_ids: mine }, u.token, '?dry_run=true');
    assert.equal(dry.body.would_succeed, true);
    assert.equal(await orgOf(mine[0]), null);

    const ok = await (
      await sdk(u.token)
    ).transferProjectsFromUserToOrg({
      destination_org_id: org.id,
      project_ids: mine,
    });
    assert.equal(ok.status, 200);
    assertMatchesSpec('transferProjectsFromUserToOrg', ok.status, ok.data);
    assert.deepEqual(ok.data, {});
    for (const id of mine) assert.equal(await orgOf(id), org.id);
    assert.equal(await orgOf(theirs), null);
    const again = await call({ destination_org_id: org.id, project_ids: [mine[0]] }, u.token);
    assert.equal(again.status, 404, 'no longer personal');
  });

  test('a 400-project transfer moves all of them and revokes their keys in the same commit', async () => {
    const u = await createUser(t.services, 'bulk');
    const src = await createOrg(t.services, u, 'Bulk src', 'scale');
    const dst = await createOrg(t.services, u, 'Bulk dst', 'scale');
    const ids = await createProjects(t.services, src.id, u.id, 400);
    const keys = await Promise.all(ids.slice(0, 5).map((id) => createOrgKey(t.services, src.id, u, id)));
    const res = await transfer(src.id, { destination_org_id: dst.id, project_ids: ids }, u.token);
    assert.equal(res.status, 200);
    assertMatchesSpec('transferProjectsFromOrgToOrg', res.status, res.body);
    const counts = await t.db.kysely
      .selectFrom('projects')
      .select(['org_id', (eb) => eb.fn.countAll<number>().as('n')])
      .where('id', 'in', ids)
      .groupBy('org_id')
      .execute();
    assert.deepEqual(
      counts.map((c) => [c.org_id, Number(c.n)]),
      [[dst.id, 400]],
    );
    for (const k of keys) assert.equal((await t.call('GET', '/api/v2/auth', { token: k.token })).status, 401);
  });

  test('20 simultaneous transfers of one project to 20 organizations: exactly one wins', async () => {
    const u = await createUser(t.services, 'racer');
    const src = await createOrg(t.services, u, 'Race src', 'scale');
    const dests = [];
    for (let i = 0; i < 20; i++) dests.push(await createOrg(t.services, u, `Race ${i}`, 'scale'));
    const p = await createProjectRecord(t.services, src.id, u.id, 'contested');
    const results = await Promise.all(
      dests.map((d) => transfer(src.id, { destination_org_id: d.id, project_ids: [p] }, u.token)),
    );
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join(','));
    for (const r of results) {
      assertMatchesSpec('transferProjectsFromOrgToOrg', r.status, r.body);
      if (r.status !== 200) {
        assert.ok([404, 409].includes(r.status), `clear 4xx, got ${r.status} ${r.text}`);
        assert.match(r.body.message, /no project was transferred/);
      }
    }
    const winner = dests[results.findIndex((r) => r.status === 200)];
    const rows = await t.db.kysely.selectFrom('projects').select('org_id').where('id', '=', p).execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.org_id, winner?.id, 'the project is where the winner put it');
  });
  test('transfer racing project-key creation: no live key ever points at a project outside its organization', async () => {
    const u = await createUser(t.services, 'keyrace');
    const src = await createOrg(t.services, u, 'Key race src', 'scale');
    const dst = await createOrg(t.services, u, 'Key race dst', 'scale');
    const p = await createProjectRecord(t.services, src.id, u.id, 'raced');
    // Hold the transfer's transaction open (moved and keys revoked, not committed) while keys are
    // requested: without the organization lock in key creation they would slip in and stay live.
    // Barriers, not sleeps: the hook says when the transaction is held, and the test lets it commit
    // once every key request has either answered (slipped past: caught below) or is waiting on it.
    let entered = () => {};
    const inside = new Promise<void>((r) => (entered = r));
    let release = () => {};
    const released = new Promise<void>((r) => (release = r));
    let holder: number | undefined;
    t.services.transfers.beforeCommit = async (trx) => {
      if (DIALECT === 'postgres')
        holder = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)).rows[0]?.pid;
      entered();
      await released;
    };
    let keys;
    let moved;
    try {
      const pending = transfer(src.id, { destination_org_id: dst.id, project_ids: [p] }, u.token);
      await inside;
      let answered = false;
      const requested = Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          t.call('POST', `/api/v2/organizations/${src.id}/api_keys`, {
            token: u.token,
            body: { key_name: `k${i}`, project_id: p },
          }),
        ),
      ).finally(() => (answered = true));
      // SQLite has one connection: every other query waits for the transaction by construction.
      // PostgreSQL: count the backends blocked, directly or in a queue, by the transfer's.
      if (DIALECT === 'postgres') {
        const admin = new pg.Client({ connectionString: PG_URL });
        await admin.connect();
        try {
          for (;;) {
            const { rows } = await admin.query<{ n: string }>(
              // Waiters on one row queue behind each other, so follow the chain from the holder.
              `with recursive blocked(pid) as (
                 select pid from pg_stat_activity where $1 = any(pg_blocking_pids(pid))
                 union
                 select a.pid from pg_stat_activity a join blocked b on b.pid = any(pg_blocking_pids(a.pid))
               ) select count(*) as n from blocked`,
              [holder],
            );
            if (answered || Number(rows[0]?.n) >= 5) break;
            await new Promise((r) => setTimeout(r, 10));
          }
        } finally {
          await admin.end();
        }
      }
      release();
      keys = await requested;
      moved = await pending;
    } finally {
      release();
      t.services.transfers.beforeCommit = undefined;
    }
    assert.equal(moved?.status, 200);
    for (const k of keys) {
      assert.ok([200, 404].includes(k.status), `key creation answered ${k.status}`);
      assertMatchesSpec('createOrgApiKey', k.status, k.body);
      if (k.status === 200)
        assert.equal((await t.call('GET', '/api/v2/auth', { token: k.body.key })).status, 401);
    }
    const stray = await t.db.kysely
      .selectFrom('api_keys as k')
      .innerJoin('projects as p', 'p.id', 'k.project_id')
      .select('k.id')
      .where('k.kind', '=', 'project')
      .where('k.revoked_at', 'is', null)
      .whereRef('p.org_id', '!=', 'k.org_id')
      .execute();
    assert.deepEqual(stray, []);
  });
});
