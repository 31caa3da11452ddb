// The authorization matrix of issue 2: every operation × every principal, with the exact status
// written out by hand below (NOT derived from src/policy), so a policy change that moves a cell fails here.
// Write cells get fresh targets, and each write cell checks the database changed iff it was allowed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTestApp, type Res, type TestApp } from './helpers/app.ts';
import {
  addMember,
  buildWorld,
  createOrgKey,
  createProjectRecord,
  createUser,
  type TestUser,
  type World,
} from './helpers/factories.ts';
import { assertMatchesSpec } from './helpers/spec.ts';
import { forgedValidToken, withBadChecksum } from './helpers/tokens.ts';
import { hashToken } from '../src/domain/ids.ts';

const UNAUTHENTICATED = ['none', 'garbage', 'bad_checksum', 'unknown', 'revoked'] as const;
const AUTHENTICATED = [
  'admin',
  'member',
  'outsider',
  'removed',
  'org_key_a',
  'org_key_b',
  'project_key',
  'editor',
  'viewer',
  /** A collaborator of A with a grant on A1 (and nothing else). */
  'collaborator',
  /** A user of no organization with a grant on A1. */
  'shared',
] as const;
type Authenticated = (typeof AUTHENTICATED)[number];
type PrincipalName = (typeof UNAUTHENTICATED)[number] | Authenticated;

const ORG_KEY_MESSAGE = 'not allowed for organization API keys';
const MISSING_ORG = 'org-nonexistent-00000000';
const MISSING_MEMBER = '00000000-0000-4000-8000-000000000000';
const MISSING_KEY = 987654321;
const MISSING_PROJECT = 'missing-project-00000000';

interface Cell {
  url: string;
  body?: unknown;
  /** The object acted on, for POST …/access/explain (its answer must agree with this cell). */
  target?: string;
  /** Checks the database after the request: changed if and only if the request succeeded. */
  verify?: (res: Res) => Promise<void>;
}

interface Op {
  name: string;
  /** The row of docs/permissions.md this operation is documented in. */
  action: string;
  /** Neon's operationId, for assertMatchesSpec (the extension POST /organizations validates as getOrganization). */
  operationId: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /**
   * Exact status per authenticated principal, in AUTHENTICATED order:
   *        admin, member, outsider, removed, org_key_a, org_key_b, project_key,
   *        editor, viewer, collaborator (A1 shared), shared (non-member, A1 shared)
   * (Every unauthenticated principal gets 401 everywhere.)
   */
  expect: readonly [number, number, number, number, number, number, number, number, number, number, number];
  /** The project acted on is shared with the collaborator and shared principals (docs columns "project shared"). */
  sharedTarget?: boolean;
  /** The project acted on is not the project key's own (docs column "other project, same org"). */
  otherProject?: boolean;
  prepare(p: PrincipalName): Promise<Cell>;
  /** The same request naming a truly missing object: cross-org 404s must answer exactly like it. */
  missing?: () => Cell;
  /** 404 for keys means "no user behind the key" (GET /users/me), not a hidden object: no twin. */
  keysHaveNoUser?: true;
}

describe('authorization matrix: every issue-2 and sharing operation × every principal', () => {
  let t: TestApp;
  let w: World;
  const tokens = {} as Record<PrincipalName, string | undefined>;
  const seen401: Array<{ cell: string; body: unknown; wwwAuthenticate: unknown }> = [];
  /** op name → principal → observed status, for comparing with docs/permissions.md. */
  const observed = new Map<string, Map<PrincipalName, number>>();

  const countRows = async (table: 'api_keys' | 'organizations', where?: [string, string]) => {
    let q = t.db.kysely.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n'));
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a test-only dynamic filter
    if (where) q = q.where(where[0] as any, '=', where[1]);
    return Number((await q.executeTakeFirstOrThrow()).n);
  };
  const freshMember = async () => {
    const u = await createUser(t.services, 'target');
    return addMember(t.services, w.orgA.id, u, 'member');
  };
  const ok = (res: Res) => res.status >= 200 && res.status < 300;
  /** Counts the rows now; the returned check asserts exactly one more when the request was allowed. */
  const oneRowMoreIfAllowed = async (table: 'api_keys' | 'organizations', where?: [string, string]) => {
    const before = await countRows(table, where);
    return async (res: Res) =>
      assert.equal(
        await countRows(table, where),
        before + (ok(res) ? 1 : 0),
        `one ${table} row more iff allowed`,
      );
  };
  let editor: TestUser;
  let viewer: TestUser;
  let collaborator: TestUser;
  let sharedUser: TestUser;
  /** Shares a project with the collaborator and the shared principal (as A's admin). */
  const shareWithGuests = async (projectId: string) => {
    for (const u of [collaborator, sharedUser]) {
      const r = await t.call('POST', `/api/v2/projects/${projectId}/permissions`, {
        token: w.admin.token,
        body: { email: u.email },
      });
      assert.equal(r.status, 200, r.text);
    }
  };
  const liveGrants = async (projectId: string) =>
    Number(
      (
        await t.db.kysely
          .selectFrom('project_permissions')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('project_id', '=', projectId)
          .where('revoked_at', 'is', null)
          .executeTakeFirstOrThrow()
      ).n,
    );
  let uniq = 0;

  let explained = 0;
  /** Keys and people with no relation to org A (the revoked key is an outsider's personal key). */
  const NOT_OF_ORG_A: ReadonlySet<string> = new Set(['outsider', 'removed', 'org_key_b', 'revoked']);
  let operationIds = new Map<string, string>();
  let revokedKeyId = 0;
  /** How POST …/access/explain names each principal (keys by id, people by key or address). */
  const explainIdentity = (p: PrincipalName): Record<string, unknown> | undefined => {
    switch (p) {
      case 'admin':
        return { email: w.admin.email };
      case 'member':
        return { key_id: w.member.keyId };
      case 'outsider':
        return { email: w.outsider.email };
      case 'removed':
        return { key_id: w.removed.keyId };
      case 'org_key_a':
        return { key_id: w.orgKeyA.id };
      case 'org_key_b':
        return { key_id: w.orgKeyB.id };
      case 'project_key':
        return { key_id: w.projectKeyA1.id };
      case 'revoked':
        return { key_id: revokedKeyId };
      case 'editor':
        return { key_id: editor.keyId };
      case 'viewer':
        return { email: viewer.email };
      case 'collaborator':
        return { key_id: collaborator.keyId };
      case 'shared':
        return { email: sharedUser.email };
      default:
        // No key at all (none, garbage, forged): nothing to name.
        return undefined;
    }
  };
  /** The object acted on: the cell's own, else the project its URL names. */
  const targetOf = (cell: Cell): string | undefined =>
    cell.target ?? /^\/api\/v2\/projects\/([^/?]+)/.exec(cell.url)?.[1];
  /** This server's operation id for a matrix row, from its own OpenAPI document. */
  const operationIdOf = (op: Op): string => {
    const [method = '', rawPath = ''] = op.name.split(' ');
    const path = rawPath.split('?')[0] ?? '';
    const id = operationIds.get(`${method.toLowerCase()} ${path}`);
    assert.ok(id, `no operation id for ${op.name}`);
    return id;
  };

  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
    editor = await createUser(t.services, 'editor');
    viewer = await createUser(t.services, 'viewer');
    collaborator = await createUser(t.services, 'collaborator');
    sharedUser = await createUser(t.services, 'shared');
    await addMember(t.services, w.orgA.id, editor, 'editor');
    await addMember(t.services, w.orgA.id, viewer, 'viewer');
    await addMember(t.services, w.orgA.id, collaborator, 'collaborator');
    await shareWithGuests(w.projectA1);
    const doc = (await t.call('GET', '/api/v2/openapi.json')).body as {
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    operationIds = new Map(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.entries(ops).map(([m, o]) => [`${m} ${path}`, o.operationId ?? ''] as [string, string]),
      ),
    );
    revokedKeyId = (
      await t.db.kysely
        .selectFrom('api_keys')
        .select('id')
        .where('token_hash', '=', hashToken(w.revokedToken))
        .executeTakeFirstOrThrow()
    ).id;
    Object.assign(tokens, {
      none: undefined,
      garbage: 'garbage',
      bad_checksum: withBadChecksum(w.member.token),
      unknown: forgedValidToken(),
      revoked: w.revokedToken,
      admin: w.admin.token,
      member: w.member.token,
      outsider: w.outsider.token,
      removed: w.removed.token,
      org_key_a: w.orgKeyA.token,
      org_key_b: w.orgKeyB.token,
      project_key: w.projectKeyA1.token,
      editor: editor.token,
      viewer: viewer.token,
      collaborator: collaborator.token,
      shared: sharedUser.token,
    } satisfies Record<PrincipalName, string | undefined>);
  });
  after(() => t.close());

  const ops: Op[] = [
    {
      name: 'GET /auth',
      action: 'auth:read',
      operationId: 'getAuthDetails',
      method: 'GET',
      expect: [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
      prepare: async () => ({ url: '/api/v2/auth' }),
    },
    {
      name: 'GET /users/me',
      action: 'user:read',
      operationId: 'getCurrentUserInfo',
      method: 'GET',
      // Keys have no user behind them: 404, as Neon answers.
      expect: [200, 200, 200, 200, 404, 404, 404, 200, 200, 200, 200],
      keysHaveNoUser: true,
      prepare: async () => ({ url: '/api/v2/users/me' }),
    },
    {
      name: 'GET /users/me/organizations',
      action: 'user:list_organizations',
      operationId: 'getCurrentUserOrganizations',
      method: 'GET',
      expect: [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
      prepare: async () => ({ url: '/api/v2/users/me/organizations' }),
    },
    {
      name: 'GET /api_keys',
      action: 'personal_api_key:list',
      operationId: 'listApiKeys',
      method: 'GET',
      expect: [200, 200, 200, 200, 403, 403, 403, 200, 200, 200, 200],
      prepare: async () => ({ url: '/api/v2/api_keys' }),
    },
    {
      name: 'POST /api_keys',
      action: 'personal_api_key:create',
      operationId: 'createApiKey',
      method: 'POST',
      expect: [200, 200, 200, 200, 403, 403, 403, 200, 200, 200, 200],
      prepare: async () => {
        return {
          url: '/api/v2/api_keys',
          body: { key_name: 'matrix' },
          verify: await oneRowMoreIfAllowed('api_keys'),
        };
      },
    },
    {
      // The target is always a fresh personal key of the admin: only its owner may revoke it.
      name: 'DELETE /api_keys/{key_id}',
      action: 'personal_api_key:revoke',
      operationId: 'revokeApiKey',
      method: 'DELETE',
      expect: [200, 404, 404, 404, 403, 403, 403, 404, 404, 404, 404],
      prepare: async () => {
        const { row } = await t.services.apiKeys.createPersonalFor(w.admin.id, 'target');
        return {
          url: `/api/v2/api_keys/${row.id}`,
          target: String(row.id),
          verify: async (res) => {
            const k = await t.db.kysely
              .selectFrom('api_keys')
              .select('revoked_at')
              .where('id', '=', row.id)
              .executeTakeFirstOrThrow();
            assert.equal(k.revoked_at !== null, ok(res), 'revoked iff allowed');
          },
        };
      },
      missing: () => ({ url: `/api/v2/api_keys/${MISSING_KEY}` }),
    },
    {
      name: 'POST /organizations',
      action: 'organization:create',
      operationId: 'getOrganization',
      method: 'POST',
      expect: [201, 201, 201, 201, 403, 403, 403, 201, 201, 201, 201],
      prepare: async () => {
        return {
          url: '/api/v2/organizations',
          body: { name: 'Matrix Org' },
          verify: await oneRowMoreIfAllowed('organizations'),
        };
      },
    },
    {
      name: 'GET /organizations/{org_id}',
      action: 'organization:read',
      operationId: 'getOrganization',
      method: 'GET',
      expect: [200, 200, 404, 404, 200, 404, 403, 200, 200, 403, 404],
      prepare: async () => ({
        url: `/api/v2/organizations/${w.orgA.id}`,
        verify: async (res) => {
          if (ok(res)) assert.equal(res.body.id, w.orgA.id);
        },
      }),
      missing: () => ({ url: `/api/v2/organizations/${MISSING_ORG}` }),
    },
    {
      name: 'GET /organizations/{org_id}/api_keys',
      action: 'org_api_key:list',
      operationId: 'listOrgApiKeys',
      method: 'GET',
      expect: [200, 200, 404, 404, 200, 404, 403, 200, 403, 403, 404],
      prepare: async () => ({ url: `/api/v2/organizations/${w.orgA.id}/api_keys` }),
      missing: () => ({ url: `/api/v2/organizations/${MISSING_ORG}/api_keys` }),
    },
    {
      name: 'POST /organizations/{org_id}/api_keys (organization-wide)',
      action: 'org_api_key:create',
      operationId: 'createOrgApiKey',
      method: 'POST',
      expect: [200, 403, 404, 404, 403, 404, 403, 403, 403, 403, 404],
      prepare: async () => {
        const created = await oneRowMoreIfAllowed('api_keys', ['org_id', w.orgA.id]);
        return {
          url: `/api/v2/organizations/${w.orgA.id}/api_keys`,
          body: { key_name: 'matrix' },
          verify: async (res) => {
            await created(res);
            if (ok(res)) assert.equal(res.body.project_id, undefined);
          },
        };
      },
      missing: () => ({ url: `/api/v2/organizations/${MISSING_ORG}/api_keys`, body: { key_name: 'matrix' } }),
    },
    {
      // Any member may create a project-scoped key; organization keys never create keys.
      name: 'POST /organizations/{org_id}/api_keys (with project_id)',
      action: 'project_api_key:create',
      operationId: 'createOrgApiKey',
      method: 'POST',
      expect: [200, 200, 404, 404, 403, 404, 403, 403, 403, 403, 404],
      prepare: async () => {
        const created = await oneRowMoreIfAllowed('api_keys', ['org_id', w.orgA.id]);
        return {
          url: `/api/v2/organizations/${w.orgA.id}/api_keys`,
          body: { key_name: 'matrix', project_id: w.projectA1 },
          target: w.projectA1,
          verify: async (res) => {
            await created(res);
            if (ok(res)) assert.equal(res.body.project_id, w.projectA1);
          },
        };
      },
      missing: () => ({
        url: `/api/v2/organizations/${MISSING_ORG}/api_keys`,
        body: { key_name: 'matrix', project_id: w.projectA1 },
      }),
    },
    {
      // The target is a fresh organization key of A (created by the admin, so not "own" for anyone else).
      name: 'DELETE /organizations/{org_id}/api_keys/{key_id}',
      action: 'org_api_key:revoke',
      operationId: 'revokeOrgApiKey',
      method: 'DELETE',
      expect: [200, 403, 404, 404, 200, 404, 403, 403, 403, 403, 404],
      prepare: async () => {
        const key = await createOrgKey(t.services, w.orgA.id, w.admin);
        return {
          url: `/api/v2/organizations/${w.orgA.id}/api_keys/${key.id}`,
          target: String(key.id),
          verify: async (res) => {
            const auth = await t.call('GET', '/api/v2/auth', { token: key.token });
            assert.equal(auth.status, ok(res) ? 401 : 200, 'the key works iff the revoke was refused');
          },
        };
      },
      missing: () => ({ url: `/api/v2/organizations/${MISSING_ORG}/api_keys/${MISSING_KEY}` }),
    },
    {
      name: 'GET /organizations/{org_id}/members',
      action: 'member:list',
      operationId: 'getOrganizationMembers',
      method: 'GET',
      expect: [200, 200, 404, 404, 200, 404, 403, 200, 200, 403, 404],
      prepare: async () => ({ url: `/api/v2/organizations/${w.orgA.id}/members` }),
      missing: () => ({ url: `/api/v2/organizations/${MISSING_ORG}/members` }),
    },
    {
      name: 'GET /organizations/{org_id}/members/{member_id}',
      action: 'member:read',
      operationId: 'getOrganizationMember',
      method: 'GET',
      expect: [200, 200, 404, 404, 200, 404, 403, 200, 200, 403, 404],
      prepare: async () => ({ url: `/api/v2/organizations/${w.orgA.id}/members/${w.memberRow.id}` }),
      missing: () => ({ url: `/api/v2/organizations/${MISSING_ORG}/members/${w.memberRow.id}` }),
    },
    {
      // A fresh member is promoted; only admins and the organization's own key may.
      name: 'PATCH /organizations/{org_id}/members/{member_id}',
      action: 'member:update',
      operationId: 'updateOrganizationMember',
      method: 'PATCH',
      expect: [200, 403, 404, 404, 200, 404, 403, 403, 403, 403, 404],
      prepare: async () => {
        const target = await freshMember();
        return {
          url: `/api/v2/organizations/${w.orgA.id}/members/${target.id}`,
          body: { role: 'admin' },
          target: target.id,
          verify: async (res) => assert.equal(await roleOf(target.id), ok(res) ? 'admin' : 'member'),
        };
      },
      missing: () => ({
        url: `/api/v2/organizations/${MISSING_ORG}/members/${w.memberRow.id}`,
        body: { role: 'admin' },
      }),
    },
    {
      name: 'PATCH /organizations/members/{member_id}',
      action: 'member:update',
      operationId: 'updateOrganizationMember',
      method: 'PATCH',
      expect: [200, 403, 404, 404, 200, 404, 403, 403, 403, 403, 404],
      prepare: async () => {
        const target = await freshMember();
        return {
          url: `/api/v2/organizations/members/${target.id}`,
          body: { role: 'admin' },
          target: target.id,
          verify: async (res) => assert.equal(await roleOf(target.id), ok(res) ? 'admin' : 'member'),
        };
      },
      missing: () => ({ url: `/api/v2/organizations/members/${MISSING_MEMBER}`, body: { role: 'admin' } }),
    },
    {
      // Removing someone else (a fresh member): admins only; organization keys are not supported.
      name: 'DELETE /organizations/{org_id}/members/{member_id}',
      action: 'member:remove',
      operationId: 'removeOrganizationMember',
      method: 'DELETE',
      expect: [200, 403, 404, 404, 403, 404, 403, 403, 403, 403, 404],
      prepare: async () => {
        const target = await freshMember();
        return {
          url: `/api/v2/organizations/${w.orgA.id}/members/${target.id}`,
          target: target.id,
          verify: async (res) => assert.equal(await roleOf(target.id), ok(res) ? undefined : 'member'),
        };
      },
      missing: () => ({ url: `/api/v2/organizations/${MISSING_ORG}/members/${MISSING_MEMBER}` }),
    },
    // Projects and sharing: A1 is shared with the collaborator and the shared principal, A2 is not.
    {
      name: 'GET /projects/{project_id} (shared with the guests)',
      action: 'project:read',
      operationId: 'getProject',
      method: 'GET',
      sharedTarget: true,
      expect: [200, 200, 404, 404, 200, 404, 200, 200, 200, 200, 200],
      prepare: async () => ({ url: `/api/v2/projects/${w.projectA1}` }),
      missing: () => ({ url: `/api/v2/projects/${MISSING_PROJECT}` }),
    },
    {
      // A collaborator never sees another project of the organization: it answers like a missing one.
      name: 'GET /projects/{project_id} (not shared)',
      action: 'project:read',
      operationId: 'getProject',
      method: 'GET',
      otherProject: true,
      expect: [200, 200, 404, 404, 200, 404, 404, 200, 200, 404, 404],
      prepare: async () => ({ url: `/api/v2/projects/${w.projectA2}` }),
      missing: () => ({ url: `/api/v2/projects/${MISSING_PROJECT}` }),
    },
    {
      name: 'GET /projects?org_id',
      action: 'project:list',
      operationId: 'listProjects',
      method: 'GET',
      expect: [200, 200, 404, 404, 200, 404, 200, 200, 200, 200, 404],
      prepare: async (p) => ({
        url: `/api/v2/projects?org_id=${w.orgA.id}&limit=400`,
        verify: async (res) => {
          if (!ok(res)) return;
          const ids: string[] = res.body.projects.map((x: { id: string }) => x.id);
          if (p === 'collaborator' || p === 'project_key') assert.deepEqual(ids, [w.projectA1], p);
          else assert.ok(ids.includes(w.projectA1) && ids.includes(w.projectA2), p);
        },
      }),
      missing: () => ({ url: `/api/v2/projects?org_id=${MISSING_ORG}` }),
    },
    {
      // Viewers cannot write; a grant makes the guests editors of that one project.
      name: 'PATCH /projects/{project_id}',
      action: 'project:update',
      operationId: 'updateProject',
      method: 'PATCH',
      sharedTarget: true,
      expect: [200, 200, 404, 404, 200, 404, 200, 200, 403, 200, 200],
      prepare: async () => {
        const name = `matrix-${++uniq}`;
        return {
          url: `/api/v2/projects/${w.projectA1}`,
          body: { project: { name } },
          verify: async (res) => {
            const row = await t.db.kysely
              .selectFrom('projects')
              .select('name')
              .where('id', '=', w.projectA1)
              .executeTakeFirstOrThrow();
            assert.equal(row.name === name, ok(res), 'renamed iff allowed');
          },
        };
      },
      missing: () => ({ url: `/api/v2/projects/${MISSING_PROJECT}`, body: { project: { name: 'x' } } }),
    },
    {
      // A fresh project shared with the guests: only organization admins (and A's key) delete it.
      name: 'DELETE /projects/{project_id}',
      action: 'project:delete',
      operationId: 'deleteProject',
      method: 'DELETE',
      sharedTarget: true,
      otherProject: true,
      expect: [200, 403, 404, 404, 200, 404, 404, 403, 403, 403, 403],
      prepare: async () => {
        const id = await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'to-delete');
        await shareWithGuests(id);
        return {
          url: `/api/v2/projects/${id}`,
          verify: async (res) => {
            const row = await t.db.kysely
              .selectFrom('projects')
              .select('deleted_at')
              .where('id', '=', id)
              .executeTakeFirstOrThrow();
            assert.equal(row.deleted_at !== null, ok(res), 'deleted iff allowed');
          },
        };
      },
      missing: () => ({ url: `/api/v2/projects/${MISSING_PROJECT}` }),
    },
    {
      name: 'GET /projects/{project_id}/permissions',
      action: 'project_permission:list',
      operationId: 'listProjectPermissions',
      method: 'GET',
      sharedTarget: true,
      expect: [200, 200, 404, 404, 200, 404, 200, 200, 403, 200, 200],
      prepare: async () => ({ url: `/api/v2/projects/${w.projectA1}/permissions` }),
      missing: () => ({ url: `/api/v2/projects/${MISSING_PROJECT}/permissions` }),
    },
    {
      name: 'POST /projects/{project_id}/permissions',
      action: 'project_permission:grant',
      operationId: 'grantPermissionToProject',
      method: 'POST',
      sharedTarget: true,
      // Project keys may not grant (issue 16: access they hand out would outlive them).
      expect: [200, 200, 404, 404, 200, 404, 403, 403, 403, 200, 200],
      prepare: async () => {
        const before = await liveGrants(w.projectA1);
        return {
          url: `/api/v2/projects/${w.projectA1}/permissions`,
          body: { email: `grantee-${++uniq}@example.com` },
          verify: async (res) => assert.equal(await liveGrants(w.projectA1), before + (ok(res) ? 1 : 0)),
        };
      },
      missing: () => ({
        url: `/api/v2/projects/${MISSING_PROJECT}/permissions`,
        body: { email: 'missing@example.com' },
      }),
    },
    {
      // The target is always a fresh grant of A1 to someone else.
      name: 'DELETE /projects/{project_id}/permissions/{permission_id}',
      action: 'project_permission:revoke',
      operationId: 'revokePermissionFromProject',
      method: 'DELETE',
      sharedTarget: true,
      expect: [200, 200, 404, 404, 200, 404, 200, 403, 403, 200, 200],
      prepare: async () => {
        const g = await t.call('POST', `/api/v2/projects/${w.projectA1}/permissions`, {
          token: w.admin.token,
          body: { email: `revokee-${++uniq}@example.com` },
        });
        return {
          url: `/api/v2/projects/${w.projectA1}/permissions/${g.body.id}`,
          verify: async (res) => {
            const row = await t.db.kysely
              .selectFrom('project_permissions')
              .select('revoked_at')
              .where('id', '=', g.body.id)
              .executeTakeFirstOrThrow();
            assert.equal(row.revoked_at !== null, ok(res), 'revoked iff allowed');
          },
        };
      },
      missing: () => ({ url: `/api/v2/projects/${MISSING_PROJECT}/permissions/${MISSING_MEMBER}` }),
    },
    {
      name: 'GET /projects/shared',
      action: 'project:list_shared',
      operationId: 'listSharedProjects',
      method: 'GET',
      expect: [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
      prepare: async (p) => ({
        url: '/api/v2/projects/shared?limit=400',
        verify: async (res) => {
          if (!ok(res)) return;
          const ids: string[] = res.body.projects.map((x: { id: string }) => x.id);
          if (p === 'collaborator' || p === 'shared') {
            assert.ok(ids.includes(w.projectA1) && !ids.includes(w.projectA2), `${p}: ${ids.join(',')}`);
          } else assert.deepEqual(ids, [], p);
        },
      }),
    },
  ];

  async function roleOf(memberId: string): Promise<string | undefined> {
    const r = await t.db.kysely
      .selectFrom('members')
      .select('role')
      .where('id', '=', memberId)
      .executeTakeFirst();
    return r?.role;
  }

  function specCheck(op: Op, res: Res): void {
    // POST /organizations is an orgplane extension: its 201 body is Neon's Organization.
    const status = op.operationId === 'getOrganization' && res.status === 201 ? 200 : res.status;
    assertMatchesSpec(op.operationId, status, res.body);
  }

  const withoutRequestId = (body: Record<string, unknown>) => {
    const { request_id: _ignored, ...rest } = body;
    return rest;
  };

  for (const op of ops) {
    test(op.name, async () => {
      const problems: string[] = [];
      const principals: PrincipalName[] = [...UNAUTHENTICATED, ...AUTHENTICATED];
      for (const p of principals) {
        const cell = await op.prepare(p);
        const label = `${op.name} × ${p}`;
        // Asked first (explaining changes nothing): what access/explain predicts for this cell.
        const who = explainIdentity(p);
        const predicted = who
          ? await t.call('POST', `/api/v2/organizations/${w.orgA.id}/access/explain`, {
              token: w.admin.token,
              body: {
                ...who,
                operation: operationIdOf(op),
                ...(targetOf(cell) ? { target: targetOf(cell) } : {}),
              },
            })
          : undefined;
        const res = await t.call(op.method, cell.url, { token: tokens[p], body: cell.body });
        if (predicted && NOT_OF_ORG_A.has(p)) {
          // Explain answers only about org A's keys and people: the rest is 404, like a missing key.
          explained++;
          if (predicted.status !== 404) problems.push(`${label}: explain answered ${predicted.text}`);
        } else if (predicted) {
          explained++;
          const e = predicted.body as { allowed: boolean; status: number; rule: string };
          if (predicted.status !== 200 || e.allowed !== ok(res) || (!e.allowed && e.status !== res.status)) {
            problems.push(`${label}: explain said ${predicted.text}, the request got ${res.status}`);
          }
        }
        if (!observed.has(op.name)) observed.set(op.name, new Map());
        observed.get(op.name)?.set(p, res.status);
        const idx = (AUTHENTICATED as readonly string[]).indexOf(p);
        const want = idx === -1 ? 401 : op.expect[idx];
        if (res.status !== want) {
          problems.push(`${label}: want ${want}, got ${res.status} ${res.text.slice(0, 200)}`);
          continue;
        }
        try {
          specCheck(op, res);
          await cell.verify?.(res);
          if (res.status === 401) {
            seen401.push({
              cell: label,
              body: withoutRequestId(res.body),
              wwwAuthenticate: res.headers['www-authenticate'],
            });
          }
          if (res.status === 403) {
            const message = String(res.body.message);
            if (p === 'project_key') assert.match(message, /project-scoped/, label);
            else if (p === 'org_key_a' || p === 'org_key_b') assert.equal(message, ORG_KEY_MESSAGE, label);
            else assert.match(message, /admin/, label);
          }
          if (res.status === 404 && op.keysHaveNoUser) {
            const message = String(res.body.message);
            if (p === 'project_key') assert.match(message, /project-scoped/, label);
            else assert.match(message, new RegExp(`^${ORG_KEY_MESSAGE}`), label);
          } else if (res.status === 404) {
            // Another organization's objects answer exactly like missing ones.
            assert.ok(op.missing, `${label}: a 404 cell needs a missing-id twin`);
            const twin = op.missing();
            const m = await t.call(op.method, twin.url, { token: tokens[p], body: twin.body });
            assert.equal(m.status, 404, `${label}: missing twin`);
            specCheck(op, m);
            assert.deepEqual(withoutRequestId(res.body), withoutRequestId(m.body), label);
          }
        } catch (err) {
          problems.push(`${label}: ${(err as Error).message}`);
        }
      }
      assert.ok(problems.length === 0, `${problems.length} cell(s) wrong:\n${problems.join('\n')}`);
    });
  }

  test('docs/permissions.md tells the truth: every documented cell matches the status observed', () => {
    const doc = fs.readFileSync(new URL('../docs/permissions.md', import.meta.url), 'utf8');
    const lines = doc.split('\n').filter((l) => l.startsWith('| '));
    const header = (lines[0] ?? '').split('|').map((c) => c.trim());
    const rows = new Map<string, string[]>();
    for (const line of lines.slice(2)) {
      const cells = line.split('|').map((c) => c.trim());
      rows.set((cells[1] ?? '').replace(/`/g, ''), cells);
    }
    const column: Record<Authenticated, string> = {
      admin: 'admin (personal key)',
      member: 'member (personal key)',
      outsider: 'non-member (personal key)',
      removed: 'non-member (personal key)',
      org_key_a: 'org key (this org)',
      org_key_b: 'org key (other org)',
      project_key: 'project key (this project)',
      editor: 'editor (personal key)',
      viewer: 'viewer (personal key)',
      collaborator: 'collaborator (personal key)',
      shared: 'non-member (personal key)',
    };
    const columnFor = (op: Op, p: Authenticated): string => {
      if (op.sharedTarget && p === 'collaborator') return 'collaborator, project shared (personal key)';
      if (op.sharedTarget && p === 'shared') return 'non-member, project shared (personal key)';
      if (op.otherProject && p === 'project_key') return 'project key (other project, same org)';
      return column[p];
    };
    let compared = 0;
    for (const op of ops) {
      const row = rows.get(op.action);
      assert.ok(row, `docs/permissions.md has a row for ${op.action}`);
      for (const p of AUTHENTICATED) {
        const documented: string | undefined = row[header.indexOf(columnFor(op, p))];
        assert.ok(documented !== undefined, `${op.action}: column ${columnFor(op, p)}`);
        if (documented === '·') continue;
        const status = observed.get(op.name)?.get(p);
        assert.ok(status !== undefined, `${op.name} × ${p} was run`);
        const as = status >= 200 && status < 300 ? '✅' : String(status);
        assert.equal(as, documented, `${op.name} × ${p}: observed ${status}, documented ${documented}`);
        compared++;
      }
    }
    assert.ok(compared >= 90, `${compared} cells compared`);
  });

  test('access/explain was asked about every cell with a key or address to name (and agreed)', () => {
    assert.equal(explained, ops.length * (AUTHENTICATED.length + 1));
  });

  test('every 401 has one identical body and WWW-Authenticate: Bearer', () => {
    assert.equal(seen401.length, ops.length * UNAUTHENTICATED.length, 'all 401 cells were seen');
    const first = seen401[0];
    assert.ok(first);
    for (const s of seen401) {
      assert.deepEqual(s.body, first.body, s.cell);
      assert.equal(s.wwwAuthenticate, 'Bearer', s.cell);
    }
    assert.deepEqual(Object.keys(first.body as object).sort(), ['code', 'message']);
  });

  test('other ways of not authenticating get the same 401', async () => {
    const reference = seen401[0]?.body;
    const variants: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer' },
      { authorization: 'Bearer ' },
      { authorization: `Basic ${Buffer.from('user:pass').toString('base64')}` },
      { authorization: `Token ${w.admin.token}` },
      { authorization: `Bearer ${w.admin.token} extra` },
      { authorization: `Bearer ${w.admin.token.slice(0, -1)}` },
      { authorization: `Bearer ${w.admin.token}x` },
      // Pre-`napi_` Neon keys were 64 characters of [a-z0-9]; this server never issued one.
      { authorization: `Bearer ${'a1'.repeat(32)}` },
    ];
    for (const headers of variants) {
      const res = await t.call('GET', '/api/v2/users/me', { headers });
      assert.equal(res.status, 401, JSON.stringify(headers));
      assertMatchesSpec('getCurrentUserInfo', res.status, res.body);
      assert.deepEqual(withoutRequestId(res.body), reference, JSON.stringify(headers));
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    }
    // A token in the query string is not a credential.
    const q = await t.call('GET', `/api/v2/users/me?api_key=${w.admin.token}&token=${w.admin.token}`);
    assert.equal(q.status, 401);
    assert.deepEqual(withoutRequestId(q.body), reference);
  });

  test("A's objects named under B's path answer like missing ones (outsider and B's org key)", async () => {
    const keyA = await createOrgKey(t.services, w.orgA.id, w.admin);
    for (const token of [w.outsider.token, w.orgKeyB.token]) {
      const cases: Array<{
        op: string;
        method: 'GET' | 'PATCH' | 'DELETE';
        foreign: string;
        missing: string;
        body?: unknown;
      }> = [
        {
          op: 'getOrganizationMember',
          method: 'GET',
          foreign: `/api/v2/organizations/${w.orgB.id}/members/${w.memberRow.id}`,
          missing: `/api/v2/organizations/${w.orgB.id}/members/${MISSING_MEMBER}`,
        },
        {
          op: 'updateOrganizationMember',
          method: 'PATCH',
          foreign: `/api/v2/organizations/${w.orgB.id}/members/${w.memberRow.id}`,
          missing: `/api/v2/organizations/${w.orgB.id}/members/${MISSING_MEMBER}`,
          body: { role: 'admin' },
        },
        {
          op: 'revokeOrgApiKey',
          method: 'DELETE',
          foreign: `/api/v2/organizations/${w.orgB.id}/api_keys/${keyA.id}`,
          missing: `/api/v2/organizations/${w.orgB.id}/api_keys/${MISSING_KEY}`,
        },
      ];
      if (token === w.outsider.token) {
        // Removing members is for personal keys only: B's org key gets 403 before any lookup.
        cases.push({
          op: 'removeOrganizationMember',
          method: 'DELETE',
          foreign: `/api/v2/organizations/${w.orgB.id}/members/${w.memberRow.id}`,
          missing: `/api/v2/organizations/${w.orgB.id}/members/${MISSING_MEMBER}`,
        });
      }
      for (const c of cases) {
        const f = await t.call(c.method, c.foreign, { token, body: c.body });
        const m = await t.call(c.method, c.missing, { token, body: c.body });
        assert.equal(f.status, 404, `${c.method} ${c.foreign}`);
        assert.equal(m.status, 404, `${c.method} ${c.missing}`);
        assertMatchesSpec(c.op, f.status, f.body);
        assertMatchesSpec(c.op, m.status, m.body);
        assert.deepEqual(withoutRequestId(f.body), withoutRequestId(m.body));
      }
    }
    // Nothing changed in A.
    assert.equal(await roleOf(w.memberRow.id), 'member');
    assert.equal((await t.call('GET', '/api/v2/auth', { token: keyA.token })).status, 200);
    // Keys of the wrong kind behind the other endpoint: an admin cannot revoke a member's personal
    // key through the organization, nor an organization key through /api_keys.
    const viaOrg = await t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/api_keys/${w.member.keyId}`, {
      token: w.admin.token,
    });
    assert.equal(viaOrg.status, 404);
    assertMatchesSpec('revokeOrgApiKey', viaOrg.status, viaOrg.body);
    const viaPersonal = await t.call('DELETE', `/api/v2/api_keys/${w.orgKeyA.id}`, { token: w.admin.token });
    assert.equal(viaPersonal.status, 404);
    assertMatchesSpec('revokeApiKey', viaPersonal.status, viaPersonal.body);
    assert.equal((await t.call('GET', '/api/v2/auth', { token: w.member.token })).status, 200);
    assert.equal((await t.call('GET', '/api/v2/auth', { token: w.orgKeyA.token })).status, 200);
    // Lists stay in their lane: A's list holds A's organization and project keys only; /api_keys the caller's own.
    const listA = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
      token: w.admin.token,
    });
    assertMatchesSpec('listOrgApiKeys', listA.status, listA.body);
    const idsA = listA.body.map((k: { id: number }) => k.id);
    assert.ok(idsA.includes(w.orgKeyA.id) && idsA.includes(w.projectKeyA1.id));
    for (const id of [w.orgKeyB.id, w.admin.keyId, w.member.keyId]) assert.ok(!idsA.includes(id), `id ${id}`);
    const mine = await t.call('GET', '/api/v2/api_keys', { token: w.admin.token });
    assertMatchesSpec('listApiKeys', mine.status, mine.body);
    const myIds = mine.body.map((k: { id: number }) => k.id);
    assert.ok(myIds.includes(w.admin.keyId));
    for (const id of [w.orgKeyA.id, w.projectKeyA1.id, w.member.keyId])
      assert.ok(!myIds.includes(id), `id ${id}`);

    // And a project of B cannot get a project-scoped key through A.
    const res = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
      token: w.admin.token,
      body: { key_name: 'x', project_id: w.projectB1 },
    });
    assert.equal(res.status, 404);
    assertMatchesSpec('createOrgApiKey', res.status, res.body);
  });

  test('method swaps on the same paths are 405 and change nothing', async () => {
    const target = await freshMember();
    const cases: Array<[string, string, string]> = [
      ['PUT', '/api/v2/auth', 'GET'],
      ['POST', '/api/v2/auth', 'GET'],
      ['POST', '/api/v2/users/me', 'GET'],
      ['DELETE', '/api/v2/users/me', 'GET'],
      ['DELETE', '/api/v2/users/me/organizations', 'GET'],
      ['PUT', '/api/v2/api_keys', 'GET, POST'],
      ['PATCH', `/api/v2/api_keys/${w.admin.keyId}`, 'DELETE'],
      // PATCH: the organization settings extension (max_api_key_lifetime_days).
      ['PUT', `/api/v2/organizations/${w.orgA.id}`, 'GET, PATCH'],
      ['DELETE', `/api/v2/organizations/${w.orgA.id}`, 'GET, PATCH'],
      ['PATCH', `/api/v2/organizations/${w.orgA.id}/api_keys`, 'GET, POST'],
      ['POST', `/api/v2/organizations/${w.orgA.id}/members`, 'GET'],
      ['PUT', `/api/v2/organizations/${w.orgA.id}/members/${target.id}`, 'GET, PATCH, DELETE'],
      ['POST', `/api/v2/organizations/${w.orgA.id}/members/${target.id}`, 'GET, PATCH, DELETE'],
      ['DELETE', `/api/v2/organizations/members/${target.id}`, 'PATCH'],
    ];
    for (const [method, url, allow] of cases) {
      for (const token of [w.admin.token, w.member.token]) {
        const res = await t.call(method, url, { token, body: { role: 'admin' } });
        assert.equal(res.status, 405, `${method} ${url}`);
        assert.equal(res.body.code, 'METHOD_NOT_ALLOWED');
        assert.equal(typeof res.body.message, 'string');
        assert.equal(res.headers.allow, allow, `${method} ${url}`);
      }
    }
    assert.equal(await roleOf(target.id), 'member');
    assert.equal(await roleOf(w.memberRow.id), 'member');
    assert.equal(
      (await t.call('GET', `/api/v2/organizations/${w.orgA.id}`, { token: w.admin.token })).status,
      200,
    );
  });

  test('ids and prototypes in bodies assign nothing', async () => {
    const target = await freshMember();
    // An admin's role change cannot move the member to B or rename its ids.
    const res = await t.call('PATCH', `/api/v2/organizations/${w.orgA.id}/members/${target.id}`, {
      token: w.admin.token,
      body: { role: 'admin', org_id: w.orgB.id, user_id: w.outsider.id, id: MISSING_MEMBER },
    });
    assert.equal(res.status, 200);
    assertMatchesSpec('updateOrganizationMember', res.status, res.body);
    assert.equal(res.body.org_id, w.orgA.id);
    assert.equal(res.body.id, target.id);
    assert.equal(res.body.user_id, target.user_id);
    const row = await t.db.kysely
      .selectFrom('members')
      .selectAll()
      .where('id', '=', target.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual([row.org_id, row.user_id, row.role], [w.orgA.id, target.user_id, 'admin']);
    assert.equal(
      (await t.db.kysely.selectFrom('members').select('id').where('org_id', '=', w.orgB.id).execute()).length,
      1,
      'B still has only its admin',
    );

    // A member cannot promote themself whatever the body says.
    const raw = [
      '{"role":"admin"}',
      '{"role":"member","role":"admin"}',
      '{"role":"admin","__proto__":{"role":"admin","isAdmin":true}}',
      '{"role":"admin","constructor":{"prototype":{"isAdmin":true,"role":"admin"}}}',
    ];
    for (const body of raw) {
      for (const url of [
        `/api/v2/organizations/${w.orgA.id}/members/${w.memberRow.id}`,
        `/api/v2/organizations/members/${w.memberRow.id}`,
      ]) {
        const r = await t.call('PATCH', url, { token: w.member.token, body });
        assert.ok(r.status === 403 || r.status === 400, `${body}: ${r.status}`);
        assertMatchesSpec('updateOrganizationMember', r.status, r.body);
      }
    }
    assert.equal(await roleOf(w.memberRow.id), 'member');

    // A personal key stays a personal key of its caller, whatever ids the body names.
    const personal = await t.call('POST', '/api/v2/api_keys', {
      token: w.member.token,
      body: { key_name: 'p', org_id: w.orgB.id, project_id: w.projectA1, user_id: w.admin.id, kind: 'org' },
    });
    assert.equal(personal.status, 200);
    assertMatchesSpec('createApiKey', personal.status, personal.body);
    assert.equal(personal.body.created_by, w.member.id);
    const auth = await t.call('GET', '/api/v2/auth', { token: personal.body.key });
    assert.deepEqual(auth.body, { account_id: w.member.id, auth_method: 'api_key_user' });

    // A member cannot smuggle project_id through the prototype to get past "only admins create org keys",
    // and an admin's key for A cannot be placed in B.
    const beforeA = await keysOf(w.orgA.id);
    for (const body of [
      `{"key_name":"x","__proto__":{"project_id":"${w.projectA1}"}}`,
      `{"key_name":"x","constructor":{"prototype":{"project_id":"${w.projectA1}"}}}`,
    ]) {
      const r = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
        token: w.member.token,
        body,
      });
      assert.equal(r.status, 403, body);
      assertMatchesSpec('createOrgApiKey', r.status, r.body);
    }
    assert.equal(await keysOf(w.orgA.id), beforeA);
    const beforeB = await keysOf(w.orgB.id);
    const placed = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
      token: w.admin.token,
      body: { key_name: 'x', project_id: w.projectA1, org_id: w.orgB.id },
    });
    assert.equal(placed.status, 200);
    assertMatchesSpec('createOrgApiKey', placed.status, placed.body);
    assert.equal(await keysOf(w.orgB.id), beforeB);
    assert.equal(await keysOf(w.orgA.id), beforeA + 1);

    // An organization cannot be created with a chosen id.
    const org = await t.call('POST', '/api/v2/organizations', {
      token: w.member.token,
      body: { name: 'Chosen', id: 'org-chosen-12345678', handle: 'chosen', managed_by: 'x' },
    });
    assert.equal(org.status, 201);
    assert.notEqual(org.body.id, 'org-chosen-12345678');
    assert.equal(org.body.managed_by, 'console');

    // And nothing leaked onto Object.prototype.
    const probe = {} as Record<string, unknown>;
    assert.equal(probe.isAdmin, undefined);
    assert.equal(probe.role, undefined);
    assert.equal(probe.project_id, undefined);
  });

  async function keysOf(orgId: string): Promise<number> {
    const r = await t.db.kysely
      .selectFrom('api_keys')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('org_id', '=', orgId)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
});

describe('decided cells: revoking your own project-scoped key, leaving an organization', () => {
  let t: TestApp;
  let w: World;
  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
  });
  after(() => t.close());

  test('a member may revoke a project-scoped key they created (org_api_key:revoke_own), not others', async () => {
    const mine = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
      token: w.member.token,
      body: { key_name: 'mine', project_id: w.projectA1 },
    });
    assert.equal(mine.status, 200);
    const del = await t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/api_keys/${mine.body.id}`, {
      token: w.member.token,
    });
    assert.equal(del.status, 200);
    assertMatchesSpec('revokeOrgApiKey', del.status, del.body);
    assert.equal(del.body.revoked, true);
    assert.equal((await t.call('GET', '/api/v2/auth', { token: mine.body.key })).status, 401);

    // The admin's project-scoped key and the organization key are not the member's to revoke.
    for (const keyId of [w.projectKeyA1.id, w.orgKeyA.id]) {
      const res = await t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/api_keys/${keyId}`, {
        token: w.member.token,
      });
      assert.equal(res.status, 403);
      assertMatchesSpec('revokeOrgApiKey', res.status, res.body);
    }
    assert.equal((await t.call('GET', '/api/v2/auth', { token: w.projectKeyA1.token })).status, 200);

    // A member who left cannot revoke the key they created any more (404: the org is gone for them).
    const other = await createUser(t.services, 'leaver');
    const row = await addMember(t.services, w.orgA.id, other, 'member');
    const key = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
      token: other.token,
      body: { key_name: 'k', project_id: w.projectA1 },
    });
    assert.equal(key.status, 200);
    await t.db.kysely.deleteFrom('members').where('id', '=', row.id).execute();
    const gone = await t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/api_keys/${key.body.id}`, {
      token: other.token,
    });
    assert.equal(gone.status, 404);
    assertMatchesSpec('revokeOrgApiKey', gone.status, gone.body);
    // The project-scoped key belongs to the organization and keeps working.
    assert.equal((await t.call('GET', '/api/v2/auth', { token: key.body.key })).status, 200);
  });

  test('a member may leave (member:leave); the last admin may not', async () => {
    const leaver = await createUser(t.services, 'leaver');
    const row = await addMember(t.services, w.orgA.id, leaver, 'member');
    const res = await t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/members/${row.id}`, {
      token: leaver.token,
    });
    assert.equal(res.status, 200);
    assertMatchesSpec('removeOrganizationMember', res.status, res.body);
    const after = await t.call('GET', `/api/v2/organizations/${w.orgA.id}`, { token: leaver.token });
    assert.equal(after.status, 404);

    // The only admin cannot leave, with a clear 409, and stays admin.
    const last = await t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/members/${w.adminMember.id}`, {
      token: w.admin.token,
    });
    assert.equal(last.status, 409);
    assertMatchesSpec('removeOrganizationMember', last.status, last.body);
    assert.match(last.body.message, /only admin/);
    // Nor demote themself.
    const demote = await t.call('PATCH', `/api/v2/organizations/${w.orgA.id}/members/${w.adminMember.id}`, {
      token: w.admin.token,
      body: { role: 'member' },
    });
    assert.equal(demote.status, 409);
    assertMatchesSpec('updateOrganizationMember', demote.status, demote.body);
    // Nor can the organization key demote the only admin.
    const byKey = await t.call('PATCH', `/api/v2/organizations/${w.orgA.id}/members/${w.adminMember.id}`, {
      token: w.orgKeyA.token,
      body: { role: 'member' },
    });
    assert.equal(byKey.status, 409);

    // With a second admin, an admin may leave.
    const second = await createUser(t.services, 'second');
    const secondRow = await addMember(t.services, w.orgA.id, second, 'admin');
    const leave = await t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/members/${secondRow.id}`, {
      token: second.token,
    });
    assert.equal(leave.status, 200);
    const admins = await t.db.kysely
      .selectFrom('members')
      .select('user_id')
      .where('org_id', '=', w.orgA.id)
      .where('role', '=', 'admin')
      .execute();
    assert.deepEqual(
      admins.map((a) => a.user_id),
      [w.admin.id],
    );
    // An organization key has no membership to leave: removing anyone is refused.
    const keyLeave = await t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/members/${w.memberRow.id}`, {
      token: w.orgKeyA.token,
    });
    assert.equal(keyLeave.status, 403);
    assert.equal(keyLeave.body.message, ORG_KEY_MESSAGE);
  });
});

test("routes hold no role checks: every allow/deny is the policy module's", () => {
  const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');
  const routeFiles = fs
    .readdirSync(src, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.routes.ts'));
  assert.ok(routeFiles.length >= 4, routeFiles.join(', '));
  for (const f of routeFiles) {
    const text = fs.readFileSync(path.join(src, f), 'utf8');
    assert.doesNotMatch(text, /\brole\s*[!=]==|\.kind\s*[!=]==|['"]admin['"]|\b(authorize|decide|can)\(/, f);
    assert.doesNotMatch(text, /from '\.\.\/policy/, `${f} imports the policy: decisions belong in services`);
  }
});

describe('decided cells: project grants', () => {
  let t: TestApp;
  let w: World;
  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
  });
  after(() => t.close());

  const body = (res: Res) => {
    const { request_id: _ignored, ...rest } = res.body as Record<string, unknown>;
    return rest;
  };

  test('a collaborator never sees another project of the organization; a revoked grant answers 404 on the next request', async () => {
    const collaborator = await createUser(t.services, 'collab');
    await addMember(t.services, w.orgA.id, collaborator, 'collaborator');
    const more = [];
    for (let i = 0; i < 3; i++)
      more.push(await createProjectRecord(t.services, w.orgA.id, w.admin.id, `x${i}`));
    const others = [w.projectA2, ...more];
    const g = await t.call('POST', `/api/v2/projects/${w.projectA1}/permissions`, {
      token: w.member.token,
      body: { email: collaborator.email },
    });
    assert.equal(g.status, 200);

    const missing = await t.call('GET', '/api/v2/projects/missing-project-00000000', {
      token: collaborator.token,
    });
    assert.equal(missing.status, 404);
    for (const id of others) {
      for (const [method, url, payload] of [
        ['GET', `/api/v2/projects/${id}`, undefined],
        ['PATCH', `/api/v2/projects/${id}`, { project: { name: 'x' } }],
        ['GET', `/api/v2/projects/${id}/permissions`, undefined],
        ['POST', `/api/v2/projects/${id}/permissions`, { email: collaborator.email }],
      ] as const) {
        const res = await t.call(method, url, { token: collaborator.token, body: payload });
        assert.equal(res.status, 404, `${method} ${url}`);
        assert.deepEqual(body(res), body(missing), `${method} ${url}: like a missing project`);
      }
    }
    const list = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}&limit=400`, {
      token: collaborator.token,
    });
    assert.deepEqual(
      list.body.projects.map((p: { id: string }) => p.id),
      [w.projectA1],
    );
    const shared = await t.call('GET', '/api/v2/projects/shared', { token: collaborator.token });
    assert.deepEqual(
      shared.body.projects.map((p: { id: string }) => p.id),
      [w.projectA1],
    );

    // Warm the principal's memo, then revoke: the very next request is decided on the new state.
    for (let i = 0; i < 2; i++) {
      assert.equal(
        (await t.call('GET', `/api/v2/projects/${w.projectA1}`, { token: collaborator.token })).status,
        200,
      );
    }
    const revoked = await t.call('DELETE', `/api/v2/projects/${w.projectA1}/permissions/${g.body.id}`, {
      token: w.admin.token,
    });
    assert.equal(revoked.status, 200);
    assertMatchesSpec('revokePermissionFromProject', revoked.status, revoked.body);
    const after = await t.call('GET', `/api/v2/projects/${w.projectA1}`, { token: collaborator.token });
    assert.equal(after.status, 404);
    assertMatchesSpec('getProject', after.status, after.body);
    assert.deepEqual(body(after), body(missing));
    const empty = await t.call('GET', `/api/v2/projects?org_id=${w.orgA.id}`, { token: collaborator.token });
    assert.deepEqual(empty.body.projects, []);
    const noneShared = await t.call('GET', '/api/v2/projects/shared', { token: collaborator.token });
    assert.deepEqual(noneShared.body, { projects: [] });
  });

  test('a grant lifts a viewer to CAN_EDIT on that project only; revoked, the viewer is read-only again at once', async () => {
    const viewer = await createUser(t.services, 'viewer');
    await addMember(t.services, w.orgA.id, viewer, 'viewer');
    const patch = (id: string) =>
      t.call('PATCH', `/api/v2/projects/${id}`, { token: viewer.token, body: { project: { name: 'v' } } });
    assert.equal((await patch(w.projectA1)).status, 403);
    const g = await t.call('POST', `/api/v2/projects/${w.projectA1}/permissions`, {
      token: w.admin.token,
      body: { email: viewer.email },
    });
    assert.equal((await patch(w.projectA1)).status, 200);
    assert.equal((await patch(w.projectA2)).status, 403);
    await t.call('DELETE', `/api/v2/projects/${w.projectA1}/permissions/${g.body.id}`, {
      token: w.admin.token,
    });
    const again = await patch(w.projectA1);
    assert.equal(again.status, 403);
    assertMatchesSpec('updateProject', again.status, again.body);
    assert.match(again.body.message, /viewers have read-only access/);
    const read = await t.call('GET', `/api/v2/projects/${w.projectA1}`, { token: viewer.token });
    assert.equal(read.body.project.effective_project_permission, 'CAN_VIEW');
  });

  test('removing a member who holds a grant keeps the grant: the project stays reachable, the organization does not', async () => {
    const u = await createUser(t.services, 'leaving');
    const row = await addMember(t.services, w.orgA.id, u, 'member');
    await t.call('POST', `/api/v2/projects/${w.projectA1}/permissions`, {
      token: w.admin.token,
      body: { email: u.email },
    });
    assert.equal((await t.call('GET', `/api/v2/projects/${w.projectA2}`, { token: u.token })).status, 200);
    const removed = await t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/members/${row.id}`, {
      token: w.admin.token,
    });
    assert.equal(removed.status, 200);
    assert.equal((await t.call('GET', `/api/v2/projects/${w.projectA2}`, { token: u.token })).status, 404);
    assert.equal((await t.call('GET', `/api/v2/organizations/${w.orgA.id}`, { token: u.token })).status, 404);
    assert.equal((await t.call('GET', `/api/v2/projects/${w.projectA1}`, { token: u.token })).status, 200);
  });
});
