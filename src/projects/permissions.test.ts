// The authorization matrix for the project and transfer operations: every principal of
// ../shared/reference/security.md §1 (P0–P11) against every operation, by real HTTP calls.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../../test/helpers/app.ts';
import {
  buildWorld,
  createOrg,
  createOrgKey,
  createProjectRecord,
  type World,
} from '../../test/helpers/factories.ts';
import { assertMatchesSpec } from '../../test/helpers/spec.ts';
import { AuditContext } from '../audit/audit.ts';

const PRINCIPALS = ['P3', 'P4', 'P5', 'P6', 'P7', 'P8', 'P9', 'P10', 'P11', 'P2', 'P1', 'P0'] as const;
type P = (typeof PRINCIPALS)[number];

// P3 admin of A, P4 member of A, P5 user of B only, P6 org key of A, P7 key of A1 (acting on A2),
// P8 key of A2, P9 org key of B, P10 removed from A, P11 key of a project moved A→C,
// P2 revoked key, P1 garbage token, P0 no token.
const EXPECTED: Record<string, number[]> = {
  listProjects: [200, 200, 404, 200, 200, 200, 404, 404, 401, 401, 401, 401],
  createProject: [201, 201, 404, 201, 403, 403, 404, 404, 401, 401, 401, 401],
  getProject: [200, 200, 404, 200, 404, 200, 404, 404, 401, 401, 401, 401],
  updateProject: [200, 200, 404, 200, 404, 200, 404, 404, 401, 401, 401, 401],
  getProjectOperation: [200, 200, 404, 200, 404, 200, 404, 404, 401, 401, 401, 401],
  deleteProject: [200, 403, 404, 200, 404, 403, 404, 404, 401, 401, 401, 401],
  recoverProject: [200, 403, 404, 200, 404, 403, 404, 404, 401, 401, 401, 401],
  transferProjectsFromOrgToOrg: [200, 403, 404, 403, 403, 403, 403, 404, 401, 401, 401, 401],
  transferProjectsFromUserToOrg: [200, 404, 404, 403, 403, 403, 403, 404, 401, 401, 401, 401],
};

describe('project permission matrix', () => {
  let t: TestApp;
  let w: World;
  const tokens = {} as Record<P, string | undefined>;
  let orgC = '';
  let personal = '';
  let operationA2 = '';
  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
    const s = t.services;
    orgC = (await createOrg(s, w.admin, 'Org C', 'scale')).id;
    const keyA2 = await createOrgKey(s, w.orgA.id, w.admin, w.projectA2);
    const a3 = await createProjectRecord(s, w.orgA.id, w.admin.id, 'a3');
    const keyA3 = await createOrgKey(s, w.orgA.id, w.admin, a3);
    await s.transfers.fromOrganization(
      { kind: 'user', userId: w.admin.id, keyId: w.admin.keyId },
      w.orgA.id,
      { destination_org_id: orgC, project_ids: [a3] },
      false,
      AuditContext.operator(),
    );
    personal = await createProjectRecord(s, null, w.admin.id, 'mine');
    const op = await t.db.kysely
      .selectFrom('project_operations')
      .select('id')
      .where('project_id', '=', w.projectA2)
      .executeTakeFirstOrThrow();
    operationA2 = op.id;
    Object.assign(tokens, {
      P3: w.admin.token,
      P4: w.member.token,
      P5: w.outsider.token,
      P6: w.orgKeyA.token,
      P7: w.projectKeyA1.token,
      P8: keyA2.token,
      P9: w.orgKeyB.token,
      P10: w.removed.token,
      P11: keyA3.token,
      P2: w.revokedToken,
      P1: 'napi_garbage',
      P0: undefined,
    });
  });
  after(() => t.close());

  const setDeleted = (deleted: boolean) =>
    t.db.kysely
      .updateTable('projects')
      .set({ deleted_at: deleted ? new Date().toISOString() : null })
      .where('id', '=', w.projectA2)
      .execute();

  const requests: Record<
    string,
    () => { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string; body?: unknown }
  > = {
    listProjects: () => ({ method: 'GET', url: `/api/v2/projects?org_id=${w.orgA.id}` }),
    createProject: () => ({
      method: 'POST',
      url: '/api/v2/projects',
      body: { project: { org_id: w.orgA.id } },
    }),
    getProject: () => ({ method: 'GET', url: `/api/v2/projects/${w.projectA2}` }),
    updateProject: () => ({
      method: 'PATCH',
      url: `/api/v2/projects/${w.projectA2}`,
      body: { project: { name: 'a2' } },
    }),
    getProjectOperation: () => ({
      method: 'GET',
      url: `/api/v2/projects/${w.projectA2}/operations/${operationA2}`,
    }),
    deleteProject: () => ({ method: 'DELETE', url: `/api/v2/projects/${w.projectA2}` }),
    recoverProject: () => ({ method: 'POST', url: `/api/v2/projects/${w.projectA2}/recover` }),
    transferProjectsFromOrgToOrg: () => ({
      method: 'POST',
      url: `/api/v2/organizations/${w.orgA.id}/projects/transfer?dry_run=true`,
      body: { destination_org_id: orgC, project_ids: [w.projectA2] },
    }),
    transferProjectsFromUserToOrg: () => ({
      method: 'POST',
      url: '/api/v2/users/me/projects/transfer?dry_run=true',
      body: { destination_org_id: orgC, project_ids: [personal] },
    }),
  };

  for (const [operationId, expected] of Object.entries(EXPECTED)) {
    test(operationId, async () => {
      const got: string[] = [];
      for (const principal of PRINCIPALS) {
        if (operationId === 'recoverProject') await setDeleted(true);
        const r = requests[operationId]?.();
        assert.ok(r);
        const res = await t.call(r.method, r.url, {
          token: tokens[principal],
          ...(r.body === undefined ? {} : { body: r.body }),
        });
        assertMatchesSpec(operationId, res.status, res.body);
        got.push(`${principal}:${res.status}`);
        if (res.status === 403 && principal === 'P6') assert.match(res.body.message, /organization API keys/);
        if (res.status === 403 && (principal === 'P7' || principal === 'P8')) {
          assert.match(res.body.message, /project-scoped/);
        }
        // Undo what an allowed call changed, so every principal meets the same state.
        if (operationId === 'deleteProject' || operationId === 'recoverProject') await setDeleted(false);
      }
      assert.deepEqual(
        got,
        PRINCIPALS.map((p, i) => `${p}:${expected[i]}`),
      );
      if (operationId.startsWith('transfer')) {
        assert.equal(
          (
            await t.db.kysely
              .selectFrom('projects')
              .select('org_id')
              .where('id', '=', w.projectA2)
              .executeTakeFirstOrThrow()
          ).org_id,
          w.orgA.id,
          'dry runs move nothing',
        );
      }
    });
  }
});
