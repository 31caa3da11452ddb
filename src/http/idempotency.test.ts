// Idempotency-Key on POST: replay, mismatch, in-flight, races, 24-hour expiry, token redaction.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { buildTestApp, DIALECT, TestClock, type TestApp } from '../../test/helpers/app.ts';
import { buildWorld, type World } from '../../test/helpers/factories.ts';
import { assertMatchesSpec } from '../../test/helpers/spec.ts';
import { TOKEN_PATTERN } from '../domain/ids.ts';
import { fingerprintOf, IDEMPOTENCY_TTL_MS } from './idempotency.ts';

describe('Idempotency-Key', () => {
  let t: TestApp;
  let w: World;
  const clock = new TestClock();
  let n = 0;
  const fresh = () => `idem-${process.pid}-${++n}`;

  before(async () => {
    t = await buildTestApp({}, { clock: clock.now });
    w = await buildWorld(t.services);
  });
  after(() => t.close());

  const orgKeys = () => `/api/v2/organizations/${w.orgA.id}/api_keys`;
  const post = (url: string, key: string, body: unknown, token = w.admin.token) =>
    t.call('POST', url, { token, body, headers: { 'idempotency-key': key } });
  const keysNamed = async (name: string) =>
    (await t.db.kysely.selectFrom('api_keys').select('id').where('name', '=', name).execute()).length;

  test('a retry returns the first response without doing the work again; its token is redacted', async () => {
    const key = fresh();
    const first = await post(orgKeys(), key, { key_name: 'idem-ci' });
    assert.equal(first.status, 200, first.text);
    assert.match(first.body.key, TOKEN_PATTERN);
    assert.equal(first.headers['idempotent-replayed'], undefined);

    const again = await post(orgKeys(), key, { key_name: 'idem-ci' });
    assert.equal(again.status, 200);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.headers['idempotent-token-redacted'], 'true');
    assertMatchesSpec('createOrgApiKey', 200, again.body);
    assert.equal(again.body.id, first.body.id, 'the same key');
    assert.equal(again.body.key, 'napi_[redacted]');
    assert.ok(!again.text.includes(first.body.key), 'the token is never replayed');
    assert.deepEqual({ ...again.body, key: first.body.key }, first.body, 'otherwise the same body');
    assert.equal(await keysNamed('idem-ci'), 1, 'created once');

    const stored = await t.db.kysely.selectFrom('idempotency_keys').select('response').execute();
    assert.ok(stored.length > 0);
    for (const r of stored) assert.ok(!/napi_[A-Za-z0-9]{10}/.test(r.response ?? ''), 'no token is stored');

    // The same body with its keys in another order is the same request.
    const reordered = await t.call('POST', orgKeys(), {
      token: w.admin.token,
      body: '{"key_name":"idem-ci"}',
      headers: { 'idempotency-key': key },
    });
    assert.equal(reordered.headers['idempotent-replayed'], 'true');
  });

  test('errors the work produced are replayed too; requests refused before it are not stored', async () => {
    const key = fresh();
    const refused = await post(orgKeys(), key, { key_name: 'x'.repeat(65) });
    assert.equal(refused.status, 400, 'validation: nothing stored');
    const ok = await post(orgKeys(), key, { key_name: 'idem-after-400' });
    assert.equal(ok.status, 200, 'the same key with a corrected body runs');

    const key2 = fresh();
    const forbidden = await post(orgKeys(), key2, { key_name: 'nope' }, w.member.token);
    assert.equal(forbidden.status, 403);
    // Authorization runs before a replay: a caller refused now gets the refusal itself.
    const refusedAgain = await post(orgKeys(), key2, { key_name: 'nope' }, w.member.token);
    assert.equal(refusedAgain.status, 403);
    assert.equal(refusedAgain.headers['idempotent-replayed'], undefined);
    assert.equal(refusedAgain.body.message, forbidden.body.message);

    // A 4xx of the work itself (rotating a revoked key: 409) is stored and replayed.
    const made = await post(orgKeys(), fresh(), { key_name: 'to-revoke' });
    assert.equal(made.status, 200, made.text);
    const del = await t.call('DELETE', `${orgKeys()}/${made.body.id as number}`, { token: w.admin.token });
    assert.equal(del.status, 200, del.text);
    const key3 = fresh();
    const conflictFirst = await post(`${orgKeys()}/${made.body.id as number}/rotate`, key3, {});
    assert.equal(conflictFirst.status, 409, conflictFirst.text);
    const replayed = await post(`${orgKeys()}/${made.body.id as number}/rotate`, key3, {});
    assert.equal(replayed.status, 409);
    assert.equal(replayed.headers['idempotent-replayed'], 'true');
    assert.equal(replayed.body.message, conflictFirst.body.message);
  });

  test('the same key with a different request is a 422; keys are per principal', async () => {
    const key = fresh();
    assert.equal((await post(orgKeys(), key, { key_name: 'idem-a' })).status, 200);
    const other = await post(orgKeys(), key, { key_name: 'idem-b' });
    assert.equal(other.status, 422);
    assert.match(other.body.message, /Idempotency-Key/);
    const otherPath = await post('/api/v2/api_keys', key, { key_name: 'idem-a' });
    assert.equal(otherPath.status, 422, 'another path is another request');
    assert.equal(await keysNamed('idem-b'), 0);
    // Another principal's identical key is its own.
    const byOther = await post('/api/v2/api_keys', key, { key_name: 'idem-a' }, w.member.token);
    assert.equal(byOther.status, 200);
    assert.equal(byOther.headers['idempotent-replayed'], undefined);
    const bad = await post(orgKeys(), 'has space', { key_name: 'x' });
    assert.equal(bad.status, 400);
  });

  test('a key whose first request is still running answers 409; an abandoned claim is taken over after its lease', async () => {
    // Another process is running this very request (its claim is in the database).
    const key = fresh();
    const body = { key_name: 'idem-inflight' };
    const now = clock.now();
    await t.db.kysely
      .insertInto('idempotency_keys')
      .values({
        scope: `user:${w.admin.id}`,
        key,
        fingerprint: fingerprintOf('POST', orgKeys(), body),
        state: 'running',
        status: null,
        response: null,
        token_redacted: 0,
        created_at: new Date(now).toISOString(),
        locked_until: new Date(now + 120_000).toISOString(),
        expires_at: new Date(now + IDEMPOTENCY_TTL_MS).toISOString(),
      })
      .execute();
    const busy = await post(orgKeys(), key, body);
    assert.equal(busy.status, 409);
    assert.equal(await keysNamed('idem-inflight'), 0);
    // Its process died: after the lease the next retry runs it.
    clock.advance(121_000);
    const taken = await post(orgKeys(), key, body);
    assert.equal(taken.status, 200, taken.text);
    assert.equal(await keysNamed('idem-inflight'), 1);
    clock.reset();
  });

  test('identical requests racing: the work is done once', async () => {
    const key = fresh();
    const body = { key_name: 'idem-race' };
    const results = await Promise.all(Array.from({ length: 8 }, () => post(orgKeys(), key, body)));
    const statuses = results.map((r) => r.status);
    assert.ok(
      statuses.every((s) => s === 200 || s === 409),
      statuses.join(','),
    );
    const firsts = results.filter((r) => r.status === 200 && r.headers['idempotent-replayed'] === undefined);
    assert.equal(firsts.length, 1, statuses.join(','));
    for (const r of results.filter((x) => x.status === 200)) assert.equal(r.body.id, firsts[0]?.body.id);
    assert.equal(await keysNamed('idem-race'), 1);
  });

  test(
    'PostgreSQL: a second request while the first is running gets 409, then the replay',
    { skip: DIALECT !== 'postgres' },
    async () => {
      const key = fresh();
      const body = { key_name: 'idem-held', project_id: w.projectA1 };
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let locked!: () => void;
      const isLocked = new Promise<void>((r) => (locked = r));
      // Holds the organization's row lock, which creating a project-scoped key waits for.
      const blocker = t.db.kysely.transaction().execute(async (trx) => {
        await sql`select id from organizations where id = ${w.orgA.id} for update`.execute(trx);
        locked();
        await held;
      });
      await isLocked;
      let answered = false;
      const first = post(orgKeys(), key, body).finally(() => (answered = true));
      // Wait until the first request has claimed the key (it then blocks on the lock), however
      // long a loaded machine takes; a request that answered instead fails the test below.
      for (;;) {
        const row = await t.db.kysely
          .selectFrom('idempotency_keys')
          .select('state')
          .where('key', '=', key)
          .executeTakeFirst();
        if (row || answered) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(answered, false, 'the first request waits on the lock');
      const second = await post(orgKeys(), key, body);
      assert.equal(second.status, 409, second.text);
      release();
      await blocker;
      const done = await first;
      assert.equal(done.status, 200, done.text);
      const third = await post(orgKeys(), key, body);
      assert.equal(third.status, 200);
      assert.equal(third.headers['idempotent-replayed'], 'true');
      assert.equal(third.body.id, done.body.id);
      assert.equal(await keysNamed('idem-held'), 1);
    },
  );

  test('stored responses expire after 24 hours: the same key then runs again', async () => {
    // Held still: on a loaded machine more than the last second's margin can pass between requests.
    clock.set(Date.now());
    const key = fresh();
    const first = await post(orgKeys(), key, { key_name: 'idem-day' });
    clock.advance(IDEMPOTENCY_TTL_MS - 1000);
    const within = await post(orgKeys(), key, { key_name: 'idem-day' });
    assert.equal(within.headers['idempotent-replayed'], 'true');
    clock.advance(1000);
    const later = await post(orgKeys(), key, { key_name: 'idem-day' });
    assert.equal(later.status, 200);
    assert.equal(later.headers['idempotent-replayed'], undefined);
    assert.notEqual(later.body.id, first.body.id);
    assert.equal(await keysNamed('idem-day'), 2);
    clock.advance(IDEMPOTENCY_TTL_MS);
    const otherBody = await post(orgKeys(), key, { key_name: 'idem-day-2' });
    assert.equal(otherBody.status, 200, 'an expired key may carry another request');
    clock.reset();
  });

  test('a project creation replay: 201 again, the same project, its generated password redacted', async () => {
    const key = fresh();
    const body = { project: { name: 'idem-project', org_id: w.orgA.id } };
    const first = await post('/api/v2/projects', key, body);
    assert.equal(first.status, 201, first.text);
    const password = first.body.roles[0]?.password as string;
    assert.match(password, /^npg_/);
    const again = await post('/api/v2/projects', key, body);
    assert.equal(again.status, 201);
    assertMatchesSpec('createProject', 201, again.body);
    assert.equal(again.body.project.id, first.body.project.id);
    assert.equal(again.headers['idempotent-token-redacted'], 'true');
    assert.ok(!again.text.includes(password));
    const stored = await t.db.kysely
      .selectFrom('idempotency_keys')
      .select('response')
      .where('key', '=', key)
      .executeTakeFirst();
    assert.ok(stored?.response && !stored.response.includes(password), 'the password is not stored');
  });

  test('a rotation replay returns the same new key, redacted', async () => {
    const key = fresh();
    const url = `${orgKeys()}/${w.orgKeyA.id}/rotate`;
    const first = await post(url, key, { overlap_seconds: 60 });
    assert.equal(first.status, 200, first.text);
    const again = await post(url, key, { overlap_seconds: 60 });
    assert.equal(again.status, 200, 'not a 409 "already rotated"');
    assert.equal(again.body.id, first.body.id);
    assert.equal(again.headers['idempotent-token-redacted'], 'true');
    assert.ok(!again.text.includes(first.body.key));
  });
});
