import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, testConfig, type TestApp } from '../../test/helpers/app.ts';
import { buildWorld, createUser, type World } from '../../test/helpers/factories.ts';
import { openJoinPage, postJoin } from '../../test/helpers/join.ts';
import { joinLinkIn, startSmtp, type TestSmtp } from '../../test/helpers/smtp.ts';
import { assertMatchesSpec } from '../../test/helpers/spec.ts';
import { hashToken } from '../domain/ids.ts';

const uniq = () => Math.random().toString(36).slice(2, 10);

describe('invitations', () => {
  let t: TestApp;
  let w: World;
  let smtp: TestSmtp;
  const base = () => `/api/v2/organizations/${w.orgA.id}/invitations`;

  before(async () => {
    smtp = await startSmtp();
    t = await buildTestApp({
      smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
      mail: { ...testConfig().mail, smtpTimeoutMs: 2000 },
    });
    w = await buildWorld(t.services);
  });
  after(async () => {
    await smtp?.close();
    await t?.close();
  });

  async function invite(emails: string[], role = 'member', token = w.admin.token) {
    const res = await t.call('POST', base(), {
      token,
      body: { invitations: emails.map((email) => ({ email, role })) },
    });
    assertMatchesSpec('createOrganizationInvitations', res.status, res.body);
    return res;
  }

  test('a new address gets a pending invitation and an email with a join link on PUBLIC_URL', async () => {
    const email = `new-${uniq()}@example.com`;
    const res = await t.call('POST', base(), {
      token: w.admin.token,
      body: { invitations: [{ email, role: 'admin' }] },
      // A forged Host must not leak into the link.
      headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
    });
    assert.equal(res.status, 200);
    assertMatchesSpec('createOrganizationInvitations', res.status, res.body);
    const [inv] = res.body.invitations;
    assert.equal(inv.email, email);
    assert.equal(inv.org_id, w.orgA.id);
    assert.equal(inv.invited_by, w.admin.id);
    assert.equal(inv.role, 'admin');
    assert.equal(inv.status, 'pending');
    assert.ok(Date.parse(inv.expires_at) > Date.now() + 6 * 24 * 3600_000, 'expires in 7 days by default');

    await t.services.mail.drain();
    const mail = smtp.received.find((m) => m.to.includes(email));
    assert.ok(mail, 'the email arrived');
    assert.match(mail.subject, /invited you to join Org A/);
    assert.match(mail.decoded, /as admin/);
    assert.match(mail.decoded, new RegExp(w.admin.email.replace(/[.]/g, '\\.')));
    const link = joinLinkIn(mail);
    assert.ok(link, 'the email carries a join link');
    assert.ok(link.startsWith('http://orgplane.test/invitations/accept?token='), link);
    assert.ok(!mail.raw.includes('evil.example'));
    assert.match(mail.raw, /Content-Type: text\/html/i, 'an HTML part');
    assert.match(mail.raw, /Content-Type: text\/plain/i, 'a plain-text part');

    // The token is stored only hashed; the delivered message's stored copy loses it.
    const token = new URL(link).searchParams.get('token') ?? '';
    const row = await t.db.kysely
      .selectFrom('invitations')
      .selectAll()
      .where('id', '=', inv.id)
      .executeTakeFirstOrThrow();
    assert.equal(row.token_hash, hashToken(token));
    assert.ok(!JSON.stringify(row).includes(token));
    const stored = await t.db.kysely
      .selectFrom('mail_outbox')
      .selectAll()
      .where('invitation_id', '=', inv.id)
      .executeTakeFirstOrThrow();
    assert.equal(stored.status, 'sent');
    assert.ok(!stored.text_body.includes(token) && !stored.html_body.includes(token));
    assert.equal(mail.messageId, stored.message_id);

    const list = await t.call('GET', base(), { token: w.admin.token });
    assert.equal(list.status, 200);
    assertMatchesSpec('getOrganizationInvitations', list.status, list.body);
    const listed = list.body.invitations.find((i: { id: string }) => i.id === inv.id);
    assert.equal(listed.email_status, 'sent');
  });

  test('an existing account joins at once; the invitation is accepted and the email says so', async () => {
    const bob = await createUser(t.services, 'bob');
    const res = await invite([bob.email.toUpperCase()], 'member');
    assert.equal(res.status, 200);
    const [inv] = res.body.invitations;
    assert.equal(inv.status, 'accepted');
    const orgs = await t.call('GET', '/api/v2/users/me/organizations', { token: bob.token });
    assert.ok(orgs.body.organizations.some((o: { id: string }) => o.id === w.orgA.id));
    const members = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/members`, { token: bob.token });
    assert.equal(members.status, 200);
    assertMatchesSpec('getOrganizationMembers', members.status, members.body);
    const mine = members.body.members.find(
      (m: { member: { user_id: string } }) => m.member.user_id === bob.id,
    );
    assert.equal(mine.member.role, 'member');

    await t.services.mail.drain();
    const mail = smtp.received.find((m) => m.to.includes(bob.email));
    assert.ok(mail);
    assert.match(mail.subject, /You were added to Org A/);
    assert.equal(joinLinkIn(mail), undefined, 'no join link for an existing account');

    const list = await t.call('GET', base(), { token: w.orgKeyA.token });
    assertMatchesSpec('getOrganizationInvitations', list.status, list.body);
    assert.equal(list.body.invitations.find((i: { id: string }) => i.id === inv.id)?.status, 'accepted');
  });

  test('end to end: the link creates the account, which joins with the role, gets a key and lists members', async () => {
    const email = `carol-${uniq()}@example.com`;
    const res = await invite([email], 'admin');
    assert.equal(res.status, 200);
    await t.services.mail.drain();
    const mail = smtp.received.find((m) => m.to.includes(email));
    assert.ok(mail);
    const link = joinLinkIn(mail);
    assert.ok(link);
    const url = new URL(link);
    const token = url.searchParams.get('token') ?? '';

    const join = await openJoinPage(t, `${url.pathname}${url.search}`);
    const page = join.page;
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    assert.match(page.text, /<label for="name">/);
    assert.match(page.text, /<label for="password">/);
    assert.match(page.text, /Org A/);

    const short = await postJoin(t, join, { name: 'Carol', password: 'short', password_confirm: 'short' });
    assert.equal(short.status, 400);
    assert.match(short.text, /password must be/);

    const done = await postJoin(t, join, {
      name: 'Carol <script>',
      password: 'correct horse battery',
      password_confirm: 'correct horse battery',
    });
    assert.equal(done.status, 200, done.text);
    assert.ok(!done.text.includes('<script>'), 'the name is escaped');
    const key = /napi_[A-Za-z0-9]{64}/.exec(done.text)?.[0];
    assert.ok(key, 'the first personal API key is shown');

    const me = await t.call('GET', '/api/v2/users/me', { token: key });
    assert.equal(me.status, 200);
    assertMatchesSpec('getCurrentUserInfo', me.status, me.body);
    assert.equal(me.body.email, email);
    const user = await t.db.kysely
      .selectFrom('users')
      .selectAll()
      .where('email_lower', '=', email)
      .executeTakeFirstOrThrow();
    assert.match(user.password_hash ?? '', /^scrypt\$/);
    assert.equal(user.name, 'Carol <script>');

    const members = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/members`, { token: key });
    assert.equal(members.status, 200);
    assertMatchesSpec('getOrganizationMembers', members.status, members.body);
    const mine = members.body.members.find((m: { user: { email: string } }) => m.user.email === email);
    assert.equal(mine.member.role, 'admin');
    assert.ok(members.body.members.length >= 3);

    // The new account is also signed in to the console: its session cookie authenticates the API.
    const setCookie = String(done.headers['set-cookie'] ?? '');
    const session = /orgplane_session=([^;]+)/.exec(setCookie)?.[1];
    assert.ok(session, `a session cookie is set: ${setCookie}`);
    assert.match(setCookie, /HttpOnly/i);
    const auth = await t.call('GET', '/api/v2/auth', { headers: { cookie: `orgplane_session=${session}` } });
    assert.equal(auth.status, 200);
    assert.deepEqual(auth.body, { account_id: user.id, auth_method: 'session_cookie' });

    const more = await t.call('POST', '/api/v2/api_keys', { token: key, body: { key_name: 'laptop' } });
    assert.equal(more.status, 200);
    assertMatchesSpec('createApiKey', more.status, more.body);

    const list = await t.call('GET', base(), { token: w.admin.token });
    const inv = list.body.invitations.find((i: { email: string }) => i.email === email);
    assert.equal(inv.status, 'accepted');
    assert.ok(inv.accepted_at);

    // Single use.
    const again = await t.call('GET', `/invitations/accept?token=${token}`);
    assert.equal(again.status, 404);
    assert.match(again.text, /not valid/);
    const replay = await postJoin(t, join, { name: 'Mallory', password: 'correct horse battery' });
    assert.equal(replay.status, 404);
  });

  async function linkFor(email: string): Promise<string> {
    await t.services.mail.drain();
    const mail = smtp.received.find((m) => m.to.includes(email));
    const link = mail && joinLinkIn(mail);
    assert.ok(link, `a join link for ${email}`);
    const u = new URL(link);
    return `${u.pathname}${u.search}`;
  }

  test('accept racing revoke: exactly one wins, and the outcome is consistent', async () => {
    for (let i = 0; i < 5; i++) {
      const email = `acc-rev-${i}-${uniq()}@example.com`;
      const res = await invite([email]);
      const id = res.body.invitations[0].id;
      const join = await openJoinPage(t, await linkFor(email));
      const [accept, revoke] = await Promise.all([
        postJoin(t, join, { name: 'Racer', password: 'correct horse battery' }),
        t.call('DELETE', `${base()}/${id}`, { token: w.admin.token }),
      ]);
      const member = await t.db.kysely
        .selectFrom('members')
        .select('id')
        .where('org_id', '=', w.orgA.id)
        .where('email', '=', email)
        .executeTakeFirst();
      if (accept.status === 200) {
        assert.equal(revoke.status, 409, 'revoking an accepted invitation is refused');
        assert.ok(member, 'the account joined');
      } else {
        assert.equal(revoke.status, 200);
        assert.ok([404, 410].includes(accept.status), String(accept.status));
        assert.equal(member, undefined, 'nobody joined through a revoked invitation');
      }
    }
  });

  test('an account created after the invitation joins through the link without a new password or key', async () => {
    const email = `later-${uniq()}@example.com`;
    await invite([email], 'member');
    const path = await linkFor(email);
    const user = await t.services.users.create({ email, name: 'Later' });
    const join = await openJoinPage(t, path);
    assert.equal(join.page.status, 200);
    assert.match(join.page.text, /already exists/);
    const done = await postJoin(t, join);
    assert.equal(done.status, 200, done.text);
    assert.ok(!/napi_/.test(done.text), 'no key minted for an existing account');
    const m = await t.db.kysely
      .selectFrom('members')
      .select('role')
      .where('org_id', '=', w.orgA.id)
      .where('user_id', '=', user.id)
      .executeTakeFirst();
    assert.equal(m?.role, 'member');
  });

  test('the join page refuses unknown and malformed tokens without a 500', async () => {
    for (const token of ['', 'x', 'A'.repeat(43), '<script>alert(1)</script>']) {
      const res = await t.call('GET', `/invitations/accept?token=${encodeURIComponent(token)}`);
      assert.equal(res.status, 404, token);
      assert.ok(!res.text.includes('<script>alert'), 'nothing echoed unescaped');
    }
  });

  test('validation: bad email names it, duplicates in a batch, unavailable role, 101 entries, empty', async () => {
    const bad = await invite(['not-an-email']);
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /invitations\[0\]\.email.*not-an-email/);
    const inject = await invite(['a@example.com\r\nBcc: x@evil.example']);
    assert.equal(inject.status, 400);
    const dup = await invite([`d-${uniq()}@example.com`, 'x@example.com', 'X@Example.com']);
    assert.equal(dup.status, 400);
    assert.match(dup.body.message, /X@Example\.com appears more than once/);
    const role = await invite([`r-${uniq()}@example.com`], 'viewer');
    assert.equal(role.status, 400);
    assert.match(role.body.message, /role "viewer" is not available/);
    const tooMany = await invite(Array.from({ length: 101 }, (_, i) => `many-${i}-${uniq()}@example.com`));
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.body.message, /100/);
    const empty = await invite([]);
    assert.equal(empty.status, 400);
    const missing = await t.call('POST', base(), { token: w.admin.token, body: {} });
    assert.equal(missing.status, 400);
    assertMatchesSpec('createOrganizationInvitations', missing.status, missing.body);
    // Nothing from the failed batches was written.
    const n = await t.db.kysely
      .selectFrom('invitations')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('email_lower', 'like', 'many-%')
      .executeTakeFirstOrThrow();
    assert.equal(Number(n.n), 0);
  });

  test('exactly 100 entries are accepted in one request', async () => {
    const res = await invite(Array.from({ length: 100 }, (_, i) => `hundred-${i}-${uniq()}@example.com`));
    assert.equal(res.status, 200);
    assert.equal(res.body.invitations.length, 100);
  });

  test("a current member's email is a 409 naming it, and nothing in the batch is written", async () => {
    const fresh = `fresh-${uniq()}@example.com`;
    const res = await invite([fresh, w.member.email.toUpperCase()]);
    assert.equal(res.status, 409);
    assert.ok(res.body.message.includes(w.member.email), res.body.message);
    assert.match(res.body.message, /already a member/);
    const row = await t.db.kysely
      .selectFrom('invitations')
      .select('id')
      .where('email_lower', '=', fresh)
      .executeTakeFirst();
    assert.equal(row, undefined);
  });

  test('a pending invitation is not made twice (any case); the 409 names the address', async () => {
    const email = `twice-${uniq()}@example.com`;
    assert.equal((await invite([email])).status, 200);
    const again = await invite([email.toUpperCase()]);
    assert.equal(again.status, 409);
    assert.ok(again.body.message.toLowerCase().includes(email));
    assert.match(again.body.message, /pending invitation/);
  });

  test('the database itself refuses a second pending invitation for the same address', async () => {
    const now = new Date().toISOString();
    const row = {
      org_id: w.orgA.id,
      email: 'Db@Example.com',
      email_lower: 'db@example.com',
      role: 'member' as const,
      invited_by: w.admin.id,
      invited_at: now,
      status: 'pending' as const,
      expires_at: now,
      accepted_at: null,
      accepted_user_id: null,
      revoked_at: null,
      token_hash: null,
      email_status: 'pending' as const,
      updated_at: now,
    };
    await t.db.kysely
      .insertInto('invitations')
      .values({ ...row, id: crypto.randomUUID() })
      .execute();
    await assert.rejects(
      t.db.kysely
        .insertInto('invitations')
        .values({ ...row, id: crypto.randomUUID() })
        .execute(),
    );
    // A revoked one does not count.
    await t.db.kysely
      .insertInto('invitations')
      .values({ ...row, id: crypto.randomUUID(), status: 'revoked' })
      .execute();
  });

  test('20 racing requests for one address in different cases: exactly one pending invitation', async () => {
    const local = `race-${uniq()}`;
    const variants = Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0 ? `${local}@example.com` : `${local.toUpperCase()}@EXAMPLE.com`,
    );
    const results = await Promise.all(
      variants.map((email) =>
        t.call('POST', base(), { token: w.admin.token, body: { invitations: [{ email, role: 'member' }] } }),
      ),
    );
    for (const r of results) assertMatchesSpec('createOrganizationInvitations', r.status, r.body);
    assert.deepEqual(
      results.map((r) => r.status).sort(),
      [200, ...Array.from({ length: 19 }, () => 409)],
      JSON.stringify(results.map((r) => [r.status, r.body?.message])),
    );
    const rows = await t.db.kysely
      .selectFrom('invitations')
      .select('id')
      .where('email_lower', '=', `${local}@example.com`)
      .where('status', '=', 'pending')
      .execute();
    assert.equal(rows.length, 1);
    const mails = await t.db.kysely
      .selectFrom('mail_outbox')
      .select('id')
      .where('invitation_id', '=', rows[0]?.id ?? '')
      .execute();
    assert.equal(mails.length, 1, 'one email');
  });

  test('revoke: the link stops working; revoking again is idempotent; accepted ones cannot be revoked', async () => {
    const email = `rev-${uniq()}@example.com`;
    const res = await invite([email]);
    const id = res.body.invitations[0].id;
    await t.services.mail.drain();
    const mail = smtp.received.find((m) => m.to.includes(email));
    const link = mail && joinLinkIn(mail);
    assert.ok(link);

    const byMember = await t.call('DELETE', `${base()}/${id}`, { token: w.member.token });
    assert.equal(byMember.status, 403);
    const del = await t.call('DELETE', `${base()}/${id}`, { token: w.admin.token });
    assert.equal(del.status, 200);
    assert.equal(del.body.status, 'revoked');
    const again = await t.call('DELETE', `${base()}/${id}`, { token: w.admin.token });
    assert.equal(again.status, 200);
    const page = await t.call('GET', new URL(link).pathname + new URL(link).search);
    assert.equal(page.status, 404);

    const list = await t.call('GET', base(), { token: w.admin.token });
    assert.ok(!list.body.invitations.some((i: { id: string }) => i.id === id), 'revoked ones are not listed');
    const all = await t.call('GET', `${base()}?include_inactive=true`, { token: w.admin.token });
    assertMatchesSpec('getOrganizationInvitations', all.status, all.body);
    assert.equal(all.body.invitations.find((i: { id: string }) => i.id === id)?.status, 'revoked');

    // The address may be invited anew.
    assert.equal((await invite([email])).status, 200);

    const bob = await createUser(t.services, 'acc');
    const accepted = await invite([bob.email]);
    const accDel = await t.call('DELETE', `${base()}/${accepted.body.invitations[0].id}`, {
      token: w.admin.token,
    });
    assert.equal(accDel.status, 409);
    const unknown = await t.call('DELETE', `${base()}/${crypto.randomUUID()}`, { token: w.admin.token });
    assert.equal(unknown.status, 404);
  });

  test('revoking before delivery cancels the unsent email', async () => {
    const email = `cancel-${uniq()}@example.com`;
    const res = await invite([email]);
    const id = res.body.invitations[0].id;
    const del = await t.call('DELETE', `${base()}/${id}`, { token: w.admin.token });
    assert.equal(del.body.email_status, 'cancelled');
    await t.services.mail.drain();
    assert.ok(!smtp.received.some((m) => m.to.includes(email)));
  });

  test('expiry: an expired link says so; the address can be invited again; resend renews it', async () => {
    const email = `exp-${uniq()}@example.com`;
    const res = await invite([email]);
    const id = res.body.invitations[0].id;
    await t.services.mail.drain();
    const first = smtp.received.find((m) => m.to.includes(email));
    const oldLink = first && joinLinkIn(first);
    assert.ok(oldLink);
    await t.db.kysely
      .updateTable('invitations')
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('id', '=', id)
      .execute();
    const page = await t.call('GET', new URL(oldLink).pathname + new URL(oldLink).search);
    assert.equal(page.status, 410);
    assert.match(page.text, /expired/);
    const list = await t.call('GET', `${base()}?include_inactive=true`, { token: w.admin.token });
    assert.equal(list.body.invitations.find((i: { id: string }) => i.id === id)?.status, 'expired');
    const listActive = await t.call('GET', base(), { token: w.admin.token });
    assert.ok(!listActive.body.invitations.some((i: { id: string }) => i.id === id));

    const resend = await t.call('POST', `${base()}/${id}/resend`, { token: w.admin.token });
    assert.equal(resend.status, 200, resend.text);
    assert.equal(resend.body.status, 'pending');
    assert.ok(Date.parse(resend.body.expires_at) > Date.now());
    await t.services.mail.drain();
    const mails = smtp.received.filter((m) => m.to.includes(email));
    assert.equal(mails.length, 2, 'sent again');
    const newLink = mails[1] && joinLinkIn(mails[1]);
    assert.ok(newLink && newLink !== oldLink);
    const oldPage = await t.call('GET', new URL(oldLink).pathname + new URL(oldLink).search);
    assert.equal(oldPage.status, 404, 'the old link is dead');
    const newPage = await t.call('GET', new URL(newLink).pathname + new URL(newLink).search);
    assert.equal(newPage.status, 200);

    // Expired invitations free the address for a new invitation.
    await t.db.kysely
      .updateTable('invitations')
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('id', '=', id)
      .execute();
    assert.equal((await invite([email])).status, 200);
    // …and then the old one can no longer be resent (a newer one is pending).
    const stale = await t.call('POST', `${base()}/${id}/resend`, { token: w.admin.token });
    assert.equal(stale.status, 409);
  });

  test("the seed's GET /organizations/invitations: org key's organization; a personal key is told to use org_id", async () => {
    const res = await t.call('GET', '/api/v2/organizations/invitations', { token: w.orgKeyA.token });
    assert.equal(res.status, 200);
    assertMatchesSpec('getOrganizationInvitations', res.status, res.body);
    assert.ok(res.body.invitations.length > 0);
    assert.ok(res.body.invitations.every((i: { org_id: string }) => i.org_id === w.orgA.id));
    const personal = await t.call('GET', '/api/v2/organizations/invitations', { token: w.admin.token });
    assert.equal(personal.status, 400);
    assertMatchesSpec('getOrganizationInvitations', personal.status, personal.body);
    assert.match(personal.body.message, /org_id is required/);
    const project = await t.call('GET', '/api/v2/organizations/invitations', { token: w.projectKeyA1.token });
    assert.equal(project.status, 403);
    const none = await t.call('GET', '/api/v2/organizations/invitations');
    assert.equal(none.status, 401);
  });

  test('permission matrix: list and create for every principal', async () => {
    const listCases: Array<[string, string | undefined, string, number]> = [
      ['admin', w.admin.token, w.orgA.id, 200],
      ['member', w.member.token, w.orgA.id, 200],
      ['removed member', w.removed.token, w.orgA.id, 404],
      ['outsider', w.outsider.token, w.orgA.id, 404],
      ['org key', w.orgKeyA.token, w.orgA.id, 200],
      ['org key of another org', w.orgKeyB.token, w.orgA.id, 404],
      ['project key', w.projectKeyA1.token, w.orgA.id, 403],
      ['revoked key', w.revokedToken, w.orgA.id, 401],
      ['no key', undefined, w.orgA.id, 401],
      ['admin, unknown org', w.admin.token, 'org-nope-nope-12345678', 404],
    ];
    for (const [who, token, org, status] of listCases) {
      const res = await t.call('GET', `/api/v2/organizations/${org}/invitations`, { token });
      assert.equal(res.status, status, `list as ${who}: ${res.text}`);
      assertMatchesSpec('getOrganizationInvitations', res.status, res.body);
    }
    const createCases: Array<[string, string | undefined, number, RegExp?]> = [
      ['member', w.member.token, 403, /only organization admins can invite members/],
      ['removed member', w.removed.token, 404],
      ['outsider', w.outsider.token, 404],
      ['org key', w.orgKeyA.token, 403, /^not allowed for organization API keys$/],
      ['org key of another org', w.orgKeyB.token, 404],
      ['project key', w.projectKeyA1.token, 403],
      ['revoked key', w.revokedToken, 401],
      ['no key', undefined, 401],
      ['admin', w.admin.token, 200],
    ];
    for (const [who, token, status, message] of createCases) {
      const res = await t.call('POST', base(), {
        token,
        body: { invitations: [{ email: `perm-${uniq()}@example.com`, role: 'member' }] },
      });
      assert.equal(res.status, status, `create as ${who}: ${res.text}`);
      assertMatchesSpec('createOrganizationInvitations', res.status, res.body);
      if (message) assert.match(res.body.message, message, who);
    }
    const target = (await invite([`manage-${uniq()}@example.com`])).body.invitations[0].id;
    const manageCases: Array<[string, string | undefined, number]> = [
      ['member', w.member.token, 403],
      ['outsider', w.outsider.token, 404],
      ['org key', w.orgKeyA.token, 403],
      ['org key of another org', w.orgKeyB.token, 404],
      ['project key', w.projectKeyA1.token, 403],
      ['no key', undefined, 401],
    ];
    for (const [who, token, status] of manageCases) {
      const resend = await t.call('POST', `${base()}/${target}/resend`, { token });
      assert.equal(resend.status, status, `resend as ${who}`);
      const del = await t.call('DELETE', `${base()}/${target}`, { token });
      assert.equal(del.status, status, `revoke as ${who}`);
    }
    // An invitation of another organization does not exist through this one.
    const other = await t.call('POST', `/api/v2/organizations/${w.orgB.id}/invitations`, {
      token: w.outsider.token,
      body: { invitations: [{ email: `b-${uniq()}@example.com`, role: 'member' }] },
    });
    const cross = await t.call('DELETE', `${base()}/${other.body.invitations[0].id}`, {
      token: w.admin.token,
    });
    assert.equal(cross.status, 404);
  });
});

// Own apps with other settings. A separate suite, so they are built after the main suite's app is
// closed (on PostgreSQL, two test apps alive at once in one process trip over Kysely's migration lock table).
describe('invitations: configured limits', () => {
  test('the expiry is configurable', async () => {
    const t2 = await buildTestApp({ invitationTtlHours: 2 });
    try {
      const w2 = await buildWorld(t2.services);
      const res = await t2.call('POST', `/api/v2/organizations/${w2.orgA.id}/invitations`, {
        token: w2.admin.token,
        body: { invitations: [{ email: 'ttl@example.com', role: 'member' }] },
      });
      assert.equal(res.status, 200);
      const ms =
        Date.parse(res.body.invitations[0].expires_at) - Date.parse(res.body.invitations[0].invited_at);
      assert.equal(ms, 2 * 3600_000);
    } finally {
      await t2.close();
    }
  });

  test('abuse limit: invitations per organization per hour → 429 (resends count too)', async () => {
    const t2 = await buildTestApp({ invitationsPerOrgPerHour: 3 });
    try {
      const w2 = await buildWorld(t2.services);
      const url = `/api/v2/organizations/${w2.orgA.id}/invitations`;
      const send = (emails: string[]) =>
        t2.call('POST', url, {
          token: w2.admin.token,
          body: { invitations: emails.map((email) => ({ email, role: 'member' })) },
        });
      const ok = await send(['l1@example.com', 'l2@example.com']);
      assert.equal(ok.status, 200);
      const over = await send(['l3@example.com', 'l4@example.com']);
      assert.equal(over.status, 429);
      assertMatchesSpec('createOrganizationInvitations', over.status, over.body);
      assert.match(over.body.message, /at most 3 invitations per hour; 1 remain/);
      const retryAfter = Number(over.headers['retry-after']);
      assert.ok(retryAfter > 3500 && retryAfter <= 3600, `Retry-After ${retryAfter}`);
      const resend = await t2.call('POST', `${url}/${ok.body.invitations[0].id}/resend`, {
        token: w2.admin.token,
      });
      assert.equal(resend.status, 200);
      assert.equal((await send(['l5@example.com'])).status, 429);
      // Another organization has its own budget.
      const b = await t2.call('POST', `/api/v2/organizations/${w2.orgB.id}/invitations`, {
        token: w2.outsider.token,
        body: { invitations: [{ email: 'l6@example.com', role: 'member' }] },
      });
      assert.equal(b.status, 200);
    } finally {
      await t2.close();
    }
  });
});
