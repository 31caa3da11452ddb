import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../../test/helpers/app.ts';
import { addMember, buildWorld, createOrg, createUser, type World } from '../../test/helpers/factories.ts';
import { assertMatchesSpec } from '../../test/helpers/spec.ts';

interface Listed {
  member: { id: string; user_id: string; org_id: string; role: string; joined_at: string };
  user: { email: string };
}

describe('members: list, paginate, sort', () => {
  let t: TestApp;
  let orgId: string;
  let token: string;
  const COUNT = 237;
  // What the server holds, to compute the expected order independently of it.
  const rows: Array<{ id: string; email: string; role: string; joined_at: string }> = [];

  before(async () => {
    t = await buildTestApp();
    const admin = await createUser(t.services, 'padmin');
    token = admin.token;
    orgId = (await createOrg(t.services, admin, 'Big')).id;
    for (let i = 0; i < COUNT - 1; i++) {
      // Fixed-width lowercase emails sort the same under every collation; a spread of roles and
      // clustered join times make ties that only the id tie-break can order.
      const email = `m${String((i * 7919) % 1000).padStart(4, '0')}x${i}@example.com`;
      const u = await t.services.users.create({ email, name: `m${i}` });
      await addMember(
        t.services,
        orgId,
        { id: u.id, email: u.email, token: '', keyId: 0 },
        i % 5 === 0 ? 'admin' : 'member',
      );
    }
    const all = await t.db.kysely
      .selectFrom('members')
      .select(['id', 'email', 'role', 'joined_at'])
      .where('org_id', '=', orgId)
      .execute();
    rows.push(...all);
    // Same-millisecond joins exist for sure: make a block of exact ties on joined_at as well.
    const tie = rows[10]?.joined_at ?? '';
    await t.db.kysely
      .updateTable('members')
      .set({ joined_at: tie })
      .where(
        'id',
        'in',
        rows.slice(10, 40).map((r) => r.id),
      )
      .execute();
    for (const r of rows.slice(10, 40)) r.joined_at = tie;
  });
  after(() => t.close());

  const list = (query: string) => t.call('GET', `/api/v2/organizations/${orgId}/members?${query}`, { token });

  function expected(sortBy: 'email' | 'role' | 'joined_at', order: 'asc' | 'desc'): string[] {
    const dir = order === 'asc' ? 1 : -1;
    const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    return [...rows].sort((a, b) => dir * (cmp(a[sortBy], b[sortBy]) || cmp(a.id, b.id))).map((r) => r.id);
  }

  async function walk(query: string, limit: number): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    for (;;) {
      const res = await list(
        `${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      assert.equal(res.status, 200, res.text);
      assertMatchesSpec('getOrganizationMembers', res.status, res.body);
      pages++;
      assert.ok(res.body.members.length <= limit);
      ids.push(...res.body.members.map((m: Listed) => m.member.id));
      cursor = res.body.pagination?.next;
      if (!cursor) break;
      assert.equal(res.body.members.length, limit, 'only the last page is short');
      assert.ok(pages < 1000, 'pagination terminates');
    }
    return { ids, pages };
  }

  test('defaults: joined_at desc, 100 per page, pagination echoes the sort', async () => {
    const res = await list('');
    assert.equal(res.status, 200);
    assertMatchesSpec('getOrganizationMembers', res.status, res.body);
    assert.equal(res.body.members.length, 100);
    assert.equal(res.body.pagination.sort_by, 'joined_at');
    assert.equal(res.body.pagination.sort_order, 'desc');
    assert.equal(typeof res.body.pagination.next, 'string');
    const first: Listed = res.body.members[0];
    assert.equal(first.member.org_id, orgId);
    assert.match(first.member.joined_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(first.user.email, /@example\.com$/);
  });

  for (const sortBy of ['email', 'role', 'joined_at'] as const) {
    for (const order of ['asc', 'desc'] as const) {
      test(`walking all ${COUNT} members by ${sortBy} ${order} yields each exactly once, in order`, async () => {
        const { ids, pages } = await walk(`sort_by=${sortBy}&sort_order=${order}`, 50);
        assert.equal(pages, Math.ceil(COUNT / 50));
        assert.equal(new Set(ids).size, COUNT, 'no duplicates');
        assert.deepEqual(ids, expected(sortBy, order));
      });
    }
  }

  test('limit bounds: 1 and 500 work; 0, 501, abc, -1 are 400 naming limit', async () => {
    const one = await list('limit=1&sort_by=email&sort_order=asc');
    assert.equal(one.status, 200);
    assert.equal(one.body.members.length, 1);
    assert.equal(one.body.members[0].member.id, expected('email', 'asc')[0]);
    const two = await list(`limit=1&sort_by=email&sort_order=asc&cursor=${one.body.pagination.next}`);
    assert.equal(two.body.members[0].member.id, expected('email', 'asc')[1]);

    const max = await list('limit=500');
    assert.equal(max.status, 200);
    assertMatchesSpec('getOrganizationMembers', max.status, max.body);
    assert.equal(max.body.members.length, COUNT);
    assert.equal(max.body.pagination.next, undefined, 'no next page after the last one');

    for (const bad of ['0', '501', 'abc', '-1', '1.5', '']) {
      const res = await list(`limit=${bad}`);
      if (bad === '') {
        // An empty value is treated as absent or refused, never a 500.
        assert.ok(res.status === 200 || res.status === 400, res.text);
        continue;
      }
      assert.equal(res.status, 400, `limit=${bad}: ${res.text}`);
      assertMatchesSpec('getOrganizationMembers', res.status, res.body);
      assert.match(res.body.message, /limit/);
    }
  });

  test('a bad cursor, or a cursor from another sort, is 400', async () => {
    for (const cursor of ['zzz', 'bm90IGpzb24', Buffer.from('{"s":1}').toString('base64url'), '%00']) {
      const res = await list(`cursor=${cursor}`);
      assert.equal(res.status, 400, `${cursor}: ${res.text}`);
      assertMatchesSpec('getOrganizationMembers', res.status, res.body);
      assert.match(res.body.message, /cursor/);
    }
    const first = await list('sort_by=email&sort_order=asc&limit=5');
    const next = first.body.pagination.next as string;
    for (const q of ['sort_by=role&sort_order=asc', 'sort_by=email&sort_order=desc', '']) {
      const res = await list(`${q}&cursor=${next}`);
      assert.equal(res.status, 400, `${q}: ${res.text}`);
      assert.match(res.body.message, /sort/);
    }
  });

  test("another organization's cursor is refused exactly like a malformed one", async () => {
    const other = await createUser(t.services, 'other');
    const otherOrg = await createOrg(t.services, other, 'Other');
    const page = await list('limit=3');
    const res = await t.call(
      'GET',
      `/api/v2/organizations/${otherOrg.id}/members?limit=3&cursor=${page.body.pagination.next}`,
      { token: other.token },
    );
    const garbage = await t.call('GET', `/api/v2/organizations/${otherOrg.id}/members?limit=3&cursor=zzz`, {
      token: other.token,
    });
    assert.equal(res.status, 400, res.text);
    assert.deepEqual([res.body.code, res.body.message], [garbage.body.code, garbage.body.message]);
  });
});

describe('members: read, change role, remove', () => {
  let t: TestApp;
  let w: World;
  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
  });
  after(() => t.close());

  const memberUrl = (memberId: string, orgId = w.orgA.id) =>
    `/api/v2/organizations/${orgId}/members/${memberId}`;

  test('GET one member: Neon Member shape; unknown and foreign ids are 404', async () => {
    const res = await t.call('GET', memberUrl(w.memberRow.id), { token: w.member.token });
    assert.equal(res.status, 200);
    assertMatchesSpec('getOrganizationMember', res.status, res.body);
    assert.deepEqual(Object.keys(res.body).sort(), ['id', 'joined_at', 'org_id', 'role', 'user_id']);
    assert.equal(res.body.user_id, w.member.id);
    assert.equal(res.body.role, 'member');
    assert.match(res.body.org_id, /^org-[a-z]+-[a-z]+-\d{8}$/);
    assert.match(res.body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const viaOrgKey = await t.call('GET', memberUrl(w.memberRow.id), { token: w.orgKeyA.token });
    assert.equal(viaOrgKey.status, 200);

    const unknown = await t.call('GET', memberUrl('00000000-0000-4000-8000-000000000000'), {
      token: w.admin.token,
    });
    assert.equal(unknown.status, 404);
    assertMatchesSpec('getOrganizationMember', unknown.status, unknown.body);
    // orgB's admin member through orgA's path: not found.
    const orgBMember = await t.db.kysely
      .selectFrom('members')
      .select('id')
      .where('org_id', '=', w.orgB.id)
      .executeTakeFirstOrThrow();
    const foreign = await t.call('GET', memberUrl(orgBMember.id), { token: w.admin.token });
    assert.equal(foreign.status, 404);
    const outsider = await t.call('GET', memberUrl(w.memberRow.id), { token: w.outsider.token });
    assert.equal(outsider.status, 404);
  });

  test('PATCH role: member→admin, same role, admin→member; editor is 400 naming the role', async () => {
    const up = await t.call('PATCH', memberUrl(w.memberRow.id), {
      token: w.admin.token,
      body: { role: 'admin' },
    });
    assert.equal(up.status, 200, up.text);
    assertMatchesSpec('updateOrganizationMember', up.status, up.body);
    assert.equal(up.body.role, 'admin');
    assert.equal(up.body.id, w.memberRow.id);

    const same = await t.call('PATCH', memberUrl(w.memberRow.id), {
      token: w.admin.token,
      body: { role: 'admin' },
    });
    assert.equal(same.status, 200);
    assertMatchesSpec('updateOrganizationMember', same.status, same.body);
    assert.equal(same.body.role, 'admin');

    const down = await t.call('PATCH', memberUrl(w.memberRow.id), {
      token: w.admin.token,
      body: { role: 'member' },
    });
    assert.equal(down.status, 200);
    assertMatchesSpec('updateOrganizationMember', down.status, down.body);
    assert.equal(down.body.role, 'member');

    for (const role of ['editor', 'viewer', 'collaborator']) {
      const res = await t.call('PATCH', memberUrl(w.memberRow.id), { token: w.admin.token, body: { role } });
      assert.equal(res.status, 400);
      assertMatchesSpec('updateOrganizationMember', res.status, res.body);
      assert.match(res.body.message, new RegExp(role));
    }
    const owner = await t.call('PATCH', memberUrl(w.memberRow.id), {
      token: w.admin.token,
      body: { role: 'owner' },
    });
    assert.equal(owner.status, 400);
    assert.match(owner.body.message, /role/);

    const stored = await t.call('GET', memberUrl(w.memberRow.id), { token: w.admin.token });
    assert.equal(stored.body.role, 'member');
  });

  test('members cannot change roles (403); organization keys can', async () => {
    const res = await t.call('PATCH', memberUrl(w.adminMember.id), {
      token: w.member.token,
      body: { role: 'member' },
    });
    assert.equal(res.status, 403);
    assertMatchesSpec('updateOrganizationMember', res.status, res.body);
    const viaKey = await t.call('PATCH', memberUrl(w.memberRow.id), {
      token: w.orgKeyA.token,
      body: { role: 'member' },
    });
    assert.equal(viaKey.status, 200);
  });

  test('the last admin can be neither demoted nor removed (409)', async () => {
    const demote = await t.call('PATCH', memberUrl(w.adminMember.id), {
      token: w.admin.token,
      body: { role: 'member' },
    });
    assert.equal(demote.status, 409, demote.text);
    assertMatchesSpec('updateOrganizationMember', demote.status, demote.body);
    const viaSeed = await t.call('PATCH', `/api/v2/organizations/members/${w.adminMember.id}`, {
      token: w.orgKeyA.token,
      body: { role: 'member' },
    });
    assert.equal(viaSeed.status, 409);
    const remove = await t.call('DELETE', memberUrl(w.adminMember.id), { token: w.admin.token });
    assert.equal(remove.status, 409);
    assertMatchesSpec('removeOrganizationMember', remove.status, remove.body);
    const still = await t.call('GET', memberUrl(w.adminMember.id), { token: w.admin.token });
    assert.equal(still.body.role, 'admin');
  });

  test('with two admins, one may be demoted; then the other is the last one again', async () => {
    const second = await createUser(t.services, 'second');
    const row = await addMember(t.services, w.orgA.id, second, 'admin');
    const demote = await t.call('PATCH', memberUrl(w.adminMember.id), {
      token: second.token,
      body: { role: 'member' },
    });
    assert.equal(demote.status, 200);
    const last = await t.call('DELETE', memberUrl(row.id), { token: second.token });
    assert.equal(last.status, 409);
    // Restore the original admin and remove the second one.
    const back = await t.call('PATCH', memberUrl(w.adminMember.id), {
      token: second.token,
      body: { role: 'admin' },
    });
    assert.equal(back.status, 200);
    const gone = await t.call('DELETE', memberUrl(row.id), { token: w.admin.token });
    assert.equal(gone.status, 200);
    assertMatchesSpec('removeOrganizationMember', gone.status, gone.body);
  });

  test('DELETE member: admins only, with personal keys; the member loses access at once', async () => {
    const victim = await createUser(t.services, 'victim');
    const row = await addMember(t.services, w.orgA.id, victim, 'member');
    const before = await t.call('GET', `/api/v2/organizations/${w.orgA.id}`, { token: victim.token });
    assert.equal(before.status, 200);

    const byMember = await t.call('DELETE', memberUrl(row.id), { token: w.member.token });
    assert.equal(byMember.status, 403);
    const byOrgKey = await t.call('DELETE', memberUrl(row.id), { token: w.orgKeyA.token });
    assert.equal(byOrgKey.status, 403);
    assertMatchesSpec('removeOrganizationMember', byOrgKey.status, byOrgKey.body);

    const res = await t.call('DELETE', memberUrl(row.id), { token: w.admin.token });
    assert.equal(res.status, 200);
    assertMatchesSpec('removeOrganizationMember', res.status, res.body);
    assert.deepEqual(res.body, {});

    const after = await t.call('GET', `/api/v2/organizations/${w.orgA.id}`, { token: victim.token });
    assert.equal(after.status, 404);
    const again = await t.call('DELETE', memberUrl(row.id), { token: w.admin.token });
    assert.equal(again.status, 404);
    const listed = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/members?limit=500`, {
      token: w.admin.token,
    });
    assert.ok(!(listed.body.members as Listed[]).some((m) => m.member.id === row.id));
  });

  test("the seed's PATCH /organizations/members/{member_id}: org from the member; 404 for unknown and foreign", async () => {
    const res = await t.call('PATCH', `/api/v2/organizations/members/${w.memberRow.id}`, {
      token: w.orgKeyA.token,
      body: { role: 'admin' },
    });
    assert.equal(res.status, 200, res.text);
    assertMatchesSpec('updateOrganizationMember', res.status, res.body);
    assert.equal(res.body.role, 'admin');
    assert.equal(res.body.org_id, w.orgA.id);
    const back = await t.call('PATCH', `/api/v2/organizations/members/${w.memberRow.id}`, {
      token: w.admin.token,
      body: { role: 'member' },
    });
    assert.equal(back.status, 200);
    assert.equal(back.body.role, 'member');

    const unknown = await t.call(
      'PATCH',
      '/api/v2/organizations/members/00000000-0000-4000-8000-000000000000',
      {
        token: w.orgKeyA.token,
        body: { role: 'admin' },
      },
    );
    assert.equal(unknown.status, 404);
    assertMatchesSpec('updateOrganizationMember', unknown.status, unknown.body);

    // orgB's key and orgB's admin must not reach orgA's member; the answer does not reveal it exists.
    for (const token of [w.orgKeyB.token, w.outsider.token]) {
      const foreign = await t.call('PATCH', `/api/v2/organizations/members/${w.memberRow.id}`, {
        token,
        body: { role: 'admin' },
      });
      assert.equal(foreign.status, 404);
      assert.equal(foreign.body.message, unknown.body.message);
    }
    const byMember = await t.call('PATCH', `/api/v2/organizations/members/${w.memberRow.id}`, {
      token: w.member.token,
      body: { role: 'admin' },
    });
    assert.equal(byMember.status, 403);
    const editor = await t.call('PATCH', `/api/v2/organizations/members/${w.memberRow.id}`, {
      token: w.orgKeyA.token,
      body: { role: 'editor' },
    });
    assert.equal(editor.status, 400);
    assert.match(editor.body.message, /editor/);
    const stored = await t.call('GET', memberUrl(w.memberRow.id), { token: w.admin.token });
    assert.equal(stored.body.role, 'member');
  });
});
