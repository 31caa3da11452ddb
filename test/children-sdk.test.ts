// Neon's SDK (@neondatabase/api-client), unchanged, on a project's read-only children, the
// connection URI, the write refusals, GET /users/me with keys, and project transfer requests.
// Every response is validated against Neon's spec.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createApiClient } from '@neondatabase/api-client';
import { AuditContext } from '../src/audit/audit.ts';
import { buildTestApp, type TestApp } from './helpers/app.ts';
import {
  addMember,
  buildWorld,
  createOrg,
  createOrgKey,
  createUser,
  createUserWithPassword,
  type World,
} from './helpers/factories.ts';
import { signIn, withSession } from './helpers/console.ts';
import { sdkFailure } from './helpers/sdk.ts';
import { assertMatchesSpec } from './helpers/spec.ts';

type Client = ReturnType<typeof createApiClient>;

describe("a project's children through Neon's SDK", () => {
  let t: TestApp;
  let w: World;
  let baseURL: string;
  let admin: Client;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the create response, compared field by field
  let created: any;

  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    baseURL = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/api/v2`;
    admin = createApiClient({ apiKey: w.admin.token, baseURL });
    const res = await admin.createProject({ project: { name: 'children', org_id: w.orgA.id } });
    assert.equal(res.status, 201);
    assertMatchesSpec('createProject', res.status, res.data);
    created = res.data;
  });
  after(() => t.close());

  test('branches: list (annotations, pagination), count, get — the create response’s branch', async () => {
    const pid = created.project.id;
    const list = await admin.listProjectBranches({ projectId: pid });
    assertMatchesSpec('listProjectBranches', list.status, list.data);
    assert.deepEqual(list.data.branches, [created.branch]);
    assert.deepEqual(list.data.annotations, {});
    assert.equal(list.data.pagination?.next, undefined);
    assert.equal(list.data.branches[0]?.default, true);

    const one = await admin.listProjectBranches({
      projectId: pid,
      limit: 1,
      sort_by: 'name',
      sort_order: 'asc',
    });
    assertMatchesSpec('listProjectBranches', one.status, one.data);
    assert.equal(one.data.branches.length, 1);
    assert.equal(one.data.pagination?.next, undefined);
    assert.equal(one.data.pagination?.sort_by, 'name');
    // Past the last branch: an empty page, so a client following cursors always stops.
    const past = await admin.listProjectBranches({ projectId: pid, cursor: created.branch.id });
    assertMatchesSpec('listProjectBranches', past.status, past.data);
    assert.deepEqual(past.data.branches, []);
    const bad = await sdkFailure(
      'listProjectBranches',
      admin.listProjectBranches({ projectId: pid, cursor: 'not-a-cursor' }),
    );
    assert.equal(bad.status, 400);
    const byName = await admin.listProjectBranches({ projectId: pid, search: 'MAI' });
    assert.equal(byName.data.branches.length, 1);
    const none = await admin.listProjectBranches({ projectId: pid, search: 'nothing-like-it' });
    assert.deepEqual(none.data.branches, []);

    const count = await admin.countProjectBranches({ projectId: pid });
    assertMatchesSpec('countProjectBranches', count.status, count.data);
    assert.equal(count.data.count, 1);
    assert.equal((await admin.countProjectBranches({ projectId: pid, search: 'zzz' })).data.count, 0);

    const got = await admin.getProjectBranch(pid, created.branch.id);
    assertMatchesSpec('getProjectBranch', got.status, got.data);
    assert.deepEqual(got.data.branch, created.branch);
    assert.deepEqual(got.data.annotation, {
      object: { type: 'console/branch', id: created.branch.id },
      value: {},
    });
    const missing = await sdkFailure('getProjectBranch', admin.getProjectBranch(pid, 'br-no-such-12345678'));
    assert.equal(missing.status, 404);
    assert.match(missing.body.message, /branch not found/);
  });

  test('endpoints, databases and roles equal the create response (roles without password)', async () => {
    const pid = created.project.id;
    const bid = created.branch.id;
    const eps = await admin.listProjectEndpoints(pid);
    assertMatchesSpec('listProjectEndpoints', eps.status, eps.data);
    assert.deepEqual(eps.data.endpoints, created.endpoints);
    const ep = await admin.getProjectEndpoint(pid, created.endpoints[0].id);
    assertMatchesSpec('getProjectEndpoint', ep.status, ep.data);
    assert.deepEqual(ep.data.endpoint, created.endpoints[0]);
    assert.equal(
      (await sdkFailure('getProjectEndpoint', admin.getProjectEndpoint(pid, 'ep-x-y-12345678'))).status,
      404,
    );
    const beps = await admin.listProjectBranchEndpoints(pid, bid);
    assertMatchesSpec('listProjectBranchEndpoints', beps.status, beps.data);
    assert.deepEqual(beps.data.endpoints, created.endpoints);

    const dbs = await admin.listProjectBranchDatabases(pid, bid);
    assertMatchesSpec('listProjectBranchDatabases', dbs.status, dbs.data);
    assert.deepEqual(dbs.data.databases, created.databases);
    const db = await admin.getProjectBranchDatabase(pid, bid, 'neondb');
    assertMatchesSpec('getProjectBranchDatabase', db.status, db.data);
    assert.deepEqual(db.data.database, created.databases[0]);
    assert.equal(
      (await sdkFailure('getProjectBranchDatabase', admin.getProjectBranchDatabase(pid, bid, 'other')))
        .status,
      404,
    );

    const { password, ...role } = created.roles[0];
    assert.ok(password);
    const roles = await admin.listProjectBranchRoles(pid, bid);
    assertMatchesSpec('listProjectBranchRoles', roles.status, roles.data);
    assert.deepEqual(roles.data.roles, [role]);
    const r = await admin.getProjectBranchRole(pid, bid, 'neondb_owner');
    assertMatchesSpec('getProjectBranchRole', r.status, r.data);
    assert.deepEqual(r.data.role, role);
    assert.equal(
      (await sdkFailure('getProjectBranchRole', admin.getProjectBranchRole(pid, bid, 'x'))).status,
      404,
    );
    assert.ok(!JSON.stringify([roles.data, r.data, dbs.data, eps.data]).includes(password));
  });

  test('reveal_password and connection_uri give what the create response gave', async () => {
    const pid = created.project.id;
    const bid = created.branch.id;
    const pw = await admin.getProjectBranchRolePassword(pid, bid, 'neondb_owner');
    assertMatchesSpec('getProjectBranchRolePassword', pw.status, pw.data);
    assert.equal(pw.data.password, created.roles[0].password);
    assert.equal(pw.data.password, created.connection_uris[0].connection_parameters.password);

    const uri = await admin.getConnectionUri({
      projectId: pid,
      database_name: 'neondb',
      role_name: 'neondb_owner',
    });
    assertMatchesSpec('getConnectionURI', uri.status, uri.data);
    assert.equal(uri.data.uri, created.connection_uris[0].connection_uri);
    assert.match(uri.data.uri, /\?sslmode=require&channel_binding=require$/);
    const pooled = await admin.getConnectionUri({
      projectId: pid,
      branch_id: bid,
      endpoint_id: created.endpoints[0].id,
      database_name: 'neondb',
      role_name: 'neondb_owner',
      pooled: true,
    });
    assert.equal(
      pooled.data.uri,
      created.connection_uris[0].connection_uri.replace(
        created.connection_uris[0].connection_parameters.host,
        created.connection_uris[0].connection_parameters.pooler_host,
      ),
    );
    for (const q of [{ role_name: 'nobody' }, { database_name: 'other' }, { branch_id: 'br-a-b-12345678' }]) {
      const res = await sdkFailure(
        'getConnectionURI',
        admin.getConnectionUri({ projectId: pid, database_name: 'neondb', role_name: 'neondb_owner', ...q }),
      );
      assert.equal(res.status, 404);
    }
    const missingQuery = await t.call('GET', `/api/v2/projects/${pid}/connection_uri?database_name=neondb`, {
      token: w.admin.token,
    });
    assert.equal(missingQuery.status, 400);
    assert.match(missingQuery.body.message, /role_name/);
  });

  test('a project that does not store passwords: 412 on reveal_password and connection_uri', async () => {
    const res = await admin.createProject({
      project: { name: 'nopw', org_id: w.orgA.id, store_passwords: false },
    });
    assertMatchesSpec('createProject', res.status, res.data);
    const pid = res.data.project.id;
    const pw = await sdkFailure(
      'getProjectBranchRolePassword',
      admin.getProjectBranchRolePassword(pid, res.data.branch.id, 'neondb_owner'),
    );
    assert.equal(pw.status, 412);
    assert.match(pw.body.message, /storing passwords is disabled/);
    const uri = await sdkFailure(
      'getConnectionURI',
      admin.getConnectionUri({ projectId: pid, database_name: 'neondb', role_name: 'neondb_owner' }),
    );
    assert.equal(uri.status, 412);
    const row = await t.db.kysely
      .selectFrom('projects')
      .select('role_password')
      .where('id', '=', pid)
      .executeTakeFirstOrThrow();
    assert.equal(row.role_password, null);
  });

  test('who may read: as reading the project; project-scoped keys reach their own project only', async () => {
    const a1 = await t.services.children.project(
      { kind: 'user', userId: w.admin.id, keyId: null },
      w.projectA1,
    );
    const path = `/api/v2/projects/${w.projectA1}/branches/${a1.branch_id}/roles`;
    for (const [token, status] of [
      [w.admin.token, 200],
      [w.member.token, 200],
      [w.orgKeyA.token, 200],
      [w.projectKeyA1.token, 200],
      [w.outsider.token, 404],
      [w.orgKeyB.token, 404],
    ] as const) {
      const res = await t.call('GET', path, { token });
      assert.equal(res.status, status, `${path} ${res.text}`);
      assertMatchesSpec('listProjectBranchRoles', res.status, res.body);
    }
    // Viewers read the children but not connection strings or passwords (Neon: Editor and up).
    const viewer = await createUser(t.services, 'viewer');
    await addMember(t.services, w.orgA.id, viewer, 'viewer');
    assert.equal((await t.call('GET', path, { token: viewer.token })).status, 200);
    const viewerPw = await t.call('GET', `${path}/neondb_owner/reveal_password`, { token: viewer.token });
    assert.equal(viewerPw.status, 403);
    assertMatchesSpec('getProjectBranchRolePassword', viewerPw.status, viewerPw.body);
    const viewerUri = await t.call(
      'GET',
      `/api/v2/projects/${w.projectA1}/connection_uri?database_name=neondb&role_name=neondb_owner`,
      { token: viewer.token },
    );
    assert.equal(viewerUri.status, 403);
    const a2 = await t.call('GET', `/api/v2/projects/${w.projectA2}/branches`, {
      token: w.projectKeyA1.token,
    });
    assert.equal(a2.status, 404);
    const pw = await t.call('GET', `${path}/neondb_owner/reveal_password`, { token: w.projectKeyA1.token });
    assert.equal(pw.status, 200);
    // A deleted project's children are gone with it.
    await admin.deleteProject(w.projectA2);
    const deleted = await t.call('GET', `/api/v2/projects/${w.projectA2}/endpoints`, {
      token: w.admin.token,
    });
    assert.equal(deleted.status, 404);
  });

  test('writes on branches and endpoints: a clear 422, listed in the OpenAPI document', async () => {
    const pid = created.project.id;
    const bid = created.branch.id;
    const eid = created.endpoints[0].id;
    const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
      [
        'createProjectBranch',
        () => admin.createProjectBranch(pid, { branch: { name: 'dev' } }),
        /creating branch/,
      ],
      ['deleteProjectBranch', () => admin.deleteProjectBranch(pid, bid), /deleting branch/],
      [
        'createProjectEndpoint',
        () => admin.createProjectEndpoint(pid, { endpoint: { branch_id: bid, type: 'read_only' as never } }),
        /creating compute endpoint/,
      ],
      ['startProjectEndpoint', () => admin.startProjectEndpoint(pid, eid), /starting compute endpoint/],
      ['suspendProjectEndpoint', () => admin.suspendProjectEndpoint(pid, eid), /suspending compute endpoint/],
      [
        'resetProjectBranchRolePassword',
        () => admin.resetProjectBranchRolePassword(pid, bid, 'neondb_owner'),
        /resetting role password/,
      ],
      [
        'createProjectBranchDatabase',
        () =>
          admin.createProjectBranchDatabase(pid, bid, {
            database: { name: 'x', owner_name: 'neondb_owner' },
          }),
        /creating database/,
      ],
      [
        'deleteProjectBranchRole',
        () => admin.deleteProjectBranchRole(pid, bid, 'neondb_owner'),
        /deleting role/,
      ],
    ];
    for (const [op, call, what] of cases) {
      const res = await sdkFailure(op, call());
      assert.equal(res.status, 422, op);
      assert.match(res.body.message, /^orgplane manages organizations, not compute: /);
      assert.match(res.body.message, what);
    }
    // Nothing changed.
    assert.equal((await admin.listProjectBranches({ projectId: pid })).data.branches.length, 1);
    const doc = await t.call('GET', '/api/v2/openapi.json');
    assert.equal(doc.body.paths['/projects/{project_id}/branches'].post.operationId, 'createProjectBranch');
    assert.equal(doc.body.paths['/projects/{project_id}/branches'].get.operationId, 'listProjectBranches');
    assert.equal(
      doc.body.paths['/projects/{project_id}/endpoints/{endpoint_id}/start'].post.operationId,
      'startProjectEndpoint',
    );
  });

  test('GET /users/me with an organization key or a project-scoped key: 404', async () => {
    const org = await sdkFailure(
      'getCurrentUserInfo',
      createApiClient({ apiKey: w.orgKeyA.token, baseURL }).getCurrentUserInfo(),
    );
    assert.equal(org.status, 404);
    assert.match(org.body.message, /not allowed for organization API keys/);
    const proj = await sdkFailure(
      'getCurrentUserInfo',
      createApiClient({ apiKey: w.projectKeyA1.token, baseURL }).getCurrentUserInfo(),
    );
    assert.equal(proj.status, 404);
    assert.match(proj.body.message, /not allowed to perform actions outside the project/);
  });
});

describe("project transfer requests through Neon's SDK", () => {
  let t: TestApp;
  let w: World;
  let baseURL: string;
  const client = (apiKey: string) => createApiClient({ apiKey, baseURL });
  const orgOf = async (id: string) =>
    (await t.db.kysely.selectFrom('projects').select('org_id').where('id', '=', id).executeTakeFirstOrThrow())
      .org_id;

  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    baseURL = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/api/v2`;
  });
  after(() => t.close());

  test('create (default 24 hours), accept into another organization, then the request is used up', async () => {
    const before = Date.now();
    const req = await client(w.admin.token).createProjectTransferRequest(w.projectA1, {});
    assert.equal(req.status, 201);
    assertMatchesSpec('createProjectTransferRequest', req.status, req.data);
    assert.equal(req.data.project_id, w.projectA1);
    const ttl = Date.parse(req.data.expires_at) - Date.parse(req.data.created_at);
    assert.ok(Math.abs(ttl - 86_400_000) < 2000, String(ttl));
    assert.ok(Date.parse(req.data.created_at) >= before - 1000);
    const claim = (req.data as unknown as { claim_url: string }).claim_url;
    assert.equal(claim, `http://orgplane.test/transfer-requests/${req.data.id}?project_id=${w.projectA1}`);

    // The recipient: the admin of org B, with their own key.
    const accepted = await client(w.outsider.token).acceptProjectTransferRequest(w.projectA1, req.data.id, {
      org_id: w.orgB.id,
    });
    assert.equal(accepted.status, 204);
    assert.equal(await orgOf(w.projectA1), w.orgB.id);
    // As with every transfer: the project's project-scoped keys stop working, the old owner loses it.
    assert.equal((await t.call('GET', '/api/v2/auth', { token: w.projectKeyA1.token })).status, 401);
    assert.equal(
      (await t.call('GET', `/api/v2/projects/${w.projectA1}`, { token: w.admin.token })).status,
      404,
    );
    assert.equal(
      (await t.call('GET', `/api/v2/projects/${w.projectA1}`, { token: w.outsider.token })).status,
      200,
    );

    const again = await sdkFailure(
      'acceptProjectTransferRequest',
      client(w.outsider.token).acceptProjectTransferRequest(w.projectA1, req.data.id, { org_id: w.orgB.id }),
    );
    assert.equal(again.status, 409);
    assert.match(again.body.message, /already accepted/);
  });

  test('who may create: admins and organization keys; not members, project keys or outsiders', async () => {
    const p = await t.services.projects.createRecord(w.orgA.id, w.admin.id, { name: 'tr' });
    const pid = p.project.id;
    const viaKey = await client(w.orgKeyA.token).createProjectTransferRequest(pid, { ttl_seconds: 604800 });
    assertMatchesSpec('createProjectTransferRequest', viaKey.status, viaKey.data);
    assert.equal(Date.parse(viaKey.data.expires_at) - Date.parse(viaKey.data.created_at), 604_800_000);
    const scoped = await createOrgKey(t.services, w.orgA.id, w.admin, pid);
    for (const [token, status] of [
      [w.member.token, 403],
      [scoped.token, 403],
      [w.outsider.token, 404],
      [w.orgKeyB.token, 404],
    ] as const) {
      const res = await sdkFailure(
        'createProjectTransferRequest',
        client(token).createProjectTransferRequest(pid, {}),
      );
      assert.equal(res.status, status);
    }
    const bodiless = await t.call('POST', `/api/v2/projects/${pid}/transfer_requests`, {
      token: w.admin.token,
    });
    assert.equal(bodiless.status, 201);
    const badTtl = await t.call('POST', `/api/v2/projects/${pid}/transfer_requests`, {
      token: w.admin.token,
      body: { ttl_seconds: 0 },
    });
    assert.equal(badTtl.status, 400);
    assert.equal(
      (await t.call('POST', '/api/v2/projects/no-such-project/transfer_requests', { token: w.admin.token }))
        .status,
      404,
    );
  });

  test('who may accept: members of the destination (or its organization key); expired and mismatched requests refused', async () => {
    const p = await t.services.projects.createRecord(w.orgA.id, w.admin.id, { name: 'tr2' });
    const pid = p.project.id;
    const mk = async (ttl?: number) =>
      (await client(w.admin.token).createProjectTransferRequest(pid, ttl ? { ttl_seconds: ttl } : {})).data
        .id;

    const r1 = await mk();
    // A personal key must name the organization (as for listing and creating projects).
    const noOrg = await sdkFailure(
      'acceptProjectTransferRequest',
      client(w.outsider.token).acceptProjectTransferRequest(pid, r1, {}),
    );
    assert.equal(noOrg.status, 400);
    assert.match(noOrg.body.message, /org_id is required/);
    // Not a member of the destination: it does not exist for them.
    const notMember = await sdkFailure(
      'acceptProjectTransferRequest',
      client(w.member.token).acceptProjectTransferRequest(pid, r1, { org_id: w.orgB.id }),
    );
    assert.equal(notMember.status, 404);
    // A project-scoped key cannot take projects anywhere.
    const scoped = await createOrgKey(t.services, w.orgB.id, w.outsider, w.projectB1);
    const byScoped = await sdkFailure(
      'acceptProjectTransferRequest',
      client(scoped.token).acceptProjectTransferRequest(pid, r1, {}),
    );
    assert.equal(byScoped.status, 403);
    // Wrong project in the path, unknown request: 404.
    const wrong = await sdkFailure(
      'acceptProjectTransferRequest',
      client(w.outsider.token).acceptProjectTransferRequest(w.projectB1, r1, { org_id: w.orgB.id }),
    );
    assert.equal(wrong.status, 404);
    assert.match(wrong.body.message, /transfer request not found/);
    // Into the organization it is already in.
    const same = await sdkFailure(
      'acceptProjectTransferRequest',
      client(w.admin.token).acceptProjectTransferRequest(pid, r1, { org_id: w.orgA.id }),
    );
    assert.equal(same.status, 400);
    assert.equal(await orgOf(pid), w.orgA.id);

    // Expired.
    const r2 = await mk(1);
    await t.db.kysely
      .updateTable('project_transfer_requests')
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('id', '=', r2)
      .execute();
    const expired = await sdkFailure(
      'acceptProjectTransferRequest',
      client(w.outsider.token).acceptProjectTransferRequest(pid, r2, { org_id: w.orgB.id }),
    );
    assert.equal(expired.status, 410);
    assert.match(expired.body.message, /expired/);
    assert.equal(await orgOf(pid), w.orgA.id);

    // The organization key of the destination accepts without org_id: into its own organization.
    const byKey = await client(w.orgKeyB.token).acceptProjectTransferRequest(pid, r1, {});
    assert.equal(byKey.status, 204);
    assert.equal(await orgOf(pid), w.orgB.id);
    // A request made before the project moved no longer applies.
    const r3 = await t.services.transferRequests.create(
      { kind: 'org_key', orgId: w.orgB.id, keyId: w.orgKeyB.id },
      pid,
      undefined,
      AuditContext.operator(),
    );
    // …moved elsewhere by another path (here, directly in the database).
    await t.db.kysely.updateTable('projects').set({ org_id: w.orgA.id }).where('id', '=', pid).execute();
    const moved = await sdkFailure(
      'acceptProjectTransferRequest',
      client(w.outsider.token).acceptProjectTransferRequest(pid, r3.id, { org_id: w.orgB.id }),
    );
    assert.equal(moved.status, 409);
    assert.match(moved.body.message, /has moved/);
    assert.equal(await orgOf(pid), w.orgA.id);
  });

  test('406 with reasons when the destination cannot own the project (plan rule and project limits)', async () => {
    const owner = await createUser(t.services, 'small');
    const free = await createOrg(t.services, owner, 'Free org', 'free');
    const p = await t.services.projects.createRecord(w.orgA.id, w.admin.id, { name: 'big' });
    const req = await client(w.admin.token).createProjectTransferRequest(p.project.id, {});
    const res = await sdkFailure(
      'acceptProjectTransferRequest',
      client(owner.token).acceptProjectTransferRequest(p.project.id, req.data.id, { org_id: free.id }),
    );
    assert.equal(res.status, 406);
    const reasons = res.body.reasons as Array<{ code: string; message: string }>;
    assert.deepEqual(
      reasons.map((r) => r.code),
      ['subscription_type'],
    );
    assert.equal(await orgOf(p.project.id), w.orgA.id);
    // The refusal did not use the request up: after an upgrade it goes through.
    await t.db.kysely.updateTable('organizations').set({ plan: 'scale' }).where('id', '=', free.id).execute();
    const ok = await client(owner.token).acceptProjectTransferRequest(p.project.id, req.data.id, {
      org_id: free.id,
    });
    assert.equal(ok.status, 204);
    assert.equal(await orgOf(p.project.id), free.id);
  });

  test('concurrent accepts of one request: exactly one moves the project', async () => {
    const p = await t.services.projects.createRecord(w.orgA.id, w.admin.id, { name: 'race' });
    const pid = p.project.id;
    const req = await client(w.admin.token).createProjectTransferRequest(pid, {});
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        t.call('PUT', `/api/v2/projects/${pid}/transfer_requests/${req.data.id}`, {
          token: w.outsider.token,
          body: { org_id: w.orgB.id },
        }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(
      statuses,
      [204, 409, 409, 409, 409, 409, 409, 409],
      JSON.stringify(results.map((r) => r.text)),
    );
    for (const r of results)
      if (r.status !== 204) assertMatchesSpec('acceptProjectTransferRequest', r.status, r.body);
    assert.equal(await orgOf(pid), w.orgB.id);
    const row = await t.db.kysely
      .selectFrom('project_transfer_requests')
      .selectAll()
      .where('id', '=', req.data.id)
      .executeTakeFirstOrThrow();
    assert.equal(row.accepted_by, w.outsider.id);
    assert.equal(row.accepted_org_id, w.orgB.id);
  });

  test('the claim link: a console page behind sign-in; accepting from a session needs the CSRF token', async () => {
    const p = await t.services.projects.createRecord(w.orgA.id, w.admin.id, { name: 'claim' });
    const pid = p.project.id;
    const req = await client(w.admin.token).createProjectTransferRequest(pid, {});
    const claim = new URL((req.data as unknown as { claim_url: string }).claim_url);
    const anonymous = await t.call('GET', `${claim.pathname}${claim.search}`);
    assert.equal(anonymous.status, 302);
    assert.match(String(anonymous.headers.location), /^\/signin\?next=/);

    const person = await createUserWithPassword(t.services, 'claimer');
    const org = await createOrg(
      t.services,
      { id: person.id, email: person.email, token: '', keyId: 0 },
      'Claimer org',
    );
    const s = await signIn(t, person.email, person.password);
    const page = await t.call('GET', `${claim.pathname}${claim.search}`, { headers: withSession(s) });
    assert.equal(page.status, 200);
    // The console's app answers the claim link (its claim view calls the API below).
    assert.match(page.text, /\/assets\/app\.js/);

    const url = `/api/v2/projects/${pid}/transfer_requests/${req.data.id}`;
    const noCsrf = await t.call('PUT', url, {
      headers: withSession(s, { csrf: false }),
      body: { org_id: org.id },
    });
    assert.equal(noCsrf.status, 403);
    assert.equal(await orgOf(pid), w.orgA.id);
    const ok = await t.call('PUT', url, { headers: withSession(s), body: { org_id: org.id } });
    assert.equal(ok.status, 204, ok.text);
    assert.equal(await orgOf(pid), org.id);
    // A member (not only an admin) of the destination may accept.
    const p2 = await t.services.projects.createRecord(w.orgA.id, w.admin.id, { name: 'claim2' });
    const r2 = await client(w.admin.token).createProjectTransferRequest(p2.project.id, {});
    const member = await createUser(t.services, 'destmember');
    await addMember(t.services, org.id, member, 'member');
    const byMember = await client(member.token).acceptProjectTransferRequest(p2.project.id, r2.data.id, {
      org_id: org.id,
    });
    assert.equal(byMember.status, 204);
  });
});
