// The benchmark's own parts, small and fast (npm run bench itself is never part of npm test):
// its seeding creates what the scenarios act on, its bare server answers orgplane's exact bytes,
// and the SQLite statement reuse it motivated still returns correct data.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, DIALECT, type TestApp } from './helpers/app.ts';
import { assertMatchesSpec } from './helpers/spec.ts';
import { seedWorld, type World } from '../bench/seed.ts';
import { startBareHttp } from '../bench/proc.ts';
import { newRequestId } from '../src/http/request-id.ts';

describe('benchmark seeding and the identical-bytes limit', () => {
  let t: TestApp;
  let w: World;
  before(async () => {
    t = await buildTestApp();
    w = await seedWorld(t.db, { bigOrgMembers: 25, bigOrgProjects: 30, transferMany: 5 });
  });
  after(() => t.close());

  test('the seeded world has exactly 10 live keys, the members and the projects the scenarios use', async () => {
    assert.equal(w.keys, 10);
    const k = t.db.kysely;
    const count = async (table: 'members' | 'projects', orgId: string) =>
      Number(
        (
          await k
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('org_id', '=', orgId)
            .executeTakeFirstOrThrow()
        ).n,
      );
    assert.equal(await count('members', w.mainOrg), 41);
    assert.equal(await count('members', w.bigOrg), 25);
    assert.equal(await count('projects', w.mainOrg), w.mainOrgProjects);
    assert.equal(await count('projects', w.projectsOrg), 30);
    assert.equal(await count('projects', w.transferSrc), 5);
    assert.equal(w.transferProjectIds.length, 5);

    // The scenarios' requests work with the seeded keys, and flip a member's role for real.
    const org = await t.call('GET', `/api/v2/organizations/${w.mainOrg}`, { token: w.adminToken });
    assert.equal(org.status, 200);
    assertMatchesSpec('getOrganization', org.status, org.body);
    const page = await t.call('GET', `/api/v2/organizations/${w.mainOrg}/members?limit=10`, {
      token: w.adminToken,
    });
    assert.equal(page.status, 200);
    assertMatchesSpec('getOrganizationMembers', page.status, page.body);
    assert.equal(page.body.members.length, 10);
    assert.ok(page.body.pagination.next, 'a page of 10 out of 41 has a next cursor');
    const patched = await t.call(
      'PATCH',
      `/api/v2/organizations/${w.mainOrg}/members/${w.patchMemberIds[0]}`,
      {
        token: w.adminToken,
        body: { role: 'admin' },
      },
    );
    assert.equal(patched.status, 200);
    assertMatchesSpec('updateOrganizationMember', patched.status, patched.body);
    assert.equal(patched.body.role, 'admin');
    const viaOrgKey = await t.call('GET', `/api/v2/organizations/${w.mainOrg}`, { token: w.orgKeyToken });
    assert.equal(viaOrgKey.status, 200);
  });

  test('the bare server answers the very bytes and content-type orgplane answered', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v2/organizations/${w.mainOrg}/members?limit=10`,
      headers: { authorization: `Bearer ${w.adminToken}` },
    });
    assert.equal(res.statusCode, 200);
    const bare = await startBareHttp('limit', {
      GET: {
        status: res.statusCode,
        contentType: String(res.headers['content-type']),
        body: res.rawPayload.toString('base64'),
      },
    });
    try {
      const r = await fetch(`${bare.url}/api/v2/organizations/${w.mainOrg}/members?limit=10`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), res.headers['content-type']);
      assert.ok(Buffer.from(await r.arrayBuffer()).equals(res.rawPayload));
    } finally {
      await bare.stop();
    }
  });
});

describe('hot-path changes the benchmark led to', () => {
  test('request ids stay 32 random hex characters, all different', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = newRequestId();
      assert.match(id, /^[0-9a-f]{32}$/);
      ids.add(id);
    }
    assert.equal(ids.size, 2000);
  });

  test(
    'reused SQLite statements see every write, including after a schema change',
    { skip: DIALECT !== 'sqlite' },
    async () => {
      const t = await buildTestApp();
      try {
        const k = t.db.kysely;
        const read = () => k.selectFrom('organizations').select('id').execute();
        assert.equal((await read()).length, 0);
        await t.services.users.create({ email: 'cache@example.com', name: 'C' });
        const u = await k.selectFrom('users').select('id').executeTakeFirstOrThrow();
        await t.services.organizations.createWithAdmin(u.id, { name: 'One' });
        assert.equal((await read()).length, 1, 'the same statement, run again, sees the new row');
        await k.schema.alterTable('organizations').addColumn('bench_extra', 'text').execute();
        assert.equal((await read()).length, 1);
      } finally {
        await t.close();
      }
    },
  );
});
