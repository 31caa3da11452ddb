// A schema-only dump read from the catalogs, for when no pg_dump able to read the server is installed (the
// embedded binaries ship initdb, pg_ctl and postgres only). The server's own pg_get_*def functions print each
// object; the order and layout follow pg_dump's, so two dumps diff the way pg_dump's do. Not a restorable dump.
import type pg from 'pg';

const USER_SCHEMAS =
  "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'";
const NOT_EXTENSION = (oid: string, cls: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = ${oid} AND d.classid = '${cls}'::regclass AND d.deptype = 'e')`;

async function rows<T extends pg.QueryResultRow>(client: pg.Client, sql: string): Promise<T[]> {
  return (await client.query<T>(sql)).rows;
}

export async function catalogSchemaDump(client: pg.Client): Promise<string> {
  const out: string[] = [];
  const section = (type: string, name: string, schema: string, sql: string) => {
    out.push(
      '--',
      `-- Name: ${name}; Type: ${type}; Schema: ${schema}; Owner: -`,
      '--',
      '',
      sql.trimEnd(),
      '',
      '',
    );
  };
  const version =
    (await rows<{ v: string }>(client, "SELECT current_setting('server_version') AS v"))[0]?.v ?? '';
  out.push(
    '--',
    '-- PostgreSQL database dump',
    '--',
    '',
    `-- Dumped from database version ${version}`,
    '-- Dumped by orgplane (catalog reader)',
    '',
    '',
  );

  for (const r of await rows<{ nspname: string }>(
    client,
    `SELECT n.nspname FROM pg_namespace n WHERE ${USER_SCHEMAS} AND n.nspname <> 'public' AND ${NOT_EXTENSION('n.oid', 'pg_namespace')} ORDER BY 1`,
  ))
    section('SCHEMA', r.nspname, '-', `CREATE SCHEMA ${quote(r.nspname)};`);

  for (const r of await rows<{ extname: string; nspname: string }>(
    client,
    "SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql' ORDER BY 1",
  ))
    section(
      'EXTENSION',
      r.extname,
      '-',
      `CREATE EXTENSION IF NOT EXISTS ${quote(r.extname)} WITH SCHEMA ${quote(r.nspname)};`,
    );

  for (const r of await rows<{ nspname: string; typname: string; labels: string[] }>(
    client,
    `SELECT n.nspname, t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] AS labels
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
      WHERE ${USER_SCHEMAS} AND ${NOT_EXTENSION('t.oid', 'pg_type')} GROUP BY 1, 2 ORDER BY 1, 2`,
  ))
    section(
      'TYPE',
      r.typname,
      r.nspname,
      `CREATE TYPE ${quote(r.nspname)}.${quote(r.typname)} AS ENUM (\n${r.labels.map((l) => `    '${l.replace(/'/g, "''")}'`).join(',\n')}\n);`,
    );

  for (const r of await rows<{ nspname: string; proname: string; def: string; args: string }>(
    client,
    `SELECT n.nspname, p.proname, pg_get_functiondef(p.oid) AS def, pg_get_function_identity_arguments(p.oid) AS args
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE ${USER_SCHEMAS} AND p.prokind IN ('f', 'p') AND ${NOT_EXTENSION('p.oid', 'pg_proc')} ORDER BY 1, 2, 4`,
  ))
    section('FUNCTION', `${r.proname}(${r.args})`, r.nspname, `${r.def.trimEnd()};`);

  const relations = await rows<{ oid: number; nspname: string; relname: string; relkind: string }>(
    client,
    `SELECT c.oid, n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${USER_SCHEMAS} AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND ${NOT_EXTENSION('c.oid', 'pg_class')}
      ORDER BY 2, 3`,
  );
  for (const rel of relations) {
    const name = `${quote(rel.nspname)}.${quote(rel.relname)}`;
    if (rel.relkind === 'S') {
      const s = (
        await client.query<{
          seqstart: string;
          seqincrement: string;
          seqmin: string;
          seqmax: string;
          seqcache: string;
          seqcycle: boolean;
          typ: string;
        }>('SELECT s.*, format_type(s.seqtypid, NULL) AS typ FROM pg_sequence s WHERE s.seqrelid = $1', [
          rel.oid,
        ])
      ).rows[0];
      if (!s) continue;
      section(
        'SEQUENCE',
        rel.relname,
        rel.nspname,
        `CREATE SEQUENCE ${name}\n    AS ${s.typ}\n    START WITH ${s.seqstart}\n    INCREMENT BY ${s.seqincrement}\n    MINVALUE ${s.seqmin}\n    MAXVALUE ${s.seqmax}\n    CACHE ${s.seqcache}${s.seqcycle ? '\n    CYCLE' : ''};`,
      );
    } else if (rel.relkind === 'v' || rel.relkind === 'm') {
      const def =
        (await client.query<{ d: string }>('SELECT pg_get_viewdef($1::oid, true) AS d', [rel.oid])).rows[0]
          ?.d ?? '';
      section(
        rel.relkind === 'v' ? 'VIEW' : 'MATERIALIZED VIEW',
        rel.relname,
        rel.nspname,
        `CREATE ${rel.relkind === 'v' ? 'VIEW' : 'MATERIALIZED VIEW'} ${name} AS\n${def.replace(/;\s*$/, '')}${rel.relkind === 'm' ? '\n  WITH NO DATA' : ''};`,
      );
    } else {
      const cols = await client.query<{
        attname: string;
        typ: string;
        notnull: boolean;
        def: string | null;
        ident: string;
        gen: string;
      }>(
        `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS typ, a.attnotnull AS notnull,
                pg_get_expr(d.adbin, d.adrelid) AS def, a.attidentity AS ident, a.attgenerated AS gen
           FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
        [rel.oid],
      );
      const lines = cols.rows.map((c) => {
        let line = `    ${quote(c.attname)} ${c.typ}`;
        if (c.gen === 's' && c.def) line += ` GENERATED ALWAYS AS (${c.def}) STORED`;
        else if (c.def) line += ` DEFAULT ${c.def}`;
        if (c.ident === 'a') line += ' GENERATED ALWAYS AS IDENTITY';
        if (c.ident === 'd') line += ' GENERATED BY DEFAULT AS IDENTITY';
        if (c.notnull) line += ' NOT NULL';
        return line;
      });
      const part =
        rel.relkind === 'p'
          ? (await client.query<{ k: string }>('SELECT pg_get_partkeydef($1::oid) AS k', [rel.oid])).rows[0]
              ?.k
          : undefined;
      section(
        'TABLE',
        rel.relname,
        rel.nspname,
        `CREATE TABLE ${name} (\n${lines.join(',\n')}\n)${part ? ` PARTITION BY ${part}` : ''};`,
      );
    }
  }

  for (const r of await rows<{ nspname: string; relname: string; conname: string; def: string }>(
    client,
    `SELECT n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid) AS def
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${USER_SCHEMAS} AND k.contype IN ('p', 'u', 'c', 'x', 'f') AND ${NOT_EXTENSION('c.oid', 'pg_class')}
      ORDER BY k.contype = 'f', 1, 2, 3`,
  ))
    section(
      'CONSTRAINT',
      `${r.relname} ${r.conname}`,
      r.nspname,
      `ALTER TABLE ONLY ${quote(r.nspname)}.${quote(r.relname)}\n    ADD CONSTRAINT ${quote(r.conname)} ${r.def};`,
    );

  for (const r of await rows<{ nspname: string; relname: string; def: string }>(
    client,
    `SELECT n.nspname, ic.relname, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
      WHERE ${USER_SCHEMAS} AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
        AND ${NOT_EXTENSION('i.indrelid', 'pg_class')} ORDER BY 1, 2`,
  ))
    section('INDEX', r.relname, r.nspname, `${r.def};`);

  for (const r of await rows<{ nspname: string; tgname: string; relname: string; def: string }>(
    client,
    `SELECT n.nspname, t.tgname, c.relname, pg_get_triggerdef(t.oid) AS def
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${USER_SCHEMAS} AND NOT t.tgisinternal ORDER BY 1, 3, 2`,
  ))
    section('TRIGGER', `${r.relname} ${r.tgname}`, r.nspname, `${r.def};`);

  out.push('--', '-- PostgreSQL database dump complete', '--', '');
  return out.join('\n');
}

function quote(ident: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(ident) ? ident : `"${ident.replace(/"/g, '""')}"`;
}
