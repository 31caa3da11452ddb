// End-to-end: the console in real headless Chromium (Debian's package, driven by playwright-core)
// against the real server on a real database. A screenshot of each page goes to
// test-artifacts/screenshots/. Invitation and project-transfer steps need the invitations and
// projects modules: where their endpoints answer 404 ("no route"), those steps skip and say so.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildTestApp, DIALECT, type TestApp } from '../../test/helpers/app.ts';
import { createProjectRecord, createUserWithPassword } from '../../test/helpers/factories.ts';
import { bootstrapIfEmpty, type BootstrapResult } from '../bootstrap.ts';
import { freePort } from '../../test/helpers/net.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.resolve('test-artifacts/screenshots');
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) {
  throw new Error(`${CHROMIUM} is missing: the browser tests must run on CI (apt-get install chromium)`);
}
const skipReason = haveChromium
  ? false
  : `${CHROMIUM} not installed: browser tests SKIPPED (apt-get install chromium)`;
if (skipReason) console.warn(`!!! ${skipReason}`);

/** Quoted-printable soft breaks and =3D would cut links in captured mail. */
const decodeMail = (raw: string) =>
  raw
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));

describe('console in Chromium', { skip: skipReason }, () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let boot: BootstrapResult;
  let smtp: SMTPServer;
  const mails: string[] = [];
  const foreignRequests: string[] = [];
  const adminPassword = 'admin passphrase 1';
  let invitee: { email: string; password: string } | null = null;

  const shot = async (name: string, p: Page = page) => {
    fs.mkdirSync(SHOTS, { recursive: true });
    await p.screenshot({ path: path.join(SHOTS, `${DIALECT}-${name}.png`), fullPage: true });
  };
  const api = (method: 'GET' | 'POST', url: string, token = boot.token) => t.call(method, url, { token });
  const orgPath = () => `/api/v2/organizations/${boot.orgId}`;
  const endpointMissing = async (url: string) => {
    const r = await api('GET', url);
    return r.status === 404 && /^no route/.test(r.body?.message ?? '');
  };

  before(async () => {
    const smtpPort = await freePort();
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, _session, cb) {
        let data = '';
        stream.on('data', (c: Buffer) => (data += c.toString('utf8')));
        stream.on('end', () => {
          mails.push(decodeMail(data));
          cb();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(smtpPort, '127.0.0.1', resolve));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await buildTestApp({ publicUrl: base, port, smtpUrl: `smtp://127.0.0.1:${smtpPort}` });
    const b = await bootstrapIfEmpty(t.services);
    assert.ok(b);
    boot = b;
    await t.app.listen({ host: '127.0.0.1', port });
    t.services.start(); // background work (the mail outbox, batched writes), as the real server does
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    page = await ctx.newPage();
    page.setDefaultTimeout(15_000);
    page.on('request', (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreignRequests.push(r.url());
    });
  });

  after(async () => {
    await browser?.close();
    await t?.app.close();
    await t?.close().catch(() => {});
    await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
  });

  test('the one-time setup link sets the admin password', async () => {
    await page.goto(`${base}/setup?token=${boot.setupToken}`);
    await page.getByLabel('New password').fill(adminPassword);
    await page.getByLabel('Repeat the password').fill(adminPassword);
    await shot('setup');
    await page.getByRole('button', { name: 'Set password and sign in' }).click();
    await page.waitForURL(`${base}/orgs/${boot.orgId}/settings`);
    // The link is single use.
    const again = await ctx.newPage();
    await again.goto(`${base}/setup?token=${boot.setupToken}`);
    await again.getByText('This link is invalid, expired or already used').waitFor();
    await again.close();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/signin$/);
  });

  test('sign in as the admin (a wrong password is refused first)', async () => {
    await page.goto(`${base}/`);
    await page.waitForURL(/\/signin$/);
    await page.getByLabel('Email').fill(boot.email);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'incorrect email or password' }).waitFor();
    await shot('signin');
    await page.getByLabel('Password').fill(adminPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/orgs/${boot.orgId}/settings`);
    const cookies = await ctx.cookies();
    const session = cookies.find((c) => c.name === 'orgplane_session');
    assert.ok(session);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read the session cookie');
  });

  test('the Settings page shows the organization; the org id copies to the clipboard', async () => {
    await page.getByRole('heading', { name: 'Organization settings' }).waitFor();
    await page.locator('#org-name', { hasText: 'Default Organization' }).waitFor();
    assert.equal(await page.locator('#org-id').textContent(), boot.orgId);
    await page.getByRole('button', { name: 'Copy organization ID' }).click();
    await page.getByText('Copied to the clipboard.').first().waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), boot.orgId);
    await page.locator('#members table').waitFor();
    await page
      .locator('#org-keys-list')
      .getByText(/No API keys yet|Name/)
      .first()
      .waitFor();
    await shot('settings');
  });

  test('every form control has a label (accessibility)', async () => {
    const unlabeled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea')]
        .filter((el) => {
          const e = el as HTMLInputElement;
          return e.type !== 'hidden' && e.labels?.length === 0 && !e.getAttribute('aria-label');
        })
        .map((el) => el.outerHTML),
    );
    assert.deepEqual(unlabeled, []);
  });

  test('invite a new person; they accept in a second browser context', async (tc: TestContext) => {
    if (await endpointMissing(`${orgPath()}/invitations`)) {
      tc.skip('invitations endpoints not on this branch yet (GET …/invitations answers 404 "no route")');
      return;
    }
    const email = `invitee-${Date.now()}@example.com`;
    const other = `second-${Date.now()}@example.com`;
    // Several at once, separated as people paste them.
    await page.getByLabel('Email addresses').fill(`${email},\n ${other}`);
    await page.getByLabel('Role', { exact: true }).selectOption('member');
    await page.getByRole('button', { name: 'Send invitations' }).click();
    await page.locator('#invitations-list').getByText(email).waitFor();
    await page.locator('#invitations-list').getByText(other).waitFor();
    await shot('settings-invited');
    // Resend one, then revoke it after confirming.
    const before = mails.filter((m) => m.includes(other)).length;
    await page.getByRole('button', { name: `Resend the invitation to ${other}` }).click();
    for (let i = 0; i < 100 && mails.filter((m) => m.includes(other)).length <= before; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(mails.filter((m) => m.includes(other)).length > before, 'the invitation was sent again');
    await page.getByRole('button', { name: `Revoke the invitation to ${other}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke invitation' }).click();
    await page
      .getByRole('button', { name: `Revoke the invitation to ${other}` })
      .waitFor({ state: 'detached' });
    const pending = await api('GET', `${orgPath()}/invitations`);
    assert.ok(
      !JSON.stringify(pending.body).includes(other) ||
        pending.body.invitations.every(
          (i: { email: string; status?: string }) => i.email !== other || i.status === 'revoked',
        ),
    );
    // The mail carries the acceptance link.
    let link: string | undefined;
    for (let i = 0; i < 100 && !link; i++) {
      const mail = mails.find((m) => m.includes(email));
      const esc = base.replace(/[.]/g, '\\.');
      link =
        mail?.match(new RegExp(`${esc}/invitations/[^\\s"'<>]+`))?.[0] ??
        mail?.match(new RegExp(`${esc}/[^\\s"'<>]+`))?.[0];
      if (!link) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(link, 'an invitation mail with a link was sent');
    const second = await browser.newContext();
    const p2 = await second.newPage();
    await p2.goto(link);
    await shot('invitation-accept', p2);
    const password = 'invitee passphrase';
    for (const input of await p2.locator('input[type=password]').all()) await input.fill(password);
    const name = p2.locator('input[name=name]');
    if (await name.count()) await name.fill('Invitee');
    await p2.locator('button[type=submit], input[type=submit]').first().click();
    await p2.waitForLoadState('networkidle');
    await shot('invitation-accepted', p2);
    let joined = false;
    for (let i = 0; i < 50 && !joined; i++) {
      const members = await api('GET', `${orgPath()}/members`);
      joined = members.body.members.some((m: { user: { email: string } }) => m.user.email === email);
      if (!joined) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(joined, 'the invitee became a member');
    // The new member signs in to the console in their own browser context.
    await p2.goto(`${base}/signin`);
    if (p2.url().endsWith('/signin')) {
      await p2.getByLabel('Email').fill(email);
      await p2.getByLabel('Password').fill(password);
      await p2.getByRole('button', { name: 'Sign in' }).click();
    }
    await p2.waitForURL(`${base}/orgs/${boot.orgId}/settings`);
    await p2.getByText('Only admins change roles and remove members.').waitFor();
    await second.close();
    invitee = { email, password };
    await page.reload();
  });

  test("change a member's role, both ways", async () => {
    if (!invitee) {
      // Without the invitations module, the person joins through the operator path instead.
      const p = await createUserWithPassword(t.services, 'joiner');
      await t.services.members.add(boot.orgId, p.email, 'member');
      invitee = p;
      await page.reload();
    }
    const email = invitee.email;
    const row = page.locator('#members tr', { hasText: email });
    await row.getByRole('combobox', { name: `Role of ${email}` }).selectOption('admin');
    await row.getByRole('button', { name: `Change role of ${email}` }).click();
    await page.locator('#members tr', { hasText: email }).locator('.badge', { hasText: 'admin' }).waitFor();
    const check = await api('GET', `${orgPath()}/members`);
    const m = check.body.members.find((x: { user: { email: string } }) => x.user.email === email);
    assert.equal(m.member.role, 'admin');
    const row2 = page.locator('#members tr', { hasText: email });
    await row2.getByRole('combobox', { name: `Role of ${email}` }).selectOption('member');
    await row2.getByRole('button', { name: `Change role of ${email}` }).click();
    await page.locator('#members tr', { hasText: email }).locator('.badge', { hasText: 'member' }).waitFor();
  });

  test('the last admin is protected, with the API message', async () => {
    const row = page.locator('#members tr', { hasText: boot.email });
    await row.getByRole('combobox', { name: `Role of ${boot.email}` }).selectOption('member');
    await row.getByRole('button', { name: `Change role of ${boot.email}` }).click();
    await page
      .locator('#members-error [role=alert]', { hasText: 'only admin of the organization' })
      .waitFor();
    await shot('settings-last-admin');
    assert.equal(await row.getByRole('combobox', { name: `Role of ${boot.email}` }).inputValue(), 'admin');
    const check = await api('GET', `${orgPath()}/members`);
    const me = check.body.members.find(
      (x: { member: { user_id: string } }) => x.member.user_id === boot.userId,
    );
    assert.equal(me.member.role, 'admin');
  });

  test('create an organization key (shown once, with a warning), then revoke it by keyboard after confirming', async () => {
    await page.getByLabel('Key name').fill('ci-pipeline');
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog', { name: 'API key “ci-pipeline” created' });
    await dialog.waitFor();
    await dialog.getByText('It is shown only this once').waitFor();
    const token = await dialog.getByLabel('API key').inputValue();
    assert.match(token, /^napi_[A-Za-z0-9]{64}$/);
    await dialog.getByRole('button', { name: 'Copy key' }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
    await shot('org-key-created');
    await dialog.getByRole('button', { name: 'I have stored the key' }).click();
    const works = await t.call('GET', orgPath(), { token });
    assert.equal(works.status, 200);
    const revoke = page.getByRole('button', { name: 'Revoke API key ci-pipeline' });
    await revoke.waitFor();
    assert.equal(await page.getByText(token).count(), 0, 'the token is never shown again');
    // Keyboard: Enter opens the confirmation, Escape cancels and focus comes back.
    await revoke.focus();
    await page.keyboard.press('Enter');
    const confirm = page.getByRole('dialog', { name: 'Revoke API key “ci-pipeline”?' });
    await confirm.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel');
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'detached' });
    assert.equal(
      await page.evaluate(() => document.activeElement?.getAttribute('aria-label')),
      'Revoke API key ci-pipeline',
    );
    assert.equal((await t.call('GET', orgPath(), { token })).status, 200, 'cancel revokes nothing');
    await page.keyboard.press('Enter');
    await confirm.waitFor();
    await shot('org-key-revoke-confirm');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter');
    await revoke.waitFor({ state: 'detached' });
    assert.equal((await t.call('GET', orgPath(), { token })).status, 401);
  });

  test('a project-scoped key can be created for a project of the organization', async () => {
    const projectId = await createProjectRecord(t.services, boot.orgId, boot.userId, 'web-app');
    await page.reload();
    await page.getByLabel('Key name').fill('web-app-deploy');
    const scope = page.locator('#key-project');
    await scope.waitFor();
    if ((await scope.evaluate((el) => el.tagName)) === 'SELECT') await scope.selectOption(projectId);
    else await scope.fill(projectId);
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog', { name: 'API key “web-app-deploy” created' });
    await dialog.waitFor();
    const token = await dialog.getByLabel('API key').inputValue();
    await dialog.getByRole('button', { name: 'I have stored the key' }).click();
    await page.locator('#org-keys-list tr', { hasText: 'web-app-deploy' }).getByText(projectId).waitFor();
    assert.equal(await page.locator('#key-project').inputValue(), '', 'the form is reset');
    // Once used, the list shows when and from where.
    assert.equal((await t.call('GET', '/api/v2/auth', { token })).status, 200);
    await page.reload();
    await page.locator('#org-keys-list tr', { hasText: 'web-app-deploy' }).getByText('127.0.0.1').waitFor();
    await shot('settings-with-keys');
    // The README's picture: `ORGPLANE_UPDATE_DOCS_SCREENSHOT=1 npm test -- --only sqlite console.e2e`.
    if (process.env.ORGPLANE_UPDATE_DOCS_SCREENSHOT) {
      fs.mkdirSync('docs/screenshots', { recursive: true });
      await page.screenshot({ path: 'docs/screenshots/settings.png', fullPage: true });
    }
  });

  test('remove a member after confirming', async () => {
    assert.ok(invitee);
    const email = invitee.email;
    await page.getByRole('button', { name: `Remove ${email}` }).click();
    const confirm = page.getByRole('dialog', { name: `Remove ${email}?` });
    await confirm.getByRole('button', { name: 'Remove member' }).click();
    await page.locator('#members tr', { hasText: email }).waitFor({ state: 'detached' });
    const members = await api('GET', `${orgPath()}/members`);
    assert.ok(!members.body.members.some((m: { user: { email: string } }) => m.user.email === email));
  });

  test('create a new organization from the switcher', async () => {
    await page.getByLabel('Organization', { exact: true }).selectOption('__new');
    await page.waitForURL(`${base}/orgs/new`);
    await page.getByLabel('Organization name').fill('Second Org');
    await shot('new-organization');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.waitForURL(/\/orgs\/org-[a-z0-9-]+\/settings$/);
    await page.locator('#org-name', { hasText: 'Second Org' }).waitFor();
    // Back to the first organization with the switcher.
    await page.getByLabel('Organization', { exact: true }).selectOption(boot.orgId);
    await page.waitForURL(`${base}/orgs/${boot.orgId}/settings`);
  });

  test('projects: list, dry-run transfer shown before confirming, transfer', async (tc: TestContext) => {
    await page.getByRole('link', { name: 'Projects' }).click();
    await page.waitForURL(`${base}/orgs/${boot.orgId}/projects`);
    await page.getByRole('heading', { name: /Projects of/ }).waitFor();
    await shot('projects');
    if (await endpointMissing(`/api/v2/projects?org_id=${boot.orgId}`)) {
      await page.getByText('This server does not list projects yet.').waitFor();
      tc.skip('projects endpoints not on this branch yet (GET /projects answers 404 "no route")');
      return;
    }
    const projectId = await createProjectRecord(t.services, boot.orgId, boot.userId, 'to-move');
    await page.reload();
    await page.getByLabel('Select to-move').check();
    const second = (await api('GET', '/api/v2/users/me/organizations')).body.organizations.find(
      (o: { name: string }) => o.name === 'Second Org',
    );
    await page.getByLabel('Destination organization').selectOption(second.id);
    // The new organization is on the free plan: the dry run says plainly why it cannot take the project.
    await page.getByRole('button', { name: 'Preview transfer' }).click();
    const refused = page.locator('#transfer-result [role=alert]');
    await refused
      .getByText('this transfer would be refused')
      .or(refused.getByText('does not allow'))
      .first()
      .waitFor();
    assert.match((await refused.textContent()) ?? '', /plan does not allow this transfer/);
    assert.equal(await page.getByRole('button', { name: 'Transfer 1 project' }).count(), 0);
    await shot('projects-refused');
    await t.services.organizations.setPlan(second.id, 'business');
    await page.getByRole('button', { name: 'Preview transfer' }).click();
    await page.getByText('Dry run:').waitFor();
    await shot('projects-dry-run');
    const still = await api('GET', `/api/v2/projects?org_id=${boot.orgId}`);
    assert.ok(
      still.body.projects.some((p: { id: string }) => p.id === projectId),
      'a dry run changes nothing',
    );
    await page.getByRole('button', { name: 'Transfer 1 project' }).click();
    await page.getByText('Moved 1 project(s) to Second Org.').waitFor();
    const moved = await api('GET', `/api/v2/projects?org_id=${second.id}`);
    assert.ok(moved.body.projects.some((p: { id: string }) => p.id === projectId));
  });

  test('account: create and revoke a personal API key', async () => {
    await page.getByRole('link', { name: 'Account' }).click();
    await page.waitForURL(`${base}/account`);
    await page.getByLabel('Key name').fill('laptop');
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog', { name: 'API key “laptop” created' });
    const token = await dialog.getByLabel('API key').inputValue();
    await dialog.getByRole('button', { name: 'I have stored the key' }).click();
    assert.equal((await t.call('GET', '/api/v2/users/me', { token })).status, 200);
    await shot('account');
    await page.getByRole('button', { name: 'Revoke API key laptop' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke key' }).click();
    await page.getByRole('button', { name: 'Revoke API key laptop' }).waitFor({ state: 'detached' });
    assert.equal((await t.call('GET', '/api/v2/users/me', { token })).status, 401);
  });

  test('readable at 375px: no horizontal scrolling', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    for (const url of [`/orgs/${boot.orgId}/settings`, `/orgs/${boot.orgId}/projects`, '/account']) {
      await page.goto(`${base}${url}`);
      await page.locator('main h1').waitFor();
      await page.waitForLoadState('networkidle');
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 375, `${url} is ${width}px wide at a 375px viewport`);
    }
    await page.goto(`${base}/orgs/${boot.orgId}/settings`);
    await page.locator('#members table').waitFor();
    await shot('settings-mobile');
    await page.setViewportSize({ width: 1200, height: 900 });
  });

  test('sign out: the session ends on the server, pages go back to sign-in', async () => {
    const before = (await ctx.cookies()).find((c) => c.name === 'orgplane_session');
    assert.ok(before);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/signin$/);
    await page.goto(`${base}/account`);
    await page.waitForURL(/\/signin\?next=%2Faccount$/);
    const replay = await t.call('GET', '/api/v2/auth', {
      headers: { cookie: `${before.name}=${before.value}` },
    });
    assert.equal(replay.status, 401);
    assert.deepEqual(foreignRequests, [], 'the console loads nothing from other origins');
  });
});
