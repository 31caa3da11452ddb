// The records a restore with preserve_under_name and a set_as_default write, against real computes
// (connects with /usr/bin/psql: node:child_process, via helpers/compute.ts; a slow test): the
// preserved state (a branch without an endpoint, as on Neon) adopts the restored branch's children;
// the project row names the new default branch.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestApp } from './helpers/app.ts';
import { buildComputeApp, query } from './helpers/compute.ts';
import { createOrg, createUser, type TestUser } from './helpers/factories.ts';

const rowsSql = "SELECT coalesce(string_agg(x::text, ',' ORDER BY x), '') FROM items";

describe('restore with preserve_under_name and set_as_default', { timeout: 1_800_000 }, () => {
  let t: TestApp;
  let dispose: () => Promise<void>;
  let admin: TestUser;
  let projectId: string;
  let mainId: string;

  const call = (method: 'GET' | 'POST', url: string, body?: unknown) =>
    t.call(method, `/api/v2${url}`, { token: admin.token, ...(body === undefined ? {} : { body }) });
  const uriOf = async (branchId: string): Promise<string> => {
    const r = await call(
      'GET',
      `/projects/${projectId}/connection_uri?branch_id=${branchId}&database_name=neondb&role_name=neondb_owner`,
    );
    assert.equal(r.status, 200, r.text);
    return r.body.uri as string;
  };
  const branch = async (name: string, parentId: string): Promise<string> => {
    const r = await call('POST', `/projects/${projectId}/branches`, {
      branch: { name, parent_id: parentId },
      endpoints: [{ type: 'read_write' }],
    });
    assert.equal(r.status, 201, r.text);
    return r.body.branch.id as string;
  };

  before(async () => {
    ({ t, dispose } = await buildComputeApp());
    admin = await createUser(t.services, 'admin');
    const orgId = (await createOrg(t.services, admin, 'Records')).id;
    const p = await call('POST', '/projects', { project: { name: 'records', org_id: orgId } });
    assert.equal(p.status, 201, p.text);
    projectId = p.body.project.id;
    mainId = p.body.branch.id;
    await query(await uriOf(mainId), 'CREATE TABLE items (x int); INSERT INTO items VALUES (1)');
  });
  after(async () => {
    await dispose();
  });

  test('the preserved state adopts the children; the project row names the new default', async () => {
    const child = await branch('child', mainId);
    await query(await uriOf(child), 'INSERT INTO items VALUES (2)');
    const grandchild = await branch('grandchild', child);
    await query(await uriOf(mainId), 'INSERT INTO items VALUES (3)');

    const restored = await call('POST', `/projects/${projectId}/branches/${child}/restore`, {
      source_branch_id: mainId,
      preserve_under_name: 'child-old',
    });
    assert.equal(restored.status, 200, restored.text);
    const listed = await call('GET', `/projects/${projectId}/branches`);
    const byName = new Map(
      (listed.body.branches as { id: string; name: string; parent_id?: string }[]).map((b) => [b.name, b]),
    );
    const old = byName.get('child-old');
    assert.ok(old);
    assert.equal(byName.get('grandchild')?.parent_id, old.id, 'the children moved to the preserved state');
    assert.equal(byName.get('child')?.parent_id, mainId);
    assert.equal(await query(await uriOf(child), rowsSql), '1,3');
    assert.equal(await query(await uriOf(grandchild), rowsSql), '1,2');

    const set = await call('POST', `/projects/${projectId}/branches/${child}/set_as_default`);
    assert.equal(set.status, 200, set.text);
    const row = await t.db.kysely
      .selectFrom('projects')
      .select(['branch_id', 'branch_name'])
      .where('id', '=', projectId)
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, { branch_id: child, branch_name: 'child' });
    const again = await call('GET', `/projects/${projectId}/branches`);
    const defaults = (again.body.branches as { name: string; default: boolean }[]).filter((b) => b.default);
    assert.deepEqual(
      defaults.map((b) => b.name),
      ['child'],
    );
  });
});
