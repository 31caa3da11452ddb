// The outbox relay: claims due messages, sends them over SMTP (nodemailer), records the outcome.
// At-least-once: a message is marked sent only after the server accepted it; a crash between
// the two re-sends it once its lease runs out (same Message-ID, so receivers can spot it).
import { createRequire } from 'node:module';
import type nodemailerTypes from 'nodemailer';
import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Db } from '../db/connect.ts';
import type { OutboxRow } from '../db/schema.ts';
import { claimDue, findMessage, listMessages, markFailed, markSent } from './outbox.repository.ts';

const BATCH = 20;
const PARALLEL = 4;

interface SendError {
  message?: string;
  code?: string;
  responseCode?: number;
}

/** A 5xx reply refuses the message itself; anything else (no connection, timeout, 4xx) is worth retrying. */
export function isPermanent(err: unknown): boolean {
  const code = (err as SendError | null)?.responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  // ±20 % jitter so a recovered server is not hit by every message at the same instant.
  return Math.round(exp * (0.8 + Math.random() * 0.4));
}

export function firstLink(text: string): string | undefined {
  return /https?:\/\/\S+/.exec(text)?.[0];
}

export class MailWorker {
  private transport: Transporter | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private stopping = false;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly leaseMs: number;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly log: Pick<Logger, 'info' | 'warn' | 'error'>,
  ) {
    // Far longer than one send can take (each SMTP phase is bounded by smtpTimeoutMs).
    this.leaseMs = Math.max(60_000, config.mail.smtpTimeoutMs * 6);
  }

  get smtpConfigured(): boolean {
    return this.config.smtpUrl !== undefined;
  }

  /** Starts polling (the server does this; one-shot CLI commands do not). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    if (!this.smtpConfigured) {
      this.log.warn('SMTP_URL is not set: mail stays in the outbox (see `npx orgplane mail list`)');
      return;
    }
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.chain.catch(() => {});
    this.transport?.close();
    this.transport = null;
  }

  /** Called after a transaction wrote messages: send soon, or (without SMTP) print them for a local user. */
  queued(rows: OutboxRow[]): void {
    if (!this.smtpConfigured) {
      for (const r of rows) {
        this.log.info(
          { mail_id: r.id, to: r.recipient, subject: r.subject, link: firstLink(r.text_body) },
          `mail kept in the outbox (no SMTP_URL): "${r.subject}" to ${r.recipient}; link: ${firstLink(r.text_body) ?? '(none)'}`,
        );
      }
      return;
    }
    if (this.running) this.schedule(0);
  }

  /**
   * Sends everything due now and returns how many messages were attempted. ignoreBackoff also
   * takes messages waiting for a retry (tests and `mail flush`). Runs are serialized per worker.
   */
  drain(opts: { ignoreBackoff?: boolean } = {}): Promise<number> {
    const run = this.chain.then(async () => {
      let total = 0;
      for (;;) {
        const { claimed, sent } = await this.cycle(opts.ignoreBackoff ?? false);
        total += claimed;
        // Stop when caught up, when stopping, or when nothing got through (the server is down:
        // the next poll retries, instead of this loop spinning on ever-failing messages).
        if (claimed < BATCH || this.stopping || sent === 0) return total;
      }
    });
    this.chain = run.catch(() => {});
    return run;
  }

  list(limit = 50): Promise<OutboxRow[]> {
    return listMessages(this.db.kysely, limit);
  }

  get(id: string): Promise<OutboxRow | undefined> {
    return findMessage(this.db.kysely, id);
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.drain()
        .catch((err: unknown) => this.log.warn({ err }, 'mail outbox: run failed; will retry'))
        .finally(() => {
          if (this.running && !this.timer) this.schedule(this.config.mail.pollMs);
        });
    }, ms);
    this.timer.unref();
  }

  private getTransport(): Transporter {
    if (!this.transport) {
      const t = this.config.mail.smtpTimeoutMs;
      // Loaded on first use: a server without SMTP_URL never needs nodemailer in memory.
      const nodemailer = createRequire(import.meta.url)('nodemailer') as typeof nodemailerTypes;
      this.transport = nodemailer.createTransport({
        url: this.config.smtpUrl,
        connectionTimeout: t,
        greetingTimeout: t,
        socketTimeout: t,
        dnsTimeout: t,
      });
    }
    return this.transport;
  }

  private async cycle(ignoreBackoff: boolean): Promise<{ claimed: number; sent: number }> {
    if (!this.smtpConfigured) return { claimed: 0, sent: 0 };
    const rows = await claimDue(this.db, { limit: BATCH, leaseMs: this.leaseMs, ignoreBackoff });
    let sent = 0;
    for (let i = 0; i < rows.length; i += PARALLEL) {
      const results = await Promise.all(rows.slice(i, i + PARALLEL).map((r) => this.sendOne(r)));
      sent += results.filter(Boolean).length;
    }
    return { claimed: rows.length, sent };
  }

  /** True when the server accepted the message. */
  private async sendOne(row: OutboxRow): Promise<boolean> {
    try {
      await this.getTransport().sendMail({
        from: this.config.mailFrom,
        to: row.recipient,
        subject: row.subject,
        text: row.text_body,
        html: row.html_body,
        messageId: row.message_id,
        date: new Date(row.created_at),
      });
    } catch (err) {
      const permanent = isPermanent(err);
      const failures = row.permanent_failures + (permanent ? 1 : 0);
      const dead = permanent && failures >= this.config.mail.maxPermanentFailures;
      const { retryBaseMs, retryMaxMs } = this.config.mail;
      const next = new Date(Date.now() + backoffMs(row.attempts, retryBaseMs, retryMaxMs)).toISOString();
      const error = (err as SendError | null)?.message ?? String(err);
      (dead ? this.log.error : this.log.warn).call(
        this.log,
        { mail_id: row.id, attempts: row.attempts, error },
        dead ? 'mail refused permanently; dead-lettered' : 'mail not sent; will retry',
      );
      await markFailed(this.db.kysely, row, { error, permanent, dead, nextAttemptAt: next });
      return false;
    }
    await markSent(this.db.kysely, row);
    return true;
  }
}
