// The audit log: one hash chain of events per organization (or per user, for what happens outside
// organizations), and one head row per chain. Appends lock the head row (PostgreSQL: FOR UPDATE),
// so a chain grows one event at a time; the head also keeps the anchor left by retention pruning.
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema of their time
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('audit_chains')
    .addColumn('chain', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('head_hash', 'text', (c) => c.notNull())
    // The last pruned event: verification starts from it instead of the genesis hash.
    .addColumn('anchor_seq', 'bigint', (c) => c.notNull())
    .addColumn('anchor_hash', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('chain', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('org_id', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    // Filter columns; the full actor is in `actor` (JSON).
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('actor_email', 'text')
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('target_type', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text')
    .addColumn('request_id', 'text')
    .addColumn('client_addr', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('changes', 'text', (c) => c.notNull())
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('audit_events_chain_seq')
    .on('audit_events')
    .columns(['chain', 'seq'])
    .unique()
    .execute();
  await db.schema.createIndex('audit_events_at').on('audit_events').columns(['at']).execute();
}
