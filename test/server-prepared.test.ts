// On PostgreSQL the fixed hot statements (preparedQuery's compiled queries, the audit append) are
// named statements, parsed and planned once per connection (src/db/server-prepared.ts); unmarked
// SQL stays unnamed, and the names per database are bounded.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { appendAuditEvent } from '../src/audit/audit.repository.ts';
import type { NewAuditEvent } from '../src/audit/audit.ts';
import { preparedQuery } from '../src/db/prepared.ts';
import { SERVER_PREPARED, StatementNames } from '../src/db/server-prepared.ts';
import { buildTestApp, type TestApp } from './helpers/app.ts';
import { createOrg, createUser } from './helpers/factories.ts';

let t: TestApp;
before(async () => {
  t = await buildTestApp();
});
after(() => t.close());

const orgName = preparedQuery((db, _shape, id: string) =>
  db.selectFrom('organizations').select('name').where('id', '=', id),
);

test('PostgreSQL: prepared queries and the audit append are planned once per connection', async (ctx) => {
  if (t.db.dialect !== 'postgres') return ctx.skip('server-side prepared statements are PostgreSQL’s');
  const u = await createUser(t.services, 'p');
  const org = await createOrg(t.services, u, 'P');
  const event = (i: number): NewAuditEvent => ({
    org_id: org.id,
    action: 'organization.updated',
    actor: { type: 'user', id: u.id, key_id: null },
    target: { type: 'organization', id: org.id },
    request_id: `req-${i}`,
    client_addr: '127.0.0.1',
    outcome: 'allowed',
    status: 200,
    changes: { name: { from: 'P', to: `P${i}` } },
  });
  // One transaction is one connection, whose own prepared statements pg_prepared_statements lists.
  const statements = await t.db.kysely.transaction().execute(async (trx) => {
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await orgName(trx, '', org.id), [{ name: 'P' }]);
      await appendAuditEvent(trx, event(i));
    }
    const r = await sql<{ name: string; statement: string; runs: number }>`
      select name, statement, generic_plans + custom_plans as runs
      from pg_prepared_statements where name like 'orgplane_%'`.execute(trx);
    return r.rows;
  });
  const named = (re: RegExp) => statements.filter((s) => re.test(s.statement));
  const all = JSON.stringify(statements);
  // The append has two fixed texts (with and without the actor's email to read); the one these
  // events take ran three times under one name, as did the read.
  assert.ok(named(/with cur as/).length <= 2, all);
  assert.ok(
    named(/with cur as/).some((s) => Number(s.runs) >= 3),
    all,
  );
  const reads = named(/select "name" from "organizations"/);
  assert.equal(reads.length, 1, all);
  assert.ok(Number(reads[0]?.runs) >= 3, all);
  // The chain those appends made verifies: the prepared statement computes the same hashes.
  const v = await t.services.audit.verify(`org:${org.id}`);
  assert.equal(v.ok, true, JSON.stringify(v));
});

test('StatementNames: only marked texts get a name, one per text, bounded', () => {
  const names = new StatementNames();
  assert.equal(names.nameFor('select 1'), undefined);
  const a = names.nameFor(`${SERVER_PREPARED}select 1`);
  assert.ok(a);
  assert.equal(names.nameFor(`${SERVER_PREPARED}select 1`), a);
  assert.notEqual(names.nameFor(`${SERVER_PREPARED}select 2`), a);
  for (let i = 0; i < 300; i++) names.nameFor(`${SERVER_PREPARED}select ${i + 3}`);
  assert.equal(names.nameFor(`${SERVER_PREPARED}select 10000`), undefined);
  assert.equal(names.nameFor(`${SERVER_PREPARED}select 1`), a);
});
