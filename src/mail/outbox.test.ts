import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildTestApp,
  DIALECT,
  freshDatabase,
  PG_URL,
  testConfig,
  type TestApp,
} from '../../test/helpers/app.ts';
import { buildWorld, type World } from '../../test/helpers/factories.ts';
import {
  freePort,
  joinLinkIn,
  startHangingServer,
  startSmtp,
  waitFor,
  type TestSmtp,
} from '../../test/helpers/smtp.ts';
import { assertMatchesSpec } from '../../test/helpers/spec.ts';
import type { Config } from '../config.ts';
import { openDatabase, type Db } from '../db/connect.ts';
import { createServices } from '../services.ts';
import { backoffMs, isPermanent } from './mail.worker.ts';
import { AuditContext } from '../audit/audit.ts';

const silent = { info: () => {}, warn: () => {}, error: () => {} };

async function countByStatus(db: Db): Promise<Record<string, number>> {
  const rows = await db.kysely
    .selectFrom('mail_outbox')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

const SMTP_TIMEOUT_MS = 2000;

describe('mail outbox: SMTP refusing, then hanging, then back', () => {
  let t: TestApp;
  let w: World;
  let port: number;
  let smtp: TestSmtp | undefined;

  before(async () => {
    port = await freePort();
    t = await buildTestApp({
      smtpUrl: `smtp://127.0.0.1:${port}`,
      mail: {
        pollMs: 20,
        retryBaseMs: 20,
        retryMaxMs: 300,
        maxPermanentFailures: 3,
        smtpTimeoutMs: SMTP_TIMEOUT_MS,
      },
    });
    w = await buildWorld(t.services);
    t.services.start();
  });
  after(async () => {
    await smtp?.close();
    await t?.close();
  });

  test('200 invitations are persisted and answered while SMTP is down; each is delivered exactly once after', async () => {
    const inviteMany = async (prefix: string, n: number) => {
      const emails = Array.from({ length: n }, (_, i) => `${prefix}-${i}@example.com`);
      // Five clients at a time, one invitation per request.
      for (let i = 0; i < emails.length; i += 5) {
        await Promise.all(
          emails.slice(i, i + 5).map(async (email) => {
            const res = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/invitations`, {
              token: w.admin.token,
              body: { invitations: [{ email, role: 'member' }] },
            });
            assert.equal(res.status, 200, res.text);
            assertMatchesSpec('createOrganizationInvitations', res.status, res.body);
          }),
        );
      }
    };

    // 1. Nothing listens: connections are refused.
    await inviteMany('refused', 100);
    await waitFor(
      async () => {
        const r = await t.db.kysely
          .selectFrom('mail_outbox')
          .select('last_error')
          .where('attempts', '>', 0)
          .where('last_error', 'is not', null)
          .executeTakeFirst();
        return r !== undefined;
      },
      undefined,
      'failed attempts against a refusing server',
    );

    // 2. A server that accepts connections and never greets.
    const hanging = await startHangingServer(port);
    try {
      await inviteMany('hanging', 100);
      await waitFor(
        async () => {
          const r = await t.db.kysely
            .selectFrom('mail_outbox')
            .select('id')
            .where('last_error', 'like', '%reeting%')
            .executeTakeFirst();
          return r !== undefined;
        },
        undefined,
        'a greeting timeout',
      );
    } finally {
      await hanging.close();
    }

    const persisted = await t.db.kysely
      .selectFrom('invitations')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('org_id', '=', w.orgA.id)
      .executeTakeFirstOrThrow();
    assert.equal(Number(persisted.n), 200);
    const before = await countByStatus(t.db);
    assert.equal(before.sent ?? 0, 0, 'nothing could be sent');
    assert.equal((before.pending ?? 0) + (before.sending ?? 0), 200, JSON.stringify(before));

    // 3. Recovery: a real SMTP server on the same port.
    smtp = await startSmtp(port);
    const received = smtp.received;
    await waitFor(async () => (await countByStatus(t.db)).sent === 200, undefined, 'all 200 sent');
    // Stopping the worker waits for its sends in flight, so a stray duplicate has arrived by the count.
    await t.services.mail.drain({ ignoreBackoff: true });
    await t.services.mail.stop();
    assert.equal(received.length, 200, 'exactly 200 deliveries');
    const ids = new Set(received.map((m) => m.messageId));
    assert.equal(ids.size, 200, 'each Message-ID once');
    const stored = await t.db.kysely.selectFrom('mail_outbox').select(['message_id', 'recipient']).execute();
    assert.deepEqual(new Set(stored.map((s) => s.message_id)), ids);
    for (const m of received) {
      assert.equal(m.to.length, 1);
      assert.ok(joinLinkIn(m)?.startsWith('http://orgplane.test/invitations/accept?token='));
    }
    const invs = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/invitations`, {
      token: w.admin.token,
    });
    assertMatchesSpec('getOrganizationInvitations', invs.status, invs.body);
    assert.ok(invs.body.invitations.every((i: { email_status: string }) => i.email_status === 'sent'));
  });
});

describe('mail outbox: a request never waits on SMTP (counted, not timed)', () => {
  let t: TestApp;
  let w: World;
  let smtp: TestSmtp;

  before(async () => {
    smtp = await startSmtp();
    t = await buildTestApp({
      smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
      // Far beyond the test: a request that waited on SMTP could only finish once the greeting came.
      mail: { pollMs: 20, retryBaseMs: 20, retryMaxMs: 300, maxPermanentFailures: 3, smtpTimeoutMs: 600_000 },
    });
    w = await buildWorld(t.services);
    t.services.start();
  });
  after(async () => {
    smtp?.release();
    await t?.close();
    await smtp?.close();
  });

  const invite = (email: string) =>
    t.call('POST', `/api/v2/organizations/${w.orgA.id}/invitations`, {
      token: w.admin.token,
      body: { invitations: [{ email, role: 'member' }] },
    });

  test('every invitation is answered while the SMTP server holds back its greeting; all are sent once it speaks', async () => {
    smtp.hold();
    assert.equal((await invite('first@example.com')).status, 200);
    // The worker is now connected and waiting for the greeting the barrier holds back.
    await waitFor(() => smtp.connections >= 1, undefined, 'the worker to connect');
    const workerConnections = smtp.connections;

    let settled = false;
    const answered = (async () => {
      for (let i = 0; i < 50; i += 5) {
        const batch = await Promise.all(
          Array.from({ length: 5 }, (_, j) => invite(`held-${i + j}@example.com`)),
        );
        for (const res of batch) assert.equal(res.status, 200, res.text);
      }
    })().finally(() => (settled = true));
    // A request that sent its own mail would open a connection of its own and then wait, forever,
    // for the held greeting: fail at once when that happens instead of hanging.
    const ownConnection = (async () => {
      while (!settled) {
        if (smtp.connections > workerConnections) throw new Error('a request opened its own SMTP connection');
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await Promise.all([answered, ownConnection]);
    assert.equal(smtp.greeted, 0, 'all 51 requests were answered before the SMTP server said a word');
    assert.equal(smtp.received.length, 0);

    smtp.release();
    await waitFor(async () => (await countByStatus(t.db)).sent === 51, undefined, 'all 51 sent');
    await t.services.mail.stop();
    assert.equal(smtp.received.length, 51);
    assert.equal(new Set(smtp.received.map((m) => m.messageId)).size, 51);
  });
});

describe('mail outbox: permanent refusals, leases, several workers', () => {
  let smtp: TestSmtp;
  let t: TestApp;
  let w: World;

  before(async () => {
    smtp = await startSmtp();
    t = await buildTestApp({
      smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
      mail: { pollMs: 1000, retryBaseMs: 10, retryMaxMs: 50, maxPermanentFailures: 3, smtpTimeoutMs: 2000 },
    });
    w = await buildWorld(t.services);
  });
  after(async () => {
    await smtp?.close();
    await t?.close();
  });

  const invite = (email: string) =>
    t.call('POST', `/api/v2/organizations/${w.orgA.id}/invitations`, {
      token: w.admin.token,
      body: { invitations: [{ email, role: 'member' }] },
    });

  test('a permanent 5xx dead-letters the message after the configured attempts; the invitation shows it', async () => {
    smtp.mode = 'reject';
    const res = await invite('dead@example.com');
    const id = res.body.invitations[0].id;
    try {
      for (let i = 0; i < 5; i++) await t.services.mail.drain({ ignoreBackoff: true });
    } finally {
      smtp.mode = 'ok';
    }
    const row = await t.db.kysely
      .selectFrom('mail_outbox')
      .selectAll()
      .where('invitation_id', '=', id)
      .executeTakeFirstOrThrow();
    assert.equal(row.status, 'dead');
    assert.equal(row.attempts, 3, 'not retried forever');
    assert.match(row.last_error ?? '', /550/);
    const list = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/invitations`, {
      token: w.admin.token,
    });
    assert.equal(list.body.invitations.find((i: { id: string }) => i.id === id)?.email_status, 'failed');
    // Resending makes a fresh message.
    const resend = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/invitations/${id}/resend`, {
      token: w.admin.token,
    });
    assert.equal(resend.status, 200);
    await t.services.mail.drain();
    assert.equal(smtp.received.filter((m) => m.to.includes('dead@example.com')).length, 1);
  });

  test('a message whose sender crashed mid-send (lease run out) is sent again; a live lease is left alone', async () => {
    await invite('lease-expired@example.com');
    await invite('lease-live@example.com');
    const past = new Date(Date.now() - 1000).toISOString();
    const future = new Date(Date.now() + 60_000).toISOString();
    await t.db.kysely
      .updateTable('mail_outbox')
      .set({ status: 'sending', locked_until: past, attempts: 1 })
      .where('recipient', '=', 'lease-expired@example.com')
      .execute();
    await t.db.kysely
      .updateTable('mail_outbox')
      .set({ status: 'sending', locked_until: future, attempts: 1 })
      .where('recipient', '=', 'lease-live@example.com')
      .execute();
    await t.services.mail.drain();
    assert.equal(smtp.received.filter((m) => m.to.includes('lease-expired@example.com')).length, 1);
    assert.equal(smtp.received.filter((m) => m.to.includes('lease-live@example.com')).length, 0);
  });

  test('classifies errors and backs off exponentially with a cap', () => {
    assert.equal(isPermanent({ responseCode: 550 }), true);
    assert.equal(isPermanent({ responseCode: 451 }), false);
    assert.equal(isPermanent({ code: 'ECONNECTION' }), false);
    const b1 = backoffMs(1, 1000, 60_000);
    const b4 = backoffMs(4, 1000, 60_000);
    assert.ok(b1 >= 800 && b1 <= 1200, String(b1));
    assert.ok(b4 >= 6400 && b4 <= 9600, String(b4));
    assert.ok(backoffMs(50, 1000, 60_000) <= 72_000);
  });
});

describe('mail outbox: several server processes share one outbox, and restarts lose nothing', () => {
  test('messages written by one process are sent by others after a restart, each exactly once', async () => {
    const smtp = await startSmtp();
    const fresh = await freshDatabase();
    const base = testConfig({
      smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
      mail: { pollMs: 10, retryBaseMs: 10, retryMaxMs: 50, maxPermanentFailures: 3, smtpTimeoutMs: 2000 },
    });
    // Process 1 has no SMTP: it only writes (its "server" then stops).
    const writerConfig: Config = { ...base, smtpUrl: undefined };
    const writer = createServices(fresh.db, writerConfig, silent);
    const w = await buildWorld(writer);
    const emails = Array.from({ length: 60 }, (_, i) => `multi-${i}@example.com`);
    for (let i = 0; i < emails.length; i += 20) {
      const principal = { kind: 'user' as const, userId: w.admin.id, keyId: w.admin.keyId };
      await writer.invitations.create(
        principal,
        w.orgA.id,
        emails.slice(i, i + 20).map((email) => ({ email, role: 'member' })),
        AuditContext.operator(),
      );
    }
    await writer.stop();

    // Processes 2 and 3: their own database connections (PostgreSQL) to the same outbox.
    const extra: Db[] = [];
    const handle = (): Db => {
      if (DIALECT === 'sqlite') return fresh.db;
      const db = openDatabase({ dataDir: '', databaseUrl: PG_URL, pgSchema: fresh.pgSchema });
      extra.push(db);
      return db;
    };
    const senders = [createServices(handle(), base, silent), createServices(handle(), base, silent)];
    try {
      for (const s of senders) s.start();
      await Promise.all([...senders.map((s) => s.mail.drain()), ...senders.map((s) => s.mail.drain())]);
      await waitFor(async () => (await countByStatus(fresh.db)).sent === 60, undefined, 'all sent');
      assert.equal(smtp.received.length, 60);
      assert.equal(new Set(smtp.received.map((m) => m.messageId)).size, 60);
      assert.deepEqual(new Set(smtp.received.flatMap((m) => m.to)), new Set(emails));
    } finally {
      for (const s of senders) await s.stop();
      for (const db of extra) await db.close();
      await fresh.dispose();
      await smtp.close();
    }
  });

  test('without SMTP_URL messages stay in the outbox and are logged with their link', async () => {
    const fresh = await freshDatabase();
    const logged: string[] = [];
    const log = {
      info: (...args: unknown[]) => {
        logged.push(String(args[1] ?? args[0]));
      },
      warn: () => {},
      error: () => {},
    };
    const s = createServices(fresh.db, testConfig(), log);
    try {
      s.start();
      const w = await buildWorld(s);
      await s.invitations.create(
        { kind: 'user', userId: w.admin.id, keyId: w.admin.keyId },
        w.orgA.id,
        [{ email: 'local@example.com', role: 'member' }],
        AuditContext.operator(),
      );
      assert.equal(await s.mail.drain(), 0);
      const rows = await s.mail.list();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.status, 'pending');
      assert.match(rows[0]?.text_body ?? '', /http:\/\/orgplane\.test\/invitations\/accept\?token=/);
      assert.ok(
        logged.some((m) =>
          /local@example\.com.*http:\/\/orgplane\.test\/invitations\/accept\?token=/.test(m),
        ),
      );
    } finally {
      await s.stop();
      await fresh.dispose();
    }
  });
});
