// Extensions of API keys: expiry (to the second, cached or not), an organization's maximum key
// lifetime, rotation with overlap, and canary (honeytoken) keys with their alerts and visibility.
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, TestClock, type TestApp } from '../../test/helpers/app.ts';
import {
  addMember,
  buildWorld,
  createUser,
  type TestUser,
  type World,
} from '../../test/helpers/factories.ts';
import { assertMatchesSpec } from '../../test/helpers/spec.ts';
import { MESSAGES } from '../domain/errors.ts';
import { TOKEN_PATTERN } from '../domain/ids.ts';

const SECOND = 1000;
/** A whole second at least `ms` ahead of the clock (expiry is stored in whole seconds). */
const ahead = (clock: TestClock, ms: number) => new Date(Math.ceil((clock.now() + ms) / 1000) * 1000);

describe('API key lifecycle', () => {
  let t: TestApp;
  let w: World;
  const clock = new TestClock();
  let admin2: TestUser;

  before(async () => {
    t = await buildTestApp({}, { clock: clock.now });
    w = await buildWorld(t.services);
    admin2 = await createUser(t.services, 'admin2');
    await addMember(t.services, w.orgA.id, admin2, 'admin');
  });
  after(() => t.close());
  // Frozen: a test's "two seconds ahead" stays two seconds ahead however slowly the machine runs;
  // only clock.set/advance move time.
  beforeEach(() => clock.set(Date.now()));
  afterEach(() => clock.reset());

  const orgKeys = (orgId: string) => `/api/v2/organizations/${orgId}/api_keys`;
  const auth = (token: string, headers: Record<string, string> = {}) =>
    t.call('GET', '/api/v2/auth', { token, headers });

  describe('expiry', () => {
    test('expires_at is shown on create and in lists, and the key answers 401 from that second on, also when cached', async () => {
      const at = ahead(clock, 2 * SECOND);
      const created = await t.call('POST', orgKeys(w.orgA.id), {
        token: w.admin.token,
        body: { key_name: 'short', expires_at: at.toISOString() },
      });
      assert.equal(created.status, 200, created.text);
      assertMatchesSpec('createOrgApiKey', 200, created.body);
      assert.equal(created.body.expires_at, at.toISOString().replace('.000Z', 'Z'));
      const list = await t.call('GET', orgKeys(w.orgA.id), { token: w.admin.token });
      assertMatchesSpec('listOrgApiKeys', 200, list.body);
      const listed = list.body.find((k: { id: number }) => k.id === created.body.id);
      assert.equal(listed.expires_at, created.body.expires_at);
      // Keys without expiry look exactly like Neon's.
      const plain = list.body.find((k: { id: number }) => k.id === w.orgKeyA.id);
      assert.equal('expires_at' in plain, false);

      assert.equal((await auth(created.body.key)).status, 200, 'works (and is now cached)');
      clock.set(at.getTime() - 1);
      assert.equal((await auth(created.body.key)).status, 200, 'one millisecond before: still works');
      clock.set(at.getTime());
      const expired = await auth(created.body.key);
      assert.equal(expired.status, 401);
      assertMatchesSpec('getAuthDetails', 401, expired.body);
      assert.match(expired.body.message, /expired/);
      assert.equal(expired.headers['www-authenticate'], 'Bearer');
      const gone = await t.call('GET', orgKeys(w.orgA.id), { token: w.admin.token });
      assert.ok(
        !gone.body.some((k: { id: number }) => k.id === created.body.id),
        'expired keys are not listed',
      );
    });

    test('a key first used after its expiry (never cached) answers 401; personal keys expire too', async () => {
      const at = ahead(clock, 5 * SECOND);
      const created = await t.call('POST', '/api/v2/api_keys', {
        token: w.member.token,
        body: { key_name: 'temp', expires_at: at.toISOString() },
      });
      assert.equal(created.status, 200, created.text);
      assertMatchesSpec('createApiKey', 200, created.body);
      const list = await t.call('GET', '/api/v2/api_keys', { token: w.member.token });
      assertMatchesSpec('listApiKeys', 200, list.body);
      assert.ok(
        list.body.some((k: { id: number; expires_at?: string }) => k.id === created.body.id && k.expires_at),
      );
      clock.set(at.getTime());
      assert.equal((await auth(created.body.key)).status, 401);
    });

    test('expires_at must be an RFC 3339 time in the future (400)', async () => {
      for (const expires_at of [clock.iso(-1000), clock.iso(0), 'tomorrow', '2030-01-01']) {
        const res = await t.call('POST', '/api/v2/api_keys', {
          token: w.member.token,
          body: { key_name: 'x', expires_at },
        });
        assert.equal(res.status, 400, `${expires_at}: ${res.text}`);
        assert.match(res.body.message, /expires_at/);
      }
    });
  });

  describe('maximum key lifetime', () => {
    test('admins set max_api_key_lifetime_days; key creation then needs expires_at within it', async () => {
      const path = `/api/v2/organizations/${w.orgA.id}`;
      const byMember = await t.call('PATCH', path, {
        token: w.member.token,
        body: { max_api_key_lifetime_days: 30 },
      });
      assert.equal(byMember.status, 403);
      const byOrgKey = await t.call('PATCH', path, {
        token: w.orgKeyA.token,
        body: { max_api_key_lifetime_days: 30 },
      });
      assert.equal(byOrgKey.status, 403);
      assert.equal(byOrgKey.body.message, MESSAGES.orgKeyNotAllowed);
      const byOutsider = await t.call('PATCH', path, {
        token: w.outsider.token,
        body: { max_api_key_lifetime_days: 30 },
      });
      assert.equal(byOutsider.status, 404);
      const bad = await t.call('PATCH', path, {
        token: w.admin.token,
        body: { max_api_key_lifetime_days: 0 },
      });
      assert.equal(bad.status, 400);

      const set = await t.call('PATCH', path, {
        token: w.admin.token,
        body: { max_api_key_lifetime_days: 30 },
      });
      assert.equal(set.status, 200, set.text);
      assertMatchesSpec('getOrganization', 200, set.body);
      assert.equal(set.body.max_api_key_lifetime_days, 30);
      const got = await t.call('GET', path, { token: w.member.token });
      assert.equal(got.body.max_api_key_lifetime_days, 30);

      const none = await t.call('POST', orgKeys(w.orgA.id), {
        token: w.admin.token,
        body: { key_name: 'forever' },
      });
      assert.equal(none.status, 400);
      assert.match(none.body.message, /expires_at is required.*30 days/);
      const tooLong = await t.call('POST', orgKeys(w.orgA.id), {
        token: w.member.token,
        body: { key_name: 'long', project_id: w.projectA1, expires_at: clock.iso(31 * 86_400_000) },
      });
      assert.equal(tooLong.status, 400);
      assert.match(tooLong.body.message, /at most 30 days/);
      const ok = await t.call('POST', orgKeys(w.orgA.id), {
        token: w.admin.token,
        body: { key_name: 'month', expires_at: clock.iso(29 * 86_400_000) },
      });
      assert.equal(ok.status, 200, ok.text);
      // Rotating a key without expiry under the limit needs an expiry for the new key.
      const rot = await t.call('POST', `${orgKeys(w.orgA.id)}/${w.orgKeyA.id}/rotate`, {
        token: w.admin.token,
        body: {},
      });
      assert.equal(rot.status, 400);
      assert.match(rot.body.message, /30 days/);
      // Personal keys belong to no organization: no limit.
      const personal = await t.call('POST', '/api/v2/api_keys', {
        token: w.admin.token,
        body: { key_name: 'p' },
      });
      assert.equal(personal.status, 200);

      const cleared = await t.call('PATCH', path, {
        token: w.admin.token,
        body: { max_api_key_lifetime_days: null },
      });
      assert.equal(cleared.status, 200);
      assert.equal('max_api_key_lifetime_days' in cleared.body, false);
      const again = await t.call('POST', orgKeys(w.orgA.id), {
        token: w.admin.token,
        body: { key_name: 'forever' },
      });
      assert.equal(again.status, 200);
    });
  });

  describe('rotation', () => {
    test('with overlap both keys work, then only the new one', async () => {
      const old = await t.call('POST', orgKeys(w.orgA.id), {
        token: w.admin.token,
        body: { key_name: 'deploy' },
      });
      assert.equal((await auth(old.body.key)).status, 200);
      const rot = await t.call('POST', `${orgKeys(w.orgA.id)}/${old.body.id}/rotate`, {
        token: w.admin.token,
        body: { overlap_seconds: 60 },
      });
      assert.equal(rot.status, 200, rot.text);
      // Shaped like the create response.
      assertMatchesSpec('createOrgApiKey', 200, rot.body);
      assert.notEqual(rot.body.id, old.body.id);
      assert.match(rot.body.key, TOKEN_PATTERN);
      assert.equal(rot.body.name, 'deploy');
      assert.equal(rot.body.created_by, w.admin.id);
      assert.equal(rot.body.rotated_from.id, old.body.id);
      assert.equal(rot.body.rotated_from.revoked, false);
      const end = Date.parse(rot.body.rotated_from.expires_at);
      assert.ok(end >= clock.now() + 59_000 && end <= clock.now() + 62_000, rot.body.rotated_from.expires_at);

      assert.equal((await auth(old.body.key)).status, 200, 'old key during the overlap');
      assert.equal((await auth(rot.body.key)).status, 200, 'new key');
      const auth2 = await auth(rot.body.key);
      assert.deepEqual(auth2.body, { account_id: w.orgA.id, auth_method: 'api_key_org' });
      clock.set(end);
      assert.equal((await auth(old.body.key)).status, 401, 'old key after the overlap');
      assert.equal((await auth(rot.body.key)).status, 200, 'new key after the overlap');

      const twice = await t.call('POST', `${orgKeys(w.orgA.id)}/${old.body.id}/rotate`, {
        token: w.admin.token,
        body: {},
      });
      assert.equal(twice.status, 409);
    });

    test('default overlap is 0: the old key is revoked at once; no body is fine', async () => {
      const old = await t.call('POST', '/api/v2/api_keys', {
        token: w.member.token,
        body: { key_name: 'laptop' },
      });
      assert.equal((await auth(old.body.key)).status, 200);
      const rot = await t.call('POST', `/api/v2/api_keys/${old.body.id}/rotate`, { token: w.member.token });
      assert.equal(rot.status, 200, rot.text);
      assertMatchesSpec('createApiKey', 200, rot.body);
      assert.deepEqual(rot.body.rotated_from, { id: old.body.id, revoked: true });
      assert.equal((await auth(old.body.key)).status, 401);
      const me = await t.call('GET', '/api/v2/users/me', { token: rot.body.key });
      assert.equal(me.body.id, w.member.id);
      const list = await t.call('GET', '/api/v2/api_keys', { token: w.member.token });
      const ids = list.body.map((k: { id: number }) => k.id);
      assert.ok(ids.includes(rot.body.id) && !ids.includes(old.body.id));
    });

    test('a rotated key keeps its lifetime; rotation never extends the old key', async () => {
      const old = await t.call('POST', orgKeys(w.orgA.id), {
        token: w.admin.token,
        body: { key_name: 'ten-minutes', expires_at: ahead(clock, 600 * SECOND).toISOString() },
      });
      const rot = await t.call('POST', `${orgKeys(w.orgA.id)}/${old.body.id}/rotate`, {
        token: w.admin.token,
        body: { overlap_seconds: 7 * 86_400 },
      });
      assert.equal(rot.status, 200, rot.text);
      assert.equal(rot.body.rotated_from.expires_at, old.body.expires_at, 'not extended');
      const lifetime = Date.parse(rot.body.expires_at) - clock.now();
      assert.ok(lifetime > 590_000 && lifetime <= 602_000, rot.body.expires_at);
    });

    test('simultaneous rotations of one key: exactly one succeeds, the others get 409', async () => {
      const old = await t.call('POST', orgKeys(w.orgA.id), {
        token: w.admin.token,
        body: { key_name: 'raced' },
      });
      const results = await Promise.all(
        Array.from({ length: 6 }, () =>
          t.call('POST', `${orgKeys(w.orgA.id)}/${old.body.id}/rotate`, {
            token: w.admin.token,
            body: { overlap_seconds: 30 },
          }),
        ),
      );
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 409, 409, 409, 409, 409]);
      const named = await t.db.kysely
        .selectFrom('api_keys')
        .select(['id', 'rotated_to_id'])
        .where('name', '=', 'raced')
        .execute();
      assert.equal(named.length, 2, 'one new key; the losers rolled theirs back');
      const winner = results.find((r) => r.status === 200);
      assert.equal(named.find((k) => k.id === old.body.id)?.rotated_to_id, winner?.body.id);
    });

    test('permission to rotate is permission to create that kind of key', async () => {
      const adminsProjectKey = w.projectKeyA1.id;
      const mine = await t.call('POST', orgKeys(w.orgA.id), {
        token: w.member.token,
        body: { key_name: 'mine', project_id: w.projectA1 },
      });
      const rotate = (id: number, token: string, body: unknown = {}) =>
        t.call('POST', `${orgKeys(w.orgA.id)}/${id}/rotate`, { token, body });
      assert.equal((await rotate(w.orgKeyA.id, w.member.token)).status, 403, 'member, organization key');
      assert.equal(
        (await rotate(adminsProjectKey, w.member.token)).status,
        403,
        "member, someone else's project key",
      );
      const own = await rotate(mine.body.id, w.member.token);
      assert.equal(own.status, 200, 'member, own project key');
      assert.equal(own.body.project_id, w.projectA1);
      const byOrgKey = await rotate(w.orgKeyA.id, w.orgKeyA.token);
      assert.equal(byOrgKey.status, 403);
      assert.equal(byOrgKey.body.message, MESSAGES.orgKeyNotAllowed);
      assert.equal((await rotate(w.orgKeyA.id, w.outsider.token)).status, 404, 'outsider');
      assert.equal((await rotate(w.orgKeyB.id, w.admin.token)).status, 404, "another organization's key");
      assert.equal(
        (await rotate(w.orgKeyA.id, w.admin.token, { overlap_seconds: 7 * 86_400 + 1 })).status,
        400,
      );
      const foreignPersonal = await t.call('POST', `/api/v2/api_keys/${w.admin.keyId}/rotate`, {
        token: w.member.token,
        body: {},
      });
      assert.equal(foreignPersonal.status, 404);
    });
  });

  describe('canary keys', () => {
    let canary: { id: number; key: string };
    const mailsFor = async (keyId: number) =>
      (
        await t.db.kysely
          .selectFrom('mail_outbox')
          .selectAll()
          .where('kind', '=', 'api_key.canary_used')
          .orderBy('recipient')
          .execute()
      ).filter((m) => new RegExp(`\\(id ${keyId}[,)]`).test(m.text_body));

    test('only admins create canary keys', async () => {
      const byMember = await t.call('POST', orgKeys(w.orgA.id), {
        token: w.member.token,
        body: { key_name: 'trap', project_id: w.projectA1, canary: true },
      });
      assert.equal(byMember.status, 403);
      const res = await t.call('POST', orgKeys(w.orgA.id), {
        token: w.admin.token,
        body: { key_name: 'prod-deploy', canary: true },
      });
      assert.equal(res.status, 200, res.text);
      assertMatchesSpec('createOrgApiKey', 200, res.body);
      assert.match(res.body.key, TOKEN_PATTERN, 'same token format as any key');
      assert.equal(res.body.canary, true);
      canary = res.body;
    });

    test('a canary answers exactly like an unknown key, records the use and mails every admin once per hour', async () => {
      const unknown = await auth(`napi_${'A'.repeat(58)}`);
      const unknownValid = await t.call('POST', '/api/v2/api_keys', {
        token: w.member.token,
        body: { key_name: 'gone' },
      });
      await t.call('DELETE', `/api/v2/api_keys/${unknownValid.body.id}`, { token: w.member.token });
      const revoked = await auth(unknownValid.body.key);
      const used = await auth(canary.key, { 'user-agent': 'curl/8.5.0 <script>' });
      // Uses are recorded after the answer; let the first finish so it is the one that mails.
      await t.services.access.settled();
      assert.equal(used.status, 401);
      assert.deepEqual({ ...used.body, request_id: '' }, { ...revoked.body, request_id: '' });
      assert.equal(used.body.message, MESSAGES.unauthorized);
      assert.equal(used.headers['www-authenticate'], revoked.headers['www-authenticate']);
      assert.equal(unknown.status, 401);
      for (const path of [`/api/v2/organizations/${w.orgA.id}`, '/api/v2/projects']) {
        assert.equal((await t.call('GET', path, { token: canary.key })).status, 401);
      }
      await t.services.access.settled();

      const uses = await t.db.kysely
        .selectFrom('api_key_canary_uses')
        .selectAll()
        .where('key_id', '=', canary.id)
        .orderBy('id')
        .execute();
      assert.equal(uses.length, 3);
      assert.equal(uses[0]?.user_agent, 'curl/8.5.0 <script>');
      assert.equal(uses[0]?.addr, '127.0.0.1');
      assert.deepEqual(
        uses.map((u) => u.emailed),
        [1, 0, 0],
      );
      // Each use is also an api_key.canary_used event in the organization's audit chain.
      const events = await t.db.kysely
        .selectFrom('audit_events')
        .selectAll()
        .where('action', '=', 'api_key.canary_used')
        .where('target_id', '=', String(canary.id))
        .orderBy('seq')
        .execute();
      assert.equal(events.length, 3);
      assert.equal(events[0]?.chain, `org:${w.orgA.id}`);
      assert.equal(events[0]?.outcome, 'denied');
      assert.equal(Number(events[0]?.status), 401);
      assert.equal(events[0]?.client_addr, '127.0.0.1');
      assert.deepEqual(
        events.map((e) => (JSON.parse(e.changes) as { emailed: boolean }).emailed),
        [true, false, false],
      );
      const mails = await mailsFor(canary.id);
      assert.deepEqual(
        mails.map((m) => m.recipient).sort(),
        [w.admin.email, admin2.email].sort(),
        'each admin, once',
      );
      assert.ok(!mails.some((m) => m.recipient === w.member.email));
      assert.match(mails[0]?.text_body ?? '', /127\.0\.0\.1/);
      assert.match(mails[0]?.text_body ?? '', /curl\/8\.5\.0/);
      assert.ok(!(mails[0]?.html_body ?? '').includes('<script>'), 'the user agent is escaped');

      clock.advance(3600 * SECOND);
      await auth(canary.key);
      await t.services.access.settled();
      assert.equal((await mailsFor(canary.id)).length, 4, 'an hour later: one more email per admin');
    });

    test('lists show canaries (canary: true) to admins only; others cannot revoke or rotate them', async () => {
      const asAdmin = await t.call('GET', orgKeys(w.orgA.id), { token: w.admin.token });
      assertMatchesSpec('listOrgApiKeys', 200, asAdmin.body);
      const seen = asAdmin.body.find((k: { id: number }) => k.id === canary.id);
      assert.equal(seen?.canary, true);
      assert.ok(
        asAdmin.body
          .filter((k: { canary?: boolean }) => k.canary)
          .every((k: { id: number }) => k.id === canary.id),
      );
      for (const token of [w.member.token, w.orgKeyA.token, w.projectKeyA1.token]) {
        const list = await t.call('GET', orgKeys(w.orgA.id), { token });
        if (list.status !== 200) continue; // project keys may not list
        assert.ok(!list.body.some((k: { id: number }) => k.id === canary.id), 'hidden');
        assert.ok(!list.text.includes('canary'));
      }
      const rotateByMember = await t.call('POST', `${orgKeys(w.orgA.id)}/${canary.id}/rotate`, {
        token: w.member.token,
        body: {},
      });
      assert.equal(rotateByMember.status, 403, 'as for any key the member did not create');
    });

    test('non-admins cannot tell a canary from an ordinary key: answers, audit log, and the record runs after the answer', async () => {
      const make = async (name: string, canaryKey: boolean) =>
        (
          await t.call('POST', orgKeys(w.orgA.id), {
            token: w.admin.token,
            body: { key_name: name, ...(canaryKey ? { canary: true } : {}) },
          })
        ).body as { id: number; key: string };
      const plain = await make('deploy-a', false);
      const trap = await make('deploy-b', true);
      const strip = (r: { status: number; body: unknown; headers: Record<string, unknown> }) => ({
        status: r.status,
        // Times differ by when each key was made and used (real clock, second precision): compare
        // whether each is set, not its value, so a canary that records no use would still show.
        body: JSON.stringify(r.body, (k, v: unknown) =>
          k === 'request_id' || k === 'created_at' ? undefined : k.endsWith('_at') && v !== null ? 'TIME' : v,
        )
          .replace(new RegExp(`\\b(${plain.id}|${trap.id})\\b`, 'g'), 'ID')
          .replaceAll('deploy-a', 'NAME')
          .replaceAll('deploy-b', 'NAME'),
        type: r.headers['content-type'],
      });

      // The record of a use runs only after the answer has left: held here, the answer still comes.
      const held: Array<() => void> = [];
      const access = t.services.access;
      const defer = access.deferReport;
      access.deferReport = (fn) => held.push(fn);
      const countUses = async () =>
        (
          await t.db.kysely
            .selectFrom('api_key_canary_uses')
            .select('id')
            .where('key_id', '=', trap.id)
            .execute()
        ).length;
      const before = await countUses();
      try {
        assert.equal((await auth(plain.key)).status, 200, 'both keys have been used once');
        const used = await auth(trap.key);
        const unknown = await auth(`napi_${'B'.repeat(58)}`);
        assert.deepEqual(strip(used), strip(unknown));
        assert.equal(held.length, 1, 'the report waits for the barrier');
        assert.equal(await countUses(), before, 'nothing written on the request path');
        held.splice(0).forEach((fn) => fn());
        await access.settled();
        assert.equal(await countUses(), before + 1);
      } finally {
        access.deferReport = defer;
      }

      // A member: rotating and revoking either key is refused the same way.
      for (const [method, suffix] of [
        ['DELETE', ''],
        ['POST', '/rotate'],
      ] as const) {
        const answers = [];
        for (const k of [plain, trap]) {
          answers.push(
            strip(
              await t.call(method, `${orgKeys(w.orgA.id)}/${k.id}${suffix}`, {
                token: w.member.token,
                ...(method === 'POST' ? { body: {} } : {}),
              }),
            ),
          );
        }
        assert.equal(answers[0]?.status, 403, `${method}${suffix}`);
        assert.deepEqual(answers[1], answers[0], `${method}${suffix}`);
      }
      // The organization's key reads the audit log: nothing there names the trap or its uses.
      const log = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/audit_log?limit=1000`, {
        token: w.orgKeyA.token,
      });
      assert.equal(log.status, 200, log.text);
      assert.ok(!log.text.includes('canary'), 'no canary event');
      const events = log.body.events as Array<{ target?: { id?: string } }>;
      assert.ok(events.some((e) => e.target?.id === String(plain.id)));
      assert.ok(!events.some((e) => e.target?.id === String(trap.id)), 'the trap is not in the log');
      const adminLog = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/audit_log?limit=1000`, {
        token: w.admin.token,
      });
      assert.ok(adminLog.text.includes('api_key.canary_used'), 'admins see everything');
      // The organization's key may revoke organization keys: it revokes both alike.
      const revoked = [];
      for (const k of [plain, trap]) {
        revoked.push(
          strip(await t.call('DELETE', `${orgKeys(w.orgA.id)}/${k.id}`, { token: w.orgKeyA.token })),
        );
      }
      assert.equal(revoked[0]?.status, 200);
      assert.deepEqual(revoked[1], revoked[0]);
    });

    test('a personal canary alerts its owner', async () => {
      const res = await t.call('POST', '/api/v2/api_keys', {
        token: w.outsider.token,
        body: { key_name: 'aws-backup', canary: true },
      });
      assert.equal(res.status, 200, res.text);
      assert.equal((await auth(res.body.key)).status, 401);
      await t.services.access.settled();
      const mails = await mailsFor(res.body.id);
      assert.deepEqual(
        mails.map((m) => m.recipient),
        [w.outsider.email],
      );
      const list = await t.call('GET', '/api/v2/api_keys', { token: w.outsider.token });
      assert.equal(list.body.find((k: { id: number }) => k.id === res.body.id)?.canary, true);
    });
  });
});
