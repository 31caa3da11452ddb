// Migration 0007 over a database written by 0001–0006: members and invitations keep every row,
// index and access trigger while their role checks widen to Neon's five roles.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { DIALECT, PG_URL } from '../../test/helpers/app.ts';
import { openDatabase, type Db } from './connect.ts';
import { migrateToLatest, migrateUpTo } from './migrate.ts';

let db: Db;
let schema = '';

before(async () => {
  if (DIALECT === 'sqlite') {
    db = openDatabase({ dataDir: '', sqliteFile: ':memory:' });
    return;
  }
  schema = `t_${randomBytes(6).toString('hex')}`;
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  await c.query(`create schema ${schema}`);
  await c.end();
  db = openDatabase({ dataDir: '', databaseUrl: PG_URL, pgSchema: schema });
});
after(async () => {
  await db.close();
  if (schema) {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`drop schema if exists ${schema} cascade`);
    await c.end();
  }
});

const now = '2026-01-01T00:00:00.000Z';

test('0007 keeps members and invitations, widens their roles, and keeps the access triggers', async () => {
  await migrateUpTo(db, '0006_access_changes');
  const k = db.kysely;
  await k
    .insertInto('users')
    .values({
      id: 'u1',
      email: 'A@example.com',
      email_lower: 'a@example.com',
      name: 'A',
      last_name: '',
      image: '',
      password_hash: null,
      created_at: now,
      updated_at: now,
    })
    .execute();
  await k
    .insertInto('organizations')
    .values({
      id: 'org-a',
      name: 'A',
      handle: 'a',
      plan: 'free',
      managed_by: 'console',
      created_at: now,
      updated_at: now,
    })
    .execute();
  await k
    .insertInto('members')
    .values({
      id: 'm1',
      org_id: 'org-a',
      user_id: 'u1',
      role: 'admin',
      email: 'a@example.com',
      joined_at: now,
    })
    .execute();
  await k
    .insertInto('invitations')
    .values({
      id: 'i1',
      org_id: 'org-a',
      email: 'b@example.com',
      email_lower: 'b@example.com',
      role: 'member',
      invited_by: 'u1',
      invited_at: now,
      status: 'pending',
      expires_at: now,
      accepted_at: null,
      accepted_user_id: null,
      revoked_at: null,
      token_hash: 'hash-1',
      email_status: 'pending',
      updated_at: now,
    })
    .execute();
  // Before 0007 the newer roles are refused by the database itself.
  await assert.rejects(k.updateTable('members').set({ role: 'viewer' }).where('id', '=', 'm1').execute());

  await migrateToLatest(db);
  const members = await k.selectFrom('members').selectAll().execute();
  assert.deepEqual(members, [
    { id: 'm1', org_id: 'org-a', user_id: 'u1', role: 'admin', email: 'a@example.com', joined_at: now },
  ]);
  const inv = await k.selectFrom('invitations').selectAll().executeTakeFirstOrThrow();
  assert.equal(inv.token_hash, 'hash-1');
  assert.equal(inv.role, 'member');

  for (const role of ['member', 'editor', 'viewer', 'collaborator', 'admin'] as const) {
    await k.updateTable('members').set({ role }).where('id', '=', 'm1').execute();
    await k.updateTable('invitations').set({ role }).where('id', '=', 'i1').execute();
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a value outside the type on purpose
  const owner = 'owner' as any;
  await assert.rejects(k.updateTable('members').set({ role: owner }).where('id', '=', 'm1').execute());
  await assert.rejects(k.updateTable('invitations').set({ role: owner }).where('id', '=', 'i1').execute());
  // The unique (org, user) constraint and the one-pending-invitation index survive.
  await assert.rejects(
    k
      .insertInto('members')
      .values({
        id: 'm2',
        org_id: 'org-a',
        user_id: 'u1',
        role: 'member',
        email: 'a@example.com',
        joined_at: now,
      })
      .execute(),
  );

  // Membership changes and grants still report access changes.
  if (DIALECT === 'sqlite') {
    const version = async () =>
      Number((await k.selectFrom('access_version').select('n').executeTakeFirstOrThrow()).n);
    const v0 = await version();
    await k.updateTable('members').set({ role: 'viewer' }).where('id', '=', 'm1').execute();
    const v1 = await version();
    assert.ok(v1 > v0, 'members trigger');
    await k
      .insertInto('projects')
      .values({
        id: 'p1',
        org_id: 'org-a',
        owner_id: 'u1',
        name: 'p',
        created_at: now,
        updated_at: now,
        deleted_at: null,
      })
      .execute();
    const v2 = await version();
    await k
      .insertInto('project_permissions')
      .values({
        id: 'g1',
        project_id: 'p1',
        email: 'c@example.com',
        email_lower: 'c@example.com',
        granted_by: 'u1',
        granted_at: now,
        revoked_at: null,
        signup_token_hash: null,
        signup_expires_at: null,
      })
      .execute();
    const v3 = await version();
    assert.ok(v3 > v2, 'grant trigger');
    await k.updateTable('project_permissions').set({ revoked_at: now }).where('id', '=', 'g1').execute();
    assert.ok((await version()) > v3, 'revocation trigger');
  } else {
    const r = await sql<{ tgname: string }>`
      select tgname from pg_trigger t join pg_class c on c.oid = t.tgrelid
      join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ${schema} and not t.tgisinternal order by tgname`.execute(k);
    const names = r.rows.map((x) => x.tgname);
    for (const name of [
      'access_members_insert',
      'access_members_update_of_role',
      'access_members_delete',
      'access_project_permissions_insert',
      'access_project_permissions_update_of_revoked_at',
      'access_project_permissions_delete',
    ]) {
      assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    }
  }
});
