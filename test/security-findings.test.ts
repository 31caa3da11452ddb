// Regressions for an adversarial probe's findings: each test failed on the code the probe ran
// against and must keep passing (see README, Security).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildTestApp, DIALECT, type Res, type TestApp } from './helpers/app.ts';
import { buildWorld, createOrgKey, createProjects, createUser, type World } from './helpers/factories.ts';
import { openJoinPage, postJoin } from './helpers/join.ts';
import { safeNextPath } from '../src/console/next-path.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ORIGIN = 'http://orgplane.test';

/** The error body every failure carries. */
function assertErrorBody(res: Res, status: number): void {
  assert.equal(res.status, status, res.text);
  assert.equal(typeof res.body?.code, 'string', res.text);
  assert.equal(typeof res.body?.message, 'string', res.text);
  assert.equal(typeof res.body?.request_id, 'string', res.text);
}

/** A foreign id must answer exactly like a missing one: same status, code and message. */
function assertSameAnswer(foreign: Res, missing: Res, what: string): void {
  assert.equal(foreign.status, missing.status, `${what}: ${foreign.text} vs ${missing.text}`);
  assert.equal(foreign.body?.code, missing.body?.code, what);
  assert.equal(foreign.body?.message, missing.body?.message, what);
}

describe(`security regressions (${DIALECT})`, () => {
  let t: TestApp;
  let w: World;
  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
    await createProjects(t.services, w.orgA.id, w.admin.id, 3);
    await createProjects(t.services, w.orgB.id, w.outsider.id, 2);
  });
  after(() => t.close());

  describe('1. cursors resolve only inside the caller’s scope', () => {
    test('GET /projects?cursor=<another organization’s project> answers like a missing cursor', async () => {
      const callers: Array<[string, string, string]> = [
        ['personal key', w.admin.token, `&org_id=${w.orgA.id}`],
        ['organization key', w.orgKeyA.token, ''],
        ['project-scoped key', w.projectKeyA1.token, ''],
      ];
      for (const [who, token, org] of callers) {
        const missing = await t.call(
          'GET',
          `/api/v2/projects?limit=1&cursor=no-such-project-12345678${org}`,
          {
            token,
          },
        );
        assertErrorBody(missing, 400);
        const foreign = await t.call('GET', `/api/v2/projects?limit=1&cursor=${w.projectB1}${org}`, {
          token,
        });
        assertSameAnswer(foreign, missing, `${who}: foreign cursor`);
      }
      // A project-scoped key's scope is its one project: another project of its organization is foreign too.
      const missing = await t.call('GET', '/api/v2/projects?cursor=no-such-project-12345678', {
        token: w.projectKeyA1.token,
      });
      const sibling = await t.call('GET', `/api/v2/projects?cursor=${w.projectA2}`, {
        token: w.projectKeyA1.token,
      });
      assertSameAnswer(sibling, missing, 'project key: sibling project as cursor');
    });

    test('a cursor of the caller’s own organization still pages', async () => {
      const first = await t.call('GET', `/api/v2/projects?limit=2&org_id=${w.orgA.id}`, {
        token: w.admin.token,
      });
      assert.equal(first.status, 200, first.text);
      const next = await t.call(
        'GET',
        `/api/v2/projects?limit=2&org_id=${w.orgA.id}&cursor=${first.body.pagination.cursor}`,
        { token: w.admin.token },
      );
      assert.equal(next.status, 200, next.text);
      assert.ok(next.body.projects.length > 0);
      const ids = new Set(first.body.projects.map((p: { id: string }) => p.id));
      for (const p of next.body.projects) assert.ok(!ids.has(p.id), 'no project twice');
    });

    test('a personal key with a cursor but no org_id: 400 org_id is required, as Neon', async () => {
      for (const cursor of [w.projectA1, w.projectB1, 'no-such-project-12345678']) {
        const res = await t.call('GET', `/api/v2/projects?cursor=${cursor}`, { token: w.admin.token });
        assertErrorBody(res, 400);
        assert.match(res.body.message, /^org_id is required/);
      }
    });

    test('members: another organization’s cursor answers like a malformed one', async () => {
      // Org B needs a second page for its cursor to exist.
      const extra = await createUser(t.services, 'b-member');
      await t.services.members.add(w.orgB.id, extra.email, 'member');
      const bPage = await t.call('GET', `/api/v2/organizations/${w.orgB.id}/members?limit=1`, {
        token: w.outsider.token,
      });
      assert.equal(bPage.status, 200, bPage.text);
      const foreignCursor = bPage.body.pagination.next as string;
      assert.ok(foreignCursor);
      const missing = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/members?limit=1&cursor=zzzz`, {
        token: w.admin.token,
      });
      assertErrorBody(missing, 400);
      const foreign = await t.call(
        'GET',
        `/api/v2/organizations/${w.orgA.id}/members?limit=1&cursor=${foreignCursor}`,
        { token: w.admin.token },
      );
      assertSameAnswer(foreign, missing, 'members: foreign cursor');
      // Its own cursor still works.
      const own = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/members?limit=1`, {
        token: w.admin.token,
      });
      const second = await t.call(
        'GET',
        `/api/v2/organizations/${w.orgA.id}/members?limit=1&cursor=${own.body.pagination.next}`,
        { token: w.admin.token },
      );
      assert.equal(second.status, 200, second.text);
    });
  });

  describe('2. the redirect after sign-in stays on the console’s origin', () => {
    const hostile = [
      '/%09/evil.example/',
      '/\t/evil.example/',
      '/\n/evil.example/',
      '/\r\n/evil.example/',
      '/%0A/evil.example/',
      '/%0D%0A/evil.example/',
      '//evil.example/',
      '/\\evil.example/',
      '/\\/evil.example/',
      '\\\\evil.example/',
      '/./\\/evil.example',
      '/.//evil.example',
      '/..//evil.example',
      'https://evil.example/',
      'javascript:alert(1)',
      ' /\t/evil.example',
      'http:/evil.example',
      '',
    ];
    /** Where a browser would land when it follows the path (as location.assign does). */
    const landing = (p: string) => new URL(p, ORIGIN);

    async function browserSafeNext(): Promise<(raw: string, origin: string) => string> {
      const href = pathToFileURL(path.join(root, 'src/console/public/assets/api.js')).href;
      const mod = (await import(href)) as { safeNext: (raw: string, origin: string) => string };
      return mod.safeNext;
    }

    test('the browser’s safeNext and the server’s safeNextPath refuse every off-site target', async () => {
      const safeNext = await browserSafeNext();
      for (const raw of hostile) {
        // The browser reads ?next= through URLSearchParams, which decodes %09 and friends first.
        for (const given of [raw, new URLSearchParams(`next=${raw}`).get('next') ?? '']) {
          for (const [side, fn] of [
            ['browser', safeNext],
            ['server', safeNextPath],
          ] as const) {
            const out = fn(given, ORIGIN);
            const url = landing(out);
            assert.equal(url.origin, ORIGIN, `${side}: ${JSON.stringify(given)} → ${out}`);
            assert.ok(
              out.startsWith('/') && !out.startsWith('//'),
              `${side}: ${JSON.stringify(given)} → ${out}`,
            );
          }
        }
      }
    });

    test('same-origin paths survive, with their query', async () => {
      const safeNext = await browserSafeNext();
      for (const ok of ['/account', `/orgs/${w.orgA.id}/projects`, '/orgs/x/settings?tab=keys']) {
        assert.equal(safeNext(ok, ORIGIN), ok);
        assert.equal(safeNextPath(ok, ORIGIN), ok);
      }
    });

    test('the server’s redirect to /signin carries only a same-origin next', async () => {
      for (const url of [
        '/orgs/%09/evil.example/',
        '/orgs/x/..%2f..%2f%2fevil.example',
        `/orgs/${w.orgA.id}`,
      ]) {
        const res = await t.call('GET', url);
        assert.equal(res.status, 302, `${url}: ${res.text}`);
        const location = String(res.headers.location);
        const next = new URL(location, ORIGIN).searchParams.get('next') ?? '/';
        assert.equal(landing(next).origin, ORIGIN, `${url} → ${location}`);
        assert.ok(!next.startsWith('//'), `${url} → ${location}`);
      }
    });
  });

  describe('3. the invitation join form refuses cross-site posts (login CSRF)', () => {
    async function invitationToken(): Promise<{ token: string; email: string }> {
      const email = `join-${randomBytes(4).toString('hex')}@example.com`;
      const res = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/invitations`, {
        token: w.admin.token,
        body: { invitations: [{ email, role: 'member' }] },
      });
      assert.equal(res.status, 200, res.text);
      const mail = await t.db.kysely
        .selectFrom('mail_outbox')
        .select('text_body')
        .where('recipient', '=', email)
        .executeTakeFirstOrThrow();
      const token = /\/invitations\/accept\?token=([A-Za-z0-9_-]+)/.exec(mail.text_body)?.[1];
      assert.ok(token);
      return { token, email };
    }
    const account = {
      name: 'Victim',
      password: 'correct horse battery',
      password_confirm: 'correct horse battery',
    };
    const sessionCookie = (res: Res) =>
      [res.headers['set-cookie'] ?? []].flat().some((c) => /orgplane_session=/.test(String(c)));

    test('a cross-site post (no join cookie, no CSRF field, or a foreign Origin) is refused and signs nobody in', async () => {
      const { token, email } = await invitationToken();
      const form = await openJoinPage(t, token);
      assert.equal(form.page.status, 200);
      assert.ok(form.cookie, 'the page sets the join cookie');
      assert.ok(form.csrf, 'the form carries a CSRF value');
      const attempts: Array<[string, Promise<Res>]> = [
        // What a foreign page can send: the attacker's own invitation token, no cookie (SameSite=Strict).
        ['no cookie, no csrf', postJoin(t, { token, cookie: '', csrf: '' }, account)],
        ['no cookie', postJoin(t, { token, cookie: '', csrf: form.csrf }, account)],
        ['no csrf', postJoin(t, { token, cookie: form.cookie, csrf: '' }, account)],
        ['wrong csrf', postJoin(t, { token, cookie: form.cookie, csrf: 'A'.repeat(43) }, account)],
        ['foreign origin', postJoin(t, form, account, { origin: 'https://evil.example' })],
        // A sandboxed frame on another site posts with Origin: null; its browser says cross-site.
        [
          'null origin, cross-site',
          postJoin(t, form, account, { origin: 'null', 'sec-fetch-site': 'cross-site' }),
        ],
        [
          'null origin, no cookie',
          postJoin(t, { token, cookie: '', csrf: form.csrf }, account, { origin: 'null' }),
        ],
        ['cross-site fetch', postJoin(t, form, account, { 'sec-fetch-site': 'cross-site' })],
      ];
      for (const [what, pending] of attempts) {
        const res = await pending;
        assert.equal(res.status, 403, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
        assert.ok(!sessionCookie(res), `${what}: no session cookie`);
        assert.ok(!/napi_/.test(res.text), `${what}: no key`);
      }
      const user = await t.db.kysely
        .selectFrom('users')
        .select('id')
        .where('email_lower', '=', email)
        .executeTakeFirst();
      assert.equal(user, undefined, 'no account was created');

      // The page's own post goes through and signs in: as Chromium sends it from this no-referrer
      // page (Origin: null, same-origin; the browser test in src/console/console.e2e.test.ts).
      const ok = await postJoin(t, form, account, { origin: 'null', 'sec-fetch-site': 'same-origin' });
      assert.equal(ok.status, 200, ok.text);
      assert.ok(sessionCookie(ok));
    });

    test('the CSRF value is bound to its invitation', async () => {
      const one = await invitationToken();
      const two = await invitationToken();
      const formOne = await openJoinPage(t, one.token);
      const res = await postJoin(
        t,
        { token: two.token, cookie: formOne.cookie, csrf: formOne.csrf },
        account,
      );
      assert.equal(res.status, 403, res.text);
    });
  });

  describe('4. billing plans are the operator’s', () => {
    test('POST /organizations with a plan is refused with a reason; without one the organization is free', async () => {
      for (const plan of ['enterprise', 'free', 'scale', 'nonsense', null]) {
        const res = await t.call('POST', '/api/v2/organizations', {
          token: w.admin.token,
          body: { name: 'E', plan },
        });
        assertErrorBody(res, 403);
        assert.match(res.body.message, /plan/);
        assert.match(res.body.message, /operator/);
      }
      const before = await t.db.kysely.selectFrom('organizations').select('id').execute();
      const ok = await t.call('POST', '/api/v2/organizations', { token: w.admin.token, body: { name: 'E' } });
      assert.equal(ok.status, 201, ok.text);
      assert.equal(ok.body.plan, 'free');
      const afterRows = await t.db.kysely.selectFrom('organizations').select('id').execute();
      assert.equal(afterRows.length, before.length + 1, 'only the plan-less request created one');
    });

    test('the operator still sets plans (service behind the CLI)', async () => {
      const org = await t.services.organizations.createForEmail(w.admin.email, {
        name: 'Ops',
        plan: 'business',
      });
      assert.equal(org.plan, 'business');
      const changed = await t.services.organizations.setPlan(org.id, 'enterprise');
      assert.equal(changed.plan, 'enterprise');
    });
  });
});

describe(`5. X-Request-ID never echoes a secret (${DIALECT})`, () => {
  const lines: string[] = [];
  let t: TestApp;
  let w: World;
  before(async () => {
    t = await buildTestApp({ logLevel: 'trace' }, { logStream: { write: (line) => void lines.push(line) } });
    w = await buildWorld(t.services);
  });
  after(() => t.close());

  test('a live key, its body without the prefix, or a 64-character random value is replaced', async () => {
    const key = await createOrgKey(t.services, w.orgA.id, w.admin);
    // base64url randomness with its - and _ (they split runs of letters), hex, base62.
    const base64url = `${randomBytes(48).toString('base64url').slice(0, 60)}a-Z_`;
    const hex64 = randomBytes(32).toString('hex');
    const base62 = key.token.slice(-64).split('').reverse().join('');
    const secrets = [key.token, key.token.slice('napi_'.length), base64url, hex64, base62, w.admin.token];
    for (const secret of secrets) {
      const start = lines.length;
      for (const [url, token] of [
        ['/api/v2/users/me', w.admin.token], // 200
        [`/api/v2/organizations/${w.orgA.id}/nope`, w.admin.token], // 404 body with request_id
        ['/api/v2/users/me', undefined], // 401
      ] as const) {
        const res = await t.call('GET', url, { token, headers: { 'x-request-id': secret } });
        const headers = JSON.stringify(res.headers);
        assert.ok(!res.text.includes(secret), `${url}: body echoes it`);
        assert.ok(!headers.includes(secret), `${url}: headers echo ${secret}`);
        assert.match(String(res.headers['x-request-id']), /^[0-9a-f]{32}$/);
      }
      const logged = lines.slice(start).join('');
      assert.ok(lines.length > start, 'the requests were logged');
      assert.ok(!logged.includes(secret), 'no log line carries it');
    }
  });

  test('ordinary request ids (UUIDs, 32-hex trace ids, short names) are still echoed in headers, error bodies and logs', async () => {
    const uuid = '0b9f3c3e-8d51-4a57-9e0a-5cfa2f1d7c44';
    for (const id of [
      'trace-7f3a9c21-ab',
      uuid,
      uuid.toUpperCase(),
      uuid.replace(/-/g, ''),
      'req_01HZX3K8Q2',
    ]) {
      const start = lines.length;
      const res = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/nope`, {
        token: w.admin.token,
        headers: { 'x-request-id': id },
      });
      assert.equal(res.headers['x-request-id'], id);
      assert.equal(res.headers['x-neon-ret-request-id'], id);
      assert.equal(res.body.request_id, id);
      assert.ok(lines.slice(start).join('').includes(id));
    }
  });
});
