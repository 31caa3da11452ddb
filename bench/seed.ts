// Benchmark data, written straight into the database the server will open: the few objects the
// scenarios act on go through orgplane's services (so they are exactly what the API would create);
// the bulk (10,000 members, 100,000 projects, 1,000,000 keys) is inserted with batched SQL.
import SQLite from 'better-sqlite3';
import type { Kysely } from 'kysely';
import pino from 'pino';
import { loadConfig } from '../src/config.ts';
import type { Db } from '../src/db/connect.ts';
import type { Database } from '../src/db/schema.ts';
import { newUuid } from '../src/domain/ids.ts';
import { createServices } from '../src/services.ts';

export interface World {
  adminUserId: string;
  /** Personal key of the admin of every benchmark organization. */
  adminToken: string;
  /** Organization key of the main organization. */
  orgKeyToken: string;
  /** The main organization: a few dozen members, 100 projects. */
  mainOrg: string;
  /** Members of mainOrg whose role the PATCH scenario flips (never the admin). */
  patchMemberIds: string[];
  /** An organization with settings.bigOrgMembers members. */
  bigOrg: string;
  /** An organization with settings.bigOrgProjects projects. */
  projectsOrg: string;
  mainOrgProjects: number;
  transferSrc: string;
  transferDst: string;
  /** Projects of transferSrc, moved back and forth by the transfer scenario. */
  transferProjectIds: string[];
  /** Live keys in the database after seeding. */
  keys: number;
}

export interface WorldSize {
  bigOrgMembers: number;
  bigOrgProjects: number;
  transferMany: number;
}

const silent = pino({ level: 'silent' });

async function batchInsert<T extends keyof Database>(
  db: Kysely<Database>,
  table: T,
  rows: Record<string, unknown>[],
  batch = 1000,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < rows.length; i += batch) {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- generic over tables
      const chunk = rows.slice(i, i + batch) as any;
      await trx.insertInto(table).values(chunk).execute();
    }
  });
}

/** Timestamps one millisecond apart, so every sort order is total and stable. */
function stamp(base: number, i: number): string {
  return new Date(base + i).toISOString();
}

export function projectRows(orgId: string, ownerId: string, prefix: string, n: number) {
  const base = Date.parse('2025-01-01T00:00:00.000Z');
  const rows = [];
  for (let i = 0; i < n; i++) {
    const at = stamp(base, i);
    // Only the columns the projects table has had since the first migration; later ones have defaults.
    rows.push({
      id: `${prefix}-${String(i).padStart(8, '0')}`,
      org_id: orgId,
      owner_id: ownerId,
      name: `${prefix} ${i}`,
      created_at: at,
      updated_at: at,
      deleted_at: null,
    });
  }
  return rows;
}

async function bulkMembers(db: Kysely<Database>, orgId: string, n: number, tag: string): Promise<string[]> {
  const base = Date.parse('2025-02-01T00:00:00.000Z');
  const users = [];
  const members = [];
  for (let i = 0; i < n; i++) {
    const id = newUuid();
    const email = `${tag}-${String(i).padStart(6, '0')}@example.com`;
    const at = stamp(base, i);
    users.push({
      id,
      email,
      email_lower: email,
      name: `${tag} ${i}`,
      last_name: '',
      image: '',
      password_hash: null,
      created_at: at,
      updated_at: at,
    });
    members.push({ id: newUuid(), org_id: orgId, user_id: id, role: 'member', email, joined_at: at });
  }
  await batchInsert(db, 'users', users);
  await batchInsert(db, 'members', members);
  return members.map((m) => m.id);
}

export async function seedWorld(db: Db, size: WorldSize): Promise<World> {
  const s = createServices(db, loadConfig({}), silent);
  const k = db.kysely;
  const admin = await s.users.create({ email: 'bench-admin@example.com', name: 'Bench Admin' });
  const adminKey = await s.apiKeys.createPersonalFor(admin.id, 'bench');
  const main = await s.organizations.createWithAdmin(admin.id, { name: 'Bench Org', plan: 'enterprise' });
  const orgKey = await s.apiKeys.createOrgFor(admin.id, main.id, 'bench-org-key');

  // 40 members of the main organization (the page of 10, and one member per connection to PATCH).
  const patchMemberIds = await bulkMembers(k, main.id, 40, 'member');
  // Keys of other users, so the small case has exactly 10 live keys.
  const others = await k
    .selectFrom('members')
    .select('user_id')
    .where('org_id', '=', main.id)
    .where('user_id', '!=', admin.id)
    .orderBy('user_id')
    .limit(8)
    .execute();
  for (const [i, o] of others.entries()) await s.apiKeys.createPersonalFor(o.user_id, `other-${i}`);

  const mainOrgProjects = 100;
  await batchInsert(k, 'projects', projectRows(main.id, admin.id, 'main-project', mainOrgProjects));

  const big = await s.organizations.createWithAdmin(admin.id, { name: 'Big Org', plan: 'enterprise' });
  await bulkMembers(k, big.id, size.bigOrgMembers - 1, 'big');

  const projectsOrg = await s.organizations.createWithAdmin(admin.id, {
    name: 'Projects Org',
    plan: 'enterprise',
  });
  await batchInsert(
    k,
    'projects',
    projectRows(projectsOrg.id, admin.id, 'many-project', size.bigOrgProjects),
  );

  const src = await s.organizations.createWithAdmin(admin.id, {
    name: 'Transfer Source',
    plan: 'enterprise',
  });
  const dst = await s.organizations.createWithAdmin(admin.id, { name: 'Transfer Dest', plan: 'enterprise' });
  const transferRows = projectRows(src.id, admin.id, 'transfer-project', size.transferMany);
  await batchInsert(k, 'projects', transferRows);

  const keys = await k
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('revoked_at', 'is', null)
    .executeTakeFirstOrThrow();

  return {
    adminUserId: admin.id,
    adminToken: adminKey.token,
    orgKeyToken: orgKey.token,
    mainOrg: main.id,
    patchMemberIds,
    bigOrg: big.id,
    projectsOrg: projectsOrg.id,
    mainOrgProjects,
    transferSrc: src.id,
    transferDst: dst.id,
    transferProjectIds: transferRows.map((r) => r.id),
    keys: Number(keys.n),
  };
}

/**
 * Adds n live organization keys with random hashes (nobody holds their tokens) to an SQLite file.
 * The rows are generated inside SQLite and inserted in hash order, so the unique index on
 * token_hash is appended to rather than updated at random: a million keys take seconds, not minutes.
 */
export function addManyKeysSqlite(file: string, orgId: string, createdBy: string, n: number): void {
  const db = new SQLite(file);
  // A throw-away copy: no journal, and a cache big enough for the indexes.
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -1048576');
  db.pragma('temp_store = MEMORY');
  const at = new Date().toISOString();
  db.transaction(() => {
    db.prepare(
      `create temp table filler as
         with recursive c(i) as (select 1 union all select i + 1 from c where i < ?)
         select i, lower(hex(randomblob(32))) as h from c`,
    ).run(n);
    db.prepare(
      `insert into api_keys (kind, name, token_hash, user_id, org_id, project_id, created_by, created_at, last_used_at, last_used_from_addr, revoked_at)
       select 'org', 'filler-' || i, h, null, ?, null, ?, ?, null, '', null from filler order by h`,
    ).run(orgId, createdBy, at);
    db.prepare('drop table filler').run();
  })();
  db.pragma('journal_mode = WAL');
  db.close();
}

/**
 * Adds n earlier invitations of orgId to an SQLite file, all sent within the last hour (the
 * hourly limit's window: the worst case for it), each with its invitation email already sent,
 * and the per-minute counters orgplane keeps for them (invitation_sends, when the schema has it).
 */
export function addManyInvitationsSqlite(file: string, orgId: string, invitedBy: string, n: number): void {
  if (n <= 0) return;
  const db = new SQLite(file);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('temp_store = MEMORY');
  const now = Date.now();
  const spreadMs = 50 * 60_000; // over the last 50 minutes
  db.transaction(() => {
    db.prepare(
      `create temp table filler as
         with recursive c(i) as (select 1 union all select i + 1 from c where i < ?)
         select i,
                lower(hex(randomblob(16))) as inv_id,
                lower(hex(randomblob(16))) as mail_id,
                strftime('%Y-%m-%dT%H:%M:%fZ', (? - (i * ? / ?)) / 1000.0, 'unixepoch') as at
         from c`,
    ).run(n, now, spreadMs, n);
    db.prepare(
      `insert into invitations (id, org_id, email, email_lower, role, invited_by, invited_at, status, expires_at,
         accepted_at, accepted_user_id, revoked_at, token_hash, email_status, updated_at)
       select inv_id, ?, 'earlier-' || i || '@example.com', 'earlier-' || i || '@example.com', 'member', ?, at,
         'pending', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+7 days'), null, null, null, lower(hex(randomblob(32))), 'sent', at
       from filler`,
    ).run(orgId, invitedBy);
    db.prepare(
      `insert into mail_outbox (id, kind, org_id, invitation_id, recipient, subject, text_body, html_body, message_id,
         status, attempts, permanent_failures, next_attempt_at, locked_until, last_error, sent_at, created_at)
       select mail_id, 'invitation', ?, inv_id, 'earlier-' || i || '@example.com', 'You are invited', 'text', '<p>html</p>',
         '<' || mail_id || '@bench.local>', 'sent', 1, 0, at, null, null, at, at
       from filler`,
    ).run(orgId);
    const hasCounters = db
      .prepare(`select 1 from sqlite_master where type = 'table' and name = 'invitation_sends'`)
      .get();
    if (hasCounters) {
      db.prepare(
        `insert into invitation_sends (org_id, minute, n)
         select ?, substr(at, 1, 16), count(*) from filler group by substr(at, 1, 16)
         on conflict (org_id, minute) do update set n = n + excluded.n`,
      ).run(orgId);
    }
    db.prepare('drop table filler').run();
  })();
  db.pragma('journal_mode = WAL');
  db.close();
}
