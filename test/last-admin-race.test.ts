// The last admin survives concurrency: two admins acting on each other at the same instant always
// leave at least one admin. Real concurrent requests (on PostgreSQL the pool runs them in separate
// transactions at once; SQLite serializes them, and the invariant must hold there too), plus a
// deterministic interleaving on PostgreSQL that proves the request waits for the organization lock.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import pg from 'pg';
import { buildTestApp, DIALECT, PG_URL, type Res, type TestApp } from './helpers/app.ts';
import { addMember, createOrg, createUser, type TestUser } from './helpers/factories.ts';
import { assertMatchesSpec } from './helpers/spec.ts';

/** The three races the issue names run 50 times; the extra variants 20. */
const ROUNDS = 50;
const EXTRA_ROUNDS = 20;

interface Pair {
  orgId: string;
  x: TestUser;
  y: TestUser;
  xMember: string;
  yMember: string;
}

type Move = (t: TestApp, p: Pair, actor: 'x' | 'y') => Promise<Res>;

const other = (a: 'x' | 'y') => (a === 'x' ? 'y' : 'x');
const memberOf = (p: Pair, who: 'x' | 'y') => (who === 'x' ? p.xMember : p.yMember);

const demoteOther: Move = (t, p, a) =>
  t.call('PATCH', `/api/v2/organizations/${p.orgId}/members/${memberOf(p, other(a))}`, {
    token: p[a].token,
    body: { role: 'member' },
  });
const demoteOtherBySeedPath: Move = (t, p, a) =>
  t.call('PATCH', `/api/v2/organizations/members/${memberOf(p, other(a))}`, {
    token: p[a].token,
    body: { role: 'member' },
  });
const removeOther: Move = (t, p, a) =>
  t.call('DELETE', `/api/v2/organizations/${p.orgId}/members/${memberOf(p, other(a))}`, {
    token: p[a].token,
  });
const demoteSelf: Move = (t, p, a) =>
  t.call('PATCH', `/api/v2/organizations/${p.orgId}/members/${memberOf(p, a)}`, {
    token: p[a].token,
    body: { role: 'member' },
  });
const leave: Move = (t, p, a) =>
  t.call('DELETE', `/api/v2/organizations/${p.orgId}/members/${memberOf(p, a)}`, { token: p[a].token });

const OPERATION = new Map<Move, string>([
  [demoteOther, 'updateOrganizationMember'],
  [demoteOtherBySeedPath, 'updateOrganizationMember'],
  [removeOther, 'removeOrganizationMember'],
  [demoteSelf, 'updateOrganizationMember'],
  [leave, 'removeOrganizationMember'],
]);

/**
 * x does moveX, y does moveY at the same instant. loserStatuses: what the one that lost may get
 * (403: no longer an admin; 404: no longer a member; 409: would leave no admin).
 */
const SCENARIOS: Array<{
  name: string;
  moveX: Move;
  moveY: Move;
  loserStatuses: number[];
  rounds?: number;
}> = [
  { name: 'demote × demote', moveX: demoteOther, moveY: demoteOther, loserStatuses: [403] },
  {
    name: 'demote × demote (PATCH /organizations/members/{id})',
    moveX: demoteOtherBySeedPath,
    moveY: demoteOtherBySeedPath,
    loserStatuses: [403],
    rounds: EXTRA_ROUNDS,
  },
  // If y's removal wins, x is no longer a member (404); if x's demotion wins, y is no longer admin (403).
  { name: 'demote × remove', moveX: demoteOther, moveY: removeOther, loserStatuses: [403, 404] },
  { name: 'remove × remove', moveX: removeOther, moveY: removeOther, loserStatuses: [404] },
  {
    name: 'self-demote × self-demote',
    moveX: demoteSelf,
    moveY: demoteSelf,
    loserStatuses: [409],
    rounds: EXTRA_ROUNDS,
  },
  { name: 'leave × leave', moveX: leave, moveY: leave, loserStatuses: [409], rounds: EXTRA_ROUNDS },
];

async function twoAdmins(t: TestApp): Promise<Pair> {
  const x = await createUser(t.services, 'x');
  const y = await createUser(t.services, 'y');
  const org = await createOrg(t.services, x, 'Race');
  const yRow = await addMember(t.services, org.id, y, 'admin');
  const xRow = await t.db.kysely
    .selectFrom('members')
    .select('id')
    .where('org_id', '=', org.id)
    .where('user_id', '=', x.id)
    .executeTakeFirstOrThrow();
  return { orgId: org.id, x, y, xMember: xRow.id, yMember: yRow.id };
}

async function orgsWithoutAdmin(t: TestApp): Promise<string[]> {
  const rows = await t.db.kysely
    .selectFrom('organizations as o')
    .select('o.id')
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('members as m')
            .select('m.id')
            .whereRef('m.org_id', '=', 'o.id')
            .where('m.role', '=', 'admin'),
        ),
      ),
    )
    .execute();
  return rows.map((r) => r.id);
}

async function adminsOf(t: TestApp, orgId: string): Promise<string[]> {
  const rows = await t.db.kysely
    .selectFrom('members')
    .select('user_id')
    .where('org_id', '=', orgId)
    .where('role', '=', 'admin')
    .execute();
  return rows.map((r) => r.user_id);
}

describe(`last admin under concurrency (${DIALECT})`, () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  for (const s of SCENARIOS) {
    const rounds = s.rounds ?? ROUNDS;
    test(`${s.name}: ${rounds} rounds of simultaneous requests leave exactly one admin`, async () => {
      const winners = { x: 0, y: 0 };
      // Set up every round's organization first (in parallel: the pool has several connections).
      const pairs = await Promise.all(Array.from({ length: rounds }, () => twoAdmins(t)));
      for (const [round, p] of pairs.entries()) {
        const [rx, ry] = await Promise.all([s.moveX(t, p, 'x'), s.moveY(t, p, 'y')]);
        const label = `${s.name} round ${round}: x ${rx.status} ${rx.text}; y ${ry.status} ${ry.text}`;
        assertMatchesSpec(OPERATION.get(s.moveX) ?? '', rx.status, rx.body);
        assertMatchesSpec(OPERATION.get(s.moveY) ?? '', ry.status, ry.body);
        const statuses = [rx.status, ry.status];
        assert.equal(statuses.filter((c) => c === 200).length, 1, `exactly one wins: ${label}`);
        const loser = rx.status === 200 ? ry.status : rx.status;
        assert.ok(s.loserStatuses.includes(loser), `loser status: ${label}`);
        const admins = await adminsOf(t, p.orgId);
        assert.equal(admins.length, 1, `exactly one admin remains: ${label}`);
        assert.deepEqual(await orgsWithoutAdmin(t), [], `every organization has an admin: ${label}`);
        // The admin left is the one whose request won for moves on the other; for self-moves the loser.
        const winner = rx.status === 200 ? 'x' : 'y';
        winners[winner]++;
        const expectedAdmin = s.moveX === demoteSelf || s.moveX === leave ? other(winner) : winner;
        assert.deepEqual(admins, [p[expectedAdmin].id], label);
      }
      assert.deepEqual(await orgsWithoutAdmin(t), [], 'every organization has an admin');
      assert.equal(winners.x + winners.y, rounds);
    });
  }

  test('a burst on one organization: every admin demotes and removes every other at once', async () => {
    for (let round = 0; round < 6; round++) {
      const owner = await createUser(t.services, 'owner');
      const org = await createOrg(t.services, owner, 'Burst');
      const admins: Array<{ user: TestUser; member: string }> = [];
      const ownerRow = await t.db.kysely
        .selectFrom('members')
        .select('id')
        .where('org_id', '=', org.id)
        .executeTakeFirstOrThrow();
      admins.push({ user: owner, member: ownerRow.id });
      for (let i = 0; i < 3; i++) {
        const u = await createUser(t.services, 'admin');
        admins.push({ user: u, member: (await addMember(t.services, org.id, u, 'admin')).id });
      }
      const requests: Array<Promise<Res>> = [];
      for (const a of admins) {
        for (const b of admins) {
          const url = `/api/v2/organizations/${org.id}/members/${b.member}`;
          requests.push(
            (a === b) === (round % 2 === 0)
              ? t.call('PATCH', url, { token: a.user.token, body: { role: 'member' } })
              : t.call('DELETE', url, { token: a.user.token }),
          );
        }
      }
      const results = await Promise.all(requests);
      for (const r of results) {
        assert.ok([200, 403, 404, 409].includes(r.status), `${r.status} ${r.text}`);
      }
      assert.equal((await adminsOf(t, org.id)).length >= 1, true, `round ${round}`);
    }
    assert.deepEqual(await orgsWithoutAdmin(t), []);
  });
});

describe('last admin: deterministic interleaving on PostgreSQL', () => {
  let t: TestApp;
  let holder: pg.Client;
  let observer: pg.Client;
  before(async () => {
    if (DIALECT !== 'postgres') return;
    t = await buildTestApp();
    const schema = (await sql<{ s: string }>`select current_schema() as s`.execute(t.db.kysely)).rows[0]?.s;
    holder = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
    observer = new pg.Client({ connectionString: PG_URL });
    await holder.connect();
    await observer.connect();
  });
  after(async () => {
    if (DIALECT !== 'postgres') return;
    await holder.end();
    await observer.end();
    await t.close();
  });

  /**
   * Waits until some backend is blocked by pid, or until the request answered (it did not wait):
   * returns the blocked pids. No time budget: a loaded machine may take long to send the query.
   */
  async function blockedBy(pid: number, answered: () => boolean): Promise<number[]> {
    for (;;) {
      const r = await observer.query<{ pid: number }>(
        'select pid from pg_stat_activity where $1 = any(pg_blocking_pids(pid))',
        [pid],
      );
      if (r.rows.length > 0 || answered()) return r.rows.map((x) => x.pid);
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  for (const variant of ['y demotes x', 'y demotes itself'] as const) {
    test(`session 1 demotes y under the organization lock; the request "${variant}" waits, then is refused`, async (c) => {
      if (DIALECT !== 'postgres') return c.skip('PostgreSQL only');
      const p = await twoAdmins(t);
      const pidRow = await holder.query<{ pid: number }>('select pg_backend_pid() as pid');
      const pid = pidRow.rows[0]?.pid ?? -1;
      // Session 1 = x demoting y, exactly as the service does: lock the organization, then write.
      await holder.query('begin');
      await holder.query('update organizations set updated_at = updated_at where id = $1', [p.orgId]);
      await holder.query(`update members set role = 'member' where id = $1`, [p.yMember]);

      let settled = false;
      const target = variant === 'y demotes x' ? p.xMember : p.yMember;
      const pending = t
        .call('PATCH', `/api/v2/organizations/${p.orgId}/members/${target}`, {
          token: p.y.token,
          body: { role: 'member' },
        })
        .finally(() => {
          settled = true;
        });
      try {
        const blocked = await blockedBy(pid, () => settled);
        assert.equal(blocked.length, 1, 'the request waits for session 1 on the organization lock');
        assert.equal(settled, false, 'and has not answered');
      } finally {
        await holder.query('commit');
      }
      const res = await pending;
      assertMatchesSpec('updateOrganizationMember', res.status, res.body);
      // After the wait the request re-reads committed data: y is no longer an admin.
      assert.equal(res.status, 403, res.text);
      assert.deepEqual(await adminsOf(t, p.orgId), [p.x.id]);
    });
  }

  test('session 1 holds the lock while removing y; x demoting itself waits, then gets 409', async (c) => {
    if (DIALECT !== 'postgres') return c.skip('PostgreSQL only');
    const p = await twoAdmins(t);
    const pid = (await holder.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid ?? -1;
    await holder.query('begin');
    await holder.query('update organizations set updated_at = updated_at where id = $1', [p.orgId]);
    await holder.query('delete from members where id = $1', [p.yMember]);
    let settled = false;
    const pending = t
      .call('PATCH', `/api/v2/organizations/${p.orgId}/members/${p.xMember}`, {
        token: p.x.token,
        body: { role: 'member' },
      })
      .finally(() => (settled = true));
    try {
      assert.equal((await blockedBy(pid, () => settled)).length, 1);
    } finally {
      await holder.query('commit');
    }
    const res = await pending;
    assertMatchesSpec('updateOrganizationMember', res.status, res.body);
    assert.equal(res.status, 409, res.text);
    assert.deepEqual(await adminsOf(t, p.orgId), [p.x.id]);
  });
});
