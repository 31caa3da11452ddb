// The security headers are computed once at start (src/http/security-headers.ts) instead of by
// @fastify/helmet on every request; the project keeps helmet's policy, so the headers on the wire
// must be exactly those @fastify/helmet sends with the same options: same names (spelling
// included), values and order, on API answers, pages and 404s.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyHelmet from '@fastify/helmet';
import { HELMET_OPTIONS } from '../src/http/security-headers.ts';
import { buildTestApp, DIALECT, type TestApp } from './helpers/app.ts';
import { createUser, type TestUser } from './helpers/factories.ts';

/** The raw header lines of a real HTTP answer, as [name, value] pairs in wire order. */
function rawHeaders(
  base: string,
  p: string,
  headers: Record<string, string> = {},
): Promise<[string, string][]> {
  return new Promise((resolve, reject) => {
    http
      .get(base + p, { headers }, (res) => {
        res.resume();
        const out: [string, string][] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          out.push([res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string]);
        }
        res.on('end', () => resolve(out));
      })
      .on('error', reject);
  });
}

const urlOf = (app: FastifyInstance) => `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

describe(`security headers are @fastify/helmet's, byte for byte (${DIALECT})`, () => {
  let t: TestApp;
  let user: TestUser;
  let reference: FastifyInstance;
  let helmetPairs: [string, string][];

  before(async () => {
    t = await buildTestApp();
    user = await createUser(t.services, 'headers');
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    reference = Fastify();
    // (@fastify/helmet types its own copy of helmet's option types.)
    await reference.register(fastifyHelmet, { global: true, ...(HELMET_OPTIONS as object) });
    reference.get('/', async () => ({ ok: true }));
    await reference.listen({ host: '127.0.0.1', port: 0 });
    // The headers helmet adds: everything but what any Fastify answer has.
    const generic = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);
    helmetPairs = (await rawHeaders(urlOf(reference), '/')).filter(([n]) => !generic.has(n.toLowerCase()));
  });
  after(async () => {
    await reference.close();
    await t.close();
  });

  test('the reference has helmet’s policy (the comparison is not vacuous)', () => {
    const names = helmetPairs.map(([n]) => n.toLowerCase());
    assert.ok(names.includes('content-security-policy'), names.join(', '));
    assert.ok(names.includes('x-frame-options'));
    assert.ok(names.includes('referrer-policy'));
    assert.ok(!names.includes('strict-transport-security'));
  });

  for (const [what, p, auth] of [
    ['an API answer', '/api/v2/users/me', true],
    ['a 401', '/api/v2/users/me', false],
    ['an unknown path (404)', '/no/such/page', false],
    ['the health check', '/healthz', false],
    ['a console page', '/signin', false],
  ] as const) {
    test(`${what}: the same header lines, in the same order`, async () => {
      const got = await rawHeaders(urlOf(t.app), p, auth ? { authorization: `Bearer ${user.token}` } : {});
      const names = new Set(helmetPairs.map(([n]) => n.toLowerCase()));
      const mine = got.filter(([n]) => names.has(n.toLowerCase()));
      assert.deepEqual(mine, helmetPairs);
    });
  }
});
