// What the audit log costs a write: `npx tsx bench/audit-cost.ts` (SQLite file in a temp dir;
// with DATABASE_URL also PostgreSQL, in a throw-away schema). In-process (app.inject, no sockets),
// sequential, so the figures are server time per request:
//   1. PATCH /organizations/{org_id}/members/{member_id} and POST /organizations/{org_id}/api_keys
//      end to end (each writes one audit event in its transaction);
//   2. the audit write alone: a transaction that takes the organization lock and appends one event,
//      minus the same transaction without the append (alternating): the cost auditing adds to each
//      write, commit included; and the append statement's own time inside that transaction.
// BENCH_AUDIT_N: requests per measurement (default 400).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { buildApp } from '../src/app.ts';
import { AuditContext } from '../src/audit/audit.ts';
import { appendAuditEvent } from '../src/audit/audit.repository.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase, withTransaction, type Db } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { lockOrganization } from '../src/db/organizations.repository.ts';

const N = Number(process.env.BENCH_AUDIT_N ?? 400);

function stats(samples: number[]): { median: number; p95: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return { median: Number(at(0.5).toFixed(3)), p95: Number(at(0.95).toFixed(3)) };
}

async function timed(n: number, fn: (i: number) => Promise<void>): Promise<number[]> {
  for (let i = 0; i < Math.min(50, n); i++) await fn(i); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn(i);
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

/** Also used by `npm run bench` (its PostgreSQL phase: the audit append's cost). */
export async function measureAuditCost(label: string, db: Db, n = N): Promise<AuditCost> {
  const N = n;
  await migrateToLatest(db);
  const config = loadConfig({ ORGPLANE_RATE_LIMIT: 'off', ORGPLANE_AUDIT_PRUNE_INTERVAL_MS: '0' });
  const { app, services: s } = await buildApp({ config, db, logger: false });
  const admin = await s.users.create({ email: `admin-${randomBytes(3).toString('hex')}@example.com` });
  const { token } = await s.apiKeys.createPersonalFor(admin.id, 'bench');
  const org = await s.organizations.createWithAdmin(admin.id, { name: 'Bench' });
  const peer = await s.users.create({ email: `peer-${randomBytes(3).toString('hex')}@example.com` });
  const member = await s.members.add(org.id, peer.email, 'member');
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

  const patch = await timed(N, async (i) => {
    const r = await app.inject({
      method: 'PATCH',
      url: `/api/v2/organizations/${org.id}/members/${member.id}`,
      headers,
      payload: JSON.stringify({ role: i % 2 ? 'member' : 'admin' }),
    });
    if (r.statusCode !== 200) throw new Error(`PATCH: ${r.statusCode} ${r.body}`);
  });
  const create = await timed(N, async () => {
    const r = await app.inject({
      method: 'POST',
      url: `/api/v2/organizations/${org.id}/api_keys`,
      headers,
      payload: JSON.stringify({ key_name: 'bench' }),
    });
    if (r.statusCode !== 200) throw new Error(`POST api_keys: ${r.statusCode} ${r.body}`);
  });
  const ctx = AuditContext.forPrincipal({ kind: 'user', userId: admin.id, keyId: 1 }, 'bench', '127.0.0.1');
  // Alternating, so that a change in the machine's load (or the disk's flush time) falls on both.
  const lockOnly: number[] = [];
  const lockAndAppend: number[] = [];
  const appendStatement: number[] = [];
  const append = async (i: number, keep: boolean) => {
    const t0 = process.hrtime.bigint();
    await withTransaction(db, async (trx) => {
      await lockOrganization(trx, org.id);
      const a0 = process.hrtime.bigint();
      await appendAuditEvent(
        trx,
        ctx.event({
          action: 'member.role_changed',
          orgId: org.id,
          target: { type: 'member', id: member.id },
          changes: {
            user_id: peer.id,
            email: peer.email,
            role: { from: 'member', to: i % 2 ? 'admin' : 'member' },
          },
        }),
      );
      if (keep) appendStatement.push(Number(process.hrtime.bigint() - a0) / 1e6);
    });
    if (keep) lockAndAppend.push(Number(process.hrtime.bigint() - t0) / 1e6);
  };
  const lock = async (keep: boolean) => {
    const t0 = process.hrtime.bigint();
    await withTransaction(db, async (trx) => {
      await lockOrganization(trx, org.id);
    });
    if (keep) lockOnly.push(Number(process.hrtime.bigint() - t0) / 1e6);
  };
  for (let i = 0; i < N + Math.min(50, N); i++) {
    const keep = i >= Math.min(50, N); // the first ones warm up
    if (i % 2) {
      await lock(keep);
      await append(i, keep);
    } else {
      await append(i, keep);
      await lock(keep);
    }
  }
  const verifyStart = process.hrtime.bigint();
  const v = await s.audit.verify(`org:${org.id}`);
  const verifyMs = Number(process.hrtime.bigint() - verifyStart) / 1e6;
  await app.close();
  const appendMs = stats(lockAndAppend).median - stats(lockOnly).median;
  const result: AuditCost = {
    database: label,
    requests: N,
    patch_role_ms: stats(patch),
    create_key_ms: stats(create),
    tx_lock_only_ms: stats(lockOnly),
    tx_lock_and_append_ms: stats(lockAndAppend),
    audit_append_ms: Number(appendMs.toFixed(3)),
    append_statement_ms: stats(appendStatement),
    audit_share_of_patch: `${((appendMs / stats(patch).median) * 100).toFixed(0)}%`,
    audit_share_of_create_key: `${((appendMs / stats(create).median) * 100).toFixed(0)}%`,
    verify: { events: v.events, ok: v.ok, ms: Number(verifyMs.toFixed(1)) },
  };
  return result;
}

export interface AuditCost {
  database: string;
  requests: number;
  patch_role_ms: { median: number; p95: number };
  create_key_ms: { median: number; p95: number };
  tx_lock_only_ms: { median: number; p95: number };
  tx_lock_and_append_ms: { median: number; p95: number };
  /** Median latency of lock + append minus lock only: the statement and the commit's extra work. */
  audit_append_ms: number;
  /** The append itself, timed inside the transaction (on PostgreSQL its one round trip). */
  append_statement_ms: { median: number; p95: number };
  audit_share_of_patch: string;
  audit_share_of_create_key: string;
  verify: { events: number; ok: boolean; ms: number };
}

async function main(): Promise<void> {
  const results: Array<Record<string, unknown>> = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-audit-bench-'));
  try {
    const sqlite = openDatabase({ dataDir: dir });
    try {
      results.push({ ...(await measureAuditCost('sqlite (file)', sqlite)) });
    } finally {
      await sqlite.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const url = process.env.DATABASE_URL;
  if (url) {
    const schema = `bench_audit_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    const db = openDatabase({ dataDir: '', databaseUrl: url, pgSchema: schema });
    try {
      results.push({ ...(await measureAuditCost('postgres', db)) });
    } finally {
      await db.close();
      await admin.query(`drop schema ${schema} cascade`);
      await admin.end();
    }
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
