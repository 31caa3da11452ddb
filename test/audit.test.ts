// The audit log: every mutating route writes exactly one event per outcome (a walk of the route
// table, so a new route without an audit mapping and a case here fails), the hash chains detect
// edits, deletions and reorderings, no secret reaches an event, and the read API, filters,
// pagination and retention pruning behave.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MUTATING_METHODS } from '../src/audit/audit.hook.ts';
import { registeredRouteConfigs, registeredRoutes } from '../src/http/error-handler.ts';
import { UNSUPPORTED_OPERATIONS } from '../src/projects/unsupported.ts';
import { buildTestApp, DIALECT, type Res, type TestApp } from './helpers/app.ts';
import {
  addMember,
  buildWorld,
  createOrg,
  createOrgKey,
  createProjectRecord,
  createUser,
  type World,
} from './helpers/factories.ts';

interface Req {
  method: 'POST' | 'PATCH' | 'DELETE' | 'PUT';
  url: string;
  token: string;
  body?: unknown;
}

describe(`audit log (${DIALECT})`, () => {
  let t: TestApp;
  let w: World;
  let orgC: string;
  const PASSWORD = 'correct horse battery staple 42';

  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
    orgC = (await createOrg(t.services, w.admin, 'Org C', 'scale')).id;
  });
  after(() => t.close());

  const call = (r: Req) => t.call(r.method, r.url, { token: r.token, body: r.body });
  const eventsOf = async (res: Res) => {
    const id = String(res.headers['x-request-id']);
    return t.db.kysely.selectFrom('audit_events').selectAll().where('request_id', '=', id).execute();
  };
  const fresh = async () =>
    addMember(t.services, w.orgA.id, await createUser(t.services, 'target'), 'member');
  const invite = async () => {
    const [inv] = await t.services.invitations.create(
      { kind: 'user', userId: w.admin.id, keyId: w.admin.keyId },
      w.orgA.id,
      [{ email: `inv-${Math.random().toString(36).slice(2)}@example.com`, role: 'member' }],
      (await import('../src/audit/audit.ts')).AuditContext.operator(),
    );
    return inv?.id ?? '';
  };
  const A = () => `/api/v2/organizations/${w.orgA.id}`;

  /** Per audited route: one request that is allowed and one that is denied. */
  const CASES: Record<string, () => Promise<{ allowed: Req; denied: Req }>> = {
    'POST /api/v2/api_keys': async () => ({
      allowed: { method: 'POST', url: '/api/v2/api_keys', token: w.admin.token, body: { key_name: 'k' } },
      denied: { method: 'POST', url: '/api/v2/api_keys', token: w.orgKeyA.token, body: { key_name: 'k' } },
    }),
    'DELETE /api/v2/api_keys/:key_id': async () => {
      const { row } = await t.services.apiKeys.createPersonalFor(w.admin.id, 'target');
      return {
        allowed: { method: 'DELETE', url: `/api/v2/api_keys/${row.id}`, token: w.admin.token },
        denied: { method: 'DELETE', url: `/api/v2/api_keys/${row.id}`, token: w.member.token },
      };
    },
    'POST /api/v2/organizations': async () => ({
      allowed: { method: 'POST', url: '/api/v2/organizations', token: w.member.token, body: { name: 'New' } },
      denied: { method: 'POST', url: '/api/v2/organizations', token: w.orgKeyA.token, body: { name: 'New' } },
    }),
    'POST /api/v2/organizations/:org_id/api_keys': async () => ({
      allowed: { method: 'POST', url: `${A()}/api_keys`, token: w.admin.token, body: { key_name: 'k' } },
      denied: { method: 'POST', url: `${A()}/api_keys`, token: w.member.token, body: { key_name: 'k' } },
    }),
    'DELETE /api/v2/organizations/:org_id/api_keys/:key_id': async () => {
      const key = await createOrgKey(t.services, w.orgA.id, w.admin);
      return {
        allowed: { method: 'DELETE', url: `${A()}/api_keys/${key.id}`, token: w.admin.token },
        denied: { method: 'DELETE', url: `${A()}/api_keys/${key.id}`, token: w.member.token },
      };
    },
    'PATCH /api/v2/organizations/:org_id/members/:member_id': async () => {
      const m = await fresh();
      const req = (token: string): Req => ({
        method: 'PATCH',
        url: `${A()}/members/${m.id}`,
        token,
        body: { role: 'admin' },
      });
      return { allowed: req(w.admin.token), denied: req(w.member.token) };
    },
    'PATCH /api/v2/organizations/members/:member_id': async () => {
      const m = await fresh();
      const req = (token: string): Req => ({
        method: 'PATCH',
        url: `/api/v2/organizations/members/${m.id}`,
        token,
        body: { role: 'admin' },
      });
      return { allowed: req(w.admin.token), denied: req(w.member.token) };
    },
    'DELETE /api/v2/organizations/:org_id/members/:member_id': async () => {
      const m = await fresh();
      return {
        allowed: { method: 'DELETE', url: `${A()}/members/${m.id}`, token: w.admin.token },
        denied: { method: 'DELETE', url: `${A()}/members/${m.id}`, token: w.member.token },
      };
    },
    'POST /api/v2/organizations/:org_id/invitations': async () => {
      const body = () => ({
        invitations: [{ email: `x-${Math.random().toString(36).slice(2)}@example.com`, role: 'member' }],
      });
      return {
        allowed: { method: 'POST', url: `${A()}/invitations`, token: w.admin.token, body: body() },
        denied: { method: 'POST', url: `${A()}/invitations`, token: w.member.token, body: body() },
      };
    },
    'DELETE /api/v2/organizations/:org_id/invitations/:invitation_id': async () => {
      const id = await invite();
      return {
        allowed: { method: 'DELETE', url: `${A()}/invitations/${id}`, token: w.admin.token },
        denied: { method: 'DELETE', url: `${A()}/invitations/${id}`, token: w.member.token },
      };
    },
    'POST /api/v2/organizations/:org_id/invitations/:invitation_id/resend': async () => {
      const id = await invite();
      return {
        allowed: { method: 'POST', url: `${A()}/invitations/${id}/resend`, token: w.admin.token },
        denied: { method: 'POST', url: `${A()}/invitations/${id}/resend`, token: w.member.token },
      };
    },
    'POST /api/v2/projects': async () => {
      const body = { project: { name: 'p', org_id: w.orgA.id } };
      return {
        allowed: { method: 'POST', url: '/api/v2/projects', token: w.member.token, body },
        denied: { method: 'POST', url: '/api/v2/projects', token: w.outsider.token, body },
      };
    },
    'PATCH /api/v2/projects/:project_id': async () => {
      const body = { project: { name: 'renamed' } };
      return {
        allowed: { method: 'PATCH', url: `/api/v2/projects/${w.projectA1}`, token: w.member.token, body },
        denied: { method: 'PATCH', url: `/api/v2/projects/${w.projectA1}`, token: w.outsider.token, body },
      };
    },
    'DELETE /api/v2/projects/:project_id': async () => {
      const p = await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'doomed');
      return {
        allowed: { method: 'DELETE', url: `/api/v2/projects/${p}`, token: w.admin.token },
        denied: { method: 'DELETE', url: `/api/v2/projects/${p}`, token: w.member.token },
      };
    },
    'POST /api/v2/projects/:project_id/recover': async () => {
      const p = await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'undone');
      await t.call('DELETE', `/api/v2/projects/${p}`, { token: w.admin.token });
      return {
        allowed: { method: 'POST', url: `/api/v2/projects/${p}/recover`, token: w.admin.token },
        denied: { method: 'POST', url: `/api/v2/projects/${p}/recover`, token: w.member.token },
      };
    },
    'POST /api/v2/organizations/:source_org_id/projects/transfer': async () => {
      const p = await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'mover');
      const body = { destination_org_id: orgC, project_ids: [p] };
      return {
        allowed: { method: 'POST', url: `${A()}/projects/transfer`, token: w.admin.token, body },
        denied: { method: 'POST', url: `${A()}/projects/transfer`, token: w.member.token, body },
      };
    },
    'POST /api/v2/users/me/projects/transfer': async () => {
      const p = await createProjectRecord(t.services, null, w.admin.id, 'mine');
      const body = { destination_org_id: w.orgA.id, project_ids: [p] };
      const url = '/api/v2/users/me/projects/transfer';
      return {
        allowed: { method: 'POST', url, token: w.admin.token, body },
        denied: { method: 'POST', url, token: w.orgKeyA.token, body },
      };
    },
    'POST /api/v2/api_keys/:key_id/rotate': async () => {
      const { row } = await t.services.apiKeys.createPersonalFor(w.admin.id, 'rotated');
      const url = `/api/v2/api_keys/${row.id}/rotate`;
      return {
        allowed: { method: 'POST', url, token: w.admin.token, body: {} },
        denied: { method: 'POST', url, token: w.member.token, body: {} },
      };
    },
    'POST /api/v2/organizations/:org_id/api_keys/:key_id/rotate': async () => {
      const key = await createOrgKey(t.services, w.orgA.id, w.admin);
      const url = `${A()}/api_keys/${key.id}/rotate`;
      return {
        allowed: { method: 'POST', url, token: w.admin.token, body: {} },
        denied: { method: 'POST', url, token: w.member.token, body: {} },
      };
    },
    'PATCH /api/v2/organizations/:org_id': async () => {
      const body = { max_api_key_lifetime_days: null };
      return {
        allowed: { method: 'PATCH', url: A(), token: w.admin.token, body },
        denied: { method: 'PATCH', url: A(), token: w.member.token, body },
      };
    },
    'POST /api/v2/projects/:project_id/permissions': async () => {
      const url = `/api/v2/projects/${w.projectA1}/permissions`;
      const body = () => ({ email: `share-${Math.random().toString(36).slice(2)}@example.com` });
      return {
        allowed: { method: 'POST', url, token: w.member.token, body: body() },
        denied: { method: 'POST', url, token: w.outsider.token, body: body() },
      };
    },
    'DELETE /api/v2/projects/:project_id/permissions/:permission_id': async () => {
      const g = await t.services.sharing.grant(
        { kind: 'user', userId: w.admin.id, keyId: w.admin.keyId },
        w.projectA1,
        `revoke-${Math.random().toString(36).slice(2)}@example.com`,
        (await import('../src/audit/audit.ts')).AuditContext.operator(),
      );
      const url = `/api/v2/projects/${w.projectA1}/permissions/${g.id}`;
      return {
        allowed: { method: 'DELETE', url, token: w.admin.token },
        denied: { method: 'DELETE', url, token: w.outsider.token },
      };
    },
    'POST /api/v2/projects/:project_id/transfer_requests': async () => {
      const p = await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'claimable');
      const url = `/api/v2/projects/${p}/transfer_requests`;
      return {
        allowed: { method: 'POST', url, token: w.admin.token, body: {} },
        denied: { method: 'POST', url, token: w.outsider.token, body: {} },
      };
    },
    'PUT /api/v2/projects/:project_id/transfer_requests/:request_id': async () => {
      const p = await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'claimed');
      const r = await t.services.transferRequests.create(
        { kind: 'user', userId: w.admin.id, keyId: w.admin.keyId },
        p,
        undefined,
        (await import('../src/audit/audit.ts')).AuditContext.operator(),
      );
      const url = `/api/v2/projects/${p}/transfer_requests/${r.id}`;
      return {
        allowed: { method: 'PUT', url, token: w.admin.token, body: { org_id: orgC } },
        denied: { method: 'PUT', url, token: w.member.token, body: { org_id: orgC } },
      };
    },
    'DELETE /api/v2/projects/:project_id/transfer_requests/:request_id': async () => {
      const p = await createProjectRecord(t.services, w.orgA.id, w.admin.id, 'cancelled');
      const r = await t.services.transferRequests.create(
        { kind: 'user', userId: w.admin.id, keyId: w.admin.keyId },
        p,
        undefined,
        (await import('../src/audit/audit.ts')).AuditContext.operator(),
      );
      const url = `/api/v2/projects/${p}/transfer_requests/${r.id}`;
      return {
        allowed: { method: 'DELETE', url, token: w.admin.token },
        denied: { method: 'DELETE', url, token: w.member.token },
      };
    },
    'POST /api/v2/organizations/:org_id/access/explain': async () => {
      const body = { key_id: w.orgKeyA.id, operation: 'createOrganizationInvitations' };
      return {
        allowed: { method: 'POST', url: `${A()}/access/explain`, token: w.admin.token, body },
        denied: { method: 'POST', url: `${A()}/access/explain`, token: w.member.token, body },
      };
    },
  };

  /** Neon's operations orgplane answers 422 to: declared `{ none }` beside their schema, and tested below. */
  const NOT_AUDITED_ROUTES: Readonly<Record<string, string>> = Object.fromEntries(
    UNSUPPORTED_OPERATIONS.filter((op) => op.method !== 'GET').map((op) => [
      `${op.method} /api/v2${op.path.replace(/\{([a-z_]+)\}/g, ':$1')}`,
      op.operationId,
    ]),
  );
  const mutatingRoutes = (): string[] =>
    registeredRoutes(t.app).filter((r) => {
      const [method, path] = r.split(' ');
      return MUTATING_METHODS.has(method ?? '') && (path ?? '').startsWith('/api/v2/');
    });
  /** Each mutating route's declared action, as its route config states it (null: it records nothing). */
  const auditedRoutes = (): Record<string, string | null> => {
    const configs = registeredRouteConfigs(t.app);
    return Object.fromEntries(
      mutatingRoutes()
        .filter((r) => !(r in NOT_AUDITED_ROUTES))
        .map((r) => {
          const audit = configs.get(r)?.audit;
          return [r, typeof audit === 'string' ? audit : null];
        }),
    );
  };

  test('every mutating route declares its audit action beside its schema, and has a case here', () => {
    const mutating = mutatingRoutes();
    assert.ok(mutating.length >= 18, mutating.join('\n'));
    const configs = registeredRouteConfigs(t.app);
    const undeclared = mutating.filter((r) => configs.get(r)?.audit === undefined);
    assert.deepEqual(undeclared, [], 'declare `config: { audit }` on these routes');
    const stale = Object.keys(NOT_AUDITED_ROUTES).filter((r) => !mutating.includes(r));
    assert.deepEqual(stale, [], 'unsupported operations that are not routes');
    for (const r of Object.keys(NOT_AUDITED_ROUTES)) {
      assert.equal(typeof configs.get(r)?.audit, 'object', `${r} must declare { none: reason }`);
    }
    const untested = mutating.filter((r) => !(r in CASES) && !(r in NOT_AUDITED_ROUTES));
    assert.deepEqual(untested, [], 'add an allowed and a denied request for these routes to CASES');
  });

  test('each mutating request writes exactly one event per outcome (none for read-only POSTs)', async () => {
    const problems: string[] = [];
    const AUDITED_ROUTES = auditedRoutes();
    for (const [route, make] of Object.entries(CASES)) {
      const action = AUDITED_ROUTES[route];
      const { allowed, denied } = await make();
      for (const [outcome, req] of [
        ['allowed', allowed],
        ['denied', denied],
      ] as const) {
        const res = await call(req);
        const ok = res.status >= 200 && res.status < 300;
        if (ok !== (outcome === 'allowed')) {
          problems.push(`${route} ${outcome}: unexpected ${res.status} ${res.text.slice(0, 200)}`);
          continue;
        }
        const events = await eventsOf(res);
        if (action === null) {
          if (events.length !== 0) problems.push(`${route} ${outcome}: ${events.length} events, want none`);
          continue;
        }
        if (events.length !== 1) {
          problems.push(`${route} ${outcome}: ${events.length} events, want 1`);
          continue;
        }
        const e = events[0];
        assert.ok(e);
        if (e.outcome !== outcome) problems.push(`${route}: outcome ${e.outcome}, want ${outcome}`);
        if (Number(e.status) !== res.status)
          problems.push(`${route}: status ${e.status}, want ${res.status}`);
        if (outcome === 'denied' && e.action !== action) problems.push(`${route}: action ${e.action}`);
        if (outcome === 'allowed' && !e.action.startsWith(`${action?.split('.')[0]}.`)) {
          problems.push(`${route}: action ${e.action}, want ${action}`);
        }
        if (!e.client_addr) problems.push(`${route}: no client address`);
        const actor = JSON.parse(e.actor) as { type: string; email?: string };
        if (actor.type === 'user' && !actor.email) problems.push(`${route}: user actor without email`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test('routes excluded from auditing answer 422, change nothing and write no event', async () => {
    const routes = Object.keys(NOT_AUDITED_ROUTES);
    assert.ok(routes.length > 20, routes.join('\n'));
    const problems: string[] = [];
    const before = await t.db.kysely
      .selectFrom('audit_events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    for (const route of routes) {
      const [method, path] = route.split(' ') as [Req['method'], string];
      const url = path
        .replace(':project_id', w.projectA1)
        .replace(/:[a-z_]+/g, (p) => `x${p.slice(1).replace(/_/g, '')}`);
      const res = await call({
        method,
        url,
        token: w.admin.token,
        ...(method === 'DELETE' ? {} : { body: {} }),
      });
      if (res.status !== 422) problems.push(`${route}: ${res.status} ${res.text.slice(0, 120)}`);
      if ((await eventsOf(res)).length !== 0) problems.push(`${route}: wrote an event`);
    }
    const after = await t.db.kysely
      .selectFrom('audit_events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    assert.equal(Number(after.n), Number(before.n));
    assert.deepEqual(problems, []);
  });

  test('an allowed event records who, what and the change; a denied one lands in the org acted on only when the caller is related to it', async () => {
    const m = await fresh();
    const res = await t.call('PATCH', `${A()}/members/${m.id}`, {
      token: w.admin.token,
      body: { role: 'admin' },
    });
    assert.equal(res.status, 200);
    const [e] = await eventsOf(res);
    assert.ok(e);
    assert.equal(e.action, 'member.role_changed');
    assert.equal(e.chain, `org:${w.orgA.id}`);
    assert.equal(e.org_id, w.orgA.id);
    assert.deepEqual(JSON.parse(e.actor), {
      type: 'user',
      id: w.admin.id,
      email: w.admin.email,
      key_id: w.admin.keyId,
    });
    assert.deepEqual([e.target_type, e.target_id], ['member', m.id]);
    assert.deepEqual(JSON.parse(e.changes).role, { from: 'member', to: 'admin' });

    // An outsider probing A is recorded in the outsider's own chain (issue 16: no writing into
    // another organization's log, no telling from the chain whether A exists), as a made-up id is.
    const probe = await t.call('PATCH', `${A()}/members/${m.id}`, {
      token: w.outsider.token,
      body: { role: 'member' },
    });
    assert.equal(probe.status, 404);
    assert.equal((await eventsOf(probe))[0]?.chain, `user:${w.outsider.id}`);
    const bogus = await t.call('POST', '/api/v2/organizations/org-made-up-12345678/api_keys', {
      token: w.outsider.token,
      body: { key_name: 'x' },
    });
    assert.equal(bogus.status, 404);
    assert.equal((await eventsOf(bogus))[0]?.chain, `user:${w.outsider.id}`);
    // Unauthenticated requests write nothing.
    const anon = await t.call('POST', '/api/v2/api_keys', { body: { key_name: 'x' } });
    assert.equal(anon.status, 401);
    assert.equal((await eventsOf(anon)).length, 0);
  });

  test('no token, password or hash in any event after every kind of operation', async () => {
    // Key creation (tokens in responses), a project (a role password), console password via invitation.
    const key = await t.call('POST', `${A()}/api_keys`, {
      token: w.admin.token,
      body: { key_name: 'secretive' },
    });
    const personal = await t.call('POST', '/api/v2/api_keys', {
      token: w.admin.token,
      body: { key_name: 'p' },
    });
    const project = await t.call('POST', '/api/v2/projects', {
      token: w.admin.token,
      body: { project: { name: 'pw', org_id: w.orgA.id } },
    });
    const inv = await t.call('POST', `${A()}/invitations`, {
      token: w.admin.token,
      body: { invitations: [{ email: 'joiner@example.com', role: 'member' }] },
    });
    assert.equal(inv.status, 200);
    const outbox = await t.db.kysely.selectFrom('mail_outbox').select('text_body').execute();
    const link = outbox.map((o) => /token=([A-Za-z0-9_-]+)/.exec(o.text_body)?.[1]).find(Boolean);
    assert.ok(link);
    await t.services.invitations.accept(link, { name: 'Joiner', password: PASSWORD });
    const secrets = [
      key.body.key,
      personal.body.key,
      project.body.connection_uris?.[0]?.connection_uri,
      link,
    ].filter((s): s is string => typeof s === 'string');
    const pw = project.body.roles?.[0]?.password;
    if (typeof pw === 'string') secrets.push(pw);
    assert.ok(secrets.length >= 4, JSON.stringify(secrets));
    const tokenHashes = (await t.db.kysely.selectFrom('api_keys').select('token_hash').execute()).map(
      (r) => r.token_hash,
    );
    const all = await t.db.kysely.selectFrom('audit_events').selectAll().execute();
    assert.ok(all.length > 40, `${all.length} events`);
    for (const e of all) {
      const text = JSON.stringify(e);
      assert.doesNotMatch(text, /napi_|npg_/, e.id);
      assert.ok(!text.includes(PASSWORD), e.id);
      for (const s of secrets) assert.ok(!text.includes(s), `${e.id} contains a secret`);
      for (const h of tokenHashes) assert.ok(!text.includes(h), `${e.id} contains a token hash`);
    }
    assert.ok(all.some((e) => e.action === 'invitation.accepted'));
  });

  test('concurrent writers to one chain queue: no fork, no gap (with and without the organization lock)', async () => {
    const user = await createUser(t.services, 'busy');
    const reqs = [
      ...Array.from({ length: 12 }, () =>
        t.call('POST', '/api/v2/api_keys', { token: user.token, body: { key_name: 'par' } }),
      ),
      ...Array.from({ length: 12 }, (_, i) =>
        t.call('POST', `${A()}/api_keys`, { token: w.admin.token, body: { key_name: `par${i}` } }),
      ),
    ];
    for (const r of await Promise.all(reqs)) assert.equal(r.status, 200, r.text);
    for (const chain of [`user:${user.id}`, `org:${w.orgA.id}`]) {
      const r = await t.services.audit.verify(chain);
      assert.ok(r.ok, JSON.stringify(r));
      const seqs = (await rows(chain)).map((e) => Number(e.seq));
      assert.deepEqual(
        seqs,
        seqs.map((_, i) => i + 1),
      );
    }
  });

  test('audit verify passes untouched and names the event after an edit, a deletion or a swap', async () => {
    const chain = `org:${w.orgA.id}`;
    const audit = t.services.audit;
    assert.deepEqual(await audit.verify(chain), { ok: true, chain, events: (await rows(chain)).length });
    for (const c of await audit.chains()) assert.equal((await audit.verify(c)).ok, true, c);

    const all = await rows(chain);
    const victim = all[5];
    const next = all[6];
    assert.ok(victim && next);
    // Edited.
    await t.db.kysely
      .updateTable('audit_events')
      .set({ action: 'nothing.happened' })
      .where('id', '=', victim.id)
      .execute();
    let r = await audit.verify(chain);
    assert.ok(!r.ok && r.eventId === victim.id && /edited/.test(r.problem), JSON.stringify(r));
    await t.db.kysely
      .updateTable('audit_events')
      .set({ action: victim.action })
      .where('id', '=', victim.id)
      .execute();
    assert.equal((await audit.verify(chain)).ok, true);
    // Reordered: two rows swap positions.
    await t.db.kysely.updateTable('audit_events').set({ seq: -1 }).where('id', '=', victim.id).execute();
    await t.db.kysely
      .updateTable('audit_events')
      .set({ seq: victim.seq })
      .where('id', '=', next.id)
      .execute();
    await t.db.kysely
      .updateTable('audit_events')
      .set({ seq: next.seq })
      .where('id', '=', victim.id)
      .execute();
    r = await audit.verify(chain);
    assert.ok(!r.ok && r.eventId === next.id, JSON.stringify(r));
    await t.db.kysely.updateTable('audit_events').set({ seq: -1 }).where('id', '=', victim.id).execute();
    await t.db.kysely.updateTable('audit_events').set({ seq: next.seq }).where('id', '=', next.id).execute();
    await t.db.kysely
      .updateTable('audit_events')
      .set({ seq: victim.seq })
      .where('id', '=', victim.id)
      .execute();
    assert.equal((await audit.verify(chain)).ok, true);
    // Deleted: from the middle, then the newest.
    await t.db.kysely.deleteFrom('audit_events').where('id', '=', victim.id).execute();
    r = await audit.verify(chain);
    assert.ok(!r.ok && r.eventId === next.id && /missing/.test(r.problem), JSON.stringify(r));
    await t.db.kysely.insertInto('audit_events').values(victim).execute();
    assert.equal((await audit.verify(chain)).ok, true);
    const newest = all[all.length - 1];
    assert.ok(newest);
    await t.db.kysely.deleteFrom('audit_events').where('id', '=', newest.id).execute();
    r = await audit.verify(chain);
    assert.ok(!r.ok && /removed/.test(r.problem), JSON.stringify(r));
    await t.db.kysely.insertInto('audit_events').values(newest).execute();
    assert.equal((await audit.verify(chain)).ok, true);
  });

  test('GET audit_log: admins and org keys, filters, cursor pagination', async () => {
    const url = `${A()}/audit_log`;
    for (const token of [w.member.token, w.projectKeyA1.token]) {
      assert.equal((await t.call('GET', url, { token })).status, 403);
    }
    assert.equal((await t.call('GET', url, { token: w.outsider.token })).status, 404);
    assert.equal((await t.call('GET', url, { token: w.orgKeyA.token })).status, 200);

    const total = (await rows(`org:${w.orgA.id}`)).length;
    const seen: number[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 1000; i++) {
      const page = await t.call('GET', `${url}?limit=7${cursor ? `&cursor=${cursor}` : ''}`, {
        token: w.admin.token,
      });
      assert.equal(page.status, 200);
      seen.push(...page.body.events.map((e: { seq: number }) => e.seq));
      cursor = page.body.pagination.next;
      if (!cursor) break;
    }
    assert.equal(seen.length, total);
    assert.deepEqual(
      seen,
      [...seen].sort((a, b) => b - a),
      'newest first, no repeats',
    );
    assert.equal(new Set(seen).size, total);

    const byAction = await t.call('GET', `${url}?action=member.role_changed`, { token: w.admin.token });
    assert.ok(byAction.body.events.length >= 2);
    assert.ok(byAction.body.events.every((e: { action: string }) => e.action === 'member.role_changed'));
    const byActor = await t.call('GET', `${url}?actor=${encodeURIComponent(w.member.email.toUpperCase())}`, {
      token: w.admin.token,
    });
    assert.ok(byActor.body.events.length >= 1);
    assert.ok(byActor.body.events.every((e: { actor: { id: string } }) => e.actor.id === w.member.id));
    const byKey = await t.call('GET', `${url}?actor=${w.orgKeyA.id}`, { token: w.admin.token });
    assert.ok(byKey.body.events.every((e: { actor: { type: string } }) => e.actor.type === 'api_key'));
    const all = await t.call('GET', `${url}?limit=1000`, { token: w.admin.token });
    const mid = all.body.events[Math.floor(all.body.events.length / 2)].at as string;
    const since = await t.call('GET', `${url}?limit=1000&since=${mid}`, { token: w.admin.token });
    const until = await t.call('GET', `${url}?limit=1000&until=${mid}`, { token: w.admin.token });
    assert.equal(since.body.events.length + until.body.events.length, all.body.events.length);
    assert.ok(since.body.events.every((e: { at: string }) => e.at >= mid));
    assert.equal((await t.call('GET', `${url}?since=yesterday`, { token: w.admin.token })).status, 400);
    assert.equal((await t.call('GET', `${url}?cursor=abc`, { token: w.admin.token })).status, 400);
  });

  test('retention pruning keeps every chain verifiable, and appends continue after it', async () => {
    const chain = `org:${w.orgA.id}`;
    const before = await rows(chain);
    const mid = before[Math.floor(before.length / 2)];
    assert.ok(mid);
    const removed = await t.services.audit.prune(Date.parse(mid.at) + 1, 0);
    assert.ok(removed > 0);
    const afterRows = await rows(chain);
    assert.ok(afterRows.length < before.length && afterRows.every((r) => r.at > mid.at));
    assert.equal((await t.services.audit.verify(chain)).ok, true);
    const res = await t.call('POST', `${A()}/api_keys`, {
      token: w.admin.token,
      body: { key_name: 'after' },
    });
    assert.equal(res.status, 200);
    assert.equal((await t.services.audit.verify(chain)).ok, true);
    // Everything pruned: still verifiable from the anchor.
    assert.ok((await t.services.audit.prune(Date.now() + 60_000, 0)) > 0);
    for (const c of await t.services.audit.chains())
      assert.equal((await t.services.audit.verify(c)).ok, true, c);
    // The anchor itself is checked: a forged anchor breaks verification of what follows.
    await t.call('POST', `${A()}/api_keys`, { token: w.admin.token, body: { key_name: 'later' } });
    await t.db.kysely
      .updateTable('audit_chains')
      .set({ anchor_hash: 'f'.repeat(64) })
      .where('chain', '=', chain)
      .execute();
    assert.equal((await t.services.audit.verify(chain)).ok, false);
  });

  async function rows(chain: string) {
    return t.db.kysely
      .selectFrom('audit_events')
      .selectAll()
      .where('chain', '=', chain)
      .orderBy('seq')
      .execute();
  }
});
