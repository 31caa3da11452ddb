// Property-based cross-tenant test (fast-check): several organizations, each with users of every
// role, keys of every kind and objects of every kind; random sequences of (principal, operation,
// target from any organization or missing) over the API, checked against an oracle read from
// docs/permissions.md (the table generated from the policy) and against tenant isolation:
//   - never a 5xx;
//   - never a 2xx on another tenant's object;
//   - a foreign id answers exactly like a missing one (status, code and message);
//   - a refused request changes nothing (database snapshot of the run's organizations);
//   - the documented cell for (action, caller) holds: 403 → 403, 404 → 404, allowed → not 401/403.
// Table-driven: a new role is a new entry in ROLES (its column "<role> (personal key)" must exist in
// docs/permissions.md); a new operation is a new entry in OPS; project grants would be another
// principal kind in columnFor(). Bounded: each database stops after TIME_LIMIT_MS.
// Also (issue 16): refusals land only in chains of organizations the caller relates to; explain's
// verdict for random principals × operations × bodies equals the real request's; project-scoped
// keys never grant; a canary key is indistinguishable from an unknown key (status, headers, body
// and the database statements run for the request, counted).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { newApiKeyToken } from '../src/domain/ids.ts';
import { buildTestApp, DIALECT, type Res, type TestApp } from './helpers/app.ts';
import {
  createOrg,
  createOrgKey,
  createProjectRecord,
  createUser,
  type TestUser,
} from './helpers/factories.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TIME_LIMIT_MS = Number(process.env.ORGPLANE_PROPERTY_MS ?? 40_000);
const ORGS = 3;
/** Roles a personal key's user can have; each must have a "<role> (personal key)" column. */
const ROLES = ['admin', 'member'] as const;
type Role = (typeof ROLES)[number];

const MISSING = {
  org: 'org-missing-00000000',
  member: '00000000-0000-4000-8000-000000000000',
  invitation: '00000000-0000-4000-8000-000000000001',
  key: 987654321,
  project: 'missing-project-00000000',
};

// ---------------------------------------------------------------------------------------------
// The oracle: docs/permissions.md, parsed. Cells: ✅ allowed, 403, 404, · not applicable.

type Cell = 'allow' | 403 | 404 | 'n/a';
function loadPermissions(): Map<string, Map<string, Cell>> {
  const md = fs.readFileSync(path.join(root, 'docs/permissions.md'), 'utf8');
  const rows = md.split('\n').filter((l) => l.startsWith('| '));
  const cells = (l: string) =>
    l
      .slice(1, -1)
      .split(' | ')
      .map((c) => c.trim());
  const header = cells(rows[0] ?? '');
  const table = new Map<string, Map<string, Cell>>();
  for (const row of rows.slice(2)) {
    const c = cells(row);
    const action = (c[0] ?? '').replace(/`/g, '');
    const m = new Map<string, Cell>();
    header.forEach((h, i) => {
      if (i < 2) return;
      const v = c[i] ?? '';
      m.set(h, v === '✅' ? 'allow' : v.includes('403') ? 403 : v.includes('404') ? 404 : 'n/a');
    });
    table.set(action, m);
  }
  return table;
}

// ---------------------------------------------------------------------------------------------
// The world of one run.

type Principal =
  | { name: string; kind: 'user'; user: TestUser; token: string; keyId: number }
  | { name: string; kind: 'org_key'; orgId: string; token: string; keyId: number }
  | { name: string; kind: 'project_key'; orgId: string; projectId: string; token: string; keyId: number };

interface OrgObjects {
  id: string;
  members: string[];
  invitations: string[];
  /** Keys made as targets (never a principal's own key): org keys and project keys. */
  keys: number[];
  projects: string[];
}

interface World {
  orgs: OrgObjects[];
  principals: Principal[];
}

async function buildWorld(t: TestApp): Promise<World> {
  const s = t.services;
  const orgs: OrgObjects[] = [];
  const principals: Principal[] = [];
  const users: Record<Role, TestUser>[] = [];
  for (let i = 0; i < ORGS; i++) {
    const admin = await createUser(s, `admin${i}`);
    const org = await createOrg(s, admin, `Org ${i}`, 'scale');
    const byRole = { admin } as Record<Role, TestUser>;
    for (const role of ROLES) {
      if (role === 'admin') continue;
      const u = await createUser(s, `${role}${i}`);
      await s.members.add(org.id, u.email, role);
      byRole[role] = u;
    }
    users.push(byRole);
    const victim = await createUser(s, `victim${i}`);
    await s.members.add(org.id, victim.email, 'member');
    const p0 = await createProjectRecord(s, org.id, admin.id, `p0-${i}`);
    const p1 = await createProjectRecord(s, org.id, admin.id, `p1-${i}`);
    const keys = [
      (await createOrgKey(s, org.id, admin)).id,
      (await createOrgKey(s, org.id, admin, p1)).id,
      (await createOrgKey(s, org.id, byRole.member ?? admin, p1)).id,
    ];
    const inv = await t.call('POST', `/api/v2/organizations/${org.id}/invitations`, {
      token: admin.token,
      body: {
        invitations: [
          { email: `inv-${randomBytes(4).toString('hex')}@example.com`, role: 'member' },
          { email: `inv-${randomBytes(4).toString('hex')}@example.com`, role: 'admin' },
        ],
      },
    });
    assert.equal(inv.status, 200, inv.text);
    const members = await t.db.kysely
      .selectFrom('members')
      .select('id')
      .where('org_id', '=', org.id)
      .execute();
    orgs.push({
      id: org.id,
      members: members.map((m) => m.id),
      invitations: (inv.body.invitations as Array<{ id: string }>).map((x) => x.id),
      keys,
      projects: [p0, p1],
    });
    for (const role of ROLES) {
      const u = byRole[role];
      principals.push({ name: `${role}${i}`, kind: 'user', user: u, token: u.token, keyId: u.keyId });
    }
    const orgKey = await createOrgKey(s, org.id, admin);
    principals.push({
      name: `orgkey${i}`,
      kind: 'org_key',
      orgId: org.id,
      token: orgKey.token,
      keyId: orgKey.id,
    });
    const projKey = await createOrgKey(s, org.id, admin, p0);
    principals.push({
      name: `projkey${i}`,
      kind: 'project_key',
      orgId: org.id,
      projectId: p0,
      token: projKey.token,
      keyId: projKey.id,
    });
  }
  // A user in two organizations (member of 0, admin of 1), and one in none.
  const both = await createUser(s, 'both');
  const [first, second] = orgs;
  assert.ok(first && second);
  await s.members.add(first.id, both.email, 'member');
  await s.members.add(second.id, both.email, 'admin');
  principals.push({ name: 'both', kind: 'user', user: both, token: both.token, keyId: both.keyId });
  const outsider = await createUser(s, 'outsider');
  principals.push({
    name: 'outsider',
    kind: 'user',
    user: outsider,
    token: outsider.token,
    keyId: outsider.keyId,
  });
  void users;
  return { orgs, principals };
}

/** Everything a request could change, restricted to the run's organizations. */
async function snapshot(t: TestApp, w: World): Promise<string> {
  const ids = w.orgs.map((o) => o.id);
  const k = t.db.kysely;
  const [orgs, members, keys, invitations, projects] = await Promise.all([
    k
      .selectFrom('organizations')
      .select(['id', 'name', 'plan', 'updated_at'])
      .where('id', 'in', ids)
      .orderBy('id')
      .execute(),
    k
      .selectFrom('members')
      .select(['id', 'org_id', 'user_id', 'role'])
      .where('org_id', 'in', ids)
      .orderBy('id')
      .execute(),
    k
      .selectFrom('api_keys')
      .select(['id', 'org_id', 'project_id', 'name', 'revoked_at'])
      .where('org_id', 'in', ids)
      .orderBy('id')
      .execute(),
    k
      .selectFrom('invitations')
      .select(['id', 'org_id', 'status', 'revoked_at', 'token_hash', 'expires_at'])
      .where('org_id', 'in', ids)
      .orderBy('id')
      .execute(),
    k
      .selectFrom('projects')
      .select(['id', 'org_id', 'name', 'deleted_at', 'updated_at'])
      .where('org_id', 'in', ids)
      .orderBy('id')
      .execute(),
  ]);
  return JSON.stringify({ orgs, members, keys, invitations, projects });
}

// ---------------------------------------------------------------------------------------------
// Who the caller is relative to a target: the column of docs/permissions.md.

async function roleOf(t: TestApp, userId: string, orgId: string): Promise<string | null> {
  const m = await t.db.kysely
    .selectFrom('members')
    .select('role')
    .where('org_id', '=', orgId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return m?.role ?? null;
}

async function columnFor(t: TestApp, p: Principal, orgId: string, projectId?: string): Promise<string> {
  switch (p.kind) {
    case 'user': {
      const role = await roleOf(t, p.user.id, orgId);
      return role ? `${role} (personal key)` : 'non-member (personal key)';
    }
    case 'org_key':
      return p.orgId === orgId ? 'org key (this org)' : 'org key (other org)';
    case 'project_key':
      if (p.orgId !== orgId) return 'project key (other org)';
      return projectId === undefined || projectId === p.projectId
        ? 'project key (this project)'
        : 'project key (other project, same org)';
  }
}

/** May the caller see this organization's objects at all (tenant membership)? */
async function inTenant(
  t: TestApp,
  p: Principal,
  orgId: string | null,
  projectId?: string,
): Promise<boolean> {
  if (orgId === null) return false;
  if (p.kind === 'user') return (await roleOf(t, p.user.id, orgId)) !== null;
  if (p.kind === 'org_key') return p.orgId === orgId;
  return p.orgId === orgId && (projectId === undefined || projectId === p.projectId);
}

// ---------------------------------------------------------------------------------------------
// Operations. Each picks its targets from a Step, says which docs row applies, and how to swap
// the foreign part for a missing one.

interface Step {
  principal: number;
  op: number;
  org: number; // index into world.orgs, or -1: missing
  objOrg: number; // whose object (index), or -1: missing
  obj: number;
  flag: boolean;
}

interface Request {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  body?: unknown;
}

interface Planned {
  request: Request;
  /** The organization the path names (null: missing) and the object's organization, if any. */
  pathOrg: string | null;
  /** The project the request is about, for project-key columns. */
  projectId?: string;
  action: string;
  /** The same request with the foreign id replaced by a missing one (when there is an id). */
  withMissingOrg?: Request;
  withMissingObject?: Request;
  /** The object's organization (null: missing object). */
  objectOrg?: string | null;
  /** When the object is a project (also a cursor or a body's project_id). */
  objectProjectId?: string;
}

type Ctx = { t: TestApp; w: World; p: Principal; s: Step };
const pick = <T>(xs: T[], i: number): T | undefined => (xs.length === 0 ? undefined : xs[i % xs.length]);
const orgAt = (w: World, i: number) => (i < 0 ? null : (w.orgs[i % w.orgs.length] ?? null));

async function projectOrg(t: TestApp, id: string): Promise<string | null> {
  const r = await t.db.kysely.selectFrom('projects').select('org_id').where('id', '=', id).executeTakeFirst();
  return r?.org_id ?? null;
}

/** An org-scoped operation on a sub-object: /organizations/{org}/<kind>/{id}. */
function orgObjectOp(
  kind: 'members' | 'invitations' | 'keys',
  method: Request['method'],
  suffix: string,
  action: (ctx: Ctx, objId: string | number) => Promise<string> | string,
  body?: (ctx: Ctx) => unknown,
) {
  return async (ctx: Ctx): Promise<Planned> => {
    const org = orgAt(ctx.w, ctx.s.org);
    const owner = orgAt(ctx.w, ctx.s.objOrg);
    const list = owner
      ? kind === 'members'
        ? owner.members
        : kind === 'invitations'
          ? owner.invitations
          : owner.keys
      : [];
    const missingId =
      kind === 'members' ? MISSING.member : kind === 'invitations' ? MISSING.invitation : MISSING.key;
    const id = pick<string | number>(list, ctx.s.obj) ?? missingId;
    const segment = kind === 'keys' ? 'api_keys' : kind;
    const url = (o: string, x: string | number) => `/api/v2/organizations/${o}/${segment}/${x}${suffix}`;
    const b = body?.(ctx);
    const req = (o: string, x: string | number): Request => ({
      method,
      url: url(o, x),
      ...(b === undefined ? {} : { body: b }),
    });
    return {
      request: req(org?.id ?? MISSING.org, id),
      pathOrg: org?.id ?? null,
      action: await action(ctx, id),
      withMissingOrg: req(MISSING.org, id),
      withMissingObject: req(org?.id ?? MISSING.org, missingId),
      objectOrg: owner && id !== missingId ? owner.id : null,
    };
  };
}

/** An org-scoped operation without a sub-object: /organizations/{org}/… */
function orgOp(method: Request['method'], suffix: string, action: string, body?: (ctx: Ctx) => unknown) {
  return async (ctx: Ctx): Promise<Planned> => {
    const org = orgAt(ctx.w, ctx.s.org);
    const b = body?.(ctx);
    const req = (o: string): Request => ({
      method,
      url: `/api/v2/organizations/${o}${suffix}`,
      ...(b === undefined ? {} : { body: b }),
    });
    return {
      request: req(org?.id ?? MISSING.org),
      pathOrg: org?.id ?? null,
      action,
      withMissingOrg: req(MISSING.org),
    };
  };
}

/** A project operation: /projects/{project}… */
function projectOp(method: Request['method'], suffix: string, action: string, body?: unknown) {
  return async (ctx: Ctx): Promise<Planned> => {
    const owner = orgAt(ctx.w, ctx.s.objOrg);
    const id = (owner && pick(owner.projects, ctx.s.obj)) ?? MISSING.project;
    const req = (x: string): Request => ({
      method,
      url: `/api/v2/projects/${x}${suffix}`,
      ...(body === undefined ? {} : { body }),
    });
    const org = id === MISSING.project ? null : await projectOrg(ctx.t, id);
    return {
      request: req(id),
      pathOrg: org,
      projectId: id,
      action,
      withMissingObject: req(MISSING.project),
      objectOrg: org,
      objectProjectId: id,
    };
  };
}

const OPS: Array<{ name: string; plan: (ctx: Ctx) => Promise<Planned> }> = [
  { name: 'get organization', plan: orgOp('GET', '', 'organization:read') },
  { name: 'list members', plan: orgOp('GET', '/members', 'member:list') },
  { name: 'get member', plan: orgObjectOp('members', 'GET', '', () => 'member:read') },
  {
    name: 'update member',
    plan: orgObjectOp(
      'members',
      'PATCH',
      '',
      () => 'member:update',
      (ctx) => ({ role: ctx.s.flag ? 'admin' : 'member' }),
    ),
  },
  {
    name: 'remove member',
    plan: orgObjectOp('members', 'DELETE', '', async (ctx, id) => {
      if (ctx.p.kind !== 'user') return 'member:remove';
      const m = await ctx.t.db.kysely
        .selectFrom('members')
        .select('user_id')
        .where('id', '=', String(id))
        .executeTakeFirst();
      return m?.user_id === ctx.p.user.id ? 'member:leave' : 'member:remove';
    }),
  },
  { name: 'list invitations', plan: orgOp('GET', '/invitations', 'invitation:list') },
  {
    name: 'create invitation',
    plan: orgOp('POST', '/invitations', 'invitation:create', () => ({
      invitations: [{ email: `x-${randomBytes(4).toString('hex')}@example.com`, role: 'member' }],
    })),
  },
  { name: 'revoke invitation', plan: orgObjectOp('invitations', 'DELETE', '', () => 'invitation:revoke') },
  {
    name: 'resend invitation',
    plan: orgObjectOp('invitations', 'POST', '/resend', () => 'invitation:resend'),
  },
  { name: 'list org keys', plan: orgOp('GET', '/api_keys', 'org_api_key:list') },
  {
    name: 'create org key',
    plan: orgOp('POST', '/api_keys', 'org_api_key:create', () => ({ key_name: 'prop' })),
  },
  {
    name: 'create project key',
    plan: async (ctx) => {
      const org = orgAt(ctx.w, ctx.s.org);
      const owner = orgAt(ctx.w, ctx.s.objOrg);
      const projectId = (owner && pick(owner.projects, ctx.s.obj)) ?? MISSING.project;
      const req = (o: string, p: string): Request => ({
        method: 'POST',
        url: `/api/v2/organizations/${o}/api_keys`,
        body: { key_name: 'prop', project_id: p },
      });
      return {
        request: req(org?.id ?? MISSING.org, projectId),
        pathOrg: org?.id ?? null,
        action: 'project_api_key:create',
        withMissingOrg: req(MISSING.org, projectId),
        withMissingObject: req(org?.id ?? MISSING.org, MISSING.project),
        objectOrg: projectId === MISSING.project ? null : await projectOrg(ctx.t, projectId),
        objectProjectId: projectId,
      };
    },
  },
  {
    name: 'revoke org key',
    plan: orgObjectOp('keys', 'DELETE', '', async (ctx, id) => {
      const key = await ctx.t.db.kysely
        .selectFrom('api_keys')
        .select(['created_by', 'project_id'])
        .where('id', '=', Number(id))
        .executeTakeFirst();
      return ctx.p.kind === 'user' && key?.project_id && key.created_by === ctx.p.user.id
        ? 'org_api_key:revoke_own'
        : 'org_api_key:revoke';
    }),
  },
  {
    name: 'list projects',
    plan: async (ctx) => {
      const org = orgAt(ctx.w, ctx.s.org);
      const owner = orgAt(ctx.w, ctx.s.objOrg);
      // With flag: a cursor taken from any organization (or missing).
      const cursor = ctx.s.flag ? ((owner && pick(owner.projects, ctx.s.obj)) ?? MISSING.project) : undefined;
      const req = (o: string, c?: string): Request => ({
        method: 'GET',
        url: `/api/v2/projects?org_id=${o}${c ? `&cursor=${c}` : ''}`,
      });
      return {
        request: req(org?.id ?? MISSING.org, cursor),
        pathOrg: org?.id ?? null,
        action: 'project:list',
        withMissingOrg: req(MISSING.org, cursor),
        ...(cursor ? { withMissingObject: req(org?.id ?? MISSING.org, MISSING.project) } : {}),
        ...(cursor
          ? {
              objectOrg: cursor === MISSING.project ? null : await projectOrg(ctx.t, cursor),
              objectProjectId: cursor,
            }
          : {}),
      };
    },
  },
  { name: 'get project', plan: projectOp('GET', '', 'project:read') },
  {
    name: 'update project',
    plan: projectOp('PATCH', '', 'project:update', { project: { name: 'renamed' } }),
  },
  { name: 'delete project', plan: projectOp('DELETE', '', 'project:delete') },
  { name: 'recover project', plan: projectOp('POST', '/recover', 'project:recover') },
];

// ---------------------------------------------------------------------------------------------

async function send(t: TestApp, p: Principal, r: Request): Promise<Res> {
  return t.call(r.method, r.url, { token: p.token, ...(r.body === undefined ? {} : { body: r.body }) });
}

const describeRes = (r: Res) => `${r.status} ${r.text.slice(0, 160)}`;

function assertLikeMissing(foreign: Res, missing: Res, what: string): void {
  assert.equal(
    foreign.status,
    missing.status,
    `${what}: foreign ${describeRes(foreign)} vs missing ${describeRes(missing)}`,
  );
  assert.equal(foreign.body?.code, missing.body?.code, what);
  assert.equal(foreign.body?.message, missing.body?.message, what);
}

/** Each chain's newest position (chains only grow). */
async function eventCount(t: TestApp): Promise<Map<string, number>> {
  const rows = await t.db.kysely
    .selectFrom('audit_events')
    .select((eb) => ['chain', eb.fn.max('seq').as('seq')])
    .groupBy('chain')
    .execute();
  return new Map(rows.map((r) => [r.chain, Number(r.seq)]));
}

/** The chains that received events since `before`. */
async function chainsSince(t: TestApp, before: Map<string, number>): Promise<string[]> {
  const now = await eventCount(t);
  return [...now].filter(([chain, seq]) => seq > (before.get(chain) ?? 0)).map(([chain]) => chain);
}

/** Whether the caller relates to the chain: its own user, or an organization it belongs to. */
async function chainOfCaller(t: TestApp, p: Principal, chain: string): Promise<boolean> {
  if (p.kind !== 'user') return chain === `org:${p.orgId}`;
  if (chain === `user:${p.user.id}`) return true;
  return chain.startsWith('org:') && (await roleOf(t, p.user.id, chain.slice(4))) !== null;
}

async function runStep(
  t: TestApp,
  w: World,
  permissions: Map<string, Map<string, Cell>>,
  s: Step,
): Promise<void> {
  const p = w.principals[s.principal % w.principals.length];
  const op = OPS[s.op % OPS.length];
  assert.ok(p && op);
  const plan = await op.plan({ t, w, p, s });
  const what = `${p.name} ${op.name}: ${plan.request.method} ${plan.request.url}`;
  const pathInTenant = await inTenant(
    t,
    p,
    plan.pathOrg,
    p.kind === 'project_key' ? plan.projectId : undefined,
  );
  const objectForeign =
    plan.objectOrg !== undefined &&
    plan.objectOrg !== null &&
    !(await inTenant(t, p, plan.objectOrg, plan.objectProjectId));
  // Who the caller is, decided before the request (it may change it: leaving, demotion).
  const column = plan.pathOrg !== null ? await columnFor(t, p, plan.pathOrg, plan.projectId) : undefined;
  const before = await snapshot(t, w);
  const seenEvents = await eventCount(t);
  const res = await send(t, p, plan.request);
  assert.ok(res.status < 500, `${what}: ${describeRes(res)}`);
  if (res.status >= 400) {
    assert.equal(typeof res.body?.request_id, 'string', `${what}: standard error body`);
    assert.equal(await snapshot(t, w), before, `${what}: a refused request changed nothing`);
    // A refusal is recorded only in a chain of an organization the caller relates to (else the
    // caller's own), so nobody writes into, or learns from, another organization's log.
    for (const chain of await chainsSince(t, seenEvents)) {
      assert.ok(await chainOfCaller(t, p, chain), `${what}: refusal recorded in ${chain}`);
    }
  }

  if (!pathInTenant && plan.pathOrg !== null) {
    assert.ok(res.status >= 400, `${what}: no 2xx on another tenant's organization: ${describeRes(res)}`);
  }
  if (objectForeign)
    assert.ok(res.status >= 400, `${what}: no 2xx on another tenant's object: ${describeRes(res)}`);

  // The oracle: the documented cell for this action and caller, when the request is about the
  // path's own organization (an object of another one, or a missing one, is 404 or 403 depending
  // on whether the service must find it to know which rule applies, e.g. revoke vs revoke_own).
  if (column !== undefined && (plan.objectOrg === undefined || plan.objectOrg === plan.pathOrg)) {
    const row = permissions.get(plan.action);
    assert.ok(row, `docs/permissions.md has a row for ${plan.action}`);
    assert.ok(row.has(column), `docs/permissions.md has a column "${column}" (add it when adding a role)`);
    const cell = row.get(column);
    if (cell === 403 || cell === 404)
      assert.equal(res.status, cell, `${what} [${column}]: ${describeRes(res)}`);
    if (cell === 'allow')
      assert.ok(![401, 403].includes(res.status), `${what} [${column}] allowed: ${describeRes(res)}`);
  }

  // Foreign ids answer exactly like missing ones, and the missing request changes nothing either.
  const compare = async (alt: Request | undefined, label: string) => {
    if (!alt) return;
    const b = await snapshot(t, w);
    const missing = await send(t, p, alt);
    assert.ok(missing.status >= 400 && missing.status < 500, `${what} (${label}): ${describeRes(missing)}`);
    assert.equal(await snapshot(t, w), b, `${what} (${label}) changed nothing`);
    assertLikeMissing(res, missing, `${what} (${label})`);
  };
  if (!pathInTenant && plan.pathOrg !== null) await compare(plan.withMissingOrg, 'organization → missing');
  else if (objectForeign) await compare(plan.withMissingObject, 'object → missing');
}

describe(`cross-tenant property (${DIALECT})`, () => {
  let t: TestApp;
  const permissions = loadPermissions();
  let statements = 0;
  before(async () => {
    t = await buildTestApp({}, { onStatement: () => statements++ });
  });
  after(() => t.close());

  test('the oracle covers every role and operation', () => {
    for (const role of ROLES) assert.ok(permissions.get('member:list')?.has(`${role} (personal key)`), role);
  });

  test(`random principals × operations × targets from any organization (≤ ${TIME_LIMIT_MS / 1000} s)`, async (ctx) => {
    const step = fc.record({
      principal: fc.nat({ max: 1000 }),
      op: fc.nat({ max: OPS.length - 1 }),
      org: fc.integer({ min: -1, max: ORGS - 1 }),
      objOrg: fc.integer({ min: -1, max: ORGS - 1 }),
      obj: fc.nat({ max: 5 }),
      flag: fc.boolean(),
    });
    let runs = 0;
    let steps = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (seq) => {
        runs++;
        const w = await buildWorld(t);
        for (const s of seq) {
          steps++;
          await runStep(t, w, permissions, s);
        }
      }),
      {
        numRuns: 10_000,
        interruptAfterTimeLimit: TIME_LIMIT_MS,
        markInterruptAsFailure: false,
        endOnFailure: true,
        includeErrorInReport: true,
        ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
      },
    );
    ctx.diagnostic(`${runs} runs, ${steps} steps`);
    assert.ok(runs >= 3, `enough runs in the time limit (${runs} runs, ${steps} steps)`);
  });

  const props = {
    numRuns: 10_000,
    interruptAfterTimeLimit: Math.max(2_000, TIME_LIMIT_MS / 4),
    markInterruptAsFailure: false,
    endOnFailure: true,
    includeErrorInReport: true,
    ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
  };

  /** An organization key of `orgId` made a canary (as its admin would), and one already expired. */
  async function trapKeys(w: World, orgIndex: number): Promise<Principal[]> {
    const org = w.orgs[orgIndex];
    const admin = w.principals.find((x) => x.name === `admin${orgIndex}`);
    assert.ok(org && admin);
    const make = async (body: Record<string, unknown>) => {
      const r = await t.call('POST', `/api/v2/organizations/${org.id}/api_keys`, {
        token: admin.token,
        body,
      });
      assert.equal(r.status, 200, r.text);
      return r.body as { id: number; key: string };
    };
    const canary = await make({ key_name: 'trap', canary: true });
    const expired = await make({
      key_name: 'old',
      expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await t.db.kysely
      .updateTable('api_keys')
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('id', '=', expired.id)
      .execute();
    return [
      { name: `canary${orgIndex}`, kind: 'org_key', orgId: org.id, token: canary.key, keyId: canary.id },
      { name: `expired${orgIndex}`, kind: 'org_key', orgId: org.id, token: expired.key, keyId: expired.id },
    ];
  }

  test('explain with the body agrees with the real request (random principals × operations × bodies)', async (ctx) => {
    const w = await buildWorld(t);
    const principals = [...w.principals, ...(await trapKeys(w, 0)), ...(await trapKeys(w, 1))];
    const admins = w.orgs.map((_, i) => w.principals.find((x) => x.name === `admin${i}`));
    // Operations whose answer the body can decide, and some whose answer it cannot.
    const EXPLAINED: Array<{
      op: string;
      request: (org: string, g: { obj: number; objOrg: number; flag: boolean }) => Request;
    }> = [
      {
        op: 'createOrgApiKey',
        request: (org, g) => {
          const owner = orgAt(w, g.objOrg);
          const projectId =
            g.obj % 3 === 0 ? undefined : ((owner && pick(owner.projects, g.obj)) ?? MISSING.project);
          return {
            method: 'POST',
            url: `/api/v2/organizations/${org}/api_keys`,
            body: {
              key_name: 'explained',
              ...(projectId ? { project_id: projectId } : {}),
              ...(g.flag ? { canary: true } : {}),
            },
          };
        },
      },
      {
        op: 'createProject',
        request: (org, g) => ({
          method: 'POST',
          url: '/api/v2/projects',
          body: {
            project: { org_id: g.flag ? org : (orgAt(w, g.objOrg)?.id ?? MISSING.org), name: 'explained' },
          },
        }),
      },
      { op: 'getOrganization', request: (org) => ({ method: 'GET', url: `/api/v2/organizations/${org}` }) },
      {
        op: 'listOrgApiKeys',
        request: (org) => ({ method: 'GET', url: `/api/v2/organizations/${org}/api_keys` }),
      },
    ];
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          principal: fc.nat({ max: 1000 }),
          op: fc.nat({ max: EXPLAINED.length - 1 }),
          org: fc.nat({ max: ORGS - 1 }),
          objOrg: fc.integer({ min: -1, max: ORGS - 1 }),
          obj: fc.nat({ max: 5 }),
          flag: fc.boolean(),
        }),
        async (g) => {
          const p = principals[g.principal % principals.length];
          const e = EXPLAINED[g.op];
          const org = w.orgs[g.org];
          const admin = admins[g.org];
          assert.ok(p && e && org && admin);
          const req = e.request(org.id, g);
          const explained = await t.call('POST', `/api/v2/organizations/${org.id}/access/explain`, {
            token: admin.token,
            body: { key_id: p.keyId, operation: e.op, ...(req.body ? { body: req.body } : {}) },
          });
          // Explain answers only about keys and people of its organization.
          if (explained.status === 404) return;
          assert.equal(explained.status, 200, explained.text);
          const real = await send(t, p, req);
          const what = `${p.name} ${e.op} ${JSON.stringify(req.body ?? {})}: real ${describeRes(real)}, explain ${explained.text}`;
          compared++;
          if (explained.body.allowed) assert.ok(![401, 403, 404].includes(real.status), what);
          else assert.equal(real.status, explained.body.status, what);
        },
      ),
      props,
    );
    ctx.diagnostic(`${compared} comparisons`);
    assert.ok(compared >= 10, `enough comparisons (${compared})`);
  });

  test('a project-scoped key can grant nothing (random keys × projects of any organization)', async () => {
    const w = await buildWorld(t);
    const keys = w.principals.filter((x) => x.kind === 'project_key');
    const grants = async () =>
      (await t.db.kysely.selectFrom('project_permissions').select('id').execute()).length;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          key: fc.nat({ max: 100 }),
          objOrg: fc.integer({ min: -1, max: ORGS - 1 }),
          obj: fc.nat({ max: 5 }),
        }),
        async (g) => {
          const p = keys[g.key % keys.length];
          assert.ok(p && p.kind === 'project_key');
          const owner = orgAt(w, g.objOrg);
          // Its own project half the time.
          const projectId =
            g.obj % 2 === 0 ? p.projectId : ((owner && pick(owner.projects, g.obj)) ?? MISSING.project);
          const n = await grants();
          const r = await send(t, p, {
            method: 'POST',
            url: `/api/v2/projects/${projectId}/permissions`,
            body: { email: `grantee-${randomBytes(3).toString('hex')}@example.com` },
          });
          assert.equal(
            r.status,
            projectId === p.projectId ? 403 : 404,
            `${p.name} → ${projectId}: ${describeRes(r)}`,
          );
          assert.equal(await grants(), n, 'no grant written');
        },
      ),
      props,
    );
  });

  test('a canary key answers exactly as an unknown key: status, headers, body, statements run', async () => {
    const w = await buildWorld(t);
    const [canary] = await trapKeys(w, 0);
    assert.ok(canary);
    // A well-formed key that was never issued (its checksum holds): looked up, as a canary is.
    const unknownToken = () => newApiKeyToken();
    const access = t.services.access;
    const defer = access.deferReport;
    const held: Array<() => void> = [];
    // The record of a canary use runs after the answer: held here, so the count is the request's own.
    access.deferReport = (fn) => held.push(fn);
    const strip = (r: Res) => ({
      status: r.status,
      body: JSON.stringify(r.body, (k, v: unknown) => (k === 'request_id' ? undefined : v)),
      headers: Object.fromEntries(
        Object.entries(r.headers).filter(
          ([k]) => !['x-request-id', 'x-neon-ret-request-id', 'date', 'content-length'].includes(k),
        ),
      ),
    });
    const measured = async (token: string, req: Request) => {
      // Key uses are written by a timer: write what is pending first, so no flush lands inside.
      await t.services.lastUsed.flush();
      const before = statements;
      const r = await t.call(req.method, req.url, {
        token,
        ...(req.body === undefined ? {} : { body: req.body }),
      });
      return { r: strip(r), statements: statements - before };
    };
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            op: fc.nat({ max: OPS.length - 1 }),
            org: fc.integer({ min: -1, max: ORGS - 1 }),
            objOrg: fc.integer({ min: -1, max: ORGS - 1 }),
            obj: fc.nat({ max: 5 }),
            flag: fc.boolean(),
            first: fc.boolean(),
          }),
          async (g) => {
            const op = OPS[g.op];
            assert.ok(op);
            const plan = await op.plan({ t, w, p: canary, s: { principal: 0, ...g } });
            // Interleaved in random order, so neither key is always the warm one.
            const a = g.first ? await measured(canary.token, plan.request) : undefined;
            const u = await measured(unknownToken(), plan.request);
            const c = a ?? (await measured(canary.token, plan.request));
            const what = `${op.name}: ${plan.request.method} ${plan.request.url}`;
            assert.equal(c.r.status, 401, what);
            assert.deepEqual(c.r, u.r, what);
            assert.equal(c.statements, u.statements, `${what}: the same database work`);
            held.splice(0).forEach((fn) => fn());
            await access.settled();
          },
        ),
        props,
      );
    } finally {
      access.deferReport = defer;
      held.splice(0).forEach((fn) => fn());
      await access.settled();
    }
  });
});
