// Start-up repair: makes the control-plane records and the engine's data agree after a crash,
// then opens every live endpoint. Each 'running' operation is redone or undone by its kind
// (src/operations/operations.ts wrote it before the engine worked); data without a record is
// deleted; a record without data is made again (from its parent, else from the template).
// Also: role passwords still stored in plain text (before sealing) or under an older server key
// are sealed under the current one (a full pass only when the key changed); deleted projects past their recovery window lose their data.
import type { Logger } from 'pino';
import type pg from 'pg';
import type { ComputeEngine } from '../compute/engine.ts';
import type { Db } from '../db/connect.ts';
import { withTransaction } from '../db/connect.ts';
import type { ProjectOperationRow } from '../db/schema.ts';
import { SecretBox } from '../domain/secret-box.ts';
import { nowIso } from '../domain/time.ts';
import { runningOperations, settleOperations } from '../projects/operations.repository.ts';
import { RECOVERY_WINDOW_MS } from '../domain/projects.ts';
import * as repo from './branches.repository.ts';
import type { BranchesService } from './branches.service.ts';

const INTERRUPTED = 'interrupted by a restart of orgplane; nothing was changed';

export interface ReconcileReport {
  redone: number;
  undone: number;
  orphanDataDeleted: string[];
  dataRemade: string[];
  endpointsOpened: number;
  purged: string[];
}

/**
 * Seals plain role passwords and reseals those under an older key. Safe in both modes. It reads every
 * project only when the server key differs from the one the last complete pass recorded (the first start
 * after an upgrade or a key change); otherwise one row. Every value written since was sealed under the
 * current key by the process that wrote it, so processes sharing a database must share the key (rotation:
 * restart them all with the new key, the old one in ORGPLANE_SECRET_PREVIOUS).
 */
export async function sealStoredPasswords(db: Db, secrets: SecretBox): Promise<number> {
  const k = db.kysely;
  if ((await repo.lastResealKeyId(k)) === secrets.currentKeyId) return 0;
  let n = 0;
  const reseal = (v: string) => (SecretBox.isSealed(v) ? secrets.seal(secrets.open(v)) : secrets.seal(v));
  const stale = (v: string) => SecretBox.keyIdOf(v) !== secrets.currentKeyId;
  for (const p of await repo.projectsWithRolePassword(k)) {
    if (p.role_password === null || !stale(p.role_password)) continue;
    const sealed = reseal(p.role_password);
    // Records made by migration 0012 have no password yet: the default role's is this one.
    await withTransaction(db, (trx) => repo.setProjectRolePassword(trx, p, sealed));
    n++;
  }
  for (const r of await repo.storedRolePasswords(k)) {
    if (r.password_enc === null || !stale(r.password_enc)) continue;
    await repo.setRolePassword(k, r.branch_id, r.name, reseal(r.password_enc), nowIso());
    n++;
  }
  await repo.recordReseal(k, secrets.currentKeyId, nowIso());
  return n;
}

export class ComputeReconciler {
  constructor(
    private readonly db: Db,
    private readonly engine: ComputeEngine,
    private readonly branches: BranchesService,
    private readonly log: Pick<Logger, 'info' | 'warn' | 'error'>,
  ) {}

  async reconcile(): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      redone: 0,
      undone: 0,
      orphanDataDeleted: [],
      dataRemade: [],
      endpointsOpened: 0,
      purged: [],
    };
    const k = this.db.kysely;
    // 1. Operations a crash interrupted.
    const running = await runningOperations(k);
    const seen = new Set<string>();
    for (const op of running) {
      const key = `${op.kind ?? ''}:${op.detail ?? op.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const group = running.filter((o) => `${o.kind ?? ''}:${o.detail ?? o.id}` === key);
      try {
        const outcome = await this.settle(op);
        await withTransaction(this.db, (trx) =>
          settleOperations(
            trx,
            group.map((o) => o.id),
            outcome,
            nowIso(),
            outcome === 'failed' ? INTERRUPTED : null,
          ),
        );
        if (outcome === 'finished') report.redone++;
        else report.undone++;
      } catch (err) {
        this.log.error({ err, operation: op.id, kind: op.kind }, 'could not repair an interrupted operation');
      }
    }
    // 2. Deleted projects past their recovery window: their data goes.
    report.purged = await this.purgeExpired();
    // 3. Data without records, records without data.
    const data = new Set(await this.engine.listBranchData());
    const branches = await repo.allBranches(k);
    const known = new Set(branches.map((b) => b.id));
    for (const id of data) {
      if (known.has(id)) continue;
      await this.engine.deleteBranchData(id);
      report.orphanDataDeleted.push(id);
    }
    for (const b of branches) {
      if (data.has(b.id)) continue;
      const parent = b.parent_id !== null && data.has(b.parent_id) ? b.parent_id : undefined;
      try {
        await this.engine.createBranchData(b.id, parent);
        await this.branches.syncCluster(b.id);
        if (b.state !== 'ready') await repo.updateBranch(k, b.id, { state: 'ready', updated_at: nowIso() });
        data.add(b.id);
        report.dataRemade.push(b.id);
      } catch (err) {
        this.log.error({ err, branch: b.id }, 'could not make the data of a branch again');
      }
    }
    // 4. Endpoints: a port for those recorded without one (compute was off), then listen.
    const live = await repo.liveProjectIds(k);
    for (const e of await repo.allEndpoints(k)) {
      if (!live.has(e.project_id)) continue;
      let row = e;
      if (row.port === null) {
        const port = await this.engine.allocatePort();
        await repo.updateEndpoint(k, e.id, { port });
        row = { ...e, port };
      }
      try {
        await this.engine.openEndpoint(this.branches.spec(row));
        report.endpointsOpened++;
      } catch (err) {
        this.log.error({ err, endpoint: e.id }, 'could not open an endpoint');
      }
    }
    return report;
  }

  /** Branch data of projects deleted longer ago than the recovery window. */
  async purgeExpired(now = Date.now()): Promise<string[]> {
    const k = this.db.kysely;
    const cutoff = new Date(now - RECOVERY_WINDOW_MS).toISOString();
    const purged: string[] = [];
    for (const id of await repo.branchesOfProjectsDeletedBefore(k, cutoff)) {
      for (const e of await repo.endpointIdsOfBranch(k, id)) await this.engine.closeEndpoint(e);
      await this.engine.deleteBranchData(id);
      await withTransaction(this.db, (trx) => repo.deleteBranchRecords(trx, id));
      purged.push(id);
    }
    return purged;
  }

  /** Redo (→ finished) or undo (→ failed) one interrupted operation. */
  private async settle(op: ProjectOperationRow): Promise<'finished' | 'failed'> {
    const d = (op.detail ? JSON.parse(op.detail) : {}) as Record<string, unknown>;
    const str = (key: string) => (typeof d[key] === 'string' ? d[key] : '');
    const k = this.db.kysely;
    const admin = (branchId: string, sql: (c: pg.Client) => string) =>
      this.engine.admin(branchId, async (c) => {
        await c.query(sql(c));
      });
    switch (op.kind) {
      case 'create_project': {
        const branchId = str('branch_id');
        const endpoints = await repo.listEndpoints(k, op.project_id, branchId);
        await this.branches.unprovision(
          [branchId],
          endpoints.map((e) => e.id),
        );
        await withTransaction(this.db, async (trx) => {
          await repo.deleteBranchRecords(trx, branchId);
          await repo.deleteProjectRow(trx, op.project_id);
        });
        return 'failed';
      }
      case 'create_branch': {
        const branchId = str('branch_id');
        const endpoints = Array.isArray(d.endpoints) ? (d.endpoints as string[]) : [];
        await this.branches.unprovision([branchId], endpoints);
        await withTransaction(this.db, (trx) => repo.deleteBranchRecords(trx, branchId));
        return 'failed';
      }
      case 'delete_branch': {
        const branchId = str('branch_id');
        for (const e of Array.isArray(d.endpoints) ? (d.endpoints as string[]) : []) {
          await this.engine.closeEndpoint(e);
        }
        await this.engine.deleteBranchData(branchId);
        await withTransaction(this.db, (trx) => repo.deleteBranchRecords(trx, branchId));
        return 'finished';
      }
      case 'restore_branch': {
        const branchId = str('branch_id');
        const source = str('source_branch_id');
        const backup = typeof d.backup_branch_id === 'string' ? d.backup_branch_id : null;
        const data = new Set(await this.engine.listBranchData());
        // The backup is made before the branch's data is replaced: if it is missing, the
        // replacement had not begun and the branch still holds the state to preserve.
        if (backup && !data.has(backup)) await this.engine.createBranchData(backup, branchId);
        await this.engine.replaceBranchData(branchId, source);
        await withTransaction(this.db, (trx) =>
          this.branches.commitRestore(trx, branchId, source, backup, nowIso()),
        );
        return 'finished';
      }
      case 'create_role':
        await admin(str('branch_id'), (c) => `DROP ROLE IF EXISTS ${c.escapeIdentifier(str('name'))}`);
        await repo.deleteRole(k, str('branch_id'), str('name'));
        return 'failed';
      case 'delete_role':
        await admin(str('branch_id'), (c) => `DROP ROLE IF EXISTS ${c.escapeIdentifier(str('name'))}`);
        await repo.deleteRole(k, str('branch_id'), str('name'));
        return 'finished';
      case 'reset_password': {
        const sealed = str('sealed');
        const password = this.branches.openSealed(sealed);
        await admin(
          str('branch_id'),
          (c) => `ALTER ROLE ${c.escapeIdentifier(str('name'))} PASSWORD ${c.escapeLiteral(password)}`,
        );
        await repo.setRolePassword(k, str('branch_id'), str('name'), sealed, nowIso());
        return 'finished';
      }
      case 'create_database':
        await admin(
          str('branch_id'),
          (c) => `DROP DATABASE IF EXISTS ${c.escapeIdentifier(str('name'))} WITH (FORCE)`,
        );
        await repo.deleteDatabase(k, str('branch_id'), str('name'));
        return 'failed';
      case 'delete_database':
        await admin(
          str('branch_id'),
          (c) => `DROP DATABASE IF EXISTS ${c.escapeIdentifier(str('name'))} WITH (FORCE)`,
        );
        await repo.deleteDatabase(k, str('branch_id'), str('name'));
        return 'finished';
      case 'create_endpoint':
        await this.engine.closeEndpoint(str('endpoint_id'));
        await repo.deleteEndpoint(k, str('endpoint_id'));
        return 'failed';
      case 'delete_endpoint':
        await this.engine.closeEndpoint(str('endpoint_id'));
        await repo.deleteEndpoint(k, str('endpoint_id'));
        return 'finished';
      case 'update_database':
        // Renames and owner changes are not redone: the record keeps the old values.
        return 'failed';
      default:
        // Endpoint state and configuration changes: every endpoint is reopened from its record below.
        return 'finished';
    }
  }
}
