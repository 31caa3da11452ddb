// API key lifecycle: expiry, rotation, honeytoken (canary) keys, an organization's maximum key
// lifetime, the record of canary uses, and the idempotency-key store of POST requests.
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../connect.ts';
import { accessTriggers } from '../access-triggers.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema of their time
export async function up(db: Kysely<any>, dialect: Dialect): Promise<void> {
  const id = dialect === 'postgres' ? 'bigint' : 'integer';
  // SQLite adds one column per ALTER TABLE.
  await db.schema.alterTable('api_keys').addColumn('expires_at', 'text').execute();
  await db.schema
    .alterTable('api_keys')
    .addColumn('canary', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  // The key that replaced this one; set once, so a key is rotated at most once.
  await db.schema.alterTable('api_keys').addColumn('rotated_to_id', id).execute();
  // Last canary alert email for this key (one per key per hour).
  await db.schema.alterTable('api_keys').addColumn('canary_alerted_at', 'text').execute();
  await db.schema.alterTable('organizations').addColumn('max_api_key_lifetime_days', 'integer').execute();
  // A cached principal carries its key's expiry and canary flag: a change must reach every cache.
  await accessTriggers(db, dialect, 'api_keys', ['update of expires_at, canary']);

  let uses = db.schema.createTable('api_key_canary_uses');
  uses =
    dialect === 'postgres'
      ? uses.addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
      : uses.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
  await uses
    .addColumn('key_id', id, (c) => c.notNull().references('api_keys.id').onDelete('cascade'))
    .addColumn('org_id', 'text')
    .addColumn('user_id', 'text')
    .addColumn('used_at', 'text', (c) => c.notNull())
    .addColumn('addr', 'text', (c) => c.notNull())
    .addColumn('user_agent', 'text', (c) => c.notNull())
    .addColumn('emailed', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createIndex('api_key_canary_uses_key')
    .on('api_key_canary_uses')
    .columns(['key_id', 'id'])
    .execute();

  // One row per (principal, Idempotency-Key): the unique primary key is the claim.
  await db.schema
    .createTable('idempotency_keys')
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('running', 'done')`))
    .addColumn('status', 'integer')
    .addColumn('response', 'text')
    .addColumn('token_redacted', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('locked_until', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['scope', 'key'])
    .execute();
  await db.schema
    .createIndex('idempotency_keys_expires')
    .on('idempotency_keys')
    .column('expires_at')
    .execute();
}
