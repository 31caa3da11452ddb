// Request validation (Ajv) and response serialization (fast-json-stringify), both compiled on a
// route's first use instead of at start-up: most routes are never called by a given server, and
// compiling them all cost a large share of start-up time and memory.
import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import fastJson from 'fast-json-stringify';

type Validate = ((data: unknown) => boolean) & { errors?: FastifySchemaValidationError[] | null };

export function lazyCompilers(app: FastifyInstance): void {
  // Query strings and path params arrive as text: coerce them. Bodies are JSON: never coerce.
  const common = { useDefaults: true, removeAdditional: true, allErrors: true, strict: false } as const;
  const coercing = new Ajv({ ...common, coerceTypes: 'array' });
  const strict = new Ajv({ ...common, coerceTypes: false });
  for (const ajv of [coercing, strict]) addFormats.default(ajv);
  app.setValidatorCompiler(({ schema, httpPart }) => {
    let compiled: Validate | undefined;
    const validate: Validate = (data) => {
      compiled ??= (httpPart === 'body' ? strict : coercing).compile(schema) as Validate;
      const ok = compiled(data);
      validate.errors = compiled.errors;
      return ok;
    };
    return validate;
  });
  app.setSerializerCompiler(({ schema }) => {
    let serialize: ((data: unknown) => string) | undefined;
    return (data) => {
      // Shared schemas ($id) are resolved from the app's registry, as Fastify's default does.
      serialize ??= fastJson(schema as Parameters<typeof fastJson>[0], {
        schema: app.getSchemas() as Record<string, Parameters<typeof fastJson>[0]>,
      });
      return serialize(data);
    };
  });
}
