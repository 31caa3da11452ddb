// Bounded fuzzing of every operation the server publishes in /api/v2/openapi.json: wrong types,
// huge and deep bodies, NUL and invalid UTF-8, prototype keys, odd content types, hostile path
// parameters, bad cursors and limits, header abuse. Asserts: never a 5xx, the standard error body
// on every 4xx, and a healthy server afterwards. Bounded by FUZZ_MS per database.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { buildTestApp, DIALECT, type TestApp } from './helpers/app.ts';
import { addMember, createOrg, createOrgKey, createProjectRecord, createUser } from './helpers/factories.ts';

const FUZZ_MS = Number(process.env.ORGPLANE_FUZZ_MS ?? 30_000);

interface Operation {
  method: string;
  path: string; // /organizations/{org_id}
  pathParams: string[];
  query: Array<{ name: string; schema: Record<string, unknown> }>;
  hasBody: boolean;
}

interface Reply {
  status: number;
  headers: Record<string, unknown>;
  text: string;
}

const HOSTILE_SEGMENTS = [
  '..',
  '../..',
  '%2e%2e%2f%2e%2e%2f',
  '..%2F..%2Fetc%2Fpasswd',
  '%00',
  'a%00b',
  '%2F',
  '%ff%fe',
  '%c0%ae',
  '%',
  '%zz',
  encodeURIComponent('💥'),
  encodeURIComponent('\u202Eevil'),
  encodeURIComponent('ﬀ'),
  '%ED%A0%80', // a lone surrogate, UTF-8 encoded (CESU)
  'a'.repeat(61),
  'a'.repeat(5000),
  '-1',
  '0',
  '1e309',
  '99999999999999999999999',
  'NaN',
  'null',
  'undefined',
  '__proto__',
  'constructor',
  "1'%20or%20'1'='1",
  '%3Cscript%3E',
  '*',
  '%20',
];

const HOSTILE_QUERY_VALUES = [
  '',
  '-1',
  '0',
  '401',
  '1e3',
  '1.5',
  'abc',
  '%00',
  '%ff',
  'a'.repeat(5000),
  'true',
  'yes',
  'null',
  '[]',
  '{}',
  'eyJnIjoib3JnLXgiLCJzIjoiam9pbmVkX2F0IiwibyI6ImRlc2MiLCJ2IjoieCIsImkiOiJ5In0',
  'missing-project-00000000',
  '__proto__',
];

/** Bodies: the usual wrong shapes plus the nasty ones. Strings are sent as is, Buffers raw. */
const hostileBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        key_name: fc.jsonValue(),
        project_id: fc.jsonValue(),
        name: fc.jsonValue(),
        role: fc.jsonValue(),
        plan: fc.jsonValue(),
        project: fc.jsonValue(),
        invitations: fc.jsonValue(),
        destination_org_id: fc.jsonValue(),
        project_ids: fc.jsonValue(),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
  fc.constantFrom(
    '{"__proto__":{"admin":true},"key_name":"x"}',
    '{"constructor":{"prototype":{"admin":true}},"name":"x"}',
    '{"project":{"__proto__":{"x":1},"name":"p"}}',
    '{"key_name":"a\\u0000b"}',
    '{"name":"\\ud800"}',
    '{"role":"admin","role":"member"}',
    '{"invitations":[' +
      Array.from({ length: 200 }, () => '{"email":"a@b.c","role":"member"}').join(',') +
      ']}',
    '{"project_ids":[' + Array.from({ length: 2000 }, (_, i) => `"p-${i}"`).join(',') + ']}',
    '[' + '['.repeat(5000) + ']'.repeat(5000) + ']',
    '{"a":'.repeat(3000) + '1' + '}'.repeat(3000),
    `{"key_name":"${'x'.repeat(1024 * 1024)}"}`,
    `{"name":"${'x'.repeat(900 * 1024)}"}`,
    '{',
    '',
    'null',
    '1e999999',
    '-0',
    '\ufeff{}',
  ),
  fc.constantFrom(
    Buffer.from([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), // {"name":"\xff\xfe"}
    Buffer.from([
      0x7b, 0x22, 0x6b, 0x65, 0x79, 0x5f, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xc0, 0xae, 0x22, 0x7d,
    ]),
    Buffer.from([0xef, 0xbb, 0xbf, 0xff]),
    Buffer.from('{"name":"a\u0000"}'),
  ),
);

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
  'application/json, text/plain',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/vnd.api+json',
  '',
  ';;;',
  'application/json; boundary=' + 'x'.repeat(2000),
];

describe(`fuzz every OpenAPI operation (${DIALECT})`, () => {
  let t: TestApp;
  let ops: Operation[];
  const ids: Record<string, string[]> = {};
  const tokens: Array<string | undefined> = [];

  before(async () => {
    t = await buildTestApp();
    const s = t.services;
    const owner = await createUser(s, 'fuzz-owner');
    const org = await createOrg(s, owner, 'Fuzz');
    const other = await createOrg(s, await createUser(s, 'fuzz-other'), 'Other');
    const member = await addMember(s, org.id, await createUser(s, 'fuzz-member'));
    const project = await createProjectRecord(s, org.id, owner.id, 'fz');
    const orgKey = await createOrgKey(s, org.id, owner);
    const projectKey = await createOrgKey(s, org.id, owner, project);
    const inv = await t.call('POST', `/api/v2/organizations/${org.id}/invitations`, {
      token: owner.token,
      body: { invitations: [{ email: 'fuzz-invite@example.com', role: 'member' }] },
    });
    assert.equal(inv.status, 200, inv.text);
    const op = await t.db.kysely.selectFrom('project_operations').select('id').executeTakeFirstOrThrow();
    Object.assign(ids, {
      org_id: [org.id, other.id],
      source_org_id: [org.id, other.id],
      member_id: [member.id],
      // Targets of their own: revoking them must not take the fuzzer's keys away.
      key_id: [
        String((await createOrgKey(s, org.id, owner)).id),
        String((await createOrgKey(s, org.id, owner, project)).id),
      ],
      project_id: [project],
      operation_id: [op.id],
      invitation_id: [inv.body.invitations[0].id as string],
    });
    tokens.push(
      owner.token,
      orgKey.token,
      projectKey.token,
      undefined,
      'garbage',
      `napi_${'A'.repeat(64)}`,
      `${owner.token} ${owner.token}`,
      'x'.repeat(8000),
    );

    const doc = (await t.call('GET', '/api/v2/openapi.json')).body as {
      paths: Record<
        string,
        Record<
          string,
          { parameters?: Array<{ in: string; name: string; schema?: object }>; requestBody?: unknown }
        >
      >;
    };
    ops = [];
    for (const [p, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const params = op.parameters ?? [];
        ops.push({
          method: method.toUpperCase(),
          path: p,
          pathParams: params.filter((x) => x.in === 'path').map((x) => x.name),
          query: params
            .filter((x) => x.in === 'query')
            .map((x) => ({ name: x.name, schema: (x.schema ?? {}) as Record<string, unknown> })),
          hasBody: op.requestBody !== undefined,
        });
      }
    }
    assert.ok(ops.length >= 25, `the document lists the operations (${ops.length})`);
  });
  after(() => t.close());

  async function inject(opts: InjectOptions): Promise<Reply> {
    const res = await t.app.inject(opts);
    return { status: res.statusCode, headers: res.headers, text: res.body };
  }

  function assertStandard(res: Reply, what: string): void {
    assert.ok(res.status < 500, `${what} → ${res.status} ${res.text.slice(0, 300)}`);
    if (res.status < 400) return;
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(res.text) as Record<string, unknown>;
    } catch {
      assert.fail(`${what} → ${res.status} without a JSON body: ${res.text.slice(0, 200)}`);
    }
    assert.equal(typeof body.code, 'string', `${what}: code`);
    assert.equal(typeof body.message, 'string', `${what}: message`);
    assert.equal(typeof body.request_id, 'string', `${what}: request_id`);
    assert.match(String(res.headers['content-type']), /^application\/json/, what);
    assert.doesNotMatch(
      res.text,
      /\bat .+\.(ts|js):\d+|node_modules|SELECT |INSERT |sqlite_|relation "/i,
      what,
    );
  }

  async function assertHealthy(): Promise<void> {
    const ready = await inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.status, 200, 'the server is still ready');
    const me = await inject({
      method: 'GET',
      url: '/api/v2/users/me',
      headers: { authorization: `Bearer ${tokens[0]}` },
    });
    assert.equal(me.status, 200, 'an ordinary request still works');
  }

  test(`random hostile requests to every operation (≤ ${FUZZ_MS / 1000} s)`, async (ctx) => {
    const seen = new Map<number, number>();
    let count = 0;
    const started = Date.now();
    const request = fc.record({
      op: fc.nat({ max: 10_000 }),
      segments: fc.array(
        fc.oneof(
          { weight: 2, arbitrary: fc.constant<'valid'>('valid') },
          fc.constantFrom(...HOSTILE_SEGMENTS),
        ),
        { minLength: 3, maxLength: 3 },
      ),
      query: fc.array(
        fc.record({
          pick: fc.nat({ max: 20 }),
          value: fc.oneof(fc.constantFrom(...HOSTILE_QUERY_VALUES), fc.string({ maxLength: 20 })),
        }),
        { maxLength: 4 },
      ),
      body: fc.option(hostileBody, { nil: undefined, freq: 4 }),
      contentType: fc.constantFrom(...CONTENT_TYPES),
      // Mostly valid keys (personal, organization, project-scoped), so requests reach the routes.
      token: fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: 0, max: 2 }) },
        { weight: 2, arbitrary: fc.integer({ min: 3, max: 7 }) },
      ),
      extraHeaders: fc.constantFrom<Record<string, string>>(
        {},
        { 'x-request-id': 'x'.repeat(5000) },
        { 'x-forwarded-for': '1.2.3.4, 5.6.7.8, ::1' },
        { accept: 'text/html' },
        { accept: 'application/xml;q=1, */*;q=0' },
        { 'content-encoding': 'gzip' },
        { 'transfer-encoding': 'chunked' },
        { 'content-length': '5' },
        { cookie: 'orgplane_session=' + 'a'.repeat(4000) },
        { cookie: 'orgplane_session=%00%ff; orgplane_session=x' },
        { 'x-csrf-token': '\u0000' },
        { origin: 'null' },
        { 'x-http-method-override': 'DELETE' },
        { host: 'evil.example' },
        { 'accept-encoding': 'br;q=1, gzip;q=0, identity;q=0' },
      ),
    });
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const op = ops[r.op % ops.length];
        assert.ok(op);
        let i = 0;
        const path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
          const choice = r.segments[i++ % r.segments.length] ?? 'valid';
          if (choice !== 'valid') return choice;
          const options = ids[name] ?? ['x'];
          return encodeURIComponent(options[r.op % options.length] ?? 'x');
        });
        const query = r.query
          .map((q) => {
            const param = op.query[q.pick % Math.max(op.query.length, 1)];
            const name = param?.name ?? ['cursor', 'limit', 'org_id'][q.pick % 3] ?? 'x';
            return `${name}=${/%/.test(q.value) ? q.value : encodeURIComponent(q.value)}`;
          })
          .join('&');
        const url = `/api/v2${path}${query ? `?${query}` : ''}`;
        const token = tokens[r.token % tokens.length];
        const headers: Record<string, string> = { ...r.extraHeaders };
        if (token !== undefined) headers.authorization = `Bearer ${token}`;
        const opts: InjectOptions = { method: op.method, url, headers };
        if (r.body !== undefined) {
          opts.payload = r.body;
          if (r.contentType) headers['content-type'] = r.contentType;
        }
        if (headers['content-length'] && r.body === undefined) delete headers['content-length'];
        const what = `${op.method} ${url.slice(0, 200)} ${JSON.stringify(r.extraHeaders).slice(0, 80)} body=${String(r.body ?? '').slice(0, 80)}`;
        let res: Reply;
        try {
          res = await inject(opts);
        } catch (err) {
          // light-my-request refuses some headers before they reach the server (e.g. a bad Content-Length).
          if (err instanceof Error && /content-length|header|Invalid/i.test(err.message)) return;
          throw err;
        }
        count++;
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        // Dot segments ("../..") are resolved before the request is routed, as a browser or curl
        // does: a path that leaves /api/ is a console page, and a browser asking for one that does
        // not exist gets the console's HTML 404, not an API error.
        const landed = new URL(url, 'http://localhost').pathname;
        if (!landed.startsWith('/api/') && headers.accept === 'text/html') {
          assert.ok(res.status < 500, `${what} → ${res.status}`);
          return;
        }
        assertStandard(res, what);
      }),
      {
        numRuns: 100_000,
        interruptAfterTimeLimit: FUZZ_MS,
        markInterruptAsFailure: false,
        endOnFailure: true,
        includeErrorInReport: true,
        ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
      },
    );
    ctx.diagnostic(
      `${count} requests in ${Date.now() - started} ms; statuses ${JSON.stringify([...seen].sort())}`,
    );
    assert.ok(count > 100, `enough requests (${count})`);
    assert.ok(
      seen.has(400) && seen.has(401) && seen.has(404),
      'the fuzzer reached validation, authentication and lookup',
    );
    await assertHealthy();
  });

  test('every operation, with a valid key, against each hostile path parameter and body kind', async () => {
    for (const op of ops) {
      for (const seg of HOSTILE_SEGMENTS) {
        if (op.pathParams.length === 0) break;
        const url = `/api/v2${op.path.replace(/\{[^}]+\}/g, seg)}`;
        const res = await inject({
          method: op.method,
          url,
          headers: { authorization: `Bearer ${tokens[0]}` },
        });
        assertStandard(res, `${op.method} ${url.slice(0, 120)}`);
      }
      for (const q of op.query) {
        for (const v of HOSTILE_QUERY_VALUES) {
          const path = op.path.replace(/\{([^}]+)\}/g, (_, n: string) => ids[n]?.[0] ?? 'x');
          const url = `/api/v2${path}?${q.name}=${encodeURIComponent(v)}`;
          const res = await inject({
            method: op.method,
            url,
            headers: { authorization: `Bearer ${tokens[0]}` },
          });
          assertStandard(res, `${op.method} ${url.slice(0, 120)}`);
        }
      }
    }
    await assertHealthy();
  });
});
