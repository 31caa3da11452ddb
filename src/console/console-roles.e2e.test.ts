// The console for each kind of user, in real headless Chromium against the real server: an admin,
// a member, a viewer, a collaborator with a project grant, and a user whose only access is a shared
// project, at 1280 and 390 px. Where each lands, what each may do, and that every visible control
// works when clicked (no answer of the API is a 403 while they walk every page and press every
// button); an axe-core check on each page; honest mail outcomes with SMTP unset and SMTP failing.
// Screenshots go to test-artifacts/screenshots/ (roles-*.png).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Browser, Page, Response } from 'playwright-core';
import { buildTestApp, DIALECT, testConfig, type TestApp } from '../../test/helpers/app.ts';
import { createProjectRecord, createUserWithPassword } from '../../test/helpers/factories.ts';
import { signIn, withSession } from '../../test/helpers/console.ts';
import { freePort } from '../../test/helpers/net.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.resolve('test-artifacts/screenshots');
const VIEWPORTS = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } } as const;
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium && process.env.CI)
  throw new Error(`${CHROMIUM} is missing: the browser tests must run on CI`);
const skipReason = haveChromium ? false : `${CHROMIUM} not installed: browser tests SKIPPED`;
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

type Person = { id: string; email: string; password: string };
type Kind = 'admin' | 'member' | 'viewer' | 'collaborator' | 'shared-only';

/** A server with its own database, listening on a real port, mail per `smtpUrl`. */
async function startServer(smtpUrl: string | undefined) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const t = await buildTestApp({
    publicUrl: base,
    port,
    smtpUrl,
    // A refused connection is retried later; the first attempt's error is what the console shows.
    mail: { ...testConfig().mail, pollMs: 200, retryBaseMs: 60_000 },
  });
  await t.app.listen({ host: '127.0.0.1', port });
  t.services.start();
  return { t, base };
}

describe('console for every kind of user', { skip: skipReason }, () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let orgId = '';
  let otherOrgId = '';
  const people = {} as Record<Kind, Person>;
  const projects = { shared: '', sharedOnly: '', plain: '' };
  const pageErrors: string[] = [];

  const shot = async (p: Page, name: string) => {
    fs.mkdirSync(SHOTS, { recursive: true });
    await p.evaluate(() => document.getElementById('toasts')?.replaceChildren());
    await p.screenshot({ path: path.join(SHOTS, `${DIALECT}-roles-${name}.png`), fullPage: true });
  };
  /** A signed-in page for `who`, with every /api/v2 403 recorded in `refused`. */
  const open = async (who: Kind, viewport: keyof typeof VIEWPORTS) => {
    const ctx = await browser.newContext({ viewport: VIEWPORTS[viewport] });
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const p = await ctx.newPage();
    p.setDefaultTimeout(15_000);
    const refused: string[] = [];
    p.on('response', (r: Response) => {
      if (r.status() === 403 && r.url().includes('/api/v2/'))
        refused.push(`${r.request().method()} ${r.url()}`);
    });
    p.on('pageerror', (e) => pageErrors.push(`${who}: ${e.message}`));
    await p.goto(`${base}/signin`);
    await p.getByLabel('Email').fill(people[who].email);
    await p.getByLabel('Password').fill(people[who].password);
    await p.getByRole('button', { name: 'Sign in' }).click();
    return { p, refused, close: () => ctx.close() };
  };

  /** axe-core in the page: no serious or critical violation. */
  const a11y = async (p: Page, where: string) => {
    await p.evaluate(AXE);
    const violations = (await p.evaluate(async () => {
      const w = window as unknown as {
        axe: {
          run: (o: unknown) => Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }>;
        };
      };
      const r = await w.axe.run({ resultTypes: ['violations'] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
    })) as { id: string; impact: string; nodes: number }[];
    const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(bad, [], `${where}: ${JSON.stringify(bad)}`);
  };

  /** Waits until nothing on the page is loading. */
  const settled = async (p: Page) => {
    await p.waitForFunction(() => !document.querySelector('[aria-busy="true"], .loading'));
  };

  /**
   * Presses every visible button of the page's main area: dialogs that ask for a value are
   * submitted unchanged (a real request), questions are cancelled, information dialogs closed.
   * Returns the labels pressed.
   */
  const pressEverything = async (p: Page): Promise<string[]> => {
    const pressed: string[] = [];
    const labels = await p
      .locator('main button:visible')
      .evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') || e.textContent?.trim() || ''));
    for (const label of labels) {
      if (/^(Filter|Load older events|Retry)$/.test(label)) continue;
      const target = p.locator('main').getByRole('button', { name: label, exact: true }).first();
      if (!(await target.count()) || !(await target.isVisible()) || !(await target.isEnabled())) continue;
      await target.click();
      pressed.push(label);
      // A button may load something before its dialog opens (it is aria-busy meanwhile).
      await settled(p);
      const dialog = p.locator('dialog[open]');
      if (await dialog.count()) {
        const input = dialog.locator('input:not([readonly])').first();
        if (
          (await input.count()) &&
          (await input.inputValue()) !== '' &&
          !/email/i.test((await input.getAttribute('type')) ?? '')
        ) {
          await dialog.locator('button[type=submit]').click();
        } else {
          const close = dialog.getByRole('button', { name: /^(Cancel|Done|Close|I have stored the key)$/ });
          await close.first().click();
        }
        await dialog.waitFor({ state: 'detached' }).catch(() => {});
      }
      await settled(p);
    }
    return pressed;
  };

  /** Every page the navigation offers (and each Settings tab), each pressed through and checked. */
  const walk = async (p: Page, who: Kind, viewport: string) => {
    const seen: string[] = [];
    const navLinks = await p
      .locator('#nav a')
      .evaluateAll((els) => els.map((e) => e.getAttribute('href') ?? ''));
    const queue = [...navLinks];
    while (queue.length) {
      const href = queue.shift() ?? '';
      if (seen.includes(href)) continue;
      seen.push(href);
      await p.goto(`${base}${href}`);
      await settled(p);
      // Settings tabs and project pages are part of the walk.
      for (const more of await p
        .locator('main .tabs a, main a.project-name')
        .evaluateAll((els) => els.map((e) => e.getAttribute('href') ?? ''))) {
        if (!seen.includes(more) && !queue.includes(more)) queue.push(more);
      }
      await a11y(p, `${who} ${href}`);
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${who} ${viewport} ${href}: ${overflow}px sideways scroll`);
      await pressEverything(p);
    }
    return seen;
  };

  before(async () => {
    ({ t, base } = await startServer(undefined));
    const s = t.services;
    for (const kind of ['admin', 'member', 'viewer', 'collaborator', 'shared-only'] as Kind[]) {
      people[kind] = await createUserWithPassword(s, kind.replace('-', ''));
    }
    const org = await s.organizations.createWithAdmin(people.admin.id, {
      name: 'Acme Analytics',
      plan: 'scale',
    });
    orgId = org.id;
    otherOrgId = (
      await s.organizations.createWithAdmin(people.admin.id, { name: 'Acme Labs', plan: 'scale' })
    ).id;
    await s.members.add(orgId, people.member.email, 'member');
    await s.members.add(orgId, people.viewer.email, 'viewer');
    await s.members.add(orgId, people.collaborator.email, 'collaborator');
    projects.shared = await createProjectRecord(s, orgId, people.admin.id, 'billing-api');
    projects.sharedOnly = await createProjectRecord(s, orgId, people.admin.id, 'reports');
    projects.plain = await createProjectRecord(s, orgId, people.admin.id, 'warehouse');
    const admin = await signIn(t, people.admin.email, people.admin.password);
    for (const [projectId, email] of [
      [projects.shared, people.collaborator.email],
      [projects.sharedOnly, people['shared-only'].email],
    ] as const) {
      const r = await t.call('POST', `/api/v2/projects/${projectId}/permissions`, {
        headers: withSession(admin),
        body: { email },
      });
      assert.equal(r.status, 200, r.text);
    }
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-sync',
      ],
    });
  });

  after(async () => {
    await browser?.close();
    await t?.app.close();
    await t?.close().catch(() => {});
    assert.deepEqual(pageErrors, []);
  });

  const LANDING: Record<Kind, RegExp> = {
    admin: /\/orgs\/[^/]+\/settings$/,
    member: /\/orgs\/[^/]+\/settings$/,
    viewer: /\/orgs\/[^/]+\/projects$/,
    collaborator: /\/shared$/,
    'shared-only': /\/shared$/,
  };

  for (const who of ['admin', 'member', 'viewer', 'collaborator', 'shared-only'] as Kind[]) {
    test(`${who}: lands where useful; every visible control works (no 403), accessible, at 1280 and 390 px`, async () => {
      for (const viewport of ['desktop', 'phone'] as const) {
        const { p, refused, close } = await open(who, viewport);
        try {
          await p.waitForURL(LANDING[who]);
          await settled(p);
          await shot(p, `${who}-${viewport}-landing`);
          if (viewport === 'desktop') {
            await walk(p, who, viewport);
          } else {
            // On a phone: the landing page, and for Settings the active tab in view.
            await a11y(p, `${who} phone landing`);
            const active = p.locator('.tabs [aria-current="page"]');
            if (await active.count()) {
              await p.goto(`${base}/orgs/${orgId}/settings/api-keys`);
              await settled(p);
              const box = await p.locator('.tabs [aria-current="page"]').boundingBox();
              assert.ok(
                box && box.x >= 0 && box.x + box.width <= VIEWPORTS.phone.width,
                'active tab in view',
              );
              await shot(p, `${who}-phone-api-keys-tab`);
            }
          }
          assert.deepEqual(refused, [], `${who} ${viewport}: a control led to a 403`);
        } finally {
          await close();
        }
      }
    });
  }

  test('what each may do: the collaborator renames and opens its shared project; a viewer only reads', async () => {
    const collab = await open('collaborator', 'desktop');
    try {
      await collab.p.waitForURL(LANDING.collaborator);
      await settled(collab.p);
      const rows = collab.p.locator('#shared-projects tbody tr');
      assert.equal(await rows.count(), 1);
      await collab.p.getByRole('button', { name: 'Rename project billing-api' }).click();
      await collab.p.getByLabel('New name').fill('billing-api-v2');
      await collab.p.getByRole('button', { name: 'Rename', exact: true }).click();
      await collab.p.locator('#shared-projects', { hasText: 'billing-api-v2' }).waitFor();
      await collab.p.getByRole('link', { name: 'billing-api-v2' }).first().click();
      await collab.p.waitForURL(/\/projects\//);
      await settled(collab.p);
      assert.equal(await collab.p.locator('#project-access').textContent(), 'can edit');
      await shot(collab.p, 'collaborator-desktop-project');
      // The organization is not theirs: Settings says so and points to their projects.
      await collab.p.goto(`${base}/orgs/${orgId}/settings`);
      await collab.p.locator('#settings-not-allowed').waitFor();
      assert.deepEqual(collab.refused, []);
    } finally {
      await collab.close();
    }
    const viewer = await open('viewer', 'desktop');
    try {
      await viewer.p.waitForURL(LANDING.viewer);
      await settled(viewer.p);
      assert.equal(await viewer.p.locator('#new-project').count(), 0, 'no create form');
      assert.equal(await viewer.p.getByRole('button', { name: /^(Rename|Delete) project/ }).count(), 0);
      assert.equal(await viewer.p.locator('#plan-usage').count(), 1);
      await viewer.p.goto(`${base}/orgs/${orgId}/settings/audit`);
      await viewer.p.getByRole('heading', { name: 'Audit log: admins only' }).waitFor();
      assert.deepEqual(viewer.refused, []);
    } finally {
      await viewer.close();
    }
  });

  test('admin: rename the organization, audit log with an action picker and events that open', async () => {
    const { p, refused, close } = await open('admin', 'desktop');
    try {
      await p.waitForURL(LANDING.admin);
      await p.goto(`${base}/orgs/${orgId}/settings`);
      await p.getByRole('button', { name: 'Rename the organization' }).click();
      await p.getByLabel('New name').fill('Acme Data');
      await p.getByRole('button', { name: 'Rename', exact: true }).click();
      await p.locator('#org-name', { hasText: 'Acme Data' }).waitFor();
      assert.equal(await p.locator('#org-switcher option:checked').textContent(), 'Acme Data');
      await p.goto(`${base}/orgs/${orgId}/settings/audit`);
      await settled(p);
      const options = await p.locator('#audit-action option').allTextContents();
      assert.ok(options.includes('organization.updated'), options.join());
      await p.locator('#audit-action').selectOption('organization.updated');
      await p.getByRole('button', { name: 'Filter' }).click();
      await settled(p);
      await p.locator('.audit-event summary').first().click();
      await p.locator('.audit-details ins', { hasText: 'Acme Data' }).waitFor();
      await shot(p, 'admin-desktop-audit');
      assert.deepEqual(refused, []);
    } finally {
      await close();
    }
  });

  test('SMTP unset: the console says the invitation email was not sent and shows the link', async () => {
    const { p, close } = await open('admin', 'desktop');
    try {
      await p.waitForURL(LANDING.admin);
      await p.goto(`${base}/orgs/${orgId}/settings/invitations`);
      await p.getByLabel('Email addresses').fill('nomail-person@example.com');
      await p.getByRole('button', { name: 'Send invitations' }).click();
      const box = p.locator('#invite-not-sent');
      await box.waitFor();
      assert.match((await box.textContent()) ?? '', /Email not sent.*not configured/);
      const link = await box.locator('input.token').inputValue();
      assert.match(link, /\/invitations\/accept\?token=/);
      assert.equal(await p.locator('#toasts .toast', { hasText: /invitations? sent/ }).count(), 0);
      await shot(p, 'admin-desktop-invite-no-smtp');
    } finally {
      await close();
    }
  });

  test('SMTP failing: the console says the email was not sent, with the server’s reason', async () => {
    const dead = await freePort(); // nothing listens here: every connection is refused
    const other = await startServer(`smtp://127.0.0.1:${dead}`);
    try {
      const admin = await createUserWithPassword(other.t.services, 'mailadmin');
      const org = await other.t.services.organizations.createWithAdmin(admin.id, {
        name: 'Mailless',
        plan: 'scale',
      });
      const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop });
      const p = await ctx.newPage();
      p.setDefaultTimeout(20_000);
      await p.goto(`${other.base}/signin`);
      await p.getByLabel('Email').fill(admin.email);
      await p.getByLabel('Password').fill(admin.password);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.waitForURL(/\/settings$/);
      await p.goto(`${other.base}/orgs/${org.id}/settings/invitations`);
      await p.getByLabel('Email addresses').fill('someone@example.com');
      await p.getByRole('button', { name: 'Send invitations' }).click();
      const box = p.locator('#invite-not-sent');
      await box.waitFor();
      assert.match((await box.textContent()) ?? '', /Email not sent.*ECONNREFUSED|Email not sent.*connect/i);
      assert.match(await box.locator('input.token').inputValue(), /token=/);
      await p.locator('#invitations-list', { hasText: 'email not sent' }).waitFor();
      await p.screenshot({
        path: path.join(SHOTS, `${DIALECT}-roles-admin-desktop-invite-smtp-failing.png`),
        fullPage: true,
      });
      await ctx.close();
    } finally {
      await other.t.app.close();
      await other.t.close().catch(() => {});
    }
  });

  test('claim page: name, sender, expiry; only organizations it may go to; a used link has no action', async () => {
    const admin = await signIn(t, people.admin.email, people.admin.password);
    const made = await t.call('POST', `/api/v2/projects/${projects.plain}/transfer_requests`, {
      headers: withSession(admin),
      body: {},
    });
    assert.equal(made.status, 201, made.text);
    const { p, refused, close } = await open('admin', 'desktop');
    try {
      await p.waitForURL(LANDING.admin);
      await p.goto(made.body.claim_url);
      await p.locator('#claim-project-name', { hasText: 'warehouse' }).waitFor();
      assert.equal(await p.locator('#claim-sender').textContent(), people.admin.email);
      const choices = await p
        .locator('#claim-org option')
        .evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value));
      assert.deepEqual(choices, [otherOrgId], 'not the organization it is in');
      await shot(p, 'admin-desktop-claim');
      await p.getByRole('button', { name: 'Accept the transfer' }).click();
      await p.getByText('The project is yours now.').waitFor();
      await p.goto(made.body.claim_url);
      await p.locator('#claim-unusable', { hasText: 'already used' }).waitFor();
      assert.equal(await p.getByRole('button', { name: 'Accept the transfer' }).count(), 0);
      await shot(p, 'admin-desktop-claim-used');
      assert.deepEqual(refused, []);
    } finally {
      await close();
    }
  });
});
