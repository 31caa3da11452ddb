// PostgreSQL: another process's change is seen within the bound whatever happens to the LISTEN
// connection. A proxy stops forwarding that connection without closing it (a NAT or load balancer
// forgetting an idle connection); a key is revoked by another connection; the cache must stop
// answering from memory once the last heartbeat that came back is older than the bound, and a
// new connection must take over. Time is a counter the test moves one heartbeat interval at a
// time, and heartbeats are sent when the test says so: nothing here depends on the machine's speed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { buildApp, type BuiltApp } from '../src/app.ts';
import { openDatabase, type Db } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { DIALECT, PG_URL, pgSchema, testConfig } from './helpers/app.ts';
import { createUser } from './helpers/factories.ts';
import { StallingProxy } from './helpers/stalling-proxy.ts';

const INTERVAL = 25;
const BOUND = 100; // 4 intervals
const DEAD_AFTER = 1000; // 40 intervals

/** Waits for a condition that real I/O (a round trip to PostgreSQL) makes true; fails after 10 s. */
async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), `timed out waiting for: ${what}`);
}

describe(
  'the change listener proves itself with heartbeats (PostgreSQL)',
  { skip: DIALECT !== 'postgres' },
  () => {
    const proxy = new StallingProxy();
    const schema = pgSchema('t_hb');
    let db: Db;
    let built: BuiltApp;
    let now = 0;
    let beat: (() => void) | undefined;

    before(async () => {
      await proxy.start();
      await schema.create();
      db = openDatabase({ dataDir: '', databaseUrl: proxy.via(PG_URL), pgSchema: schema.name });
      await migrateToLatest(db);
      built = await buildApp({
        config: testConfig(),
        db,
        logger: false,
        listenerHeartbeat: {
          intervalMs: INTERVAL,
          boundMs: BOUND,
          deadAfterMs: DEAD_AFTER,
          clock: () => now,
          every: (fn) => {
            beat = fn;
            return () => (beat = undefined);
          },
        },
      });
    });
    after(async () => {
      await built.app.close();
      await db.close();
      await proxy.close();
      await schema.drop();
    });

    const auth = async (token: string) =>
      (
        await built.app.inject({
          method: 'GET',
          url: '/api/v2/auth',
          headers: { authorization: `Bearer ${token}` },
        })
      ).statusCode;

    test('a key revoked elsewhere is refused once the heartbeat is overdue, and a new connection takes over', async () => {
      const access = built.services.access;
      // The first heartbeat is sent as soon as the connection LISTENs (at time 0).
      await until('the first heartbeat', () => access.live !== false);
      const u = await createUser(built.services, 'stalled');
      assert.equal(await auth(u.token), 200);
      assert.equal(await auth(u.token), 200);
      assert.ok(access.size >= 1, 'the key is cached');

      assert.equal(proxy.stallListeners(), 1, 'one LISTEN connection, now silently dead');
      // Revoked by another connection (another process, the CLI): its notification never arrives.
      const other = new pg.Client({ connectionString: PG_URL });
      await other.connect();
      try {
        await other.query(`update ${schema.name}.api_keys set revoked_at = $1 where id = $2`, [
          new Date().toISOString(),
          u.keyId,
        ]);
      } finally {
        await other.end();
      }

      // Within the bound the cache may still answer (this is the stale window the bound allows).
      const statuses: number[] = [await auth(u.token)];
      for (let k = 1; k <= 6; k++) {
        now += INTERVAL;
        beat?.(); // sent into the dead connection; never comes back
        statuses.push(await auth(u.token));
      }
      // Intervals 0-4 (0-100 ms since the last heartbeat that came back): cached; from 5 on: refused.
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 401, 401]);
      assert.equal(access.live, false);

      // Once the oldest unanswered heartbeat is DEAD_AFTER old, the connection is replaced.
      while (now < DEAD_AFTER + 2 * INTERVAL) {
        now += INTERVAL;
        beat?.();
      }
      await until('a new LISTEN connection and its first heartbeat', () => access.live);
      assert.equal(proxy.liveListeners(), 1);
      assert.equal(await auth(u.token), 401, 'the revoked key, from the database');
      const v = await createUser(built.services, 'after');
      assert.equal(await auth(v.token), 200);
      assert.equal(await auth(v.token), 200);
      assert.ok(access.size >= 1, 'the cache is back in use');
    });
  },
);
