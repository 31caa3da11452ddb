// PostgreSQL text values ⇄ JSON, as Neon's proxy converts them (proxy/src/serverless/json.rs):
// - parameters: JSON null → SQL NULL; strings as they are; booleans, numbers and objects as their
//   JSON text; arrays as PostgreSQL array literals (elements JSON-quoted, nested arrays nested);
// - results: with Neon-Raw-Text-Output: true (what @neondatabase/serverless always sends) every
//   value is PostgreSQL's text and the driver parses it; otherwise booleans, int2/int4, finite
//   float4/float8 and json/jsonb become JSON values, arrays JSON arrays, everything else text.
import { parse as parseArray } from 'postgres-array';

export type PgParam = string | null;

/** One request parameter as PostgreSQL text (Neon's json_to_pg_text). */
export function paramToPgText(value: unknown): PgParam {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return arrayLiteral(value);
  return JSON.stringify(value);
}

function arrayLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (Array.isArray(value)) return `{${value.map(arrayLiteral).join(',')}}`;
  // Objects inside arrays are quoted as strings of their JSON text, like Neon does.
  if (typeof value === 'object') return JSON.stringify(JSON.stringify(value));
  return JSON.stringify(value);
}

const BOOL = 16;
const INT2 = 21;
const INT4 = 23;
const FLOAT4 = 700;
const FLOAT8 = 701;
const JSON_OID = 114;
const JSONB = 3802;

/** Built-in array types → their element type (the ones Neon's proxy knows from PostgreSQL's catalogue). */
const ARRAY_ELEMENT = new Map<number, number>([
  [1000, BOOL],
  [1001, 17], // bytea
  [1002, 18], // char
  [1003, 19], // name
  [1005, INT2],
  [1007, INT4],
  [1009, 25], // text
  [1014, 1042], // bpchar
  [1015, 1043], // varchar
  [1016, 20], // int8
  [1021, FLOAT4],
  [1022, FLOAT8],
  [1028, 26], // oid
  [1115, 1114], // timestamp
  [1182, 1082], // date
  [1183, 1083], // time
  [1185, 1184], // timestamptz
  [1187, 1186], // interval
  [1231, 1700], // numeric
  [1270, 1266], // timetz
  [199, JSON_OID],
  [3807, JSONB],
  [2951, 2950], // uuid
  [1041, 869], // inet
  [651, 650], // cidr
  [1040, 829], // macaddr
  [1561, 1560], // bit
  [1563, 1562], // varbit
]);

/** A scalar's JSON text (not raw mode). */
function scalarJson(text: string, oid: number): string {
  switch (oid) {
    case BOOL:
      return text === 't' ? 'true' : 'false';
    case INT2:
    case INT4:
      return String(Number.parseInt(text, 10));
    case FLOAT4:
    case FLOAT8: {
      const n = Number(text);
      // NaN and ±Infinity stay strings: JSON has no such numbers.
      return Number.isFinite(n) ? JSON.stringify(n) : JSON.stringify(text);
    }
    case JSON_OID:
    case JSONB:
      // PostgreSQL only stores valid JSON in these types: its text is written as it is.
      return text;
    default:
      return JSON.stringify(text);
  }
}

type Nested = Array<string | null | Nested>;

function nestedJson(items: Nested): string {
  return `[${items.map((i) => (i === null ? 'null' : Array.isArray(i) ? nestedJson(i) : i)).join(',')}]`;
}

/** One result value as JSON text. */
export function valueJson(text: string | null, oid: number, raw: boolean): string {
  if (text === null) return 'null';
  if (raw) return JSON.stringify(text);
  const element = ARRAY_ELEMENT.get(oid);
  if (element !== undefined) {
    const items = parseArray(text, (v) => scalarJson(v, element)) as Nested;
    return nestedJson(items);
  }
  return scalarJson(text, oid);
}
