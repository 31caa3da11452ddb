// The PostgreSQL driver, loaded on first use. Loading `pg` costs about 150 ms of CPU at start-up
// (its stream module probes the global Response, which makes Node load its fetch implementation),
// and a server on SQLite that never makes a compute or runs a /sql query does not need it.
import { createRequire } from 'node:module';
import type pgTypes from 'pg';

// Made once: /sql calls pgDriver() per query, and a require function per call would be wasted work.
const load = createRequire(import.meta.url);

/** `pg` (Node caches the module: every call after the first returns the same object). */
export function pgDriver(): typeof pgTypes {
  return load('pg') as typeof pgTypes;
}
