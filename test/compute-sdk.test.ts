// The branch-per-PR flow through Neon's SDK (@neondatabase/api-client, unchanged; operations
// awaited as its users do) and through the exact request sequence of Neon's create-branch GitHub
// Action (neondatabase/create-branch-action, src/branch.ts: getOrCreateBranch, getConnectionInfo),
// against real computes, connecting with /usr/bin/psql (node:child_process, via helpers/compute.ts: a slow test).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createApiClient, EndpointType } from '@neondatabase/api-client';
import type { TestApp } from './helpers/app.ts';
import { buildComputeApp, psql, query } from './helpers/compute.ts';
import { createOrg, createOrgKey, createUser, type TestUser } from './helpers/factories.ts';
import { assertMatchesSpec } from './helpers/spec.ts';

type Client = ReturnType<typeof createApiClient>;
const rows = (uri: string) =>
  query(uri, "SELECT coalesce(string_agg(x::text, ',' ORDER BY x), '') FROM items");

/** Polls each operation until it leaves running (as SDK users wait); counted, never timed. */
async function awaitOperations(client: Client, projectId: string, ids: string[]): Promise<void> {
  for (const id of ids) {
    for (let polls = 0; ; polls++) {
      const { data } = await client.getProjectOperation(projectId, id);
      assertMatchesSpec('getProjectOperation', 200, data);
      const status: string = data.operation.status;
      if (status === 'finished') break;
      assert.notEqual(status, 'failed', JSON.stringify(data.operation));
      assert.ok(polls < 1000, `operation ${id} never finished`);
      await new Promise((r) => setImmediate(r));
    }
  }
}

describe('Neon’s SDK and create-branch action against real computes', { timeout: 1_800_000 }, () => {
  let t: TestApp;
  let dispose: () => Promise<void>;
  let admin: TestUser;
  let sdk: Client;
  let orgId: string;
  let projectId: string;
  let mainUri: string;
  let baseURL: string;

  before(async () => {
    ({ t, dispose } = await buildComputeApp());
    admin = await createUser(t.services, 'admin');
    orgId = (await createOrg(t.services, admin, 'SDK')).id;
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    baseURL = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/api/v2`;
    sdk = createApiClient({ apiKey: admin.token, baseURL });
    const res = await sdk.createProject({ project: { name: 'sdk', org_id: orgId } });
    assert.equal(res.status, 201);
    assertMatchesSpec('createProject', 201, res.data);
    projectId = res.data.project.id;
    await awaitOperations(
      sdk,
      projectId,
      res.data.operations.map((o) => o.id),
    );
    mainUri = res.data.connection_uris[0]?.connection_uri ?? '';
    await query(mainUri, 'CREATE TABLE items (x int); INSERT INTO items VALUES (1)');
  });
  after(async () => {
    await dispose();
  });

  test('SDK: branch with endpoint, restore, roles, databases, password reset, delete', async () => {
    const created = await sdk.createProjectBranch(projectId, {
      branch: { name: 'pr-sdk' },
      endpoints: [{ type: EndpointType.ReadWrite }],
    });
    assert.equal(created.status, 201);
    assertMatchesSpec('createProjectBranch', 201, created.data);
    await awaitOperations(
      sdk,
      projectId,
      created.data.operations.map((o) => o.id),
    );
    const branchId = created.data.branch.id;
    const prUri = created.data.connection_uris?.[0]?.connection_uri ?? '';
    assert.equal(await rows(prUri), '1');
    await query(prUri, 'INSERT INTO items VALUES (5)');
    await query(mainUri, 'INSERT INTO items VALUES (2)');
    assert.equal(await rows(mainUri), '1,2');
    assert.equal(await rows(prUri), '1,5');

    // Restore from the parent (what `branches reset --parent` sends).
    const restored = await sdk.restoreProjectBranch(projectId, branchId, {
      source_branch_id: created.data.branch.parent_id ?? '',
    });
    assertMatchesSpec('restoreProjectBranch', 200, restored.data);
    await awaitOperations(
      sdk,
      projectId,
      restored.data.operations.map((o) => o.id),
    );
    assert.equal(await rows(prUri), '1,2');
    // Point in time cannot be emulated: one clear 4xx.
    const pit = await sdk
      .restoreProjectBranch(projectId, branchId, {
        source_branch_id: created.data.branch.parent_id ?? '',
        source_timestamp: '2024-01-01T00:00:00Z',
      })
      .catch((e: { response: { status: number; data: { message: string } } }) => e.response);
    assert.equal(pit.status, 422);
    assert.match((pit.data as { message: string }).message, /point-in-time/);

    // A role and a database on the branch; the URI the API builds connects as them.
    const role = await sdk.createProjectBranchRole(projectId, branchId, { role: { name: 'bob' } });
    assertMatchesSpec('createProjectBranchRole', 201, role.data);
    const db = await sdk.createProjectBranchDatabase(projectId, branchId, {
      database: { name: 'bobdb', owner_name: 'bob' },
    });
    assertMatchesSpec('createProjectBranchDatabase', 201, db.data);
    const uri = await sdk.getConnectionUri({
      projectId,
      branch_id: branchId,
      database_name: 'bobdb',
      role_name: 'bob',
    });
    assert.equal(await query(uri.data.uri, "SELECT current_user || '@' || current_database()"), 'bob@bobdb');
    const revealed = await sdk.getProjectBranchRolePassword(projectId, branchId, 'bob');
    assert.equal(revealed.data.password, role.data.role.password);

    // Reset the password: the old string stops working, the new one works.
    const reset = await sdk.resetProjectBranchRolePassword(projectId, branchId, 'bob');
    assertMatchesSpec('resetProjectBranchRolePassword', 200, reset.data);
    const old = await psql(uri.data.uri, 'SELECT 1');
    assert.notEqual(old.code, 0);
    const fresh = new URL(uri.data.uri);
    fresh.password = reset.data.role.password ?? '';
    assert.equal(await query(fresh.href, 'SELECT 1'), '1');

    // The role owns a database: deleting it is refused until the database goes.
    const owning = await sdk
      .deleteProjectBranchRole(projectId, branchId, 'bob')
      .catch((e: { response: { status: number } }) => e.response);
    assert.equal(owning.status, 422);
    assertMatchesSpec(
      'deleteProjectBranchDatabase',
      200,
      (await sdk.deleteProjectBranchDatabase(projectId, branchId, 'bobdb')).data,
    );
    assertMatchesSpec(
      'deleteProjectBranchRole',
      200,
      (await sdk.deleteProjectBranchRole(projectId, branchId, 'bob')).data,
    );
    assert.notEqual((await psql(fresh.href, 'SELECT 1')).code, 0);

    // A project-scoped key of another project sees nothing here.
    const otherKey = await createOrgKey(
      t.services,
      orgId,
      admin,
      (await sdk.createProject({ project: { name: 'o', org_id: orgId } })).data.project.id,
    );
    const foreign = createApiClient({ apiKey: otherKey.token, baseURL });
    const denied = await foreign
      .getProjectBranchRolePassword(projectId, branchId, 'neondb_owner')
      .catch((e: { response: { status: number } }) => e.response);
    assert.ok(denied.status === 403 || denied.status === 404, String(denied.status));

    // Delete: its string stops working; listed operations all finished.
    const deleted = await sdk.deleteProjectBranch({ projectId, branchId });
    assertMatchesSpec('deleteProjectBranch', 200, deleted.data);
    assert.notEqual((await psql(prUri, 'SELECT 1')).code, 0);
    const ops = await sdk.listProjectOperations({ projectId, limit: 100 });
    assertMatchesSpec('listProjectOperations', 200, ops.data);
    for (const o of ops.data.operations) assert.equal(o.status, 'finished');
  });

  test('create-branch action: get-or-create, then its connection info connects', async () => {
    const action = async (branchName: string) => {
      // getOrCreateBranch → getBranch: search by name, limit 10000.
      const listed = await sdk.listProjectBranches({ projectId, search: branchName, limit: 10000 });
      assertMatchesSpec('listProjectBranches', 200, listed.data);
      let branch = listed.data.branches.find((b) => b.name === branchName || b.id === branchName);
      const createdNow = !branch;
      if (!branch) {
        const res = await sdk.createProjectBranch(projectId, {
          endpoints: [{ type: EndpointType.ReadWrite, suspend_timeout_seconds: 0 }],
          branch: { name: branchName, parent_id: undefined, init_source: undefined, expires_at: undefined },
          annotation_value: { 'github-repo': 'o/r', 'github-pr-number': '42' },
        });
        assertMatchesSpec('createProjectBranch', 201, res.data);
        branch = res.data.branch;
      }
      // getConnectionInfo
      const endpoints = await sdk.listProjectBranchEndpoints(projectId, branch.id);
      const endpoint = endpoints.data.endpoints.find(({ type }) => type === EndpointType.ReadWrite);
      assert.ok(endpoint);
      await sdk.getProjectBranchDatabase(projectId, branch.id, 'neondb');
      await sdk.getProjectBranchRole(projectId, branch.id, 'neondb_owner');
      const { password } = (await sdk.getProjectBranchRolePassword(projectId, branch.id, 'neondb_owner'))
        .data;
      const url = new URL(`postgresql://${endpoint.host}`);
      url.pathname = 'neondb';
      url.username = 'neondb_owner';
      url.password = password;
      url.searchParams.set('sslmode', 'require');
      return { url: url.toString(), createdNow };
    };
    const first = await action('preview/pr-42');
    assert.equal(first.createdNow, true);
    assert.equal(await rows(first.url), '1,2');
    const again = await action('preview/pr-42');
    assert.equal(again.createdNow, false);
    assert.equal(again.url, first.url);
  });
});
