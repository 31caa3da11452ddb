// Prepared (compiled-once) queries answer with each call's own arguments, per shape, on both databases.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../../test/helpers/app.ts';
import { createOrg, createUser } from '../../test/helpers/factories.ts';
import { preparedQuery } from './prepared.ts';

let t: TestApp;
before(async () => {
  t = await buildTestApp();
});
after(() => t.close());

const orgById = preparedQuery((db, shape, id: string) =>
  db
    .selectFrom('organizations')
    .select(['id', 'name'])
    .where('id', '=', id)
    .orderBy('id', shape === 'asc' ? 'asc' : 'desc'),
);

test('each call binds its own arguments; shapes are compiled separately', async () => {
  const u = await createUser(t.services, 'u');
  const a = await createOrg(t.services, u, 'A');
  const b = await createOrg(t.services, u, 'B');
  for (const shape of ['asc', 'desc']) {
    assert.deepEqual(await orgById(t.db.kysely, shape, a.id), [{ id: a.id, name: 'A' }]);
    assert.deepEqual(await orgById(t.db.kysely, shape, b.id), [{ id: b.id, name: 'B' }]);
    assert.deepEqual(await orgById(t.db.kysely, shape, 'org-none'), []);
  }
  // Inside a transaction it runs on the transaction's connection and sees its uncommitted rows.
  await t.db.kysely.transaction().execute(async (trx) => {
    await trx.updateTable('organizations').set({ name: 'A2' }).where('id', '=', a.id).execute();
    assert.deepEqual(await orgById(trx, 'asc', a.id), [{ id: a.id, name: 'A2' }]);
  });
});

test('an argument that does not reach the SQL is refused', async () => {
  const bad = preparedQuery((db, _shape, id: string) =>
    db.selectFrom('organizations').select('id').where('id', '=', `${id}x`),
  );
  await assert.rejects(bad(t.db.kysely, '', 'org-1'), /does not reach the SQL/);
});
