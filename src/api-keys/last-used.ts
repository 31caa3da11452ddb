// Batches last_used_at / last_used_from_addr so authentication never writes to the database.
// Each key's newest use is kept in memory and written every flushMs (and on close, and before lists).
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { setLastUsed } from './api-keys.repository.ts';

interface Use {
  at: string;
  addr: string;
}

export class LastUsedTracker {
  private pending = new Map<number, Use>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly flushMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    if (this.timer || this.flushMs <= 0) return;
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  record(keyId: number, addr: string): void {
    this.pending.set(keyId, { at: new Date().toISOString(), addr });
  }

  /** Writes what is pending; concurrent callers share one flush. Failed writes are kept for the next try. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pending.size === 0) return Promise.resolve();
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = (async () => {
      try {
        await this.db.transaction().execute(async (trx) => {
          for (const [id, use] of batch) {
            await setLastUsed(trx, id, use.at, use.addr);
          }
        });
      } catch (err) {
        for (const [id, use] of batch) if (!this.pending.has(id)) this.pending.set(id, use);
        this.onError(err);
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
