// Applies migrations in order; the same files serve SQLite and PostgreSQL.
import { Migrator, sql, type Migration, type MigrationProvider } from 'kysely';
import type { Db, Dialect } from './connect.ts';

type Step = { up: (db: Parameters<Migration['up']>[0], dialect: Dialect) => Promise<void> };

// Append-only: never edit a migration that has shipped; add the next number. Loaded only when the
// database is behind (a start on an up-to-date database reads one row and loads none of them).
const STEPS: Record<string, () => Promise<Step>> = {
  '0001_core': () => import('./migrations/0001_core.ts'),
  '0002_projects': () => import('./migrations/0002_projects.ts'),
  '0003_invitations': () => import('./migrations/0003_invitations.ts'),
  '0004_sessions': () => import('./migrations/0004_sessions.ts'),
  '0005_invitation_indexes': () => import('./migrations/0005_invitation_indexes.ts'),
  '0006_access_changes': () => import('./migrations/0006_access_changes.ts'),
  '0007_roles_and_sharing': () => import('./migrations/0007_roles_and_sharing.ts'),
  '0008_transfer_requests': () => import('./migrations/0008_transfer_requests.ts'),
  '0009_key_lifecycle': () => import('./migrations/0009_key_lifecycle.ts'),
  '0010_audit_log': () => import('./migrations/0010_audit_log.ts'),
  '0011_hot_paths': () => import('./migrations/0011_hot_paths.ts'),
  '0012_compute_records': () => import('./migrations/0012_compute_records.ts'),
  '0013_transfer_request_cancel': () => import('./migrations/0013_transfer_request_cancel.ts'),
  '0014_secret_reseals': () => import('./migrations/0014_secret_reseals.ts'),
};
const LATEST = Object.keys(STEPS).sort().at(-1) ?? '';

class StaticProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    const out: Record<string, Migration> = {};
    for (const [name, load] of Object.entries(STEPS)) {
      const step = await load();
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

/**
 * Whether the newest migration is applied (one indexed read). Kysely applies migrations in order
 * and refuses to skip one, so the newest being there means all are.
 */
export async function isSchemaCurrent(db: Db): Promise<boolean> {
  try {
    const r = await sql<{
      name: string;
    }>`select name from kysely_migration order by name desc limit 1`.execute(db.kysely);
    return r.rows[0]?.name === LATEST;
  } catch {
    return false; // no bookkeeping table yet: a new database
  }
}

/**
 * Brings the schema up to date. Safe to run from several processes at once (Kysely takes a lock).
 * Start-up on a current schema costs the one read of isSchemaCurrent.
 */
export async function migrateToLatest(db: Db): Promise<string[]> {
  if (await isSchemaCurrent(db)) return [];
  const { error, results } = await (await migrator(db)).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(`migration failed: ${JSON.stringify(error)}`);
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Up to and including `name` (tests of a migration over data written by the ones before it). */
export async function migrateUpTo(db: Db, name: string): Promise<void> {
  const { error } = await (await migrator(db)).migrateTo(name);
  if (error) throw error instanceof Error ? error : new Error(`migration failed: ${JSON.stringify(error)}`);
}
