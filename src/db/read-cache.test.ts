// The SQLite read cache (principal and role lookups) never serves stale data: a key revoked, a
// member removed or an admin demoted is refused on the very next request with the cache warm,
// whether the change came through this server or through another connection to the same file
// (another process: PRAGMA data_version). PostgreSQL has no cache.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.ts';
import { nowIso } from '../domain/time.ts';
import type { Services } from '../services.ts';
import { DIALECT, buildTestApp, testConfig } from '../../test/helpers/app.ts';
import { addMember, createOrg, createUser } from '../../test/helpers/factories.ts';
import { assertMatchesSpec } from '../../test/helpers/spec.ts';
import { openDatabase, type Db } from './connect.ts';
import { migrateToLatest } from './migrate.ts';
import { ReadCache, readCacheOf } from './read-cache.ts';

describe('ReadCache', () => {
  test('a value read while something was written is not kept', async () => {
    let dv = 1;
    const cache = new ReadCache(() => dv);
    let loads = 0;
    const load = async () => ++loads;
    assert.equal(await cache.get('a', load), 1);
    assert.equal(await cache.get('a', load), 1, 'cached');
    cache.generation++;
    assert.equal(await cache.get('a', load), 2, 'a write in this process clears it');
    dv = 2;
    assert.equal(await cache.get('a', load), 3, 'a commit by another connection clears it');
    // The write happens while the read is in flight: the (possibly old) value must not be kept.
    const racing = async () => {
      cache.generation++;
      return ++loads;
    };
    assert.equal(await cache.get('b', racing), 4);
    assert.equal(await cache.get('b', load), 5, 'not served from the cache');
    const racingDv = async () => {
      dv++;
      return ++loads;
    };
    assert.equal(await cache.get('c', racingDv), 6);
    assert.equal(await cache.get('c', load), 7);
    assert.equal(await cache.get('c', load), 7);
  });

  test('a lookup later in the same request trusts its check only while nothing changed', async () => {
    let dv = 1;
    let reads = 0;
    const cache = new ReadCache(() => (reads++, dv));
    let loads = 0;
    const load = async () => ++loads;
    await cache.get('role', load);
    await cache.get('key', load);
    const epoch = cache.epoch;
    reads = 0;
    assert.equal(await cache.getInRequest('role', load, epoch), 1);
    assert.equal(reads, 0, 'no data_version read');
    // Another request's check saw a commit elsewhere: the epoch moved, so it is checked again.
    dv = 2;
    await cache.get('other', load);
    assert.equal(await cache.get('other', load), 3, 'cached again after the new check');
    assert.equal(await cache.getInRequest('role', load, epoch), 4);
    // A write in this process since the check: not trusted either.
    const epoch2 = cache.epoch;
    cache.generation++;
    assert.equal(await cache.getInRequest('role', load, epoch2), 5);
    assert.equal(await cache.getInRequest('role', load, undefined), 5, 'no epoch: a normal get');
  });
});

describe('read cache through the API', { skip: DIALECT !== 'sqlite' }, () => {
  let dir: string;
  let db: Db;
  let app: FastifyInstance;
  let s: Services;
  let other: SQLite.Database;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-cache-'));
    db = openDatabase({ dataDir: dir });
    await migrateToLatest(db);
    ({ app, services: s } = await buildApp({ config: testConfig(), db, logger: false }));
    // Another connection to the same file stands for another server process.
    other = new SQLite(path.join(dir, 'orgplane.db'));
    other.pragma('busy_timeout = 5000');
  });
  after(async () => {
    other.close();
    await app.close();
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function get(url: string, token: string) {
    const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    return { status: res.statusCode, body: JSON.parse(res.body) as Record<string, unknown> };
  }

  /** Two successful reads, so the principal and role are cached. */
  async function warm(orgId: string, token: string) {
    for (let i = 0; i < 2; i++) {
      const r = await get(`/api/v2/organizations/${orgId}`, token);
      assert.equal(r.status, 200);
      assertMatchesSpec('getOrganization', 200, r.body);
    }
    assert.ok((readCacheOf(db.kysely)?.size ?? 0) > 0, 'the cache is in use');
  }

  test('a key revoked by another connection is refused on the next request', async () => {
    const admin = await createUser(s, 'admin');
    const org = await createOrg(s, admin);
    await warm(org.id, admin.token);
    other.prepare('update api_keys set revoked_at = ? where id = ?').run(nowIso(), admin.keyId);
    const r = await get(`/api/v2/organizations/${org.id}`, admin.token);
    assert.equal(r.status, 401);
    assertMatchesSpec('getOrganization', 401, r.body);
  });

  test('a member removed by another connection is refused on the next request', async () => {
    const admin = await createUser(s, 'admin');
    const member = await createUser(s, 'member');
    const org = await createOrg(s, admin);
    const m = await addMember(s, org.id, member);
    await warm(org.id, member.token);
    other.prepare('delete from members where id = ?').run(m.id);
    const r = await get(`/api/v2/organizations/${org.id}`, member.token);
    assert.ok(r.status === 403 || r.status === 404, `got ${r.status}`);
    assertMatchesSpec('getOrganization', r.status, r.body);
  });

  test('an admin demoted by another connection cannot create organization keys', async () => {
    const admin = await createUser(s, 'admin');
    const second = await createUser(s, 'second');
    const org = await createOrg(s, admin);
    const m = await addMember(s, org.id, second, 'admin');
    await warm(org.id, second.token);
    other.prepare(`update members set role = 'member' where id = ?`).run(m.id);
    const res = await app.inject({
      method: 'POST',
      url: `/api/v2/organizations/${org.id}/api_keys`,
      headers: { authorization: `Bearer ${second.token}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ key_name: 'nope' }),
    });
    assert.equal(res.statusCode, 403);
    assertMatchesSpec('createOrgApiKey', 403, JSON.parse(res.body));
  });

  test('changes through this server hold on the next request with the cache warm', async () => {
    const admin = await createUser(s, 'admin');
    const member = await createUser(s, 'member');
    const org = await createOrg(s, admin);
    const m = await addMember(s, org.id, member, 'admin');
    await warm(org.id, member.token);
    await warm(org.id, admin.token);
    // Demotion through the API: the demoted admin is refused an admin action at once.
    const patch = await app.inject({
      method: 'PATCH',
      url: `/api/v2/organizations/${org.id}/members/${m.id}`,
      headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ role: 'member' }),
    });
    assert.equal(patch.statusCode, 200);
    const create = await app.inject({
      method: 'POST',
      url: `/api/v2/organizations/${org.id}/api_keys`,
      headers: { authorization: `Bearer ${member.token}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ key_name: 'nope' }),
    });
    assert.equal(create.statusCode, 403);
    // Removal through the API.
    await warm(org.id, member.token);
    const del = await app.inject({
      method: 'DELETE',
      url: `/api/v2/organizations/${org.id}/members/${m.id}`,
      headers: { authorization: `Bearer ${admin.token}` },
    });
    assert.equal(del.statusCode, 200);
    const r = await get(`/api/v2/organizations/${org.id}`, member.token);
    assert.ok(r.status === 403 || r.status === 404, `got ${r.status}`);
    // Revocation through the API.
    await warm(org.id, admin.token);
    const revoke = await app.inject({
      method: 'DELETE',
      url: `/api/v2/api_keys/${admin.keyId}`,
      headers: { authorization: `Bearer ${admin.token}` },
    });
    assert.equal(revoke.statusCode, 200);
    assert.equal((await get(`/api/v2/organizations/${org.id}`, admin.token)).status, 401);
  });
});

test('PostgreSQL has no read cache', { skip: DIALECT !== 'postgres' }, async () => {
  const t = await buildTestApp();
  try {
    assert.equal(readCacheOf(t.db.kysely), undefined);
  } finally {
    await t.close();
  }
});
