// Neon's SQL-over-HTTP wire shapes (proxy/src/serverless/sql_over_http.rs), written as JSON text so
// a row's values go out exactly as PostgreSQL's text (no float or bigint round trip through JS).
//   result: {"fields":[{name,dataTypeID,tableID,columnID,dataTypeSize,dataTypeModifier,format}],
//            "rows":[…],"command":"SELECT","rowCount":1,"rowAsArray":true}
//   batch:  {"results":[result, …]}
//   error:  {"message", "code", "detail", "hint", "position", "internalPosition", "internalQuery",
//            "severity", "where", "table", "column", "schema", "dataType", "constraint", "file",
//            "line", "routine"} — PostgreSQL's fields (null when absent), as the driver reads them.
import type { FieldDef } from 'pg';
import { valueJson } from './pg-text.ts';

export function fieldsJson(fields: readonly FieldDef[]): string {
  return JSON.stringify(
    fields.map((f) => ({
      name: f.name,
      dataTypeID: f.dataTypeID,
      tableID: f.tableID,
      columnID: f.columnID,
      dataTypeSize: f.dataTypeSize,
      dataTypeModifier: f.dataTypeModifier,
      format: 'text',
    })),
  );
}

/** One row: an array, or an object keyed by column name (duplicate names repeat, as on Neon). */
export function rowJson(
  row: ReadonlyArray<string | null>,
  fields: readonly FieldDef[],
  arrayMode: boolean,
  raw: boolean,
): string {
  const parts: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (!f) continue;
    const v = valueJson(row[i] ?? null, f.dataTypeID, raw);
    parts.push(arrayMode ? v : `${JSON.stringify(f.name)}:${v}`);
  }
  return arrayMode ? `[${parts.join(',')}]` : `{${parts.join(',')}}`;
}

/** Neon's command and rowCount from the command tag ("INSERT 0 5" → INSERT, 5; "CREATE TABLE" → CREATE, null). */
export function commandOf(tag: string | null | undefined): { command: string; rowCount: number | null } {
  const words = (tag ?? '').split(' ');
  const command = words[0] ?? '';
  const count = command === 'INSERT' ? words[2] : words[1];
  const n = count !== undefined && /^\d+$/.test(count) ? Number(count) : null;
  return { command, rowCount: n };
}

export function resultJson(
  fields: readonly FieldDef[],
  rows: readonly string[],
  tag: string | null | undefined,
  arrayMode: boolean,
): string {
  const { command, rowCount } = commandOf(tag);
  return (
    `{"fields":${fieldsJson(fields)},"rows":[${rows.join(',')}],` +
    `"command":${JSON.stringify(command)},"rowCount":${rowCount === null ? 'null' : String(rowCount)},` +
    `"rowAsArray":${arrayMode ? 'true' : 'false'}}`
  );
}

export const ERROR_FIELDS = [
  'code',
  'detail',
  'hint',
  'position',
  'internalPosition',
  'internalQuery',
  'severity',
  'where',
  'table',
  'column',
  'schema',
  'dataType',
  'constraint',
  'file',
  'line',
  'routine',
] as const;

export type ErrorFields = Partial<Record<(typeof ERROR_FIELDS)[number], string>>;

export function errorJson(message: string, fields: ErrorFields, requestId: string): string {
  const body: Record<string, string | null> = { message };
  for (const k of ERROR_FIELDS) body[k] = fields[k] ?? null;
  body.request_id = requestId;
  return JSON.stringify(body);
}
