// An in-process cache for the hottest per-request lookups on SQLite (API key → principal, caller's
// role in an organization). It can never serve stale data: every entry is valid only while
//   (a) this process has run no writing statement since it was read (a generation counter, bumped
//       by the statement wrapper in connect.ts for every statement that is not read-only), and
//   (b) `PRAGMA data_version` is unchanged (SQLite changes it when another connection, in this
//       process or another, commits to the file).
// Any change to either clears everything. A value is stored only if the stamp taken before its
// query is still current afterwards, so a read that raced a write is never kept.
// PostgreSQL gets no cache: there is no cheap way to learn on the very next request that another
// server process changed a key or a membership.
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

const MAX_ENTRIES = 10_000;

export class ReadCache {
  /** Bumped before every statement that may write (see reusingStatements in connect.ts). */
  generation = 0;
  private stampGeneration = -1;
  private stampDataVersion = -1;
  private readonly entries = new Map<string, unknown>();
  /** Bumped whenever the entries are cleared: an unchanged epoch means unchanged entries. */
  epoch = 0;

  constructor(private readonly dataVersion: () => number) {}

  /** Checks both counters; clears the cache when either moved. Returns a stamp for `put`. */
  private current(): number {
    const dv = this.dataVersion();
    if (dv !== this.stampDataVersion || this.generation !== this.stampGeneration) {
      this.entries.clear();
      this.epoch++;
      this.stampDataVersion = dv;
      this.stampGeneration = this.generation;
    }
    return this.generation;
  }

  /** The cached value for key, or runs load (a read of committed data) and caches its result. */
  async get<T>(key: string, load: () => Promise<T>): Promise<T> {
    const stamp = this.current();
    if (this.entries.has(key)) return this.entries.get(key) as T;
    const dvBefore = this.stampDataVersion;
    const value = await load();
    // Keep it only if nothing was written (here or elsewhere) while it was being read.
    if (this.current() === stamp && this.stampDataVersion === dvBefore) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(key, value);
    }
    return value;
  }

  /**
   * Like get, but when nothing changed since `validatedEpoch` (taken by get earlier in the same
   * request: the caller's authentication) and this process wrote nothing since, it trusts that
   * check instead of reading data_version again. The answer is then the committed state as of a
   * moment after the request began, as a fresh read at that moment would have given.
   */
  async getInRequest<T>(key: string, load: () => Promise<T>, validatedEpoch: number | undefined): Promise<T> {
    if (validatedEpoch === this.epoch && this.generation === this.stampGeneration && this.entries.has(key)) {
      return this.entries.get(key) as T;
    }
    return this.get(key, load);
  }

  /** For tests and diagnostics. */
  get size(): number {
    return this.entries.size;
  }
}

// The cache belongs to the root Kysely instance only: a Transaction is another instance, so reads
// inside transactions (which must see their own writes and run under locks) always query.
const caches = new WeakMap<Kysely<Database>, ReadCache>();

export function attachReadCache(kysely: Kysely<Database>, cache: ReadCache): void {
  caches.set(kysely, cache);
}

// When each principal (one per request) was checked against the cache, for getInRequest.
const validated = new WeakMap<object, number>();

export function noteValidated(principal: object, epoch: number): void {
  validated.set(principal, epoch);
}

export function validatedEpoch(principal: object): number | undefined {
  return validated.get(principal);
}

export function readCacheOf(kysely: Kysely<Database>): ReadCache | undefined {
  return caches.get(kysely);
}
