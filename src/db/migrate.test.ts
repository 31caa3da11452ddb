// Migrating one schema while another schema of the same database is dropped (PostgreSQL: every
// test file has its own schema and drops it when it ends; other apps may share a database too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DIALECT, PG_URL } from '../../test/helpers/app.ts';
import { openDatabase } from './connect.ts';
import { migrateToLatest } from './migrate.ts';

test(
  "introspection (the migrator's) reads only the schema in use, so another schema's drop cannot fail it",
  { skip: DIALECT !== 'postgres' && 'PostgreSQL only' },
  async () => {
    const mine = `t_${randomBytes(6).toString('hex')}`;
    const other = `t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    const db = openDatabase({ dataDir: '', databaseUrl: PG_URL, pgSchema: mine });
    try {
      await admin.query(`create schema ${mine}; create schema ${other}`);
      await admin.query(`create table ${other}.t (id serial primary key)`);
      // The race, made deterministic: a snapshot taken while the other schema still exists, and
      // the drop committed before the introspection runs in it. Kysely's stock introspector lists
      // every schema's tables from its snapshot and then looks each schema up by name, and the
      // lookup sees the drop: "schema … does not exist" (3F000). In the suite the snapshot was a
      // single statement's and the drop another file's dispose, a window of microseconds.
      const tables = await db.kysely
        .transaction()
        .setIsolationLevel('repeatable read')
        .execute(async (trx) => {
          await trx
            .selectFrom('pg_catalog.pg_namespace' as never)
            .select('nspname' as never)
            .execute();
          await admin.query(`drop schema ${other} cascade`);
          return trx.introspection.getTables({ withInternalKyselyTables: true });
        });
      assert.deepEqual(tables, []);

      await migrateToLatest(db);
      const own = await db.kysely.introspection.getTables({ withInternalKyselyTables: true });
      assert.ok(own.length > 0 && own.every((x) => x.schema === mine));
      assert.ok(own.some((x) => x.name === 'kysely_migration'));
      const keys = own.find((x) => x.name === 'api_keys');
      assert.ok(keys?.columns.some((c) => c.name === 'id' && c.isAutoIncrementing));
    } finally {
      await db.close();
      await admin.query(`drop schema if exists ${mine} cascade; drop schema if exists ${other} cascade`);
      await admin.end();
    }
  },
);
