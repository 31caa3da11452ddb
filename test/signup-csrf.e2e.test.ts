// Login CSRF in a real browser: a page on another site auto-submits the share sign-up form (or the
// invitation join form) with a link the attacker holds, in the victim's Chromium. Before the one
// sign-up flow (console/signup-page.ts) the share page accepted it and signed the victim's browser in
// to the attacker's new account. Now the post is refused (403), no account is made, no cookie set.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { Browser } from 'playwright-core';
import { buildTestApp, type TestApp } from './helpers/app.ts';
import { buildWorld, type World } from './helpers/factories.ts';
import { freePort } from './helpers/net.ts';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing: browser tests must run on CI`);
const skip = haveChromium ? false : `${CHROMIUM} not installed: browser test SKIPPED`;

describe('a foreign site cannot submit a sign-up form in the victim’s browser', { skip }, () => {
  let t: TestApp;
  let w: World;
  let base: string;
  let browser: Browser;
  let evil: http.Server;
  let evilBase: string;
  /** The attacker's page: posts `fields` to `action` as soon as it loads. */
  let attack = { action: '', fields: {} as Record<string, string> };

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await buildTestApp({ publicUrl: base, port });
    w = await buildWorld(t.services);
    await t.app.listen({ host: '127.0.0.1', port });
    evil = http.createServer((_req, res) => {
      const inputs = Object.entries(attack.fields)
        .map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`)
        .join('');
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        `<!doctype html><form id="f" method="post" action="${attack.action}">${inputs}</form><script>document.getElementById('f').submit()</script>`,
      );
    });
    const evilPort = await freePort();
    await new Promise<void>((r) => evil.listen(evilPort, '127.0.0.1', r));
    // Another site altogether (not just another port): evil.test resolves to this machine.
    evilBase = `http://evil.test:${evilPort}`;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--host-resolver-rules=MAP evil.test 127.0.0.1'],
    });
  });
  after(async () => {
    await browser?.close();
    await new Promise((r) => evil?.close(r));
    await t?.close();
  });

  async function shareLinkToken(email: string): Promise<string> {
    const g = await t.call('POST', `/api/v2/projects/${w.projectA1}/permissions`, {
      token: w.admin.token,
      body: { email },
    });
    assert.equal(g.status, 200, g.text);
    const mail = await t.db.kysely
      .selectFrom('mail_outbox')
      .select('text_body')
      .where('recipient', '=', email)
      .executeTakeFirstOrThrow();
    const token = /shares\/accept\?token=([A-Za-z0-9_-]+)/.exec(mail.text_body)?.[1];
    assert.ok(token);
    return token;
  }

  test('POST /shares/accept from a foreign page is refused: no account, no session', async () => {
    const email = `attacker-${Date.now()}@example.com`;
    const token = await shareLinkToken(email);
    attack = {
      action: `${base}/shares/accept`,
      fields: {
        token,
        name: 'Attacker',
        password: 'attacker password 1',
        password_confirm: 'attacker password 1',
      },
    };
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const answer = page.waitForResponse(
      (r) => r.url() === `${base}/shares/accept` && r.request().method() === 'POST',
    );
    await page.goto(`${evilBase}/`);
    const res = await answer;
    assert.equal(res.status(), 403, await res.text());
    assert.match(await res.text(), /Request refused/);
    const cookies = await ctx.cookies(base);
    assert.ok(!cookies.some((c) => c.name.includes('session')), JSON.stringify(cookies));
    const account = await t.db.kysely
      .selectFrom('users')
      .select('id')
      .where('email_lower', '=', email.toLowerCase())
      .executeTakeFirst();
    assert.equal(account, undefined, 'no account was created');
    // The link still works for its owner, from its own page.
    const own = await browser.newContext();
    const p = await own.newPage();
    await p.goto(`${base}/shares/accept?token=${token}`);
    await p.fill('#name', 'Owner');
    await p.fill('#password', 'owner password 12');
    await p.fill('#password_confirm', 'owner password 12');
    const ok = p.waitForResponse(
      (r) => r.url() === `${base}/shares/accept` && r.request().method() === 'POST',
    );
    await p.click('button[type=submit]');
    assert.equal((await ok).status(), 200);
    assert.ok(
      (await own.cookies(base)).some((c) => c.name.includes('session')),
      'signed in',
    );
    await ctx.close();
    await own.close();
  });
});
