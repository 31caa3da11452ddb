// Hot queries built and compiled once per database instead of on every request: Kysely's query
// building and compilation cost more CPU than SQLite spends running our indexed reads. On
// PostgreSQL they are also named statements, planned once per connection (server-prepared.ts).
// `build` is called once with placeholder values; each placeholder must reach the compiled
// parameters unchanged (pass arguments straight to where/limit, never branch on them: pass
// anything that changes the SQL's shape as `shape`). Executors with plugins (tests that observe
// or break queries) always build and compile afresh, so plugins see every query.
import { createQueryId, PostgresAdapter, type CompiledQuery, type Kysely } from 'kysely';
import { SERVER_PREPARED } from './server-prepared.ts';
import type { Database } from './schema.ts';

interface Compiled {
  query: CompiledQuery;
  /** For each compiled parameter: the argument index it takes, or a constant. */
  slots: Array<{ arg: number } | { value: unknown }>;
}

const PLACEHOLDER = '\u0000orgplane-prepared-';

export function preparedQuery<A extends unknown[], R>(
  build: (
    db: Kysely<Database>,
    shape: string,
    ...args: A
  ) => { compile(): CompiledQuery<R>; execute(): Promise<R[]> },
): (db: Kysely<Database>, shape: string, ...args: A) => Promise<R[]> {
  // Per adapter (one per database; transactions share it) and shape.
  const cache = new WeakMap<object, Map<string, Compiled>>();
  return async (db, shape, ...args) => {
    const executor = db.getExecutor();
    if (executor.plugins.length > 0) return build(db, shape, ...args).execute();
    let byShape = cache.get(executor.adapter);
    if (!byShape) {
      byShape = new Map();
      cache.set(executor.adapter, byShape);
    }
    let c = byShape.get(shape);
    if (!c) {
      const placeholders = args.map((_, i) => `${PLACEHOLDER}${i}`) as unknown as A;
      const query = build(db, shape, ...placeholders).compile();
      const slots = query.parameters.map((p) => {
        const i = (placeholders as unknown[]).indexOf(p);
        return i >= 0 ? { arg: i } : { value: p };
      });
      const used = new Set(slots.flatMap((s) => ('arg' in s ? [s.arg] : [])));
      if (used.size !== args.length)
        throw new Error(`prepared query ${shape}: an argument does not reach the SQL`);
      // On PostgreSQL the fixed text is also prepared on the server, once per connection.
      const text = executor.adapter instanceof PostgresAdapter ? SERVER_PREPARED + query.sql : query.sql;
      c = { query: { ...query, sql: text }, slots };
      byShape.set(shape, c);
    }
    const parameters = c.slots.map((s) => ('arg' in s ? args[s.arg] : s.value));
    const result = await executor.executeQuery<R>({ ...c.query, queryId: createQueryId(), parameters });
    return result.rows;
  };
}
