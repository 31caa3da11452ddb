// Neon's serverless driver (@neondatabase/serverless, pinned) and Drizzle against orgplane's /sql and
// /v2, with the documented driver settings: neon() over HTTP, Pool/Client over the WebSocket
// tunnel, responses field by field as the driver reads them, and hostile input. The computes here
// stand in on the run's PostgreSQL server (a role and a database per "project", see
// helpers/serverless.ts); test/serverless-compute.test.ts runs the same paths on real computes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { neon, Client, Pool, NeonDbError } from '@neondatabase/serverless';
import { eq, sql as dsql } from 'drizzle-orm';
import { drizzle as drizzleHttp } from 'drizzle-orm/neon-http';
import { migrate as migrateHttp } from 'drizzle-orm/neon-http/migrator';
import { drizzle as drizzleWs } from 'drizzle-orm/neon-serverless';
import { migrate as migrateWs } from 'drizzle-orm/neon-serverless/migrator';
import { integer, jsonb, pgTable, serial, text, timestamp } from 'drizzle-orm/pg-core';
import WebSocket from 'ws';
import { StaticEndpointResolver } from '../src/serverless/resolver.ts';
import { MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES } from '../src/serverless/sql.service.ts';
import { buildTestApp, type TestApp } from './helpers/app.ts';
import { createUser } from './helpers/factories.ts';
import {
  createLocalProject,
  dropLocalProject,
  localPostgres,
  pointDriverAt,
  type LocalProject,
} from './helpers/serverless.ts';

/** What node-postgres's DatabaseError (and NeonDbError) carry. */
type PgError = { code?: string; position?: string; message: string };

let t: TestApp;
let base: string;
let a: LocalProject;
let b: LocalProject;
/** The stand-in computes, by endpoint id (a project made later joins it). */
const endpoints = new Map<string, { host: string; port: number }>();

async function project(): Promise<LocalProject> {
  const p = await createLocalProject();
  endpoints.set(p.endpointId, localPostgres());
  return p;
}

before(async () => {
  a = await project();
  b = await project();
  t = await buildTestApp({}, { endpointResolver: new StaticEndpointResolver(endpoints) });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const address = t.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  base = `http://127.0.0.1:${port}`;
  pointDriverAt(port);
});

after(async () => {
  await t?.close();
  await dropLocalProject(a);
  await dropLocalProject(b);
});

/** A raw POST /sql, as curl would send it. */
async function post(
  body: unknown,
  headers: Record<string, string> = {},
  connectionString: string | null = a.connectionString,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are read field by field
): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const res = await fetch(`${base}/sql`, {
    method: 'POST',
    headers: {
      ...(connectionString !== null ? { 'Neon-Connection-String': connectionString } : {}),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

async function healthy(): Promise<void> {
  const sql = neon(a.connectionString);
  assert.deepEqual(await sql`select 1 as ok`, [{ ok: 1 }]);
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
}

describe('neon() over HTTP (POST /sql)', () => {
  test('tagged templates: every common type comes back as the driver parses PostgreSQL text', async () => {
    const sql = neon(a.connectionString);
    const [row] = await sql`
      select 1::int2 as i2, 2::int4 as i4, 9007199254740993::int8 as i8, 1.25::float4 as f4,
             0.1::float8 as f8, 12345678901234567890.123::numeric as n, true as yes, false as no,
             'text ✓'::text as t, 'v'::varchar(3) as v, '{"a":[1,2],"b":null}'::json as j,
             '{"k":"v"}'::jsonb as jb, array[1,2,null]::int[] as ai, array['a','b"c',null]::text[] as at,
             '\\x00ff10'::bytea as bin, '2024-02-29 12:34:56.789+00'::timestamptz as tz,
             '2024-02-29 12:34:56.789'::timestamp as ts, '2024-02-29'::date as d, '12:34:56'::time as tm,
             '1 day 02:03:04'::interval as iv, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid as u,
             null::text as nul, 'NaN'::float8 as nan`;
    assert.ok(row);
    assert.equal(row.i2, 1);
    assert.equal(row.i4, 2);
    assert.equal(row.i8, '9007199254740993'); // int8 stays a string (pg-types), no precision lost
    assert.equal(row.f4, 1.25);
    assert.equal(row.f8, 0.1);
    assert.equal(row.n, '12345678901234567890.123');
    assert.equal(row.yes, true);
    assert.equal(row.no, false);
    assert.equal(row.t, 'text ✓');
    assert.equal(row.v, 'v');
    assert.deepEqual(row.j, { a: [1, 2], b: null });
    assert.deepEqual(row.jb, { k: 'v' });
    assert.deepEqual(row.ai, [1, 2, null]);
    assert.deepEqual(row.at, ['a', 'b"c', null]);
    assert.ok(Buffer.isBuffer(row.bin));
    assert.deepEqual([...row.bin], [0, 255, 16]);
    assert.ok(row.tz instanceof Date);
    assert.equal(row.tz.toISOString(), '2024-02-29T12:34:56.789Z');
    assert.ok(row.ts instanceof Date);
    assert.ok(row.d instanceof Date);
    assert.equal(row.tm, '12:34:56');
    assert.deepEqual({ ...row.iv }, { days: 1, hours: 2, minutes: 3, seconds: 4 });
    assert.equal(row.u, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    assert.equal(row.nul, null);
    assert.ok(Number.isNaN(row.nan));
  });

  test('parameters of every common type round-trip, and injection through them stays data', async () => {
    const sql = neon(a.connectionString);
    const when = new Date('2025-06-01T10:20:30.456Z');
    const evil = `'); drop table if exists victims; select ('`;
    const [row] = await sql`
      select ${42}::int as i, ${'9007199254740993'}::int8 as big, ${3.5}::float8 as f, ${true}::bool as yes,
             ${'héllo'}::text as s, ${when}::timestamptz as w, ${Buffer.from([1, 2, 3])}::bytea as bin,
             ${[1, 2, 3]}::int[] as arr, ${['x', 'y,z', 'q"uote', null]}::text[] as tarr,
             ${{ nested: { n: 1 }, list: [true] }}::jsonb as obj, ${null}::text as nul, ${evil}::text as evil,
             ${'0.1'}::numeric as num`;
    assert.ok(row);
    assert.equal(row.i, 42);
    assert.equal(row.big, '9007199254740993');
    assert.equal(row.f, 3.5);
    assert.equal(row.yes, true);
    assert.equal(row.s, 'héllo');
    assert.equal(row.w.toISOString(), when.toISOString());
    assert.deepEqual([...row.bin], [1, 2, 3]);
    assert.deepEqual(row.arr, [1, 2, 3]);
    assert.deepEqual(row.tarr, ['x', 'y,z', 'q"uote', null]);
    assert.deepEqual(row.obj, { nested: { n: 1 }, list: [true] });
    assert.equal(row.nul, null);
    assert.equal(row.evil, evil);
    assert.equal(row.num, '0.1');
    // The injected text never ran as SQL: a table it would create or drop is untouched.
    await sql`create table if not exists victims (id int)`;
    await sql`select ${evil}`;
    assert.deepEqual(await sql`select count(*)::int as n from victims`, [{ n: 0 }]);
  });

  test('fullResults and arrayMode: fields, command, rowCount and rowAsArray as node-postgres has them', async () => {
    const sql = neon(a.connectionString);
    await sql`create table if not exists things (id serial primary key, name text not null unique, price numeric(8,2))`;
    const ins = await sql.query(
      'insert into things (name, price) values ($1, $2), ($3, $4) returning id, name, price',
      ['a', '1.50', 'b', '2'],
      { fullResults: true },
    );
    assert.equal(ins.command, 'INSERT');
    assert.equal(ins.rowCount, 2);
    assert.equal(ins.rowAsArray, false);
    assert.equal(ins.fields.length, 3);
    const [id, name, price] = ins.fields;
    assert.deepEqual(Object.keys(id ?? {}).sort(), [
      'columnID',
      'dataTypeID',
      'dataTypeModifier',
      'dataTypeSize',
      'format',
      'name',
      'tableID',
    ]);
    assert.equal(id?.name, 'id');
    assert.equal(id?.dataTypeID, 23);
    assert.ok((id?.tableID ?? 0) > 0, 'a table column carries its table oid');
    assert.equal(id?.columnID, 1);
    assert.equal(id?.dataTypeSize, 4);
    assert.equal(id?.dataTypeModifier, -1);
    assert.equal(id?.format, 'text');
    assert.equal(name?.dataTypeID, 25);
    assert.equal(name?.columnID, 2);
    assert.equal(name?.dataTypeSize, -1);
    assert.equal(price?.dataTypeID, 1700);
    assert.equal(price?.dataTypeModifier, ((8 << 16) | 2) + 4, 'numeric(8,2) typmod');
    assert.deepEqual(
      ins.rows.map((r) => [r.name, r.price]),
      [
        ['a', '1.50'],
        ['b', '2.00'],
      ],
    );
    const arr = await sql.query('select name from things order by name', [], {
      arrayMode: true,
      fullResults: true,
    });
    assert.equal(arr.rowAsArray, true);
    assert.deepEqual(arr.rows, [['a'], ['b']]);
    assert.equal(arr.command, 'SELECT');
    assert.equal(arr.rowCount, 2);
    const upd = await sql.query('update things set price = price + 1', [], { fullResults: true });
    assert.equal(upd.command, 'UPDATE');
    assert.equal(upd.rowCount, 2);
    assert.deepEqual(upd.fields, []);
    const ddl = await sql.query('create index if not exists things_price on things (price)', [], {
      fullResults: true,
    });
    assert.equal(ddl.command, 'CREATE');
    assert.equal(ddl.rowCount, null);
  });

  test('the wire format: raw text with the driver headers, JSON values without them', async () => {
    const q = {
      query: `select 1 as i, 5000000000::int8 as big, true as b, 1.5::float8 as f, 'Infinity'::float8 as inf,
                     '{"x":1}'::jsonb as j, array[[1,2],[3,4]] as m, array['{"a":1}'::json] as ja, null::int as z, 'x' as x`,
    };
    const raw = await post(q, { 'Neon-Raw-Text-Output': 'true', 'Neon-Array-Mode': 'true' });
    assert.equal(raw.status, 200);
    assert.match(raw.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(raw.headers.get('access-control-allow-origin'), '*');
    assert.deepEqual(Object.keys(raw.body), ['fields', 'rows', 'command', 'rowCount', 'rowAsArray']);
    assert.deepEqual(raw.body.rows, [
      ['1', '5000000000', 't', '1.5', 'Infinity', '{"x": 1}', '{{1,2},{3,4}}', '{"{\\"a\\":1}"}', null, 'x'],
    ]);
    assert.equal(raw.body.rowAsArray, true);
    const json = await post(q);
    assert.equal(json.status, 200);
    assert.deepEqual(json.body.rows, [
      {
        i: 1,
        big: '5000000000',
        b: true,
        f: 1.5,
        inf: 'Infinity',
        j: { x: 1 },
        m: [
          [1, 2],
          [3, 4],
        ],
        ja: [{ a: 1 }],
        z: null,
        x: 'x',
      },
    ]);
    assert.equal(json.body.rowAsArray, false);
    // A query's own arrayMode wins over the header.
    const own = await post({ query: 'select 1 as one', arrayMode: true });
    assert.deepEqual(own.body.rows, [[1]]);
    // Parameters: JSON values become PostgreSQL text (arrays as array literals, objects as JSON).
    const params = await post({
      query: 'select $1::int[] as a, $2::jsonb as o, $3::bool as b, $4::text as n',
      params: [[1, null, 3], { k: [1] }, false, null],
    });
    assert.deepEqual(params.body.rows, [{ a: [1, null, 3], o: { k: [1] }, b: false, n: null }]);
    // CORS preflight, as Neon answers it.
    const pre = await fetch(`${base}/sql`, { method: 'OPTIONS' });
    assert.equal(pre.status, 200);
    assert.equal(pre.headers.get('allow'), 'OPTIONS, POST');
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Neon-Connection-String/);
  });

  test('transaction([...]): isolation levels, read only, atomic', async () => {
    const sql = neon(a.connectionString);
    await sql`create table if not exists ledger (id serial primary key, amount int not null check (amount > 0))`;
    for (const [level, shown] of [
      ['Serializable', 'serializable'],
      ['RepeatableRead', 'repeatable read'],
      ['ReadCommitted', 'read committed'],
      ['ReadUncommitted', 'read uncommitted'],
    ] as const) {
      const [iso] = await sql.transaction([sql`show transaction_isolation`], { isolationLevel: level });
      assert.deepEqual(iso, [{ transaction_isolation: shown }]);
    }
    const [ro, def] = await sql.transaction(
      [sql`show transaction_read_only`, sql`show transaction_deferrable`],
      {
        isolationLevel: 'Serializable',
        readOnly: true,
        deferrable: true,
      },
    );
    assert.deepEqual(ro, [{ transaction_read_only: 'on' }]);
    assert.deepEqual(def, [{ transaction_deferrable: 'on' }]);
    await assert.rejects(
      sql.transaction([sql`insert into ledger (amount) values (1)`], { readOnly: true }),
      (e) => {
        assert.ok(e instanceof NeonDbError);
        assert.equal(e.code, '25006');
        return true;
      },
    );
    const results = await sql.transaction((tx) => [
      tx`insert into ledger (amount) values (${10}) returning amount`,
      tx`insert into ledger (amount) values (${20}) returning amount`,
      tx`select sum(amount)::int as total from ledger`,
    ]);
    assert.deepEqual(results, [[{ amount: 10 }], [{ amount: 20 }], [{ total: 30 }]]);
    // The second statement fails: the first is rolled back with it.
    await assert.rejects(
      sql.transaction([
        sql`insert into ledger (amount) values (5)`,
        sql`insert into ledger (amount) values (-1)`,
      ]),
      (e) => e instanceof NeonDbError && e.code === '23514' && e.constraint === 'ledger_amount_check',
    );
    assert.deepEqual(await sql`select count(*)::int as n from ledger`, [{ n: 2 }]);
    // The response echoes the transaction headers, as Neon's does.
    const echoed = await post(
      { queries: [{ query: 'select 1' }] },
      { 'Neon-Batch-Isolation-Level': 'RepeatableRead', 'Neon-Batch-Read-Only': 'true' },
    );
    assert.equal(echoed.status, 200);
    assert.equal(echoed.headers.get('neon-batch-isolation-level'), 'RepeatableRead');
    assert.equal(echoed.headers.get('neon-batch-read-only'), 'true');
    assert.equal(echoed.body.results.length, 1);
    const badLevel = await post({ queries: [] }, { 'Neon-Batch-Isolation-Level': 'Chaos' });
    assert.equal(badLevel.status, 400);
    assert.match(badLevel.body.message, /invalid isolation level/);
  });

  test('errors carry PostgreSQL fields: code, position, detail, constraint …', async () => {
    const sql = neon(a.connectionString);
    await assert.rejects(sql`selec 1`, (e) => {
      assert.ok(e instanceof NeonDbError);
      assert.equal(e.code, '42601');
      assert.equal(e.position, '1');
      assert.equal(e.severity, 'ERROR');
      assert.match(e.message, /syntax error at or near "selec"/);
      return true;
    });
    await sql`create table if not exists uniq (k text primary key)`;
    await sql`insert into uniq values ('dup') on conflict do nothing`;
    await assert.rejects(sql`insert into uniq values (${'dup'})`, (e) => {
      assert.ok(e instanceof NeonDbError);
      assert.equal(e.code, '23505');
      assert.equal(e.constraint, 'uniq_pkey');
      assert.equal(e.table, 'uniq');
      assert.equal(e.schema, 'public');
      assert.equal(e.detail, 'Key (k)=(dup) already exists.');
      return true;
    });
    // One statement per query, as on Neon (extended protocol).
    const multi = await post({ query: 'select 1; select 2' });
    assert.equal(multi.status, 400);
    assert.equal(multi.body.code, '42601');
    assert.deepEqual(Object.keys(multi.body).slice(0, 3), ['message', 'code', 'detail']);
  });

  test("queries leave the control plane's principal cache alone; a control-plane write does not", async () => {
    const access = t.services.access;
    const changed = access.changed.bind(access);
    let changes = 0;
    access.changed = () => {
      changes++;
      changed();
    };
    try {
      assert.equal((await post({ query: 'select 1', params: [] })).status, 200);
      assert.equal((await post({ query: 'select nope', params: [] })).status, 400);
      assert.equal(changes, 0, 'a data-plane query cannot change who may do what');
      const u = await createUser(t.services, 'sql-cache');
      const del = await t.call('DELETE', `/api/v2/api_keys/${u.keyId}`, { token: u.token });
      assert.equal(del.status, 200, del.text);
      // (On PostgreSQL the user's creation is also heard as a notification: at least one.)
      assert.ok(changes >= 1, 'the control plane still reports its writes');
    } finally {
      access.changed = changed;
    }
  });

  test('the pooler host (-pooler) reaches the same endpoint', async () => {
    const sql = neon(a.pooledConnectionString);
    assert.deepEqual(await sql`select current_user as u, current_database() as d`, [
      { u: a.role, d: a.database },
    ]);
  });
});

describe('Pool and Client over the WebSocket tunnel (/v2)', () => {
  test('Pool: a multi-statement transaction commits, a failed one rolls back', async () => {
    const pool = new Pool({ connectionString: a.connectionString, max: 2 });
    try {
      await pool.query('create table if not exists accounts (id int primary key, balance int not null)');
      await pool.query('delete from accounts');
      const c = await pool.connect();
      try {
        await c.query('begin');
        await c.query('insert into accounts values ($1, $2), ($3, $4)', [1, 100, 2, 0]);
        await c.query('update accounts set balance = balance - 30 where id = 1');
        await c.query('update accounts set balance = balance + 30 where id = 2');
        await c.query('commit');
        await c.query('begin');
        await c.query('update accounts set balance = balance - 1000 where id = 1');
        await assert.rejects(
          c.query('insert into accounts values (1, 0)'),
          (e: PgError) => e.code === '23505',
        );
        await c.query('rollback');
      } finally {
        c.release();
      }
      const { rows, fields } = await pool.query('select id, balance from accounts order by id');
      assert.deepEqual(rows, [
        { id: 1, balance: 70 },
        { id: 2, balance: 30 },
      ]);
      assert.equal(fields[0]?.dataTypeID, 23);
      // Types arrive as node-postgres parses them from the real protocol.
      const typed = await pool.query('select now() as ts, $1::jsonb as j, $2::bytea as b', [
        { a: 1 },
        Buffer.from('hi'),
      ]);
      assert.ok(typed.rows[0].ts instanceof Date);
      assert.deepEqual(typed.rows[0].j, { a: 1 });
      assert.equal(typed.rows[0].b.toString(), 'hi');
    } finally {
      await pool.end();
    }
  });

  test('Client: session state, errors with positions, pooled host', async () => {
    const client = new Client(a.pooledConnectionString);
    await client.connect();
    try {
      await client.query('set application_name = $$serverless-test$$');
      const { rows } = await client.query('select current_setting($1) as app, current_user as u', [
        'application_name',
      ]);
      assert.deepEqual(rows, [{ app: 'serverless-test', u: a.role }]);
      await assert.rejects(client.query('select * from no_such_table'), (e: PgError) => {
        assert.equal(e.code, '42P01');
        assert.equal(e.position, '15');
        return true;
      });
      // The session survives an error.
      assert.deepEqual((await client.query('select 2 as two')).rows, [{ two: 2 }]);
    } finally {
      await client.end();
    }
  });

  test('without pipelining (pipelineConnect false) the password is asked for and sent', async () => {
    const client = new Client(a.connectionString);
    client.neonConfig.pipelineConnect = false;
    await client.connect();
    try {
      assert.deepEqual((await client.query('select 1 as one')).rows, [{ one: 1 }]);
    } finally {
      await client.end();
    }
  });
});

describe('Drizzle ORM', () => {
  const migrations = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-drizzle-'));
  fs.mkdirSync(path.join(migrations, 'meta'));
  fs.writeFileSync(
    path.join(migrations, '0000_init.sql'),
    'CREATE TABLE "posts" ("id" serial PRIMARY KEY NOT NULL, "title" text NOT NULL, "votes" integer DEFAULT 0 NOT NULL, "meta" jsonb, "created_at" timestamp with time zone DEFAULT now() NOT NULL);\n--> statement-breakpoint\nCREATE INDEX "posts_title" ON "posts" ("title");\n',
  );
  fs.writeFileSync(
    path.join(migrations, 'meta', '_journal.json'),
    JSON.stringify({
      version: '7',
      dialect: 'postgresql',
      entries: [{ idx: 0, version: '7', when: 1735689600000, tag: '0000_init', breakpoints: true }],
    }),
  );
  after(() => fs.rmSync(migrations, { recursive: true, force: true }));
  const posts = pgTable('posts', {
    id: serial('id').primaryKey(),
    title: text('title').notNull(),
    votes: integer('votes').notNull().default(0),
    meta: jsonb('meta').$type<{ tags: string[] }>(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  });

  test('neon-http: migrate, insert, select', async () => {
    const p = await project();
    try {
      const db = drizzleHttp(neon(p.connectionString));
      await migrateHttp(db, { migrationsFolder: migrations });
      const [created] = await db
        .insert(posts)
        .values({ title: 'hello', meta: { tags: ['x'] } })
        .returning();
      assert.equal(created?.title, 'hello');
      assert.ok(created?.createdAt instanceof Date);
      await db
        .update(posts)
        .set({ votes: dsql`${posts.votes} + 1` })
        .where(eq(posts.id, created.id));
      const rows = await db.select().from(posts).where(eq(posts.title, 'hello'));
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.votes, 1);
      assert.deepEqual(rows[0]?.meta, { tags: ['x'] });
      // Migrating again applies nothing new.
      await migrateHttp(db, { migrationsFolder: migrations });
      const applied = await db.execute(dsql`select count(*)::int as n from drizzle.__drizzle_migrations`);
      assert.equal(applied.rows[0]?.n, 1);
    } finally {
      await dropLocalProject(p);
    }
  });

  test('neon-serverless (WebSocket Pool): migrate, transaction, select', async () => {
    const pool = new Pool({ connectionString: b.connectionString });
    try {
      const db = drizzleWs(pool);
      await migrateWs(db, { migrationsFolder: migrations });
      await db.transaction(async (tx) => {
        await tx.insert(posts).values([{ title: 'one' }, { title: 'two', votes: 5 }]);
        await tx.update(posts).set({ votes: 7 }).where(eq(posts.title, 'one'));
      });
      const rows = await db
        .select({ title: posts.title, votes: posts.votes })
        .from(posts)
        .orderBy(posts.title);
      assert.deepEqual(rows, [
        { title: 'one', votes: 7 },
        { title: 'two', votes: 5 },
      ]);
    } finally {
      await pool.end();
    }
  });
});

describe('hostile input', () => {
  test('malformed JSON, wrong shapes, missing or bad connection strings: 400 with a message', async () => {
    const cases: Array<[unknown, RegExp]> = [
      ['{"query": "select 1"', /could not parse the HTTP request body/],
      ['[]', /expected/],
      ['{"query": 42}', /query must be a string/],
      ['{"query": "select 1", "params": "x"}', /params must be an array/],
      ['{"queries": [{"nope": 1}]}', /queries\[0\]\.query must be a string/],
      ['', /could not parse/],
    ];
    for (const [body, message] of cases) {
      const r = await post(body);
      assert.equal(r.status, 400, String(body));
      assert.match(r.body.message, message);
      assert.equal(typeof r.body.code, 'string');
    }
    const missing = await post({ query: 'select 1' }, {}, null);
    assert.equal(missing.status, 400);
    assert.equal(missing.body.message, 'invalid header: neon-connection-string');
    for (const [cs, message] of [
      ['not a url', /invalid connection string/],
      ['mysql://u:p@ep-x.example/db', /incorrect scheme/],
      [`postgresql://${a.role}@${a.endpointId}.x/${a.database}`, /required password/],
      [`postgresql://${a.role}:pw@${a.endpointId}.x/`, /missing database name/],
    ] as const) {
      const r = await post({ query: 'select 1' }, {}, cs);
      assert.equal(r.status, 400, cs);
      assert.match(r.body.message, message);
    }
    const tooMany = await post({ query: 'select 1', params: new Array(65536).fill(1) });
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.body.message, /at most 65535/);
    await healthy();
  });

  test(`bodies over ${MAX_REQUEST_BYTES} bytes: 413; results over ${MAX_RESPONSE_BYTES} bytes: 507, cut at the limit`, async () => {
    const huge = JSON.stringify({ query: 'select $1::text', params: ['x'.repeat(MAX_REQUEST_BYTES)] });
    const r = await post(huge);
    assert.equal(r.status, 413);
    assert.equal(r.body.message, `request is too large (max is ${MAX_REQUEST_BYTES} bytes)`);
    const big = await post({ query: "select repeat('x', 10000) from generate_series(1, 5000)" });
    assert.equal(big.status, 507);
    assert.equal(big.body.message, `response is too large (max is ${MAX_RESPONSE_BYTES} bytes)`);
    await healthy();
  });

  test("another project's endpoint: the host decides the endpoint, PostgreSQL refuses the role", async () => {
    // a's credentials sent to b's endpoint and database.
    const cross = `postgresql://${a.role}:${a.password}@${b.endpointId}.us-east-2.aws.neon.tech/${b.database}`;
    const r = await post({ query: 'select 1' }, {}, cross);
    assert.equal(r.status, 400);
    assert.equal(r.body.code, '42501');
    assert.match(r.body.message, /permission denied for database/);
    const unknown = await post(
      { query: 'select 1' },
      {},
      `postgresql://u:p@ep-nowhere-000000.us-east-2.aws.neon.tech/db`,
    );
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.message, /endpoint ep-nowhere-000000 not found/);
    const notEndpoint = await post({ query: 'select 1' }, {}, `postgresql://u:p@db.example.com/db`);
    assert.equal(notEndpoint.status, 404);
    // The same over the tunnel: the error reaches the driver as PostgreSQL's.
    // (The driver pipelines its start-up: connect() resolves at once, the refusal ends the first query.)
    for (const [cs, expected] of [
      [cross, (e: PgError) => e.code === '42501'],
      [
        'postgresql://u:p@ep-nowhere-000000.us-east-2.aws.neon.tech/db',
        (e: PgError) => /not found/.test(e.message),
      ],
    ] as const) {
      const client = new Client(cs);
      client.on('error', () => {});
      await assert.rejects(async () => {
        await client.connect();
        await client.query('select 1');
      }, expected);
      await client.end().catch(() => {});
    }
    await healthy();
  });

  test('the tunnel refuses garbage and other paths, and the server carries on', async () => {
    const garbage = new WebSocket(`${base.replace('http', 'ws')}/v2?address=${a.endpointId}.x:5432`);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      garbage.on('open', () => garbage.send(Buffer.from('GET / HTTP/1.1\r\n\r\n')));
      garbage.on('message', (d: Buffer) => resolve(d));
      garbage.on('error', reject);
    });
    assert.equal(String.fromCharCode(reply[0] ?? 0), 'E', 'an ErrorResponse');
    assert.match(reply.toString('latin1'), /invalid start-up packet/);
    await new Promise((r) => garbage.once('close', r));
    const elsewhere = new WebSocket(`${base.replace('http', 'ws')}/v1`);
    const status = await new Promise<number>((resolve) => {
      elsewhere.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      elsewhere.on('error', () => resolve(-1));
    });
    assert.equal(status, 404);
    assert.equal(t.services.serverless.tunnels.count, 0);
    await healthy();
  });
});
