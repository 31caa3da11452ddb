// Branch expiration against real computes: expires_at is validated as Neon does (400 unless in the
// future and at most 30 days ahead; never on a protected or the default branch or one with children,
// and an expiring branch is neither protected nor made the default nor a parent), and the server's expiry sweep deletes a branch
// whose time has passed, with its data directory and its endpoint, by an injected clock (moved,
// never waited on).
// Connects with /usr/bin/psql (node:child_process, via helpers/compute.ts: a slow test).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TestClock, type TestApp } from './helpers/app.ts';
import { buildComputeApp, psql, query } from './helpers/compute.ts';
import { createOrg, createUser, type TestUser } from './helpers/factories.ts';
import { assertMatchesSpec } from './helpers/spec.ts';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

describe('branch expiration (expires_at) against real computes', { timeout: 1_800_000 }, () => {
  const clock = new TestClock();
  let t: TestApp;
  let root: string;
  let dispose: () => Promise<void>;
  let admin: TestUser;
  let projectId: string;
  let mainId: string;

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) =>
    t.call(method, `/api/v2${url}`, { token: admin.token, ...(body === undefined ? {} : { body }) });
  const uriOf = async (branchId: string): Promise<string> => {
    const r = await call(
      'GET',
      `/projects/${projectId}/connection_uri?branch_id=${branchId}&database_name=neondb&role_name=neondb_owner`,
    );
    assert.equal(r.status, 200, r.text);
    return r.body.uri as string;
  };

  before(async () => {
    ({ t, root, dispose } = await buildComputeApp({ clock: clock.now }));
    admin = await createUser(t.services, 'admin');
    const orgId = (await createOrg(t.services, admin, 'Expiry')).id;
    const p = await call('POST', '/projects', { project: { name: 'expiry', org_id: orgId } });
    assert.equal(p.status, 201, p.text);
    projectId = p.body.project.id;
    mainId = p.body.branch.id;
    await query(await uriOf(p.body.branch.id), 'CREATE TABLE items (x int); INSERT INTO items VALUES (1)');
  });
  after(async () => {
    await dispose();
  });

  test('expires_at in the past or more than 30 days ahead: Neon’s 400, nothing made', async () => {
    for (const [expires, why] of [
      [clock.iso(-1000), /in the future/],
      [clock.iso(0), /in the future/],
      [clock.iso(30 * DAY + 60_000), /at most 30 days/],
    ] as const) {
      const r = await call('POST', `/projects/${projectId}/branches`, {
        branch: { name: 'refused', expires_at: expires },
      });
      assert.equal(r.status, 400, r.text);
      assertMatchesSpec('createProjectBranch', 400, r.body);
      assert.match(r.body.message, why);
    }
    const listed = await call('GET', `/projects/${projectId}/branches`);
    assert.ok(!listed.body.branches.some((b: { name: string }) => b.name === 'refused'));

    // Just inside the limit is accepted; the update checks the same rules; null clears it.
    const ok = await call('POST', `/projects/${projectId}/branches`, {
      branch: { name: 'long', expires_at: clock.iso(30 * DAY - 60_000) },
    });
    assert.equal(ok.status, 201, ok.text);
    assert.ok(ok.body.branch.expires_at);
    const id = ok.body.branch.id as string;
    for (const expires of [clock.iso(-1000), clock.iso(31 * DAY)]) {
      const r = await call('PATCH', `/projects/${projectId}/branches/${id}`, {
        branch: { expires_at: expires },
      });
      assert.equal(r.status, 400, r.text);
      assertMatchesSpec('updateProjectBranch', 400, r.body);
    }
    const cleared = await call('PATCH', `/projects/${projectId}/branches/${id}`, {
      branch: { expires_at: null },
    });
    assert.equal(cleared.status, 200, cleared.text);
    assert.equal(cleared.body.branch.expires_at, undefined);
    const gone = await call('DELETE', `/projects/${projectId}/branches/${id}`);
    assert.equal(gone.status, 200, gone.text);
  });

  test('protected and default branches cannot expire, nor can an expiring branch become either: Neon’s 400s', async () => {
    const refused = (
      r: { status: number; body: { code: string; message: string }; text: string },
      operationId: string,
      kind: 'Protected' | 'Default',
    ) => {
      assert.equal(r.status, 400, r.text);
      assertMatchesSpec(operationId, 400, r.body);
      assert.equal(r.body.code, `${kind.toUpperCase()}_BRANCH_EXPIRATION_NOT_ALLOWED`);
      assert.equal(r.body.message, `${kind} branch cannot have an expiration date`);
    };
    const branch = async (id: string) => {
      const r = await call('GET', `/projects/${projectId}/branches/${id}`);
      assert.equal(r.status, 200, r.text);
      return r.body.branch as { protected: boolean; default: boolean; expires_at?: string };
    };

    // The default branch: no expiration.
    refused(
      await call('PATCH', `/projects/${projectId}/branches/${mainId}`, {
        branch: { expires_at: clock.iso(HOUR) },
      }),
      'updateProjectBranch',
      'Default',
    );
    assert.equal((await branch(mainId)).expires_at, undefined);

    // A protected branch: not created with one, and nothing is made.
    refused(
      await call('POST', `/projects/${projectId}/branches`, {
        branch: { name: 'protected-expiring', protected: true, expires_at: clock.iso(HOUR) },
      }),
      'createProjectBranch',
      'Protected',
    );
    const listed = await call('GET', `/projects/${projectId}/branches`);
    assert.ok(!listed.body.branches.some((b: { name: string }) => b.name === 'protected-expiring'));

    // An expiring branch is neither protected nor made the default.
    const made = await call('POST', `/projects/${projectId}/branches`, {
      branch: { name: 'temp', expires_at: clock.iso(HOUR) },
    });
    assert.equal(made.status, 201, made.text);
    const id = made.body.branch.id as string;
    refused(
      await call('PATCH', `/projects/${projectId}/branches/${id}`, { branch: { protected: true } }),
      'updateProjectBranch',
      'Protected',
    );
    refused(
      await call('POST', `/projects/${projectId}/branches/${id}/set_as_default`),
      'setDefaultProjectBranch',
      'Default',
    );
    const unchanged = await branch(id);
    assert.equal(unchanged.protected, false);
    assert.equal(unchanged.default, false);
    assert.ok(unchanged.expires_at);
    assert.equal((await branch(mainId)).default, true);

    // Cleared and protected in one request is allowed; then it cannot expire again.
    const kept = await call('PATCH', `/projects/${projectId}/branches/${id}`, {
      branch: { protected: true, expires_at: null },
    });
    assert.equal(kept.status, 200, kept.text);
    assert.equal(kept.body.branch.protected, true);
    assert.equal(kept.body.branch.expires_at, undefined);
    refused(
      await call('PATCH', `/projects/${projectId}/branches/${id}`, {
        branch: { expires_at: clock.iso(HOUR) },
      }),
      'updateProjectBranch',
      'Protected',
    );
    // Unprotected, it may expire again.
    const again = await call('PATCH', `/projects/${projectId}/branches/${id}`, {
      branch: { protected: false, expires_at: clock.iso(HOUR) },
    });
    assert.equal(again.status, 200, again.text);
    assert.ok(again.body.branch.expires_at);
    const gone = await call('DELETE', `/projects/${projectId}/branches/${id}`);
    assert.equal(gone.status, 200, gone.text);
  });

  test('a branch with children cannot expire, nor can an expiring branch get children: 400, nothing made', async () => {
    const create = (name: string, extra: Record<string, unknown> = {}) =>
      call('POST', `/projects/${projectId}/branches`, { branch: { name, ...extra } });
    const refusedAs = (
      r: { status: number; body: { code: string; message: string }; text: string },
      operationId: string,
      message: RegExp,
    ) => {
      assert.equal(r.status, 400, r.text);
      assertMatchesSpec(operationId, 400, r.body);
      assert.equal(r.body.code, 'PARENT_BRANCH_EXPIRATION_NOT_ALLOWED');
      assert.match(r.body.message, message);
    };

    const parent = await create('has-child');
    assert.equal(parent.status, 201, parent.text);
    const parentId = parent.body.branch.id as string;
    const child = await create('the-child', { parent_id: parentId });
    assert.equal(child.status, 201, child.text);
    const childId = child.body.branch.id as string;

    refusedAs(
      await call('PATCH', `/projects/${projectId}/branches/${parentId}`, {
        branch: { expires_at: clock.iso(HOUR) },
      }),
      'updateProjectBranch',
      /child branches cannot have an expiration/,
    );
    const kept = await call('GET', `/projects/${projectId}/branches/${parentId}`);
    assert.equal(kept.body.branch.expires_at, undefined);

    // The child itself has none: it may expire. Then it cannot become a parent.
    const expiring = await call('PATCH', `/projects/${projectId}/branches/${childId}`, {
      branch: { expires_at: clock.iso(HOUR) },
    });
    assert.equal(expiring.status, 200, expiring.text);
    refusedAs(
      await create('grandchild', { parent_id: childId }),
      'createProjectBranch',
      /child of a branch that has an expiration/,
    );
    const listed = await call('GET', `/projects/${projectId}/branches`);
    assert.ok(!listed.body.branches.some((b: { name: string }) => b.name === 'grandchild'));

    // Without its child the parent may expire.
    assert.equal((await call('DELETE', `/projects/${projectId}/branches/${childId}`)).status, 200);
    const now = await call('PATCH', `/projects/${projectId}/branches/${parentId}`, {
      branch: { expires_at: clock.iso(HOUR) },
    });
    assert.equal(now.status, 200, now.text);
    assert.ok(now.body.branch.expires_at);
    assert.equal((await call('DELETE', `/projects/${projectId}/branches/${parentId}`)).status, 200);
  });

  test('an expiration and a new child racing on one branch: never both', async () => {
    for (let round = 0; round < 3; round++) {
      const parent = await call('POST', `/projects/${projectId}/branches`, {
        branch: { name: `race-${round}` },
      });
      assert.equal(parent.status, 201, parent.text);
      const parentId = parent.body.branch.id as string;
      const [expire, child] = await Promise.all([
        call('PATCH', `/projects/${projectId}/branches/${parentId}`, {
          branch: { expires_at: clock.iso(HOUR) },
        }),
        call('POST', `/projects/${projectId}/branches`, {
          branch: { name: `race-child-${round}`, parent_id: parentId },
        }),
      ]);
      // One wins; the other is refused by the rule (400) or, for the child, by the busy project (423).
      assert.ok(!(expire.status === 200 && child.status === 201), `${expire.text} / ${child.text}`);
      assert.ok(expire.status === 200 || child.status === 201, `${expire.text} / ${child.text}`);
      const after = await call('GET', `/projects/${projectId}/branches/${parentId}`);
      const children = (await call('GET', `/projects/${projectId}/branches`)).body.branches.filter(
        (b: { parent_id?: string }) => b.parent_id === parentId,
      ) as Array<{ id: string }>;
      assert.ok(after.body.branch.expires_at === undefined || children.length === 0);
      for (const c of children) {
        assert.equal((await call('DELETE', `/projects/${projectId}/branches/${c.id}`)).status, 200);
      }
      assert.equal((await call('DELETE', `/projects/${projectId}/branches/${parentId}`)).status, 200);
    }
  });

  test('a branch past its expires_at is deleted by the sweep, with its data and endpoint', async () => {
    const made = await call('POST', `/projects/${projectId}/branches`, {
      branch: { name: 'pr-expiring', expires_at: clock.iso(HOUR) },
      endpoints: [{ type: 'read_write' }],
    });
    assert.equal(made.status, 201, made.text);
    const id = made.body.branch.id as string;
    assert.equal(made.body.branch.ttl_interval_seconds, 3600);
    const uri = await uriOf(id);
    assert.equal(await query(uri, 'SELECT count(*) FROM items'), '1');
    const dataDir = path.join(root, 'compute', 'branches', id);
    assert.ok(fs.existsSync(dataDir));
    const sweep = () => {
      const branches = t.services.branches;
      assert.ok(branches);
      return branches.deleteExpired((branch, err) => assert.fail(`${branch}: ${String(err)}`));
    };

    // Not yet: an hour less a minute later it is still there.
    clock.advance(HOUR - 60_000);
    assert.deepEqual(await sweep(), []);
    assert.equal((await call('GET', `/projects/${projectId}/branches/${id}`)).status, 200);

    // Past it: gone, as a DELETE would (records, data directory, endpoint), and only it.
    clock.advance(2 * 60_000);
    assert.deepEqual(await sweep(), [id]);
    assert.equal((await call('GET', `/projects/${projectId}/branches/${id}`)).status, 404);
    assert.equal(fs.existsSync(dataDir), false, 'the data directory is deleted');
    assert.notEqual((await psql(uri, 'SELECT 1')).code, 0, 'the endpoint stopped answering');
    const ops = await call('GET', `/projects/${projectId}/operations`);
    assert.ok(
      ops.body.operations.some(
        (o: { branch_id: string; action: string; status: string }) =>
          o.branch_id === id && o.action === 'delete_timeline' && o.status === 'finished',
      ),
    );
    const listed = await call('GET', `/projects/${projectId}/branches`);
    assert.deepEqual(
      listed.body.branches.map((b: { name: string }) => b.name),
      ['main'],
    );
    assert.deepEqual(await sweep(), []);
  });
});
