// Installs the triggers that report access changes (migration 0006 explains the mechanism).
// Later migrations call this for every new table or column that decides access.
import { sql, type Kysely } from 'kysely';
import type { Dialect } from './connect.ts';

/** events: 'insert' | 'delete' | 'update' | 'update of col, col' (SQL trigger event syntax). */
export async function accessTriggers(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema of their time
  db: Kysely<any>,
  dialect: Dialect,
  table: string,
  events: readonly string[],
): Promise<void> {
  for (const event of events) {
    const name = `access_${table}_${event.replace(/[^a-z]+/g, '_')}`.replace(/_+$/, '');
    if (dialect === 'sqlite') {
      await sql`create trigger ${sql.id(name)} after ${sql.raw(event)} on ${sql.id(table)}
        begin update access_version set n = n + 1 where id = 1; end`.execute(db);
    } else {
      await sql`create trigger ${sql.id(name)} after ${sql.raw(event)} on ${sql.id(table)}
        for each statement execute function orgplane_access_changed()`.execute(db);
    }
  }
}
