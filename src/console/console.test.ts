// Console security: sessions, cookies, CSRF, fixation, sign-out, setup links; and that a session
// is just another way to be the same user (the API's permission rules apply unchanged).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { buildTestApp, type TestApp } from '../../test/helpers/app.ts';
import { setCookieOf, signIn, withSession } from '../../test/helpers/console.ts';
import { buildWorld, createUserWithPassword, type World } from '../../test/helpers/factories.ts';
import { assertMatchesSpec } from '../../test/helpers/spec.ts';
import { bootstrapIfEmpty } from '../bootstrap.ts';
import {
  hashPassword,
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  verifyPassword,
} from '../domain/passwords.ts';
import { CSRF_MESSAGE } from './console.routes.ts';
import { BAD_CREDENTIALS } from './sessions.service.ts';

type Person = Awaited<ReturnType<typeof createUserWithPassword>>;

describe('console: sessions and pages', () => {
  let t: TestApp;
  let w: World;
  let admin: Person;
  let member: Person;
  let orgId: string;
  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
    admin = await createUserWithPassword(t.services, 'cadmin');
    member = await createUserWithPassword(t.services, 'cmember');
    const org = await t.services.organizations.createWithAdmin(admin.id, {
      name: 'Console Org',
      plan: 'scale',
    });
    orgId = org.id;
    await t.services.members.add(orgId, member.email, 'member');
  });
  after(() => t.close());

  test('without a session, console pages redirect to sign-in and the API answers 401', async () => {
    for (const url of ['/', '/account', `/orgs/${orgId}/settings`, '/shared', '/projects/any-project-123']) {
      const res = await t.call('GET', url);
      assert.equal(res.status, 302, url);
      assert.match(String(res.headers.location), /^\/signin/);
    }
    const deep = await t.call('GET', `/orgs/${orgId}/projects`);
    assert.equal(deep.headers.location, `/signin?next=${encodeURIComponent(`/orgs/${orgId}/projects`)}`);
    const me = await t.call('GET', '/api/v2/users/me');
    assert.equal(me.status, 401);
    assertMatchesSpec('getCurrentUserInfo', me.status, me.body);
    const garbage = await t.call('GET', '/api/v2/users/me', { headers: { cookie: 'orgplane_session=nope' } });
    assert.equal(garbage.status, 401);
    const session = await t.call('GET', '/console/session');
    assert.equal(session.status, 401);
    // The sign-in page and assets are public.
    assert.equal((await t.call('GET', '/signin')).status, 200);
    const js = await t.call('GET', '/assets/app.js');
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /javascript/);
  });

  test('a wrong password and an unknown email get the same answer', async () => {
    const wrong = await t.call('POST', '/console/session', {
      body: { email: admin.email, password: 'not the password' },
    });
    const unknown = await t.call('POST', '/console/session', {
      body: { email: 'nobody@example.com', password: 'not the password' },
    });
    const noPassword = await t.call('POST', '/console/session', {
      body: { email: w.admin.email, password: 'anything at all' }, // a user without a password
    });
    for (const r of [wrong, unknown, noPassword]) {
      assert.equal(r.status, 401);
      assert.equal(r.body.message, BAD_CREDENTIALS);
      assert.equal(r.body.code, 'UNAUTHORIZED');
      assert.equal(r.headers['set-cookie'], undefined);
    }
    // Emails compare case-insensitively, as everywhere else.
    await signIn(t, admin.email.toUpperCase(), admin.password);
  });

  test('the session cookie is HttpOnly, SameSite=Strict, Path=/, not Secure over http, and only hashed at rest', async () => {
    const s = await signIn(t, admin.email, admin.password);
    assert.match(s.setCookie, /^orgplane_session=[A-Za-z0-9_-]{43};/);
    assert.match(s.setCookie, /; HttpOnly/i);
    assert.match(s.setCookie, /; SameSite=Strict/i);
    assert.match(s.setCookie, /; Path=\//i);
    assert.match(s.setCookie, /; Expires=/i);
    assert.doesNotMatch(s.setCookie, /Secure/i);
    const value = s.cookie.split('=')[1] ?? '';
    const rows = await t.db.kysely.selectFrom('sessions').selectAll().execute();
    assert.ok(!JSON.stringify(rows).includes(value), 'the session id is never stored');
    assert.ok(rows.some((r) => r.id_hash === createHash('sha256').update(value).digest('hex')));
  });

  test('a session authenticates the public API as the same user (auth_method session_cookie)', async () => {
    const s = await signIn(t, admin.email, admin.password);
    const auth = await t.call('GET', '/api/v2/auth', { headers: withSession(s) });
    assert.equal(auth.status, 200);
    assertMatchesSpec('getAuthDetails', auth.status, auth.body);
    assert.deepEqual(auth.body, { account_id: admin.id, auth_method: 'session_cookie' });
    const orgs = await t.call('GET', '/api/v2/users/me/organizations', { headers: withSession(s) });
    assert.equal(orgs.status, 200);
    assertMatchesSpec('getCurrentUserOrganizations', orgs.status, orgs.body);
    assert.deepEqual(
      orgs.body.organizations.map((o: { id: string }) => o.id),
      [orgId],
    );
    const page = await t.call('GET', '/', { headers: withSession(s) });
    assert.equal(page.status, 200);
    assert.match(page.text, /<script type="module" src="\/assets\/app.js">/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    const info = await t.call('GET', '/console/session', { headers: withSession(s) });
    assert.equal(info.status, 200);
    assert.equal(info.body.user.email, admin.email);
    assert.equal(info.body.csrf_token, s.csrf);
  });

  test('unknown URLs: browsers get the styled 404 page, API clients JSON; a favicon is served', async () => {
    const html = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
    const page = await t.call('GET', '/nope', { headers: html });
    assert.equal(page.status, 404);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.text, /Page not found/);
    assert.match(page.text, /href="\/assets\/console.css"/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    const json = await t.call('GET', '/nope', { headers: { accept: 'application/json' } });
    assert.equal(json.status, 404);
    assert.equal(json.body.code, 'NOT_FOUND');
    assert.equal((await t.call('GET', '/nope')).body.code, 'NOT_FOUND', 'no Accept: JSON');
    const api = await t.call('GET', '/api/v2/nope', { headers: html });
    assert.equal(api.status, 404);
    assert.equal(api.body.code, 'NOT_FOUND', 'under /api/ always JSON');
    const post = await t.call('POST', '/nope', { headers: html, body: {} });
    assert.equal(post.body.code, 'NOT_FOUND');
    for (const icon of ['/favicon.svg', '/favicon.ico']) {
      const r = await t.call('GET', icon);
      assert.equal(r.status, 200, icon);
      assert.match(String(r.headers['content-type']), /image\/svg\+xml/);
    }
  });

  test('the set-up page learns the one password rule from the server', async () => {
    const { MIN_PASSWORD_LENGTH } = await import('../domain/passwords.ts');
    const r = await t.call('GET', '/console/setup?token=unknown');
    assert.equal(r.status, 200);
    assert.equal(r.body.valid, false);
    assert.equal(r.body.password.min_length, MIN_PASSWORD_LENGTH);
  });

  test('CSRF: a cookie-authenticated unsafe call without the token, or with a wrong one, is 403', async () => {
    const s = await signIn(t, admin.email, admin.password);
    const before = await t.db.kysely.selectFrom('api_keys').select('id').execute();
    for (const csrf of [false, 'wrong', `${s.csrf}x`, ''] as const) {
      const res = await t.call('POST', '/api/v2/api_keys', {
        body: { key_name: 'csrf' },
        headers: withSession(s, { csrf }),
      });
      assert.equal(res.status, 403, `csrf=${String(csrf)}`);
      assertMatchesSpec('createApiKey', res.status, res.body);
      assert.equal(res.body.message, CSRF_MESSAGE);
    }
    // The token of another session does not work either.
    const other = await signIn(t, member.email, member.password);
    const cross = await t.call('DELETE', `/api/v2/organizations/${orgId}/api_keys/1`, {
      headers: withSession(s, { csrf: other.csrf }),
    });
    assert.equal(cross.status, 403);
    const after = await t.db.kysely.selectFrom('api_keys').select('id').execute();
    assert.equal(after.length, before.length, 'nothing was created');
    // With the token it works; safe methods never need it; bearer keys never need it.
    const ok = await t.call('POST', '/api/v2/api_keys', {
      body: { key_name: 'ok' },
      headers: withSession(s),
    });
    assert.equal(ok.status, 200);
    assertMatchesSpec('createApiKey', ok.status, ok.body);
    const list = await t.call('GET', '/api/v2/api_keys', { headers: withSession(s, { csrf: false }) });
    assert.equal(list.status, 200);
    assertMatchesSpec('listApiKeys', list.status, list.body);
    const bearer = await t.call('POST', '/api/v2/api_keys', {
      token: w.admin.token,
      body: { key_name: 'b' },
    });
    assert.equal(bearer.status, 200);
    // Sign-out without the token is refused too (and the session survives).
    const out = await t.call('DELETE', '/console/session', { headers: withSession(s, { csrf: false }) });
    assert.equal(out.status, 403);
    assert.equal((await t.call('GET', '/api/v2/auth', { headers: withSession(s) })).status, 200);
  });

  test('an Authorization header wins over the cookie: a bad bearer token is 401 even with a session', async () => {
    const s = await signIn(t, admin.email, admin.password);
    const res = await t.call('GET', '/api/v2/users/me', { token: 'napi_bogus', headers: withSession(s) });
    assert.equal(res.status, 401);
  });

  test('session fixation: a pre-set cookie is never adopted; signing in issues a new id', async () => {
    const planted = 'A'.repeat(43);
    const res = await t.call('POST', '/console/session', {
      body: { email: admin.email, password: admin.password },
      headers: { cookie: `orgplane_session=${planted}` },
    });
    assert.equal(res.status, 200);
    const issued = setCookieOf(res).split(';')[0]?.split('=')[1];
    assert.notEqual(issued, planted);
    const withPlanted = await t.call('GET', '/api/v2/auth', {
      headers: { cookie: `orgplane_session=${planted}` },
    });
    assert.equal(withPlanted.status, 401);

    // Signing in again (say, as someone else on a shared browser) replaces the old session entirely.
    const first = await signIn(t, admin.email, admin.password);
    const second = await signIn(t, member.email, member.password, { cookie: first.cookie });
    assert.notEqual(second.cookie, first.cookie);
    assert.equal((await t.call('GET', '/api/v2/auth', { headers: withSession(first) })).status, 401);
    const who = await t.call('GET', '/api/v2/auth', { headers: withSession(second) });
    assert.equal(who.body.account_id, member.id);
  });

  test('sign-out deletes the session on the server: the old cookie stops working everywhere', async () => {
    const s = await signIn(t, admin.email, admin.password);
    const out = await t.call('DELETE', '/console/session', { headers: withSession(s) });
    assert.equal(out.status, 200);
    assert.match(setCookieOf(out), /^orgplane_session=;.*Expires=Thu, 01 Jan 1970/i);
    const hash = createHash('sha256')
      .update(s.cookie.split('=')[1] ?? '')
      .digest('hex');
    const row = await t.db.kysely
      .selectFrom('sessions')
      .selectAll()
      .where('id_hash', '=', hash)
      .executeTakeFirst();
    assert.equal(row, undefined);
    // Replaying the old cookie (as a thief who copied it would) fails.
    assert.equal((await t.call('GET', '/api/v2/auth', { headers: withSession(s) })).status, 401);
    assert.equal((await t.call('GET', '/', { headers: withSession(s) })).status, 302);
    const post = await t.call('POST', '/api/v2/api_keys', {
      body: { key_name: 'x' },
      headers: withSession(s),
    });
    assert.equal(post.status, 401);
  });

  test('an expired session is refused', async () => {
    const s = await signIn(t, admin.email, admin.password);
    const hash = createHash('sha256')
      .update(s.cookie.split('=')[1] ?? '')
      .digest('hex');
    await t.db.kysely
      .updateTable('sessions')
      .set({ expires_at: '2000-01-01T00:00:00.000Z' })
      .where('id_hash', '=', hash)
      .execute();
    assert.equal((await t.call('GET', '/api/v2/auth', { headers: withSession(s) })).status, 401);
    assert.equal((await t.call('GET', '/account', { headers: withSession(s) })).status, 302);
  });

  test('sign-in refuses cross-origin posts and non-JSON forms (login CSRF)', async () => {
    const evil = await t.call('POST', '/console/session', {
      body: { email: admin.email, password: admin.password },
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(evil.status, 403);
    assert.equal(evil.headers['set-cookie'], undefined);
    const form = await t.call('POST', '/console/session', {
      body: `email=${encodeURIComponent(admin.email)}&password=${encodeURIComponent(admin.password)}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 415);
    const bad = await t.call('POST', '/console/session', { body: { email: admin.email } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /password is required/);
  });

  test("the API's permission rules apply unchanged to sessions", async () => {
    const m = await signIn(t, member.email, member.password);
    const a = await signIn(t, admin.email, admin.password);
    // A member may not create an organization key, exactly as with a personal key.
    const byMember = await t.call('POST', `/api/v2/organizations/${orgId}/api_keys`, {
      body: { key_name: 'nope' },
      headers: withSession(m),
    });
    assert.equal(byMember.status, 403);
    assertMatchesSpec('createOrgApiKey', byMember.status, byMember.body);
    // An admin may; the key works; revoking works.
    const key = await t.call('POST', `/api/v2/organizations/${orgId}/api_keys`, {
      body: { key_name: 'ci' },
      headers: withSession(a),
    });
    assert.equal(key.status, 200);
    assertMatchesSpec('createOrgApiKey', key.status, key.body);
    const revoked = await t.call('DELETE', `/api/v2/organizations/${orgId}/api_keys/${key.body.id}`, {
      headers: withSession(a),
    });
    assert.equal(revoked.status, 200);
    assertMatchesSpec('revokeOrgApiKey', revoked.status, revoked.body);
    // Another organization is invisible (404), not forbidden.
    const foreign = await t.call('GET', `/api/v2/organizations/${w.orgB.id}`, { headers: withSession(a) });
    assert.equal(foreign.status, 404);
    assertMatchesSpec('getOrganization', foreign.status, foreign.body);
    // The last admin stays protected, with the API's own message.
    const members = await t.call('GET', `/api/v2/organizations/${orgId}/members`, {
      headers: withSession(a),
    });
    assertMatchesSpec('getOrganizationMembers', members.status, members.body);
    const mine = members.body.members.find(
      (x: { member: { user_id: string } }) => x.member.user_id === admin.id,
    );
    const demote = await t.call('PATCH', `/api/v2/organizations/${orgId}/members/${mine.member.id}`, {
      body: { role: 'member' },
      headers: withSession(a),
    });
    assert.equal(demote.status, 409);
    assertMatchesSpec('updateOrganizationMember', demote.status, demote.body);
    assert.match(demote.body.message, /only admin/);
    // Creating an organization through the session (the console's "new organization").
    const created = await t.call('POST', '/api/v2/organizations', {
      body: { name: 'Made in the console' },
      headers: withSession(m),
    });
    assert.equal(created.status, 201);
  });
});

describe('console: https deployments', () => {
  test('behind an https PUBLIC_URL the cookie is Secure and __Host- prefixed', async () => {
    const t = await buildTestApp({ publicUrl: 'https://console.example.com' });
    try {
      const p = await createUserWithPassword(t.services, 'secure');
      const s = await signIn(t, p.email, p.password);
      assert.match(s.setCookie, /^__Host-orgplane_session=/);
      assert.match(s.setCookie, /; Secure/i);
      assert.match(s.setCookie, /; HttpOnly/i);
      assert.match(s.setCookie, /; Path=\//i);
      assert.doesNotMatch(s.setCookie, /Domain=/i);
      // The non-prefixed name is not accepted as a session.
      const value = s.cookie.split('=')[1] ?? '';
      const plain = await t.call('GET', '/api/v2/auth', { headers: { cookie: `orgplane_session=${value}` } });
      assert.equal(plain.status, 401);
      const ok = await t.call('GET', '/api/v2/auth', { headers: { cookie: s.cookie } });
      assert.equal(ok.status, 200);
    } finally {
      await t.close();
    }
  });
});

describe('console: password guessing', () => {
  test('sign-in attempts are rate-limited per client address when rate limiting is on', async () => {
    const t = await buildTestApp({ rateLimit: { enabled: true, perMinute: 700, orgKeyCreatePerSecond: 10 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 21; i++) {
        const r = await t.call('POST', '/console/session', {
          body: { email: 'nobody@example.com', password: `guess ${i}` },
        });
        statuses.push(r.status);
      }
      assert.deepEqual(new Set(statuses.slice(0, 20)), new Set([401]));
      assert.equal(statuses[20], 429);
    } finally {
      await t.close();
    }
  });
});

describe('console: one-time password setup links', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  test('the bootstrap admin sets a password once with the first-start link, then signs in', async () => {
    const boot = await bootstrapIfEmpty(t.services);
    assert.ok(boot);
    const token = boot.setupToken;
    const rows = await t.db.kysely.selectFrom('password_setup_tokens').selectAll().execute();
    assert.ok(!JSON.stringify(rows).includes(token), 'the token is stored hashed');
    assert.deepEqual((await t.call('GET', `/console/setup?token=${token}`)).body, {
      valid: true,
      password: { min_length: MIN_PASSWORD_LENGTH, max_length: MAX_PASSWORD_LENGTH },
    });
    const weak = await t.call('POST', '/console/setup', { body: { token, password: 'short' } });
    assert.equal(weak.status, 400);
    assert.match(weak.body.message, /at least 8/);
    const set = await t.call('POST', '/console/setup', { body: { token, password: 'a long passphrase' } });
    assert.equal(set.status, 200);
    const cookie = setCookieOf(set).split(';')[0] ?? '';
    const auth = await t.call('GET', '/api/v2/auth', { headers: { cookie } });
    assert.equal(auth.body.account_id, boot.userId);
    // Single use.
    const again = await t.call('POST', '/console/setup', { body: { token, password: 'another passphrase' } });
    assert.equal(again.status, 410);
    assert.equal((await t.call('GET', `/console/setup?token=${token}`)).body.valid, false);
    await signIn(t, boot.email, 'a long passphrase');
    const user = await t.db.kysely
      .selectFrom('users')
      .selectAll()
      .where('id', '=', boot.userId)
      .executeTakeFirst();
    assert.match(user?.password_hash ?? '', /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
  });

  test('expired, unknown and concurrently reused tokens fail; a reset ends existing sessions', async () => {
    const p = await createUserWithPassword(t.services, 'reset');
    const old = await signIn(t, p.email, p.password);
    const expired = await t.services.sessions.createSetupToken(p.id);
    await t.db.kysely
      .updateTable('password_setup_tokens')
      .set({ expires_at: '2000-01-01T00:00:00.000Z' })
      .execute();
    const r1 = await t.call('POST', '/console/setup', { body: { token: expired, password: 'whatever123' } });
    assert.equal(r1.status, 410);
    const r2 = await t.call('POST', '/console/setup', {
      body: { token: 'x'.repeat(43), password: 'whatever123' },
    });
    assert.equal(r2.status, 410);
    const token = await t.services.sessions.createSetupToken(p.id);
    const both = await Promise.all([
      t.call('POST', '/console/setup', { body: { token, password: 'first passphrase' } }),
      t.call('POST', '/console/setup', { body: { token, password: 'second passphrase' } }),
    ]);
    assert.deepEqual(both.map((r) => r.status).sort(), [200, 410]);
    assert.equal((await t.call('GET', '/api/v2/auth', { headers: withSession(old) })).status, 401);
    const winner = both[0]?.status === 200 ? 'first passphrase' : 'second passphrase';
    await signIn(t, p.email, winner);
  });
});

describe('passwords', () => {
  test('scrypt hashes verify, are salted, and reject wrong or malformed input', async () => {
    const a = await hashPassword('pässword one');
    const b = await hashPassword('pässword one');
    assert.notEqual(a, b);
    assert.equal(await verifyPassword('pässword one', a), true);
    assert.equal(await verifyPassword('pa\u0308ssword one', a), true, 'Unicode forms are normalized');
    assert.equal(await verifyPassword('password one', a), false);
    for (const bad of [null, '', 'scrypt$1$2', 'bcrypt$x$y$z$a$b', 'scrypt$99999999$8$1$AA$AA']) {
      assert.equal(await verifyPassword('x', bad), false);
    }
  });
});

describe('CLI: users setup-link', () => {
  test('prints a one-time link under PUBLIC_URL that the console accepts', async () => {
    const { execFileSync } = await import('node:child_process');
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { openDatabase } = await import('../db/connect.ts');
    const { SessionsService } = await import('./sessions.service.ts');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-cli-'));
    const env = {
      ...process.env,
      ORGPLANE_DATA_DIR: dir,
      DATABASE_URL: '',
      PUBLIC_URL: 'https://console.example.com',
    };
    const cli = (...args: string[]) =>
      execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
        env,
        encoding: 'utf8',
      });
    try {
      cli('users', 'create', '--email', 'ops@example.com');
      const out = cli('users', 'setup-link', '--email', 'ops@example.com').trim();
      const m = /^https:\/\/console\.example\.com\/setup\?token=([A-Za-z0-9_-]{43})$/.exec(out);
      assert.ok(m, out);
      const db = openDatabase({ dataDir: dir });
      try {
        const sessions = new SessionsService(db);
        assert.equal(await sessions.setupTokenValid(m[1] ?? ''), true);
        await sessions.completeSetup(m[1] ?? '', 'operator passphrase');
        assert.equal(await sessions.setupTokenValid(m[1] ?? ''), false);
        await sessions.signIn('ops@example.com', 'operator passphrase');
      } finally {
        await db.close();
      }
      assert.throws(() => cli('users', 'setup-link', '--email', 'nobody@example.com'), /not found/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
