// Bad input of every kind gets a clear 4xx in Neon's error body — never a 500, never a stack trace,
// never SQL — and the published OpenAPI document covers every route the server has.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildTestApp, type Res, type TestApp } from './helpers/app.ts';
import {
  addMember,
  buildWorld,
  createOrg,
  createOrgKey,
  createUser,
  type World,
} from './helpers/factories.ts';
import { assertMatchesSpec } from './helpers/spec.ts';
import { registeredRoutes } from '../src/http/error-handler.ts';

/** Neon's GeneralError, exactly: code, message, request_id and nothing else; no internals. */
function assertErrorBody(res: Res, status: number): void {
  assert.equal(res.status, status, res.text);
  assert.deepEqual(Object.keys(res.body ?? {}).sort(), ['code', 'message', 'request_id'], res.text);
  assert.equal(typeof res.body.code, 'string');
  assert.equal(typeof res.body.message, 'string');
  assert.equal(res.body.request_id, res.headers['x-request-id'], 'request_id is the X-Request-ID header');
  assert.doesNotMatch(
    res.text,
    /\bat .+\.(ts|js):\d+|node_modules|SELECT |INSERT |UPDATE |sqlite|postgres|relation "|stack/i,
    'no stack trace, SQL or database detail',
  );
  assert.match(String(res.headers['content-type']), /^application\/json/);
}

describe('errors and bad input', () => {
  let t: TestApp;
  let w: World;
  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
  });
  after(() => t.close());

  const post = (body: string, headers: Record<string, string> = {}) =>
    t.call('POST', '/api/v2/api_keys', {
      token: w.admin.token,
      body,
      headers: { 'content-type': 'application/json', ...headers },
    });

  test('unknown route → 404 (with or without a key)', async () => {
    for (const token of [w.admin.token, undefined]) {
      const res = await t.call('GET', '/api/v2/no/such/route', { token });
      assertErrorBody(res, 404);
      assert.equal(res.body.code, 'NOT_FOUND');
    }
    assertErrorBody(await t.call('GET', '/nothing-here'), 404);
  });

  test('wrong method → 405 with an Allow header', async () => {
    const res = await t.call('PUT', '/api/v2/api_keys', { token: w.admin.token });
    assertErrorBody(res, 405);
    assert.equal(res.headers.allow, 'GET, POST');
    const param = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/members/${w.memberRow.id}`, {
      token: w.admin.token,
    });
    assertErrorBody(param, 405);
    assert.equal(param.headers.allow, 'GET, PATCH, DELETE');
  });

  test('body over 1 MiB → 413', async () => {
    const res = await post(JSON.stringify({ key_name: 'x', pad: 'y'.repeat(1024 * 1024) }));
    assertErrorBody(res, 413);
    assertMatchesSpec('createApiKey', res.status, res.body);
  });

  test('malformed, truncated, empty JSON → 400; a BOM is tolerated; wrong content type → 4xx', async () => {
    for (const body of ['{"key_name": ', '{"key_name": "a"', '{key_name: "a"}', "{'key_name':'a'}", '}{']) {
      const res = await post(body);
      assertErrorBody(res, 400);
      assert.match(res.body.message, /not valid JSON/);
      assertMatchesSpec('createApiKey', res.status, res.body);
    }
    const empty = await t.call('POST', '/api/v2/api_keys', {
      token: w.admin.token,
      headers: { 'content-type': 'application/json' },
    });
    assertErrorBody(empty, 400);
    // A byte-order mark before valid JSON: parsed (or refused), never a 500.
    const bom = await post('\ufeff{"key_name":"bom"}');
    assert.ok(bom.status === 200 || bom.status === 400, bom.text);
    const form = await post('key_name=a', { 'content-type': 'application/x-www-form-urlencoded' });
    assertErrorBody(form, 415);
    const xml = await post('<key_name>a</key_name>', { 'content-type': 'application/xml' });
    assertErrorBody(xml, 415);
    const text = await post('key_name', { 'content-type': 'text/plain' });
    assert.ok([400, 415].includes(text.status), text.text);
    assertErrorBody(text, text.status);
  });

  test('DELETE and GET with Content-Type: application/json and no body work; POST with an empty body is 400', async () => {
    const user = await createUser(t.services, 'ctype');
    const key = await t.services.apiKeys.createPersonalFor(user.id, 'to-revoke');
    const del = await t.call('DELETE', `/api/v2/api_keys/${key.row.id}`, {
      token: user.token,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
    });
    assert.equal(del.status, 200, del.text);
    assertMatchesSpec('revokeApiKey', del.status, del.body);
    const get = await t.call('GET', '/api/v2/users/me', {
      token: user.token,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(get.status, 200, get.text);
    const post = await t.call('POST', '/api/v2/api_keys', {
      token: user.token,
      headers: { 'content-type': 'application/json' },
    });
    assertErrorBody(post, 400);
    assert.match(post.body.message, /empty/);
  });

  test('undecodable URLs and over-long path parameters → 400 in the error body', async () => {
    const bad = await t.call('GET', '/api/v2/organizations/%ff', { token: w.admin.token });
    assertErrorBody(bad, 400);
    const long = await t.call('GET', `/api/v2/organizations/${'a'.repeat(500)}`, { token: w.admin.token });
    assert.ok(long.status >= 400 && long.status < 500, long.text);
    assertErrorBody(long, long.status);
  });

  test('__proto__ and constructor.prototype payloads change nothing', async () => {
    for (const body of [
      '{"key_name":"p1","__proto__":{"polluted":true,"admin":true}}',
      '{"key_name":"p2","constructor":{"prototype":{"polluted":true}}}',
      '{"key_name":{"__proto__":{"polluted":true}}}',
    ]) {
      const res = await post(body);
      assert.ok(res.status === 200 || res.status === 400, res.text);
      if (res.status === 200) assertMatchesSpec('createApiKey', 200, res.body);
      else assertErrorBody(res, 400);
    }
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
    // Role changes through the prototype do not happen either.
    const patch = await t.call('PATCH', `/api/v2/organizations/${w.orgA.id}/members/${w.memberRow.id}`, {
      token: w.admin.token,
      body: '{"__proto__":{"role":"admin"}}',
    });
    assertErrorBody(patch, 400);
    const m = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/members/${w.memberRow.id}`, {
      token: w.admin.token,
    });
    assert.equal(m.body.role, 'member');
  });

  test('NUL bytes and lone surrogates → 400 naming the field, in bodies and queries', async () => {
    for (const body of [
      '{"key_name":"a\\u0000b"}',
      '{"key_name":"a\\ud800b"}',
      '{"key_name":"a\\udc00"}',
      '{"key_name":"ok","x\\u0000":1}',
    ]) {
      const res = await post(body);
      assertErrorBody(res, 400);
      assert.match(res.body.message, /body/);
    }
    const org = await t.call('POST', '/api/v2/organizations', {
      token: w.admin.token,
      body: '{"name":"evil\\u0000org"}',
    });
    assertErrorBody(org, 400);
    assert.match(org.body.message, /body\.name/);
    // Odd but valid Unicode is stored and returned unchanged.
    const odd = 'ключ 🔑 \u202e\u200d'.slice(0, 60);
    const ok = await post(JSON.stringify({ key_name: odd }));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.name, odd);
    // A cursor carrying a NUL byte is refused or ignored, never a 500.
    const cursor = Buffer.from(JSON.stringify({ s: 'joined_at', o: 'desc', v: 'a\u0000', i: 'b' })).toString(
      'base64url',
    );
    const page = await t.call('GET', `/api/v2/organizations/${w.orgA.id}/members?cursor=${cursor}`, {
      token: w.admin.token,
    });
    assert.ok(page.status === 200 || page.status === 400, page.text);
    assertMatchesSpec('getOrganizationMembers', page.status, page.body);
  });

  test('deep nesting (10^3 and 10^5 levels) → 4xx', async () => {
    const objects = (n: number) => `{"key_name":"d","z":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`;
    const arrays = (n: number) => `{"key_name":"d","z":${'['.repeat(n)}${']'.repeat(n)}}`;
    for (const body of [objects(1000), arrays(1000), objects(100_000), arrays(100_000)]) {
      assert.ok(body.length < 1024 * 1024);
      const res = await post(body);
      assertErrorBody(res, 400);
    }
  });

  test('wrong types to every route → 400 naming the field', async () => {
    const cases: Array<[string, string, unknown, RegExp]> = [
      ['POST', '/api/v2/api_keys', { key_name: 5 }, /key_name/],
      ['POST', '/api/v2/api_keys', { key_name: '' }, /key_name/],
      ['POST', '/api/v2/api_keys', [], /body/],
      ['POST', '/api/v2/api_keys', 'null', /body/],
      ['POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, { key_name: 'k', project_id: 7 }, /project_id/],
      [
        'POST',
        `/api/v2/organizations/${w.orgA.id}/api_keys`,
        { key_name: 'k', project_id: null },
        /project_id/,
      ],
      ['POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, { key_name: ['k'] }, /key_name/],
      ['POST', '/api/v2/organizations', { name: 7 }, /name/],
      ['POST', '/api/v2/organizations', { name: { a: 1 } }, /name/],
      ['PATCH', `/api/v2/organizations/${w.orgA.id}/members/${w.memberRow.id}`, { role: 1 }, /role/],
      ['PATCH', `/api/v2/organizations/${w.orgA.id}/members/${w.memberRow.id}`, { role: null }, /role/],
      ['PATCH', `/api/v2/organizations/${w.orgA.id}/members/${w.memberRow.id}`, {}, /role/],
      ['PATCH', `/api/v2/organizations/members/${w.memberRow.id}`, { role: ['admin'] }, /role/],
      ['DELETE', '/api/v2/api_keys/abc', undefined, /key_id/],
      ['DELETE', '/api/v2/api_keys/-1', undefined, /key_id/],
      ['DELETE', '/api/v2/api_keys/1.5', undefined, /key_id/],
      ['DELETE', '/api/v2/api_keys/99999999999999999999999', undefined, /key_id/],
      ['DELETE', `/api/v2/organizations/${w.orgA.id}/api_keys/1e3x`, undefined, /key_id/],
      ['GET', '/api/v2/organizations/ORG_UPPER', undefined, /org_id/],
      ['GET', `/api/v2/organizations/${w.orgA.id}/members/not-a-uuid`, undefined, /member_id/],
      ['DELETE', `/api/v2/organizations/${w.orgA.id}/members/123`, undefined, /member_id/],
      ['GET', `/api/v2/organizations/${w.orgA.id}/members?limit=x`, undefined, /limit/],
      ['GET', `/api/v2/organizations/${w.orgA.id}/members?sort_by=id`, undefined, /sort_by/],
      ['GET', `/api/v2/organizations/${w.orgA.id}/members?sort_order=up`, undefined, /sort_order/],
      ['GET', `/api/v2/organizations/${w.orgA.id}/members?cursor=a&cursor=b`, undefined, /cursor/],
    ];
    for (const [method, url, body, field] of cases) {
      const res = await t.call(method, url, {
        token: w.admin.token,
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      assertErrorBody(res, 400);
      assert.match(res.body.message, field, `${method} ${url}: ${res.body.message}`);
    }
  });

  test('fuzz: arbitrary JSON bodies, path segments and query strings to every route never give a 500', async () => {
    // An organization of its own: the fuzzer may revoke keys and change roles.
    const owner = await createUser(t.services, 'fuzz');
    const org = (await createOrg(t.services, owner, 'Fuzz')).id;
    const member = (await addMember(t.services, org, await createUser(t.services, 'fuzzed'))).id;
    const orgKey = await createOrgKey(t.services, org, owner);
    const bodyRoutes: Array<[string, string]> = [
      ['POST', '/api/v2/api_keys'],
      ['POST', `/api/v2/organizations/${org}/api_keys`],
      ['POST', '/api/v2/organizations'],
      ['PATCH', `/api/v2/organizations/${org}/members/${member}`],
      ['PATCH', `/api/v2/organizations/members/${member}`],
    ];
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...bodyRoutes),
        fc.oneof(
          fc.jsonValue(),
          fc.record({ key_name: fc.jsonValue(), project_id: fc.jsonValue() }, { requiredKeys: [] }),
          fc.record({ role: fc.jsonValue(), name: fc.jsonValue() }, { requiredKeys: [] }),
          fc.record({ key_name: fc.string({ unit: 'binary', maxLength: 70 }) }),
          fc.record({ role: fc.constantFrom('admin', 'member', 'editor', '', 'ADMIN') }),
        ),
        async ([method, url], body) => {
          const res = await t.call(method, url, {
            token: orgKey.token,
            body: JSON.stringify(body),
          });
          seen.add(res.status);
          assert.ok(res.status < 500, `${method} ${url} ${JSON.stringify(body)} → ${res.status} ${res.text}`);
          if (res.status >= 400) assertErrorBody(res, res.status);
        },
      ),
      { numRuns: 300 },
    );
    assert.ok(seen.has(400), 'the fuzzer reached validation');

    const paths = [
      (x: string) => `/api/v2/organizations/${x}`,
      (x: string) => `/api/v2/organizations/${x}/members`,
      (x: string) => `/api/v2/organizations/${org}/members/${x}`,
      (x: string) => `/api/v2/organizations/${org}/api_keys/${x}`,
      (x: string) => `/api/v2/api_keys/${x}`,
      (x: string) => `/api/v2/organizations/${org}/members?${x}`,
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths.keys()),
        fc.constantFrom('GET', 'DELETE', 'PATCH'),
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 40 }).filter(encodable),
          fc.stringMatching(/^[a-z0-9=&%_.-]{0,40}$/),
        ),
        async (i, method, raw) => {
          const seg = i === 5 ? raw.replace(/[^\x21-\x7e]/gu, encodeURIComponent) : encodeURIComponent(raw);
          const url = (paths[i] ?? paths[0] ?? String)(seg);
          const res = await t.call(method, url, {
            token: owner.token,
            ...(method === 'PATCH' ? { body: { role: 'member' } } : {}),
          });
          assert.ok(res.status < 500, `${method} ${url} → ${res.status} ${res.text}`);
          if (res.status >= 400) assertErrorBody(res, res.status);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('X-Request-ID is echoed; a garbage one is replaced by a generated id', async () => {
    const given = await t.call('GET', '/api/v2/auth', {
      token: w.admin.token,
      headers: { 'x-request-id': 'trace-abc.123:x' },
    });
    assert.equal(given.status, 200);
    assert.equal(given.headers['x-request-id'], 'trace-abc.123:x');
    const errored = await t.call('GET', '/api/v2/nope', { headers: { 'x-request-id': 'trace-404' } });
    assertErrorBody(errored, 404);
    assert.equal(errored.body.request_id, 'trace-404');
    for (const garbage of ['a b', '<script>', 'x'.repeat(500), 'ü']) {
      const res = await t.call('GET', '/api/v2/nope', { headers: { 'x-request-id': garbage } });
      assertErrorBody(res, 404);
      assert.notEqual(res.headers['x-request-id'], garbage);
      assert.match(String(res.headers['x-request-id']), /^[A-Za-z0-9._:-]{8,128}$/);
    }
    const generated = await t.call('GET', '/api/v2/auth', { token: w.admin.token });
    assert.match(String(generated.headers['x-request-id']), /^[A-Za-z0-9._:-]{8,128}$/);
  });

  test('401 and 403 and 404 bodies are exactly GeneralError', async () => {
    assertErrorBody(await t.call('GET', '/api/v2/users/me'), 401);
    assertErrorBody(await t.call('GET', '/api/v2/users/me', { token: 'napi_garbage' }), 401);
    assertErrorBody(
      await t.call('DELETE', `/api/v2/organizations/${w.orgA.id}/members/${w.adminMember.id}`, {
        token: w.member.token,
      }),
      403,
    );
    assertErrorBody(await t.call('GET', `/api/v2/organizations/${w.orgB.id}`, { token: w.admin.token }), 404);
  });

  test('/api/v2/openapi.json is an OpenAPI 3 document listing every route with an operationId', async () => {
    const res = await t.call('GET', '/api/v2/openapi.json');
    assert.equal(res.status, 200);
    const doc = res.body;
    assert.match(doc.openapi, /^3\.\d+\.\d+$/);
    assert.equal(typeof doc.info.title, 'string');
    assert.equal(typeof doc.info.version, 'string');
    assert.ok(Array.isArray(doc.servers) && doc.servers[0].url.endsWith('/api/v2'));

    // Every $ref points at a component that exists.
    const refs: string[] = [];
    const walk = (n: unknown) => {
      if (Array.isArray(n)) n.forEach(walk);
      else if (n && typeof n === 'object') {
        for (const [k, v] of Object.entries(n)) {
          if (k === '$ref' && typeof v === 'string') refs.push(v);
          else walk(v);
        }
      }
    };
    walk(doc);
    for (const ref of refs) {
      const m = /^#\/components\/schemas\/(.+)$/.exec(ref);
      assert.ok(m, `unexpected $ref ${ref}`);
      assert.ok(doc.components.schemas[m[1] ?? ''], `$ref ${ref} resolves`);
    }

    const documented = new Set<string>();
    const opIds = new Set<string>();
    for (const [p, item] of Object.entries<Record<string, Record<string, unknown>>>(doc.paths)) {
      assert.ok(p.startsWith('/') && !p.includes(':'), `path ${p} uses {param} syntax`);
      for (const [method, op] of Object.entries(item)) {
        assert.equal(typeof op.operationId, 'string', `${method} ${p} has an operationId`);
        assert.ok(!opIds.has(op.operationId as string), `operationId ${String(op.operationId)} is unique`);
        opIds.add(op.operationId as string);
        assert.ok(
          op.responses && Object.keys(op.responses).some((s) => /^2/.test(s)),
          `${p} success response`,
        );
        for (const param of p.match(/\{[^}]+\}/g) ?? []) {
          const name = param.slice(1, -1);
          assert.ok(
            (op.parameters as Array<{ in: string; name: string }>).some(
              (x) => x.in === 'path' && x.name === name,
            ),
            `${method} ${p} documents path parameter ${name}`,
          );
        }
        documented.add(`${method.toUpperCase()} ${p}`);
      }
    }

    // The registered route table (from Fastify itself) against the document: nothing undocumented.
    const registered = registeredRoutes(t.app)
      .map((r) => {
        const [method, path] = r.split(' ') as [string, string];
        return { method, path };
      })
      .filter((r) => r.path.startsWith('/api/v2/') && r.path !== '/api/v2/openapi.json')
      .map((r) => `${r.method} ${r.path.replace(/^\/api\/v2/, '').replace(/:([a-z_]+)/g, '{$1}')}`);
    assert.ok(registered.length >= 15, `found ${registered.length} routes`);
    assert.deepEqual([...documented].sort(), [...new Set(registered)].sort());
    for (const id of [
      'getAuthDetails',
      'getCurrentUserInfo',
      'getCurrentUserOrganizations',
      'listApiKeys',
      'createApiKey',
      'revokeApiKey',
      'getOrganization',
      'listOrgApiKeys',
      'createOrgApiKey',
      'revokeOrgApiKey',
      'getOrganizationMembers',
      'getOrganizationMember',
      'updateOrganizationMember',
      'removeOrganizationMember',
    ]) {
      assert.ok(opIds.has(id), `operation ${id} is published`);
    }
  });
});

/** Lone surrogates cannot be percent-encoded at all: no client can send them in a URL. */
function encodable(s: string): boolean {
  try {
    encodeURIComponent(s);
    return true;
  } catch {
    return false;
  }
}
