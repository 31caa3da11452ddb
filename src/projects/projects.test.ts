import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createApiClient } from '@neondatabase/api-client';
import { buildTestApp, type TestApp } from '../../test/helpers/app.ts';
import {
  addMember,
  buildWorld,
  createOrg,
  createOrgKey,
  createProjects,
  createUser,
  type World,
} from '../../test/helpers/factories.ts';
import { assertMatchesSpec } from '../../test/helpers/spec.ts';
import { MESSAGES } from '../domain/errors.ts';

const ID = /^[a-z]+-[a-z]+-\d{8}$/;

describe('projects', () => {
  let t: TestApp;
  let w: World;
  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
  });
  after(() => t.close());

  test('GET /projects with a personal key needs org_id, with the exact message neonctl matches', async () => {
    const res = await t.call('GET', '/api/v2/projects', { token: w.admin.token });
    assert.equal(res.status, 400);
    assertMatchesSpec('listProjects', res.status, res.body);
    assert.equal(res.body.message, MESSAGES.orgIdRequired);
    assert.equal(res.body.message, 'org_id is required, you can find it on your organization settings page');
    const create = await t.call('POST', '/api/v2/projects', { token: w.admin.token, body: { project: {} } });
    assert.equal(create.status, 400);
    assertMatchesSpec('createProject', create.status, create.body);
    assert.equal(create.body.message, MESSAGES.orgIdRequired);
  });

  test('GET /projects: personal key with org_id, org key without; maps present; project key sees its project only', async () => {
    const byAdmin = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}`, { token: w.admin.token });
    assert.equal(byAdmin.status, 200);
    assertMatchesSpec('listProjects', byAdmin.status, byAdmin.body);
    assert.deepEqual(
      byAdmin.body.projects.map((p: { id: string }) => p.id).sort(),
      [w.projectA1, w.projectA2].sort(),
    );
    assert.deepEqual(byAdmin.body.applications, {});
    assert.deepEqual(byAdmin.body.integrations, {});
    assert.equal(byAdmin.body.projects[0].org_id, w.orgA.id);
    assert.equal(byAdmin.body.projects[0].org_name, 'Org A');

    const byOrgKey = await t.call('GET', '/api/v2/projects', { token: w.orgKeyA.token });
    assert.equal(byOrgKey.status, 200);
    assertMatchesSpec('listProjects', byOrgKey.status, byOrgKey.body);
    assert.equal(byOrgKey.body.projects.length, 2);

    const byProjectKey = await t.call('GET', '/api/v2/projects', { token: w.projectKeyA1.token });
    assert.equal(byProjectKey.status, 200);
    assertMatchesSpec('listProjects', byProjectKey.status, byProjectKey.body);
    assert.deepEqual(
      byProjectKey.body.projects.map((p: { id: string }) => p.id),
      [w.projectA1],
    );

    for (const [token, org] of [
      [w.outsider.token, w.orgA.id],
      [w.orgKeyB.token, w.orgA.id],
      [w.projectKeyA1.token, w.orgB.id],
      [w.removed.token, w.orgA.id],
    ] as const) {
      const denied = await t.call('GET', `/api/v2/projects?org_id=${org}`, { token });
      assert.equal(denied.status, 404, `${token.slice(0, 8)} on ${org}`);
      assertMatchesSpec('listProjects', denied.status, denied.body);
    }
    assert.equal(
      (await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}`, { token: w.revokedToken })).status,
      401,
    );
  });

  test('limit is 1–400 (default 10); search matches name or id; bad cursor is 400', async () => {
    for (const bad of ['0', '401', 'abc']) {
      const res = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}&limit=${bad}`, {
        token: w.admin.token,
      });
      assert.equal(res.status, 400, `limit=${bad}`);
      assertMatchesSpec('listProjects', res.status, res.body);
      assert.match(res.body.message, /limit/);
    }
    const byName = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}&search=A2`, {
      token: w.admin.token,
    });
    assert.deepEqual(
      byName.body.projects.map((p: { id: string }) => p.id),
      [w.projectA2],
    );
    const byId = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}&search=${w.projectA1.slice(-8)}`, {
      token: w.admin.token,
    });
    assert.deepEqual(
      byId.body.projects.map((p: { id: string }) => p.id),
      [w.projectA1],
    );
    const wildcard = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}&search=%25`, {
      token: w.admin.token,
    });
    assert.equal(wildcard.body.projects.length, 0, '% is a literal, not a wildcard');
    const cursor = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}&cursor=no-such-project`, {
      token: w.admin.token,
    });
    assert.equal(cursor.status, 400);
    assertMatchesSpec('listProjects', cursor.status, cursor.body);
  });

  test('POST /projects → 201 CreatedProject; GET answers it; operations are finished and pollable', async () => {
    const res = await t.call('POST', '/api/v2/projects', {
      token: w.member.token,
      body: {
        project: {
          name: 'made',
          org_id: w.orgA.id,
          region_id: 'aws-eu-central-1',
          pg_version: 16,
          branch: {},
        },
      },
    });
    assert.equal(res.status, 201);
    assertMatchesSpec('createProject', res.status, res.body);
    const p = res.body.project;
    assert.match(p.id, ID);
    assert.equal(p.org_id, w.orgA.id);
    assert.equal(p.owner_id, w.member.id);
    assert.equal(p.region_id, 'aws-eu-central-1');
    assert.equal(p.platform_id, 'aws');
    assert.equal(p.proxy_host, 'eu-central-1.aws.neon.tech');
    assert.equal(p.pg_version, 16);
    assert.equal(res.body.branch.project_id, p.id);
    assert.equal(res.body.endpoints[0].branch_id, res.body.branch.id);
    assert.match(
      res.body.connection_uris[0].connection_uri,
      /^postgresql:\/\/neondb_owner:npg_\w+@ep-[a-z]+-[a-z]+-[a-z0-9]{8}\.eu-central-1\.aws\.neon\.tech\/neondb\?sslmode=require&channel_binding=require$/,
    );
    assert.equal(res.body.operations.length, 2);
    for (const op of res.body.operations) {
      assert.equal(op.status, 'finished');
      const got = await t.call('GET', `/api/v2/projects/${p.id}/operations/${op.id}`, {
        token: w.member.token,
      });
      assert.equal(got.status, 200);
      assertMatchesSpec('getProjectOperation', got.status, got.body);
      assert.equal(got.body.operation.status, 'finished');
    }
    const otherOp = await t.call(
      'GET',
      `/api/v2/projects/${w.projectA1}/operations/${res.body.operations[0].id}`,
      {
        token: w.member.token,
      },
    );
    assert.equal(otherOp.status, 404, 'an operation is found only under its own project');
    assertMatchesSpec('getProjectOperation', otherOp.status, otherOp.body);

    const get = await t.call('GET', `/api/v2/projects/${p.id}`, { token: w.orgKeyA.token });
    assert.equal(get.status, 200);
    assertMatchesSpec('getProject', get.status, get.body);
    assert.equal(get.body.project.name, 'made');

    const byOrgKey = await t.call('POST', '/api/v2/projects', {
      token: w.orgKeyA.token,
      body: { project: {} },
    });
    assert.equal(byOrgKey.status, 201);
    assertMatchesSpec('createProject', byOrgKey.status, byOrgKey.body);
    assert.equal(byOrgKey.body.project.org_id, w.orgA.id);
    assert.equal(byOrgKey.body.project.name, byOrgKey.body.project.id, 'the default name is the id');
    assert.equal(byOrgKey.body.project.owner_id, w.admin.id, 'owned by the key creator');
  });

  test('bad create input is a 400 naming the field', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ project: { org_id: w.orgA.id, region_id: 'mars-1' } }, /region_id/],
      [{ project: { org_id: w.orgA.id, pg_version: 13 } }, /pg_version/],
      [{ project: { org_id: w.orgA.id, name: '' } }, /name/],
      [{ project: { org_id: w.orgA.id, history_retention_seconds: 2592001 } }, /history_retention_seconds/],
      [
        {
          project: {
            org_id: w.orgA.id,
            default_endpoint_settings: { autoscaling_limit_min_cu: 4, autoscaling_limit_max_cu: 1 },
          },
        },
        /autoscaling_limit_min_cu/,
      ],
      [{}, /project/],
    ];
    for (const [body, re] of cases) {
      const res = await t.call('POST', '/api/v2/projects', { token: w.admin.token, body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assertMatchesSpec('createProject', res.status, res.body);
      assert.match(res.body.message, re);
    }
  });

  test('who may create: members and admins and org keys; not project keys; outsiders 404', async () => {
    const pk = await t.call('POST', '/api/v2/projects', {
      token: w.projectKeyA1.token,
      body: { project: {} },
    });
    assert.equal(pk.status, 403);
    assertMatchesSpec('createProject', pk.status, pk.body);
    assert.match(pk.body.message, /project-scoped/);
    const outsider = await t.call('POST', '/api/v2/projects', {
      token: w.outsider.token,
      body: { project: { org_id: w.orgA.id } },
    });
    assert.equal(outsider.status, 404);
    const foreignKey = await t.call('POST', '/api/v2/projects', {
      token: w.orgKeyB.token,
      body: { project: { org_id: w.orgA.id } },
    });
    assert.equal(foreignKey.status, 404);
  });

  test('PATCH updates name, settings (merged), default endpoint settings and history retention', async () => {
    const res = await t.call('PATCH', `/api/v2/projects/${w.projectA2}`, {
      token: w.member.token,
      body: {
        project: {
          name: 'renamed',
          settings: { allowed_ips: { ips: ['203.0.113.0/24'] }, enable_logical_replication: true },
          default_endpoint_settings: {
            autoscaling_limit_min_cu: 0.5,
            autoscaling_limit_max_cu: 4,
            suspend_timeout_seconds: 300,
          },
          history_retention_seconds: 3600,
        },
      },
    });
    assert.equal(res.status, 200);
    assertMatchesSpec('updateProject', res.status, res.body);
    assert.deepEqual(res.body.operations, []);
    assert.equal(res.body.project.name, 'renamed');
    assert.equal(res.body.project.history_retention_seconds, 3600);
    const again = await t.call('PATCH', `/api/v2/projects/${w.projectA2}`, {
      token: w.orgKeyA.token,
      body: { project: { settings: { block_public_connections: true } } },
    });
    assert.equal(again.status, 200);
    assertMatchesSpec('updateProject', again.status, again.body);
    const got = await t.call('GET', `/api/v2/projects/${w.projectA2}`, { token: w.admin.token });
    assert.deepEqual(got.body.project.settings, {
      allowed_ips: { ips: ['203.0.113.0/24'] },
      enable_logical_replication: true,
      block_public_connections: true,
    });
    assert.equal(got.body.project.default_endpoint_settings.suspend_timeout_seconds, 300);
    assert.equal(got.body.project.name, 'renamed');
    const bad = await t.call('PATCH', `/api/v2/projects/${w.projectA2}`, {
      token: w.admin.token,
      body: { project: { settings: { audit_log_level: 'loud' } } },
    });
    assert.equal(bad.status, 400);
    assertMatchesSpec('updateProject', bad.status, bad.body);
    assert.match(bad.body.message, /audit_log_level/);
  });

  test('project-scoped keys: own project readable and updatable, not deletable; every other project 404', async () => {
    const own = await t.call('GET', `/api/v2/projects/${w.projectA1}`, { token: w.projectKeyA1.token });
    assert.equal(own.status, 200);
    assertMatchesSpec('getProject', own.status, own.body);
    const patch = await t.call('PATCH', `/api/v2/projects/${w.projectA1}`, {
      token: w.projectKeyA1.token,
      body: { project: { name: 'by-key' } },
    });
    assert.equal(patch.status, 200);
    assertMatchesSpec('updateProject', patch.status, patch.body);
    const del = await t.call('DELETE', `/api/v2/projects/${w.projectA1}`, { token: w.projectKeyA1.token });
    assert.equal(del.status, 403);
    assertMatchesSpec('deleteProject', del.status, del.body);
    assert.match(del.body.message, /project-scoped/);
    for (const [method, url] of [
      ['GET', `/api/v2/projects/${w.projectA2}`],
      ['PATCH', `/api/v2/projects/${w.projectA2}`],
      ['DELETE', `/api/v2/projects/${w.projectA2}`],
      ['POST', `/api/v2/projects/${w.projectA2}/recover`],
      ['GET', `/api/v2/projects/${w.projectB1}`],
    ] as const) {
      const res = await t.call(method, url, {
        token: w.projectKeyA1.token,
        ...(method === 'PATCH' ? { body: { project: { name: 'x' } } } : {}),
      });
      assert.equal(res.status, 404, `${method} ${url}`);
    }
  });

  test('outsiders and other organizations get 404 on every project operation', async () => {
    for (const token of [w.outsider.token, w.orgKeyB.token, w.removed.token]) {
      for (const [method, op] of [
        ['GET', 'getProject'],
        ['PATCH', 'updateProject'],
        ['DELETE', 'deleteProject'],
      ] as const) {
        const res = await t.call(method, `/api/v2/projects/${w.projectA1}`, {
          token,
          ...(method === 'PATCH' ? { body: { project: { name: 'x' } } } : {}),
        });
        assert.equal(res.status, 404, `${method} with ${token.slice(0, 9)}`);
        assertMatchesSpec(op, res.status, res.body);
      }
    }
    const missing = await t.call('GET', '/api/v2/projects/no-such-project-12345678', {
      token: w.admin.token,
    });
    assert.equal(missing.status, 404);
    assertMatchesSpec('getProject', missing.status, missing.body);
  });

  test('DELETE: members 403; admins soft-delete; recoverable list; recover within 7 days; not after', async () => {
    const [p, old] = await createProjects(t.services, w.orgA.id, w.admin.id, 2);
    const byMember = await t.call('DELETE', `/api/v2/projects/${p}`, { token: w.member.token });
    assert.equal(byMember.status, 403);
    assertMatchesSpec('deleteProject', byMember.status, byMember.body);
    const del = await t.call('DELETE', `/api/v2/projects/${p}`, { token: w.admin.token });
    assert.equal(del.status, 200);
    assertMatchesSpec('deleteProject', del.status, del.body);
    assert.equal(del.body.project.id, p);
    const again = await t.call('DELETE', `/api/v2/projects/${p}`, { token: w.orgKeyA.token });
    assert.equal(again.status, 200, 'deleting a deleted project answers it again');
    assertMatchesSpec('deleteProject', again.status, again.body);
    assert.equal((await t.call('GET', `/api/v2/projects/${p}`, { token: w.admin.token })).status, 404);

    const live = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}&limit=400`, {
      token: w.admin.token,
    });
    assert.ok(!live.body.projects.some((x: { id: string }) => x.id === p));
    const rec = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}&recoverable=true`, {
      token: w.admin.token,
    });
    assert.equal(rec.status, 200);
    assertMatchesSpec('listProjects', rec.status, rec.body);
    const item = rec.body.projects.find((x: { id: string }) => x.id === p);
    assert.ok(item?.deleted_at && item.recoverable_until);
    assert.equal(Date.parse(item.recoverable_until) - Date.parse(item.deleted_at), 7 * 24 * 3600_000);

    const recoverByMember = await t.call('POST', `/api/v2/projects/${p}/recover`, { token: w.member.token });
    assert.equal(recoverByMember.status, 403);
    assertMatchesSpec('recoverProject', recoverByMember.status, recoverByMember.body);
    const recovered = await t.call('POST', `/api/v2/projects/${p}/recover`, { token: w.admin.token });
    assert.equal(recovered.status, 200);
    assertMatchesSpec('recoverProject', recovered.status, recovered.body);
    assert.equal(recovered.body.branches.length, 1);
    assert.equal((await t.call('GET', `/api/v2/projects/${p}`, { token: w.admin.token })).status, 200);
    const notDeleted = await t.call('POST', `/api/v2/projects/${p}/recover`, { token: w.admin.token });
    assert.equal(notDeleted.status, 400);
    assertMatchesSpec('recoverProject', notDeleted.status, notDeleted.body);

    // Deleted 8 days ago: past the window.
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600_000).toISOString();
    await t.db.kysely
      .updateTable('projects')
      .set({ deleted_at: eightDaysAgo })
      .where('id', '=', old ?? '')
      .execute();
    const late = await t.call('POST', `/api/v2/projects/${old}/recover`, { token: w.orgKeyA.token });
    assert.equal(late.status, 410);
    assertMatchesSpec('recoverProject', late.status, late.body);
    const rec2 = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}&recoverable=true`, {
      token: w.admin.token,
    });
    assert.ok(
      !rec2.body.projects.some((x: { id: string }) => x.id === old),
      'outside the window: not listed',
    );
  });

  test('plan limits: creating beyond the limit fails clearly; the limit is per plan', async () => {
    const s = t.services;
    const limited = await buildTestApp({ projectLimits: { ...t.config.projectLimits, free: 2 } });
    try {
      const u = await createUser(limited.services, 'lim');
      const org = await createOrg(limited.services, u, 'Small', 'free');
      await createProjects(limited.services, org.id, u.id, 2);
      const res = await limited.call('POST', '/api/v2/projects', {
        token: u.token,
        body: { project: { org_id: org.id } },
      });
      assert.equal(res.status, 422);
      assertMatchesSpec('createProject', res.status, res.body);
      assert.match(res.body.message, /project limit reached: .* 2 of 2 projects allowed on the free plan/);
      await limited.services.organizations.setPlan(org.id, 'launch');
      const ok = await limited.call('POST', '/api/v2/projects', {
        token: u.token,
        body: { project: { org_id: org.id } },
      });
      assert.equal(ok.status, 201);
    } finally {
      await limited.close();
    }
    assert.ok(s);
  });

  test('paging as neonctl does it (limit=100, stop on a short page) yields every project once', async () => {
    for (const n of [0, 99, 100, 101, 250]) {
      const u = await createUser(t.services, `pager${n}`);
      const org = await createOrg(t.services, u, `Pager ${n}`, 'scale');
      const ids = await createProjects(t.services, org.id, u.id, n);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let round = 0; round < 10; round++) {
        const res = await t.call(
          'GET',
          `/api/v2/projects?limit=100&org_id=${org.id}${cursor ? `&cursor=${cursor}` : ''}`,
          { token: u.token },
        );
        assert.equal(res.status, 200);
        assertMatchesSpec('listProjects', res.status, res.body);
        seen.push(...res.body.projects.map((p: { id: string }) => p.id));
        if (res.body.projects.length === 100)
          assert.ok(res.body.pagination?.cursor, 'never a full page without a cursor');
        if (res.body.projects.length === 0) {
          assert.deepEqual(Object.keys(res.body).sort(), ['applications', 'integrations', 'projects']);
        }
        cursor = res.body.pagination?.cursor;
        if (res.body.projects.length < 100) break;
      }
      assert.equal(seen.length, n, `n=${n}`);
      assert.deepEqual([...seen].sort(), [...ids].sort(), `n=${n}`);
      // The SDK's way (stop on an empty page) and a page past the end.
      if (n > 0) {
        const last = await t.call(
          'GET',
          `/api/v2/projects?limit=400&org_id=${org.id}&cursor=${seen[seen.length - 1]}`,
          {
            token: u.token,
          },
        );
        assert.deepEqual(last.body, { projects: [], applications: {}, integrations: {} });
        assertMatchesSpec('listProjects', last.status, last.body);
      }
    }
  });

  test('integrations recorded by the operator appear in the list maps', async () => {
    const [p] = await createProjects(t.services, w.orgA.id, w.admin.id, 1);
    await t.services.projects.setIntegration(p ?? '', 'github', true);
    const res = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}&search=${p}`, {
      token: w.admin.token,
    });
    assertMatchesSpec('listProjects', res.status, res.body);
    assert.deepEqual(res.body.integrations, { [p ?? '']: ['github'] });
    assert.deepEqual(res.body.applications, { [p ?? '']: ['github'] });
    await assert.rejects(
      t.services.projects.setIntegration(p ?? '', 'gitlab', true),
      /integration must be one of/,
    );
    assert.deepEqual(await t.services.projects.setIntegration(p ?? '', 'github', false), []);
  });

  test("Neon's SDK: list, create (polling its operations), get, update, delete, recover", async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const baseURL = `http://127.0.0.1:${port}/api/v2`;
    const api = createApiClient({ apiKey: w.admin.token, baseURL });
    const created = await api.createProject({ project: { name: 'sdk', org_id: w.orgA.id } });
    assert.equal(created.status, 201);
    assertMatchesSpec('createProject', created.status, created.data);
    const id = created.data.project.id;
    for (const op of created.data.operations) {
      const r = await api.getProjectOperation(id, op.id);
      assert.equal(r.data.operation.status, 'finished');
    }
    const list = await api.listProjects({ org_id: w.orgA.id, limit: 400, search: 'sdk' });
    assertMatchesSpec('listProjects', list.status, list.data);
    assert.ok(list.data.projects.some((p) => p.id === id));
    const got = await api.getProject(id);
    assertMatchesSpec('getProject', got.status, got.data);
    const upd = await api.updateProject(id, { project: { name: 'sdk2' } });
    assertMatchesSpec('updateProject', upd.status, upd.data);
    assert.equal(upd.data.project.name, 'sdk2');
    const orgApi = createApiClient({ apiKey: w.orgKeyA.token, baseURL });
    const del = await orgApi.deleteProject(id);
    assertMatchesSpec('deleteProject', del.status, del.data);
    const rec = await orgApi.recoverProject(id);
    assertMatchesSpec('recoverProject', rec.status, rec.data);
    const missingOrg = await api
      .listProjects({})
      .catch((e: { response: { status: number; data: unknown } }) => e.response);
    assert.equal(missingOrg.status, 400);
    assertMatchesSpec('listProjects', missingOrg.status, missingOrg.data);
  });

  test('members of the organization may list and create; org projects of another org stay invisible', async () => {
    const u = await createUser(t.services, 'late');
    await addMember(t.services, w.orgA.id, u, 'member');
    const res = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}`, { token: u.token });
    assert.equal(res.status, 200);
    const key = await createOrgKey(t.services, w.orgA.id, w.admin, w.projectA2);
    const got = await t.call('GET', `/api/v2/projects/${w.projectA2}`, { token: key.token });
    assert.equal(got.status, 200);
  });
});
