// End-to-end: the console in real headless Chromium (Debian's package, driven by playwright-core)
// against the real server on a real database, as an admin and as a member, at desktop (1280 px)
// and phone (390 px) widths. A screenshot of each page goes to test-artifacts/screenshots/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildTestApp, DIALECT, type TestApp } from '../../test/helpers/app.ts';
import { createProjectRecord, createUserWithPassword } from '../../test/helpers/factories.ts';
import { bootstrapIfEmpty, type BootstrapResult } from '../bootstrap.ts';
import { MIN_PASSWORD_LENGTH } from '../domain/passwords.ts';
import { freePort } from '../../test/helpers/net.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.resolve('test-artifacts/screenshots');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
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

interface Caps {
  role: string | null;
  roles?: string[];
  actions: Record<string, { allowed: boolean; reason?: string }>;
}

describe('console in Chromium', { skip: skipReason }, () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let memberCtx: BrowserContext;
  let mpage: Page;
  let boot: BootstrapResult;
  let smtp: SMTPServer;
  let member: { id: string; email: string; password: string };
  let secondOrgId = '';
  const mails: string[] = [];
  const foreignRequests: string[] = [];
  const pageErrors: string[] = [];
  const adminPassword = 'admin passphrase 1';
  let invitee: { email: string; password: string } | null = null;

  const shot = async (name: string, p: Page = page) => {
    fs.mkdirSync(SHOTS, { recursive: true });
    await p.screenshot({ path: path.join(SHOTS, `${DIALECT}-${name}.png`), fullPage: true });
  };
  const docShot = async (name: string, p: Page = page) => {
    // The README's pictures: `ORGPLANE_UPDATE_DOCS_SCREENSHOT=1 node scripts/test.mjs -- --only sqlite console.e2e`.
    if (!process.env.ORGPLANE_UPDATE_DOCS_SCREENSHOT) return;
    fs.mkdirSync('docs/screenshots', { recursive: true });
    await p.evaluate(() => document.getElementById('toasts')?.replaceChildren());
    await p.screenshot({ path: `docs/screenshots/${name}.png`, fullPage: true });
  };
  const api = (method: 'GET' | 'POST', url: string, token = boot.token) => t.call(method, url, { token });
  const orgPath = () => `/api/v2/organizations/${boot.orgId}`;
  const settings = (tab = '', org = boot.orgId) => `${base}/orgs/${org}/settings${tab ? `/${tab}` : ''}`;
  /** The viewer's capabilities, read in the browser with its own session. */
  const capsIn = (p: Page, orgId = boot.orgId): Promise<Caps> =>
    p.evaluate(
      (id) => fetch(`/api/v2/organizations/${id}/capabilities`).then((r) => r.json()),
      orgId,
    ) as Promise<Caps>;
  const toast = (p: Page, text: string | RegExp) =>
    p.locator('#toasts .toast', { hasText: text }).first().waitFor();
  const newPage = async (c: BrowserContext) => {
    const p = await c.newPage();
    p.setDefaultTimeout(15_000);
    p.on('request', (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreignRequests.push(r.url());
    });
    p.on('pageerror', (e) => pageErrors.push(e.message));
    return p;
  };
  const signInAs = async (p: Page, email: string, password: string, landing = /\/orgs\/[^/]+\/settings$/) => {
    await p.goto(`${base}/signin`);
    await p.getByLabel('Email').fill(email);
    await p.getByLabel('Password').fill(password);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.waitForURL(landing);
  };
  /** Page height and width at the current viewport, after the content loaded. */
  const measure = (p: Page) =>
    p.evaluate(() => ({
      height: document.documentElement.scrollHeight,
      width: document.documentElement.scrollWidth,
    }));

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
    const limits = { free: 2, launch: 100, scale: 1000, business: 5000, enterprise: 100000 };
    t = await buildTestApp({
      publicUrl: base,
      port,
      smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
      projectLimits: limits,
    });
    const b = await bootstrapIfEmpty(t.services);
    assert.ok(b);
    boot = b;
    member = await createUserWithPassword(t.services, 'member');
    await t.services.members.add(boot.orgId, member.email, 'member');
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
    ctx = await browser.newContext({ viewport: DESKTOP });
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    page = await newPage(ctx);
    memberCtx = await browser.newContext({ viewport: DESKTOP });
    mpage = await newPage(memberCtx);
  });

  after(async () => {
    await browser?.close();
    await t?.app.close();
    await t?.close().catch(() => {});
    await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
  });

  test('the one-time setup link sets the admin password (the one password rule)', async () => {
    await page.goto(`${base}/setup?token=${boot.setupToken}`);
    await page.getByText(`At least ${MIN_PASSWORD_LENGTH} characters.`).waitFor();
    await page.getByLabel('New password').fill('short');
    await page.getByLabel('Repeat the password').fill('short');
    await page.getByRole('button', { name: 'Set password and sign in' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: `at least ${MIN_PASSWORD_LENGTH} characters` })
      .waitFor();
    await page.getByLabel('New password').fill(adminPassword);
    await page.getByLabel('Repeat the password').fill(adminPassword);
    await shot('setup');
    await page.getByRole('button', { name: 'Set password and sign in' }).click();
    await page.waitForURL(settings());
    const again = await newPage(ctx);
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
    await page.waitForURL(settings());
    const session = (await ctx.cookies()).find((c) => c.name === 'orgplane_session');
    assert.ok(session);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read the session cookie');
  });

  test('admin, General tab: organization, plan and project usage, role; the org id copies', async () => {
    await page.getByRole('heading', { name: 'Organization settings' }).waitFor();
    await page.locator('#org-name', { hasText: 'Default Organization' }).waitFor();
    assert.equal(await page.locator('#org-id').textContent(), boot.orgId);
    await page.getByText('0 of 5000 projects on the business plan').waitFor();
    await page.getByText('You are an admin of Default Organization.').waitFor();
    await page.getByRole('button', { name: 'Copy organization ID' }).click();
    await page.getByText('Copied to the clipboard.').first().waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), boot.orgId);
    // The favicon is declared and served.
    assert.equal(await page.locator('link[rel=icon]').getAttribute('href'), '/favicon.svg');
    const icon = await page.evaluate(() => fetch('/favicon.svg').then((r) => r.status));
    assert.equal(icon, 200);
    await shot('settings-general');
    await docShot('settings');
  });

  test('invitations: errors in human words (API detail one click away), success shown', async () => {
    await page.getByRole('link', { name: 'Invitations' }).click();
    await page.waitForURL(settings('invitations'));
    const error = page.locator('#invite-error [role=alert]');
    await page.getByLabel('Email addresses').fill('ok@example.com, not-an-email');
    await page.getByRole('button', { name: 'Send invitations' }).click();
    await error.getByText('“not-an-email” is not a valid email address.').waitFor();
    const visible = (await error.locator('p').textContent()) ?? '';
    assert.doesNotMatch(visible, /invitations\[|\/organizations\/|POST /, 'no field or API paths');
    const detail = error.locator('details');
    assert.equal(await detail.evaluate((d) => (d as HTMLDetailsElement).open), false);
    await detail.locator('summary').click();
    await detail.getByText(/HTTP 400 BAD_REQUEST: invitations\[1\]\.email/).waitFor();
    await shot('invite-error');

    const email = `invitee-${Date.now()}@example.com`;
    const other = `second-${Date.now()}@example.com`;
    await page.getByLabel('Email addresses').fill(`${email},\n ${other}`);
    await page.getByLabel('Role', { exact: true }).selectOption('member');
    await page.getByText('Member: sees the organization').waitFor();
    await page.getByRole('button', { name: 'Send invitations' }).click();
    // Said once the outbox really sent them (SMTP is up here), not before.
    await page.locator('#invite-sent', { hasText: '2 invitations sent by email.' }).waitFor();
    await page.locator('#invitations-list').getByText(email).waitFor();
    await page.locator('#invitations-list').getByText(other).waitFor();
    // Inviting the same person again: a sentence, not the API's path.
    await page.getByLabel('Email addresses').fill(other);
    await page.getByRole('button', { name: 'Send invitations' }).click();
    await error.locator('p', { hasText: `${other} already has a pending invitation` }).waitFor();
    assert.doesNotMatch(
      (await error.locator('p').textContent()) ?? '',
      /\/organizations\/|\{invitation_id\}/,
    );
    await shot('settings-invited');

    const before = mails.filter((m) => m.includes(other)).length;
    await page.getByRole('button', { name: `Resend the invitation to ${other}` }).click();
    await toast(page, `Invitation to ${other} queued again`);
    assert.equal(await page.locator('#toasts').getAttribute('role'), 'status');
    for (let i = 0; i < 100 && mails.filter((m) => m.includes(other)).length <= before; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(mails.filter((m) => m.includes(other)).length > before, 'the invitation was sent again');
    await page.getByRole('button', { name: `Revoke the invitation to ${other}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke invitation' }).click();
    await toast(page, `Invitation to ${other} revoked.`);
    await page
      .getByRole('button', { name: `Revoke the invitation to ${other}` })
      .waitFor({ state: 'detached' });

    // The mail carries the acceptance link.
    let link: string | undefined;
    for (let i = 0; i < 100 && !link; i++) {
      const mail = mails.find((m) => m.includes(email));
      link = mail?.match(new RegExp(`${base.replace(/[.]/g, '\\.')}/invitations/[^\\s"'<>]+`))?.[0];
      if (!link) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(link, 'an invitation mail with a link was sent');
    invitee = { email, password: link };
  });

  test('the join page: console style, the one password rule, a copy button for the one-time key', async () => {
    assert.ok(invitee);
    const link = invitee.password;
    const second = await browser.newContext({ viewport: PHONE });
    await second.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const p2 = await newPage(second);
    await p2.goto(link);
    await p2.getByRole('heading', { name: 'Join Default Organization' }).waitFor();
    // Styled by the served stylesheet (not browser defaults).
    const card = await p2
      .locator('.card')
      .evaluate((el) => getComputedStyle(el).borderRadius + getComputedStyle(el).backgroundColor);
    assert.equal(card, '8pxrgb(255, 255, 255)');
    await p2.getByText(`At least ${MIN_PASSWORD_LENGTH} characters.`).waitFor();
    assert.equal(
      await p2.getByLabel('Password', { exact: true }).getAttribute('minlength'),
      `${MIN_PASSWORD_LENGTH}`,
    );
    await shot('join-phone', p2);
    // Exactly the minimum length is enough (the join page once asked for 10).
    const password = 'x'.repeat(MIN_PASSWORD_LENGTH);
    await p2.getByLabel('Your name').fill('Invitee');
    await p2.getByLabel('Password', { exact: true }).fill(password);
    await p2.getByLabel('Repeat the password').fill(password);
    await p2.getByRole('button', { name: 'Create account and join' }).click();
    await p2.getByRole('heading', { name: 'You joined Default Organization' }).waitFor();
    const key = (await p2.locator('#api-key').textContent()) ?? '';
    assert.match(key, /^napi_[A-Za-z0-9]{64}$/);
    await p2.getByRole('button', { name: 'Copy key' }).click();
    await p2.getByText('Copied to the clipboard.').waitFor();
    assert.equal(await p2.evaluate(() => navigator.clipboard.readText()), key);
    await shot('join-done-phone', p2);
    assert.equal((await p2.evaluate(() => document.documentElement.scrollWidth)) <= PHONE.width, true);
    await second.close();
    invitee = { email: invitee.email, password };
    // Accepted invitations leave the pending list.
    await page.reload();
    await page.locator('#invitations-list h3', { hasText: 'Pending invitations' }).waitFor();
    const pending = page.locator('#invitations-list table').first();
    await page.locator('#accepted-invitations summary', { hasText: 'Accepted invitations (1)' }).waitFor();
    assert.equal(await page.locator('#invitations-list').getByText(invitee.email).first().isVisible(), false);
    if (await pending.count()) assert.doesNotMatch((await pending.textContent()) ?? '', /accepted/);
  });

  test("admin, Members: a role select that is the role shown; changes confirmed; the only admin can't leave", async () => {
    assert.ok(invitee);
    const email = invitee.email;
    await page.goto(settings('members'));
    const row = page.locator('#members tr', { hasText: email });
    const select = row.getByRole('combobox', { name: `Role of ${email}` });
    const save = row.getByRole('button', { name: `Change role of ${email}` });
    assert.equal(await select.inputValue(), 'member');
    assert.equal(await row.locator('.badge.member').count(), 0, 'no second role display to disagree');
    assert.equal(await save.isDisabled(), true, 'nothing to save yet');
    await select.selectOption('admin');
    assert.equal(await save.isDisabled(), false);
    await save.click();
    await toast(page, `${email} is now an admin.`);
    const m = (await api('GET', `${orgPath()}/members`)).body.members.find(
      (x: { user: { email: string } }) => x.user.email === email,
    );
    assert.equal(m.member.role, 'admin');
    await page.locator('#members tr', { hasText: email }).getByRole('combobox').selectOption('member');
    await page
      .locator('#members tr', { hasText: email })
      .getByRole('button', { name: /Change role/ })
      .click();
    await toast(page, `${email} is now a member.`);
    // The only admin: Leave is shown disabled, with the server's reason.
    const leave = page.getByRole('button', { name: 'Leave the organization' });
    assert.equal(await leave.isDisabled(), true);
    await page.locator('#leave-reason', { hasText: 'only admin' }).waitFor();
    const caps = await capsIn(page);
    assert.equal(caps.actions['member:leave']?.allowed, false);
    // Demoting yourself as the only admin: refused, explained, the select shows what still holds.
    const me = page.locator('#members tr', { hasText: boot.email });
    await me.getByRole('combobox').selectOption('member');
    await me.getByRole('button', { name: /Change role/ }).click();
    await page.locator('#members-error [role=alert]', { hasText: 'You are the only admin.' }).waitFor();
    assert.equal(await me.getByRole('combobox').inputValue(), 'admin');
    await shot('settings-members');
  });

  test('admin, API keys: create (shown once), copy, revoke by keyboard after confirming', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.waitForURL(settings('api-keys'));
    await page.getByLabel('Key name').fill('ci-pipeline');
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog', { name: 'API key “ci-pipeline” created' });
    await dialog.getByText('It is shown only this once').waitFor();
    const token = await dialog.getByLabel('API key').inputValue();
    assert.match(token, /^napi_[A-Za-z0-9]{64}$/);
    await dialog.getByRole('button', { name: 'Copy key' }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
    await shot('org-key-created');
    await dialog.getByRole('button', { name: 'I have stored the key' }).click();
    assert.equal((await t.call('GET', orgPath(), { token })).status, 200);
    const revoke = page.getByRole('button', { name: 'Revoke API key ci-pipeline' });
    await revoke.waitFor();
    assert.equal(await page.getByText(token).count(), 0, 'the token is never shown again');
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
    await page.keyboard.press('Enter');
    await confirm.waitFor();
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter');
    await toast(page, 'API key ci-pipeline revoked.');
    await revoke.waitFor({ state: 'detached' });
    assert.equal((await t.call('GET', orgPath(), { token })).status, 401);
    // An organization key that stays, for the member's view.
    await page.getByLabel('Key name').fill('deploy-bot');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'I have stored the key' }).click();
    await page.getByRole('button', { name: 'Revoke API key deploy-bot' }).waitFor();
    await shot('settings-keys');
  });

  test('admin, Projects: plan usage, create, rename, delete with the recovery window, recover', async () => {
    await page.getByRole('link', { name: 'Projects' }).click();
    await page.waitForURL(`${base}/orgs/${boot.orgId}/projects`);
    await page.getByRole('heading', { name: 'No projects yet' }).waitFor();
    await page.getByText('Create the first project of this organization').waitFor();
    await page.getByLabel('Project name').fill('web-app');
    await page.getByLabel('Region').selectOption('aws-eu-central-1');
    await page.getByRole('button', { name: 'Create project' }).click();
    await toast(page, 'Project web-app created in aws-eu-central-1.');
    await page.locator('#projects tr', { hasText: 'web-app' }).waitFor();
    await page.locator('#plan-usage', { hasText: '1 of 5000 projects on the business plan' }).waitFor();
    // Rename in a dialog.
    await page.getByRole('button', { name: 'Rename project web-app' }).click();
    const rename = page.getByRole('dialog', { name: 'Rename project “web-app”' });
    await rename.getByLabel('New name').fill('storefront');
    await rename.getByRole('button', { name: 'Rename' }).click();
    await toast(page, 'Project renamed to storefront.');
    await page.locator('#projects .project-name', { hasText: 'storefront' }).waitFor();
    // Delete: the confirmation explains the recovery window.
    await page.getByRole('button', { name: 'Delete project storefront' }).click();
    const del = page.getByRole('dialog', { name: 'Delete project “storefront”?' });
    await del.getByText('For 7 days an admin can recover it').waitFor();
    await shot('project-delete-confirm');
    await del.getByRole('button', { name: 'Delete project' }).click();
    await toast(page, 'Project storefront deleted. You can recover it for 7 days.');
    await page.locator('#deleted-projects tr', { hasText: 'storefront' }).waitFor();
    await page.getByRole('button', { name: 'Recover project storefront' }).click();
    await toast(page, 'Project storefront recovered.');
    await page.locator('#projects tr', { hasText: 'storefront' }).waitFor();
    await page.locator('#no-deleted').waitFor();
    const list = await api('GET', `/api/v2/projects?org_id=${boot.orgId}`);
    assert.deepEqual(
      list.body.projects.map((p: { name: string; region_id: string }) => [p.name, p.region_id]),
      [['storefront', 'aws-eu-central-1']],
    );
    await shot('projects');
    await docShot('projects');
  });

  test('a new organization starts with what to do next; the plan limit shows before it bites', async () => {
    await page.getByLabel('Organization', { exact: true }).selectOption('__new');
    await page.waitForURL(`${base}/orgs/new`);
    await page.getByLabel('Organization name').fill('Second Org');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.waitForURL(/\/orgs\/org-[a-z0-9-]+\/projects$/);
    secondOrgId = /\/orgs\/([^/]+)\/projects$/.exec(page.url())?.[1] ?? '';
    await toast(page, 'Organization Second Org created.');
    await page.getByRole('heading', { name: 'No projects yet' }).waitFor();
    await page.getByText('2 more projects allowed on the free plan.').waitFor();
    // The page re-reads its capabilities after a create and draws itself again. Holding that read
    // back widens the window in which a name typed after the confirmation would land in the old
    // form: the confirmation must come only once the new form is there.
    const slowCaps = '**/api/v2/organizations/*/capabilities';
    await page.route(slowCaps, async (route) => {
      await new Promise((r) => setTimeout(r, 300));
      await route.continue();
    });
    for (const [name, left] of [
      ['one', '1 more project allowed'],
      ['two', 'All 2 projects'],
    ] as const) {
      await page.getByLabel('Project name').fill(name);
      await page.getByRole('button', { name: 'Create project' }).click();
      await toast(page, `Project ${name} created`);
      assert.ok(await page.getByText(left).isVisible(), 'the confirmation came before the page showed it');
    }
    await page.unrouteAll({ behavior: 'wait' });
    await page.getByText('All 2 projects of the free plan are in use.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create project' }).isDisabled(), true);
    await shot('projects-at-limit');
  });

  test('transfer: the dry run is shown before confirming; refusals in plain words', async () => {
    const projectId = await createProjectRecord(t.services, boot.orgId, boot.userId, 'to-move');
    await page.goto(`${base}/orgs/${boot.orgId}/projects`);
    await page.getByLabel('Select to-move').check();
    await page.getByLabel('Destination organization').selectOption(secondOrgId);
    await page.getByRole('button', { name: 'Preview transfer' }).click();
    const refused = page.locator('#transfer-result [role=alert]');
    await refused.getByText('this transfer would be refused').waitFor();
    assert.match((await refused.textContent()) ?? '', /same or a higher plan/);
    assert.equal(await page.getByRole('button', { name: 'Transfer 1 project' }).count(), 0);
    await t.services.organizations.setPlan(secondOrgId, 'business');
    await page.getByRole('button', { name: 'Preview transfer' }).click();
    await page.getByText('Dry run:').waitFor();
    const still = await api('GET', `/api/v2/projects?org_id=${boot.orgId}`);
    assert.ok(
      still.body.projects.some((p: { id: string }) => p.id === projectId),
      'a dry run changes nothing',
    );
    await page.getByRole('button', { name: 'Transfer 1 project' }).click();
    await toast(page, 'Moved 1 project to Second Org.');
    const moved = await api('GET', `/api/v2/projects?org_id=${secondOrgId}`);
    assert.ok(moved.body.projects.some((p: { id: string }) => p.id === projectId));
  });

  test('project sharing and transfer-request claims appear only where the server has them', async () => {
    const projects = (await api('GET', `/api/v2/projects?org_id=${boot.orgId}`)).body.projects as Array<{
      id: string;
      name: string;
    }>;
    const first = projects[0];
    assert.ok(first);
    const caps = await capsIn(page);
    await page.goto(`${base}/orgs/${boot.orgId}/projects`);
    await page.locator('#projects tr', { hasText: first.name }).waitFor();
    await page.getByRole('button', { name: `Rename project ${first.name}` }).waitFor();
    const share = page.getByRole('button', { name: `Share project ${first.name}` });
    if (!('project_permission:list' in caps.actions)) {
      assert.equal(await share.count(), 0, 'no Share button without the sharing API');
      assert.equal((await api('GET', `/api/v2/projects/${first.id}/permissions`)).status, 404);
    } else {
      await share.click();
      const dialog = page.getByRole('dialog', { name: `Share project “${first.name}”` });
      await dialog.getByLabel('Email address').fill(member.email);
      await dialog.getByRole('button', { name: 'Share', exact: true }).click();
      await toast(page, `${first.name} is now shared with ${member.email}.`);
      await dialog.getByRole('button', { name: `Revoke access of ${member.email}` }).click();
      await toast(page, `${member.email} no longer has access to ${first.name}.`);
      await dialog.getByRole('button', { name: 'Done' }).click();
    }
    // A claim link: the page explains what accepting does; without the API it says so plainly.
    // An unknown request: one clear sentence and no action.
    await page.goto(`${base}/transfer-requests/00000000-0000-4000-8000-000000000000?project_id=${first.id}`);
    await page.getByRole('heading', { name: 'Claim a project' }).waitFor();
    await page.getByText('This claim link does not work').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Accept the transfer' }).count(), 0);
    await shot('claim');
  });

  test('audit log and "What can this key do?": shown where the server has them, for who may use them', async () => {
    const caps = await capsIn(page);
    const hasAudit = 'audit_log:read' in caps.actions;
    await page.goto(settings());
    await page.getByRole('link', { name: 'API keys' }).waitFor();
    if (!hasAudit) {
      assert.equal(
        await page.getByRole('link', { name: 'Audit log' }).count(),
        0,
        'no Audit tab without the API',
      );
      await page.goto(settings('audit'));
      await page.getByRole('heading', { name: 'Page not found' }).waitFor();
      return;
    }
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.waitForURL(settings('audit'));
    await page.locator('#audit-list .audit-events').waitFor();
    await page.locator('#audit-list .audit-event', { hasText: 'member.role_changed' }).first().waitFor();
    await page.getByLabel('Action').selectOption('project.deleted');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator('#audit-list .audit-event', { hasText: 'project.deleted' }).first().waitFor();
    assert.equal(
      await page.locator('#audit-list .audit-event', { hasText: 'member.role_changed' }).count(),
      0,
    );
    await shot('audit');
    // Explain a key: the answers come from the server.
    await page.goto(settings('api-keys'));
    await page.getByRole('button', { name: 'What can it do? (API key deploy-bot)' }).click();
    const dialog = page.getByRole('dialog', { name: 'What can “deploy-bot” do?' });
    await dialog.locator('tr', { hasText: 'Invite people' }).getByText('refused').waitFor();
    await dialog.locator('tr', { hasText: 'List projects' }).getByText('allowed').waitFor();
    await shot('explain');
    await dialog.getByRole('button', { name: 'Close' }).click();
  });

  test('member: what they may not do is not offered, and the server agrees', async () => {
    await signInAs(mpage, member.email, member.password);
    const caps = await capsIn(mpage);
    assert.equal(caps.role, 'member');
    await mpage.getByText('You are a member of Default Organization.').waitFor();
    // Members may not read the audit log (where the server has one): no tab.
    assert.equal(
      await mpage.getByRole('link', { name: 'Audit log' }).count(),
      caps.actions['audit_log:read']?.allowed ? 1 : 0,
    );
    await shot('member-settings-general', mpage);
    // The audit log's address says plainly who may read it.
    await mpage.goto(settings('audit'));
    await mpage.getByRole('heading', { name: 'Audit log: admins only' }).waitFor();
    await mpage.getByText('Only organization admins can read the audit log.').waitFor();

    await mpage.goto(settings('members'));
    await mpage.locator('#members table').waitFor();
    assert.equal(caps.actions['member:update']?.allowed, false);
    await mpage
      .locator('#members-hint', { hasText: 'Only organization admins can change member roles.' })
      .waitFor();
    assert.equal(await mpage.locator('#members select').count(), 0, 'no role selects');
    assert.equal(await mpage.getByRole('button', { name: /^Remove / }).count(), 0, 'no Remove');
    assert.equal(await mpage.getByRole('button', { name: 'Leave the organization' }).isDisabled(), false);
    await shot('member-settings-members', mpage);

    await mpage.getByRole('link', { name: 'Invitations' }).click();
    await mpage
      .locator('#invite-not-allowed', { hasText: 'Only organization admins can invite members.' })
      .waitFor();
    assert.equal(caps.actions['invitation:create']?.allowed, false);
    assert.equal(await mpage.locator('#invite-form').count(), 0);
    await mpage.locator('#invitations-list h3').waitFor();
    assert.equal(await mpage.getByRole('button', { name: /^(Resend|Revoke) the invitation/ }).count(), 0);

    await mpage.getByRole('link', { name: 'API keys' }).click();
    await mpage.locator('#org-keys-list tr', { hasText: 'deploy-bot' }).waitFor();
    assert.equal(caps.actions['org_api_key:create']?.allowed, false);
    assert.equal(caps.actions['project_api_key:create']?.allowed, true);
    await mpage
      .locator('#keys-member-hint', { hasText: 'Only organization admins can create organization API keys.' })
      .waitFor();
    const scope = mpage.locator('#key-project');
    await scope.locator('option').first().waitFor({ state: 'attached' });
    assert.equal(await scope.locator('option', { hasText: 'Whole organization' }).count(), 0);
    assert.equal(await mpage.getByRole('button', { name: 'Revoke API key deploy-bot' }).count(), 0);
    // A project key of their own: created, and theirs to revoke.
    await mpage.getByLabel('Key name').fill('my-project-key');
    await mpage.getByRole('button', { name: 'Create key' }).click();
    await mpage.getByRole('dialog').getByRole('button', { name: 'I have stored the key' }).click();
    await mpage.getByRole('button', { name: 'Revoke API key my-project-key' }).waitFor();
    await shot('member-settings-keys', mpage);

    await mpage.getByRole('link', { name: 'Projects' }).click();
    await mpage.locator('#projects tr', { hasText: 'storefront' }).waitFor();
    assert.equal(caps.actions['project:delete']?.allowed, false);
    assert.equal(await mpage.getByRole('button', { name: /^Delete project/ }).count(), 0);
    assert.equal(await mpage.getByRole('button', { name: 'Rename project storefront' }).count(), 1);
    assert.equal(await mpage.locator('#transfer').count(), 0, 'members cannot transfer out');
    assert.equal(await mpage.getByRole('button', { name: 'Create project' }).count(), 1);
    await shot('member-projects', mpage);
    // The server refuses what is not offered, with the same reason.
    const refused = await mpage.evaluate(async (org) => {
      const s = await fetch('/console/session').then((r) => r.json());
      const r = await fetch(`/api/v2/organizations/${org}/invitations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf_token },
        body: JSON.stringify({ invitations: [{ email: 'x@example.com', role: 'member' }] }),
      });
      return { status: r.status, body: await r.json() };
    }, boot.orgId);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.message, caps.actions['invitation:create']?.reason);
  });

  test('viewer: what they may not do is not offered', async () => {
    const admin = await capsIn(page);
    assert.ok(
      admin.roles?.includes('viewer'),
      `the organization offers the viewer role: ${admin.roles?.join(', ')}`,
    );
    const viewer = await createUserWithPassword(t.services, 'viewer');
    await t.services.members.add(boot.orgId, viewer.email, 'viewer');
    const vctx = await browser.newContext({ viewport: DESKTOP });
    const vpage = await newPage(vctx);
    // Viewers land on the projects (read-only people start where there is something to read).
    await signInAs(vpage, viewer.email, viewer.password, /\/orgs\/[^/]+\/projects$/);
    const caps = await capsIn(vpage);
    assert.equal(caps.role, 'viewer');
    await vpage.goto(settings());
    await vpage.getByText('You are a viewer of Default Organization.').waitFor();
    await vpage.getByText('Viewer: read-only access').waitFor();
    await shot('viewer-settings-general', vpage);
    const offered = (action: string) => (caps.actions[action]?.allowed ? 1 : 0);
    await vpage.goto(settings('members'));
    await vpage.locator('#members table, #members-hidden').first().waitFor();
    assert.equal(await vpage.locator('#members select').count(), offered('member:update') ? 3 : 0);
    // Tabs with nothing a viewer may do are not offered; their addresses say so in one sentence.
    assert.equal(await vpage.locator('.tabs a', { hasText: 'Invitations' }).count(), 0);
    assert.equal(await vpage.locator('.tabs a', { hasText: 'API keys' }).count(), 0);
    await vpage.goto(settings('invitations'));
    await vpage.locator('#invitations-not-allowed').waitFor();
    assert.equal(await vpage.locator('#invite-form').count(), offered('invitation:create'));
    await vpage.goto(settings('api-keys'));
    await vpage.locator('#api-keys-not-allowed').waitFor();
    assert.equal(
      await vpage.locator('#org-key-form').count(),
      offered('org_api_key:create') || offered('project_api_key:create'),
    );
    await shot('viewer-settings-keys', vpage);
    await vpage.goto(`${base}/orgs/${boot.orgId}/projects`);
    await vpage.locator('#projects table').waitFor();
    assert.equal(
      await vpage.getByRole('button', { name: 'Create project' }).count(),
      offered('project:create'),
    );
    assert.equal(
      (await vpage.getByRole('button', { name: /^Rename project/ }).count()) > 0,
      offered('project:update') === 1,
    );
    assert.equal(await vpage.getByRole('button', { name: /^Delete project/ }).count(), 0);
    assert.equal(
      (await vpage.getByRole('button', { name: /^Share project/ }).count()) > 0,
      offered('project_permission:list') === 1,
    );
    const stray = await vpage.evaluate(() =>
      [...document.querySelectorAll('main *, main')].some((el) =>
        [...el.childNodes].some((n) => n.nodeType === 3 && /^(null|undefined)$/.test(n.textContent ?? '')),
      ),
    );
    assert.equal(stray, false, 'no "null" text where sections are not offered');
    await shot('viewer-projects', vpage);
    await vpage.setViewportSize(PHONE);
    for (const tab of ['', 'members', 'invitations', 'api-keys']) {
      await vpage.goto(settings(tab));
      await vpage.locator('main section.card').waitFor();
      await vpage.waitForLoadState('networkidle');
      const { height, width } = await measure(vpage);
      assert.ok(height <= 3 * PHONE.height, `viewer ${tab || 'general'}: ${height}px tall at 390px`);
      assert.ok(width <= PHONE.width, `viewer ${tab || 'general'}: ${width}px wide`);
    }
    await shot('viewer-settings-general-phone', vpage);
    await vctx.close();
  });

  test('unknown organization, unknown page, unknown URL: one clear page each', async () => {
    await page.goto(settings('', 'org-nope-00000000'));
    await page.getByRole('heading', { name: 'Organization not found' }).waitFor();
    assert.equal(await page.locator('main form').count(), 0, 'no live forms');
    assert.equal(await page.locator('main [role=alert]').count(), 0, 'no stack of error boxes');
    const selected = await page
      .getByLabel('Organization', { exact: true })
      .evaluate((s) => (s as HTMLSelectElement).selectedOptions[0]?.textContent);
    assert.equal(selected, 'Unknown organization');
    await shot('org-not-found');
    for (const url of [settings('nope'), `${base}/orgs/${boot.orgId}/whatever`]) {
      await page.goto(url);
      await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    }
    const res = await page.goto(`${base}/nope`);
    assert.equal(res?.status(), 404);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await page.getByRole('link', { name: 'Go to the console' }).waitFor();
    await shot('not-found');
    const json = await t.call('GET', '/nope', { headers: { accept: 'application/json' } });
    assert.equal(json.body.code, 'NOT_FOUND');
  });

  test('phone (390 px): each Settings section is a few screens at most, nothing scrolls sideways', async () => {
    for (const [who, p] of [
      ['admin', page],
      ['member', mpage],
    ] as const) {
      await p.setViewportSize(PHONE);
      for (const tab of ['', 'members', 'invitations', 'api-keys']) {
        await p.goto(settings(tab));
        await p.locator('main section.card').waitFor();
        await p.waitForLoadState('networkidle');
        await p.locator('main [aria-busy=true]').waitFor({ state: 'detached' });
        const { height, width } = await measure(p);
        assert.ok(height <= 3 * PHONE.height, `${who} ${tab || 'general'}: ${height}px tall at 390px`);
        assert.ok(width <= PHONE.width, `${who} ${tab || 'general'}: ${width}px wide at 390px`);
        await shot(`${who}-settings-${tab || 'general'}-phone`, p);
      }
      for (const [name, url] of [
        ['projects', `/orgs/${boot.orgId}/projects`],
        ['account', '/account'],
      ] as const) {
        await p.goto(`${base}${url}`);
        await p.locator('main h1').waitFor();
        await p.waitForLoadState('networkidle');
        const { width } = await measure(p);
        assert.ok(width <= PHONE.width, `${who} ${url}: ${width}px wide at 390px`);
        await shot(`${who}-${name}-phone`, p);
      }
      await p.setViewportSize(DESKTOP);
    }
    await page.setViewportSize(PHONE);
    await page.goto(settings('members'));
    await page.locator('#members table').waitFor();
    await docShot('settings-members-phone');
    await page.setViewportSize(DESKTOP);
  });

  test('every form control has a label (accessibility), on every page', async () => {
    for (const url of [
      settings(),
      settings('members'),
      settings('invitations'),
      settings('api-keys'),
      `${base}/orgs/${boot.orgId}/projects`,
      `${base}/account`,
    ]) {
      await page.goto(url);
      await page.locator('main section.card').first().waitFor();
      await page.waitForLoadState('networkidle');
      const unlabeled = await page.evaluate(() =>
        [...document.querySelectorAll('input, select, textarea')]
          .filter((el) => {
            const e = el as HTMLInputElement;
            return e.type !== 'hidden' && e.labels?.length === 0 && !e.getAttribute('aria-label');
          })
          .map((el) => el.outerHTML),
      );
      assert.deepEqual(unlabeled, [], url);
      const stray = await page.evaluate(() =>
        [...document.querySelectorAll('main *, header *')].some((el) =>
          [...el.childNodes].some((n) => n.nodeType === 3 && /^(null|undefined)$/.test(n.textContent ?? '')),
        ),
      );
      assert.equal(stray, false, `${url}: a "null" or "undefined" text node`);
    }
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
    await toast(page, 'API key laptop revoked.');
    assert.equal((await t.call('GET', '/api/v2/users/me', { token })).status, 401);
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
    assert.deepEqual(pageErrors, [], 'no script errors in any page');
  });
});
