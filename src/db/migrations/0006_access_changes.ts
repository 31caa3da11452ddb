// Access changes as the database sees them: whenever a row that decides who may do what changes
// (a key revoked or deleted, a membership added, changed or removed, a project moved or deleted,
// a user or organization deleted), a trigger records it, whichever process or tool wrote it.
// SQLite: access_version.n goes up (every process reads the same file).
// PostgreSQL: a notification on the schema's access channel (see src/auth/authenticator.ts).
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../connect.ts';
import { accessTriggers } from '../access-triggers.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema of their time
export async function up(db: Kysely<any>, dialect: Dialect): Promise<void> {
  if (dialect === 'sqlite') {
    await sql`create table access_version (id integer primary key check (id = 1), n integer not null)`.execute(
      db,
    );
    await sql`insert into access_version (id, n) values (1, 0)`.execute(db);
  } else {
    await sql`
      create function orgplane_access_changed() returns trigger language plpgsql as $$
      begin
        perform pg_notify('orgplane_access:' || current_schema(), '');
        return null;
      end $$`.execute(db);
  }
  await accessTriggers(db, dialect, 'api_keys', ['update of revoked_at', 'delete']);
  await accessTriggers(db, dialect, 'members', ['insert', 'update of role', 'delete']);
  await accessTriggers(db, dialect, 'projects', ['update of org_id, deleted_at', 'delete']);
  await accessTriggers(db, dialect, 'users', ['delete']);
  await accessTriggers(db, dialect, 'organizations', ['delete']);
}
