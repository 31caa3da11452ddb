// Applies migrations in order; the same files serve SQLite and PostgreSQL.
import { Migrator, sql, type Migration, type MigrationProvider } from 'kysely';
import type { Db, Dialect } from './connect.ts';

import * as m0001 from './migrations/0001_core.ts';
import * as m0002 from './migrations/0002_projects.ts';
import * as m0003 from './migrations/0003_invitations.ts';
import * as m0004 from './migrations/0004_sessions.ts';
import * as m0005 from './migrations/0005_invitation_indexes.ts';
import * as m0006 from './migrations/0006_access_changes.ts';
import * as m0007 from './migrations/0007_roles_and_sharing.ts';
import * as m0008 from './migrations/0008_transfer_requests.ts';
import * as m0009 from './migrations/0009_key_lifecycle.ts';
import * as m0010 from './migrations/0010_audit_log.ts';
import * as m0011 from './migrations/0011_hot_paths.ts';

type Step = { up: (db: Parameters<Migration['up']>[0], dialect: Dialect) => Promise<void> };

// Append-only: never edit a migration that has shipped; add the next number.
const STEPS: Record<string, Step> = {
  '0001_core': m0001,
  '0002_projects': m0002,
  '0003_invitations': m0003,
  '0004_sessions': m0004,
  '0005_invitation_indexes': m0005,
  '0006_access_changes': m0006,
  '0007_roles_and_sharing': m0007,
  '0008_transfer_requests': m0008,
  '0009_key_lifecycle': m0009,
  '0010_audit_log': m0010,
  '0011_hot_paths': m0011,
};

class StaticProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    const out: Record<string, Migration> = {};
    for (const [name, step] of Object.entries(STEPS)) {
      out[name] = { up: (db) => step.up(db, this.dialect) };
    }
    return out;
  }
}

async function migrator(db: Db): Promise<Migrator> {
  // Kysely looks for its bookkeeping tables in every schema unless told which one: with several
  // schemas in one database (parallel test files, or other apps) it would find another schema's
  // lock table. Name the schema we actually use.
  let schema = db.pgSchema;
  if (db.dialect === 'postgres' && !schema) {
    const r = await sql<{ s: string }>`select current_schema() as s`.execute(db.kysely);
    schema = r.rows[0]?.s ?? undefined;
  }
  return new Migrator({
    db: db.kysely,
    provider: new StaticProvider(db.dialect),
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
}

/** Brings the schema up to date. Safe to run from several processes at once (Kysely takes a lock). */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const { error, results } = await (await migrator(db)).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(`migration failed: ${JSON.stringify(error)}`);
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Up to and including `name` (tests of a migration over data written by the ones before it). */
export async function migrateUpTo(db: Db, name: string): Promise<void> {
  const { error } = await (await migrator(db)).migrateTo(name);
  if (error) throw error instanceof Error ? error : new Error(`migration failed: ${JSON.stringify(error)}`);
}
