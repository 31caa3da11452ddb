// Honeytoken (canary) keys: a use is never answered (the authenticator answers 401 as for an
// unknown key) but recorded, and the people responsible are told by email, at most once per key
// per hour. The record goes through CanaryUseSink, so an audit log can take the event instead.
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Db } from '../db/connect.ts';
import { withTransaction } from '../db/connect.ts';
import type { Database, OutboxRow } from '../db/schema.ts';
import type { Kysely } from 'kysely';
import { systemClock, type Clock } from '../domain/time.ts';
import { messageDomainOf } from '../domain/email.ts';
import type { MailWorker } from '../mail/mail.worker.ts';
import { enqueueMessage, type OutgoingMessage } from '../mail/outbox.repository.ts';
import type { AuthKey } from '../auth/auth.repository.ts';
import type { Actor, NewAuditEvent } from '../audit/audit.ts';
import { html, mailPage, oneLine } from '../domain/html.ts';
import { canaryRecipients, claimCanaryAlert, insertCanaryUse } from './api-keys.repository.ts';

export const CANARY_EVENT = 'api_key.canary_used';
const ALERT_INTERVAL_MS = 3600_000;

export interface CanaryUse {
  key: AuthKey;
  addr: string;
  userAgent: string;
  at: string;
}

/** Where a canary use is written, inside the transaction that also decides the alert email. */
export type CanaryUseSink = (db: Kysely<Database>, use: CanaryUse, emailed: boolean) => Promise<void>;

/** The default sink: the api_key_canary_uses table of migration 0009. */
export const canaryUsesTable: CanaryUseSink = (db, use, emailed) =>
  insertCanaryUse(db, {
    key_id: use.key.id,
    org_id: use.key.org_id,
    user_id: use.key.user_id,
    used_at: use.at,
    addr: use.addr,
    user_agent: use.userAgent,
    emailed: emailed ? 1 : 0,
  });

export class CanaryAlerts {
  private readonly messageDomain: string;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly mail: MailWorker,
    private readonly log: Pick<Logger, 'warn' | 'error'>,
    private readonly clock: Clock = systemClock,
    private readonly sink: CanaryUseSink = canaryUsesTable,
  ) {
    this.messageDomain = messageDomainOf(config.publicUrl);
  }

  /** The authenticator's onCanaryUse. Never throws: failures are logged. */
  onCanaryUse = async (key: AuthKey, addr: string, userAgent: string): Promise<void> => {
    const now = this.clock();
    const use: CanaryUse = { key, addr, userAgent: userAgent.slice(0, 512), at: new Date(now).toISOString() };
    this.log.warn(
      { event: CANARY_EVENT, key_id: key.id, org_id: key.org_id, addr, user_agent: use.userAgent },
      `canary API key ${key.id} was used from ${addr}`,
    );
    try {
      const queued = await withTransaction(this.db, async (trx) => {
        // One alert per key per hour, also across processes: a conditional update claims it.
        const cutoff = new Date(now - ALERT_INTERVAL_MS).toISOString();
        const emailed = await claimCanaryAlert(trx, key.id, use.at, cutoff);
        await this.sink(trx, use, emailed);
        if (!emailed) return [];
        const out: OutboxRow[] = [];
        for (const to of await canaryRecipients(trx, key)) {
          out.push(await enqueueMessage(trx, canaryMail(use, to, this.config.publicUrl), this.messageDomain));
        }
        return out;
      });
      this.mail.queued(queued);
    } catch (err) {
      this.log.error({ err, key_id: key.id }, 'could not record a canary key use');
    }
  };
}

function canaryMail(use: CanaryUse, recipient: string, publicUrl: string): OutgoingMessage {
  const name = oneLine(use.key.name, 80);
  const subject = oneLine(`Canary API key "${name}" was used`, 200);
  const facts = [
    `Key: ${name} (id ${use.key.id}${use.key.org_id ? `, organization ${use.key.org_id}` : ''})`,
    `Time: ${use.at}`,
    `Client address: ${oneLine(use.addr, 200)}`,
    `User agent: ${oneLine(use.userAgent, 300) || '(none)'}`,
  ];
  const advice =
    'This key is a honeytoken: nobody should ever use it. Whoever holds it got it from where it was planted. ' +
    'The request was refused as if the key did not exist. Further uses within the hour are recorded without another email.';
  return {
    kind: CANARY_EVENT,
    recipient,
    subject,
    text: [subject, '', ...facts, '', advice, '', publicUrl].join('\n'),
    html: mailPage(subject, [
      html`<strong>${subject}</strong>`,
      html`${facts.map((f) => html`${f}<br />`)}`,
      html`${advice}`,
    ]),
    orgId: use.key.org_id ?? undefined,
  };
}

/**
 * The audit event of a canary use: the key is the actor (whoever holds it), the request was
 * refused (401), and it belongs to the key's organization chain, or its owner's for a personal key.
 */
export function canaryAuditEvent(use: CanaryUse, emailed: boolean): NewAuditEvent {
  const { key } = use;
  const actor: Actor =
    key.kind === 'personal' || !key.org_id
      ? { type: 'user', id: key.user_id ?? '', key_id: key.id }
      : key.kind === 'project' && key.project_id
        ? {
            type: 'api_key',
            id: String(key.id),
            kind: 'project',
            org_id: key.org_id,
            project_id: key.project_id,
          }
        : { type: 'api_key', id: String(key.id), kind: 'org', org_id: key.org_id };
  return {
    action: CANARY_EVENT,
    actor,
    org_id: key.org_id ?? null,
    user_id: key.org_id ? undefined : (key.user_id ?? undefined),
    target: { type: 'api_key', id: String(key.id) },
    request_id: null,
    client_addr: use.addr,
    outcome: 'denied',
    status: 401,
    changes: { user_agent: use.userAgent, emailed },
  };
}
