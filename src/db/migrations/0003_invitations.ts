// Invitations and the transactional mail outbox.
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../connect.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema of their time
export async function up(db: Kysely<any>, _dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('invitations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('email_lower', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('admin', 'member')`))
    // No foreign key: an invitation's history outlives its inviter's account.
    .addColumn('invited_by', 'text', (c) => c.notNull())
    .addColumn('invited_at', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('pending', 'accepted', 'revoked', 'expired')`),
    )
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('accepted_at', 'text')
    .addColumn('accepted_user_id', 'text')
    .addColumn('revoked_at', 'text')
    // SHA-256 (hex) of the join link's token; null once used, revoked, or when the user already existed.
    .addColumn('token_hash', 'text', (c) => c.unique())
    .addColumn('email_status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('pending')
        .check(sql`email_status in ('pending', 'sent', 'failed', 'cancelled')`),
    )
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  // At most one pending invitation per address and organization, whatever the case and however
  // many requests race (security.md §3.2). Partial indexes work on SQLite and PostgreSQL alike.
  await db.schema
    .createIndex('invitations_one_pending_per_email')
    .on('invitations')
    .columns(['org_id', 'email_lower'])
    .unique()
    .where(sql.ref('status'), '=', sql.lit('pending'))
    .execute();
  await db.schema
    .createIndex('invitations_org_invited')
    .on('invitations')
    .columns(['org_id', 'invited_at', 'id'])
    .execute();

  await db.schema
    .createTable('mail_outbox')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('org_id', 'text')
    .addColumn('invitation_id', 'text')
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('text_body', 'text', (c) => c.notNull())
    .addColumn('html_body', 'text', (c) => c.notNull())
    // Stable across retries, so a receiver (and our tests) can spot a duplicate delivery.
    .addColumn('message_id', 'text', (c) => c.notNull().unique())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('pending', 'sending', 'sent', 'dead', 'cancelled')`),
    )
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('permanent_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    // While status = 'sending': the claim's lease; a crashed sender's rows are reclaimed after it.
    .addColumn('locked_until', 'text')
    .addColumn('last_error', 'text')
    .addColumn('sent_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('mail_outbox_due')
    .on('mail_outbox')
    .columns(['status', 'next_attempt_at'])
    .execute();
  await db.schema
    .createIndex('mail_outbox_org_created')
    .on('mail_outbox')
    .columns(['org_id', 'created_at'])
    .execute();
  await db.schema.createIndex('mail_outbox_invitation').on('mail_outbox').column('invitation_id').execute();
}
