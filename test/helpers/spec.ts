// Validates responses against Neon's own OpenAPI document, loaded from the pinned
// @neondatabase/api-client package (the same YAML as ../shared/neon-openapi).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

const require = createRequire(import.meta.url);
const specPath = require.resolve('@neondatabase/api-client/public-v2-for-users.gen.yaml');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the spec is arbitrary JSON
type Json = any;
export const spec: Json = YAML.parse(fs.readFileSync(specPath, 'utf8'), { version: '1.1' });

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
addFormats.default(ajv);
for (const f of ['int64', 'int32', 'double', 'float', 'byte', 'binary', 'password']) ajv.addFormat(f, true);
ajv.addSchema({ $id: 'neon', components: spec.components });

const operations = new Map<string, { path: string; method: string; op: Json }>();
for (const [p, item] of Object.entries<Json>(spec.paths)) {
  for (const [method, op] of Object.entries<Json>(item)) {
    if (op && typeof op === 'object' && op.operationId) {
      operations.set(op.operationId, { path: p, method, op });
    }
  }
}

function rewriteRefs(node: Json): Json {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node && typeof node === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(node)) {
      out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `neon${v}` : rewriteRefs(v);
    }
    return out;
  }
  return node;
}

const cache = new Map<string, ValidateFunction>();

export function operation(operationId: string): { path: string; method: string; op: Json } {
  const o = operations.get(operationId);
  if (!o) throw new Error(`operation ${operationId} is not in Neon's spec`);
  return o;
}

/** Throws with details unless body matches the spec's schema for this operation and status. */
export function assertMatchesSpec(operationId: string, status: number, body: unknown): void {
  const { op } = operation(operationId);
  const declared = op.responses?.[String(status)] ? String(status) : 'default';
  const response = op.responses?.[declared];
  if (!response) throw new Error(`${operationId}: status ${status} is not declared and there is no default`);
  if (declared === 'default' && status < 400) {
    throw new Error(`${operationId}: success status ${status} is not declared in the spec`);
  }
  const schema = response.content?.['application/json']?.schema;
  if (!schema) return;
  const key = `${operationId}:${declared}`;
  let validate = cache.get(key);
  if (!validate) {
    validate = ajv.compile(rewriteRefs(schema));
    cache.set(key, validate);
  }
  if (!validate(body)) {
    throw new Error(
      `${operationId} ${status} does not match Neon's spec: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 2000)}`,
    );
  }
}
