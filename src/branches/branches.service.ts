// A project's branches, endpoints, databases and roles, run on the compute engine (issue 19).
// Every change is one operation (src/operations/operations.ts): records first, then the engine,
// then settled; so a branch, role or database is fully made or not at all.
// No Fastify here. Who may act is decided by the policy; this module computes the Subject.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import { AuditContext } from '../audit/audit.ts';
import { appendAuditEvent } from '../audit/audit.repository.ts';
import type { ComputeEngine, EndpointSpec } from '../compute/engine.ts';
import type { Db } from '../db/connect.ts';
import type {
  BranchDatabaseRow,
  BranchRoleRow,
  BranchRow,
  Database,
  EndpointRow,
  ProjectOperationRow,
  ProjectRow,
} from '../db/schema.ts';
import { AppError, badRequest, conflict, notFound } from '../domain/errors.ts';
import { newBranchId, newEndpointId } from '../domain/ids.ts';
import type { Principal } from '../domain/principal.ts';
import type { SecretBox } from '../domain/secret-box.ts';
import { nowIso, systemClock, type Clock } from '../domain/time.ts';
import { runOperation, type Trx } from '../operations/operations.ts';
import type { Action } from '../policy/index.ts';
import { lockProjectRow } from '../projects/operations.repository.ts';
import { findProject } from '../projects/projects.repository.ts';
import { liveProject } from '../projects/live-project.ts';
import type { DefaultChildren, ProjectCompute } from '../projects/projects.service.ts';
import type { SubjectSource } from '../policy/subjects.ts';
import { proxyHostOf } from '../projects/regions.ts';
import * as repo from './branches.repository.ts';
import type { EndpointView } from './branches.presenter.ts';
import { newDatabaseId } from './defaults.ts';
import { checkExpirationAllowed, checkParentMayExpire, checkParentOfNewBranch } from './expiration.ts';

/** Neon's generated role passwords: npg_ and 12 letters or digits. */
export function newRolePassword(): string {
  return `npg_${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x')}`;
}

/** Names PostgreSQL or orgplane keep for themselves (the cluster superuser, built-in roles). */
const RESERVED_ROLE = /^(postgres|pg_.*|neon_.*|cloud_admin|public|none|current_user|session_user)$/i;
const RESERVED_DATABASE = /^(postgres|template0|template1)$/i;

function checkName(kind: 'role' | 'database', name: string): void {
  if (name.length === 0 || Buffer.byteLength(name) > 63) {
    throw badRequest(`${kind} name must be 1 to 63 bytes long`);
  }
  if (name.includes('\0')) throw badRequest(`${kind} name must not contain NUL`);
  if ((kind === 'role' ? RESERVED_ROLE : RESERVED_DATABASE).test(name)) {
    throw new AppError('UNPROCESSABLE', `${kind} name "${name}" is reserved`);
  }
}

/** Neon's limit on a branch's expiration: at most this far ahead of the request. */
export const MAX_EXPIRATION_MS = 30 * 24 * 3600_000;

/** expires_at as Neon validates it (400 unless in the future and at most 30 days ahead), and the
 *  TTL interval Neon keeps beside it. */
export function expirationOf(
  value: string,
  now: number,
): { expires_at: string; ttl_interval_seconds: number } {
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw badRequest(`expires_at "${value}" is not an RFC 3339 timestamp`);
  if (at <= now) throw badRequest('expires_at must be in the future');
  if (at - now > MAX_EXPIRATION_MS) {
    throw badRequest('expires_at must be at most 30 days in the future');
  }
  return {
    expires_at: new Date(at).toISOString(),
    ttl_interval_seconds: Math.round((at - now) / 1000),
  };
}

export const POINT_IN_TIME_REFUSAL =
  'point-in-time branching (parent_lsn / parent_timestamp, source_lsn / source_timestamp) cannot be emulated: orgplane keeps no WAL history, so branches copy the current data of their parent or source; omit the LSN or timestamp';

export interface EndpointOptions {
  type: 'read_write' | 'read_only';
  suspend_timeout_seconds?: number | undefined;
  autoscaling_limit_min_cu?: number | undefined;
  autoscaling_limit_max_cu?: number | undefined;
  settings?: Record<string, unknown> | undefined;
  provisioner?: string | undefined;
  name?: string | undefined;
  disabled?: boolean | undefined;
}

export interface BranchCreateInput {
  branch?:
    | {
        parent_id?: string | undefined;
        name?: string | undefined;
        parent_lsn?: string | undefined;
        parent_timestamp?: string | undefined;
        protected?: boolean | undefined;
        archived?: boolean | undefined;
        init_source?: string | undefined;
        expires_at?: string | undefined;
      }
    | undefined;
  endpoints?: EndpointOptions[] | undefined;
}

export interface BranchCreated {
  branch: BranchRow;
  endpoints: EndpointView[];
  roles: BranchRoleRow[];
  databases: BranchDatabaseRow[];
  /** Per role name: its password (for connection_uris). */
  passwords: Map<string, string>;
  operations: ProjectOperationRow[];
}

/** The project's branch (its endpoint, a branch's role or database), or 404. */
async function branchOf(db: Kysely<Database>, projectId: string, branchId: string): Promise<BranchRow> {
  const b = await repo.findBranch(db, projectId, branchId);
  if (!b) throw notFound('branch');
  return b;
}
async function endpointOf(db: Kysely<Database>, projectId: string, endpointId: string): Promise<EndpointRow> {
  const e = await repo.findEndpoint(db, projectId, endpointId);
  if (!e) throw notFound('endpoint');
  return e;
}
async function roleOf(db: Kysely<Database>, branchId: string, name: string): Promise<BranchRoleRow> {
  const r = await repo.findRole(db, branchId, name);
  if (!r) throw notFound('role');
  return r;
}
async function databaseOf(db: Kysely<Database>, branchId: string, name: string): Promise<BranchDatabaseRow> {
  const d = await repo.findDatabase(db, branchId, name);
  if (!d) throw notFound('database');
  return d;
}

/** An event of the project's audit chain (its organization's, else its owner's). */
function projectEvent(
  ctx: AuditContext,
  project: Pick<ProjectRow, 'org_id' | 'owner_id'>,
  e: Omit<Parameters<AuditContext['event']>[0], 'orgId' | 'userId'>,
) {
  return ctx.event({ ...e, orgId: project.org_id, userId: project.owner_id });
}

const q = (c: pg.Client, ident: string) => c.escapeIdentifier(ident);
const lit = (c: pg.Client, value: string) => c.escapeLiteral(value);

export class BranchesService implements ProjectCompute {
  constructor(
    private readonly db: Db,
    private readonly access: SubjectSource,
    private readonly engine: ComputeEngine,
    private readonly secrets: SecretBox,
    /** Decides expiry (expires_at checks and the sweep); tests move it. */
    private readonly clock: Clock = systemClock,
  ) {}

  // ---------------------------------------------------------------- lookups

  async project(
    principal: Principal,
    projectId: string,
    action: Action,
    db: Kysely<Database> = this.db.kysely,
  ): Promise<ProjectRow> {
    return liveProject(db, this.access, principal, projectId, action);
  }

  async branch(
    principal: Principal,
    projectId: string,
    branchId: string,
    action: Action = 'branch:read',
  ): Promise<{ project: ProjectRow; branch: BranchRow }> {
    const project = await this.project(principal, projectId, action);
    const branch = await branchOf(this.db.kysely, project.id, branchId);
    return { project, branch };
  }

  spec(e: EndpointRow): EndpointSpec {
    return {
      endpointId: e.id,
      branchId: e.branch_id,
      port: e.port ?? 0,
      suspendTimeoutSeconds: e.suspend_timeout_seconds,
      disabled: e.disabled === 1,
    };
  }

  view(p: Pick<ProjectRow, 'region_id' | 'provisioner'>, e: EndpointRow): EndpointView {
    const spec = this.spec(e);
    return {
      ...e,
      host: this.engine.hostFor(spec),
      current_state: this.engine.state(e.id),
      region_id: p.region_id,
      proxy_host: proxyHostOf(p.region_id),
      provisioner: p.provisioner,
    };
  }

  password(role: BranchRoleRow): string {
    if (role.password_enc === null) {
      throw new AppError('PRECONDITION_FAILED', `the password of role ${role.name} is not stored`);
    }
    return this.secrets.open(role.password_enc);
  }

  // ---------------------------------------------------------------- branches: reads

  async listBranches(principal: Principal, projectId: string) {
    const project = await this.project(principal, projectId, 'branch:read');
    return { project, branches: await repo.listBranches(this.db.kysely, project.id) };
  }

  async listEndpoints(principal: Principal, projectId: string, branchId?: string): Promise<EndpointView[]> {
    const project = await this.project(principal, projectId, 'branch:read');
    if (branchId !== undefined && !(await repo.findBranch(this.db.kysely, project.id, branchId))) {
      throw notFound('branch');
    }
    const rows = await repo.listEndpoints(this.db.kysely, project.id, branchId);
    return rows.map((e) => this.view(project, e));
  }

  async endpoint(principal: Principal, projectId: string, endpointId: string): Promise<EndpointView> {
    const project = await this.project(principal, projectId, 'branch:read');
    const e = await endpointOf(this.db.kysely, project.id, endpointId);
    return this.view(project, e);
  }

  async roles(principal: Principal, projectId: string, branchId: string): Promise<BranchRoleRow[]> {
    const { branch } = await this.branch(principal, projectId, branchId);
    return repo.listRoles(this.db.kysely, branch.id);
  }

  async role(
    principal: Principal,
    projectId: string,
    branchId: string,
    name: string,
  ): Promise<BranchRoleRow> {
    const { branch } = await this.branch(principal, projectId, branchId);
    return roleOf(this.db.kysely, branch.id, name);
  }

  async revealPassword(
    principal: Principal,
    projectId: string,
    branchId: string,
    name: string,
  ): Promise<string> {
    const { branch } = await this.branch(principal, projectId, branchId, 'project:connection_read');
    const r = await roleOf(this.db.kysely, branch.id, name);
    return this.password(r);
  }

  async databases(principal: Principal, projectId: string, branchId: string): Promise<BranchDatabaseRow[]> {
    const { branch } = await this.branch(principal, projectId, branchId);
    return repo.listDatabases(this.db.kysely, branch.id);
  }

  async database(
    principal: Principal,
    projectId: string,
    branchId: string,
    name: string,
  ): Promise<BranchDatabaseRow> {
    const { branch } = await this.branch(principal, projectId, branchId);
    return databaseOf(this.db.kysely, branch.id, name);
  }

  /** GET /projects/{id}/connection_uri: the endpoint's real host, the role's stored password. */
  async connectionUri(
    principal: Principal,
    projectId: string,
    query: {
      branch_id?: string | undefined;
      endpoint_id?: string | undefined;
      database_name: string;
      role_name: string;
      pooled?: boolean | undefined;
    },
  ): Promise<{ endpoint: EndpointView; password: string; role: string; database: string }> {
    const project = await this.project(principal, projectId, 'project:connection_read');
    const k = this.db.kysely;
    let branchId = query.branch_id;
    if (branchId === undefined) {
      const all = await repo.listBranches(k, project.id);
      branchId = all.find((b) => b.is_default === 1)?.id;
    }
    if (branchId === undefined || !(await repo.findBranch(k, project.id, branchId))) throw notFound('branch');
    const endpoints = await repo.listEndpoints(k, project.id, branchId);
    const e =
      query.endpoint_id !== undefined
        ? endpoints.find((x) => x.id === query.endpoint_id)
        : (endpoints.find((x) => x.type === 'read_write') ?? endpoints[0]);
    if (!e) throw notFound('endpoint');
    if (!(await repo.findDatabase(k, branchId, query.database_name))) throw notFound('database');
    const role = await roleOf(k, branchId, query.role_name);
    return {
      endpoint: this.view(project, e),
      password: this.password(role),
      role: role.name,
      database: query.database_name,
    };
  }

  // ---------------------------------------------------------------- the project's defaults

  /** Creates roles and databases the records name but the cluster lacks; sets stored passwords. */
  async syncCluster(branchId: string): Promise<void> {
    const k = this.db.kysely;
    const roles = await repo.listRoles(k, branchId);
    const dbs = await repo.listDatabases(k, branchId);
    await this.engine.admin(branchId, async (c) => {
      for (const r of roles) {
        const exists = await c.query('select 1 from pg_roles where rolname = $1', [r.name]);
        const pw = r.password_enc === null ? null : this.secrets.open(r.password_enc);
        const login = r.no_login === 1 ? 'NOLOGIN' : 'LOGIN';
        const password = pw === null ? '' : ` PASSWORD ${lit(c, pw)}`;
        if (exists.rowCount === 0) {
          await c.query(`CREATE ROLE ${q(c, r.name)} ${login} CREATEDB CREATEROLE${password}`);
        } else if (pw !== null) {
          await c.query(`ALTER ROLE ${q(c, r.name)} ${login}${password}`);
        }
      }
      for (const d of dbs) {
        const exists = await c.query('select 1 from pg_database where datname = $1', [d.name]);
        if (exists.rowCount === 0) {
          await c.query(`CREATE DATABASE ${q(c, d.name)} OWNER ${q(c, d.owner_name)}`);
        }
      }
    });
  }

  /** After the project's transaction: its data from the template, its role and database, its endpoint. */
  async provisionDefaults(children: DefaultChildren): Promise<void> {
    const { branch, endpoint } = children;
    await this.engine.createBranchData(branch.id);
    await this.syncCluster(branch.id);
    await this.engine.openEndpoint(this.spec(endpoint));
  }

  openSealed(sealed: string): string {
    return this.secrets.open(sealed);
  }

  allocatePort(): Promise<number> {
    return this.engine.allocatePort();
  }

  /** A deleted project's endpoints stop answering; its data stays for the recovery window. */
  async projectDeleted(projectId: string): Promise<void> {
    for (const e of await repo.listEndpoints(this.db.kysely, projectId))
      await this.engine.closeEndpoint(e.id);
  }

  async projectRecovered(projectId: string): Promise<void> {
    for (const e of await repo.listEndpoints(this.db.kysely, projectId)) {
      if (e.port !== null) await this.engine.openEndpoint(this.spec(e));
    }
  }

  /** Undoes provisionDefaults (best effort) when it failed. */
  async unprovision(branchIds: string[], endpointIds: string[]): Promise<void> {
    for (const e of endpointIds) await this.engine.closeEndpoint(e).catch(() => undefined);
    for (const b of branchIds) await this.engine.deleteBranchData(b).catch(() => undefined);
  }

  // ---------------------------------------------------------------- branches: writes

  private async newEndpointRow(
    project: ProjectRow,
    branchId: string,
    o: EndpointOptions,
    now: string,
  ): Promise<EndpointRow> {
    if (o.type !== 'read_write') {
      throw new AppError(
        'UNPROCESSABLE',
        'read-only endpoints (read replicas) cannot be emulated: each orgplane branch runs one PostgreSQL; create a read_write endpoint',
      );
    }
    const min = o.autoscaling_limit_min_cu ?? 0.25;
    const max = o.autoscaling_limit_max_cu ?? Math.max(min, 2);
    if (min > max) {
      throw badRequest(
        `autoscaling_limit_min_cu (${min}) must not be greater than autoscaling_limit_max_cu (${max})`,
      );
    }
    return {
      id: newEndpointId(),
      project_id: project.id,
      branch_id: branchId,
      name: o.name ?? null,
      type: 'read_write',
      port: await this.engine.allocatePort(),
      suspend_timeout_seconds: o.suspend_timeout_seconds ?? 0,
      disabled: o.disabled ? 1 : 0,
      autoscaling_limit_min_cu: min,
      autoscaling_limit_max_cu: max,
      pooler_enabled: 0,
      pooler_mode: 'transaction',
      settings: JSON.stringify(o.settings ?? {}),
      creation_source: 'console',
      created_at: now,
      updated_at: now,
    };
  }

  async createBranch(
    principal: Principal,
    projectId: string,
    input: BranchCreateInput,
    ctx: AuditContext,
  ): Promise<BranchCreated> {
    const b = input.branch ?? {};
    if (b.parent_lsn !== undefined || b.parent_timestamp !== undefined) {
      throw new AppError('UNPROCESSABLE', POINT_IN_TIME_REFUSAL);
    }
    if (b.init_source !== undefined && b.init_source !== 'parent-data') {
      throw new AppError(
        'UNPROCESSABLE',
        `init_source "${b.init_source}" cannot be emulated: orgplane branches copy their parent's schema and data (parent-data)`,
      );
    }
    if (b.archived === true) {
      throw new AppError(
        'UNPROCESSABLE',
        'archived branches cannot be emulated: orgplane keeps every branch on local disk',
      );
    }
    const expiration = b.expires_at === undefined ? null : expirationOf(b.expires_at, this.clock());
    checkExpirationAllowed({
      is_default: 0,
      protected: b.protected ? 1 : 0,
      expires_at: expiration?.expires_at ?? null,
    });
    const project = await this.project(principal, projectId, 'branch:write');
    const endpointOptions = input.endpoints ?? [];
    if (endpointOptions.filter((e) => e.type === 'read_write').length > 1) {
      throw badRequest('a branch can have only one read_write endpoint');
    }
    const endpointsPlanned = await Promise.all(
      endpointOptions.map((o) => this.newEndpointRow(project, '', o, nowIso())),
    );
    const branchId = newBranchId();
    const passwords = new Map<string, string>();
    const result = await runOperation(this.db, project.id, {
      what: 'creating the branch',
      prepare: async (trx, now) => {
        const all = await repo.listBranches(trx, project.id);
        const parent =
          b.parent_id !== undefined && b.parent_id !== ''
            ? all.find((x) => x.id === b.parent_id)
            : all.find((x) => x.is_default === 1);
        if (!parent) throw notFound('parent branch');
        if (parent.state !== 'ready') {
          throw new AppError('LOCKED', `parent branch ${parent.id} is not ready yet; try again`);
        }
        checkParentOfNewBranch(parent);
        const name = b.name ?? branchId;
        if (all.some((x) => x.name === name)) throw conflict(`branch "${name}" already exists`);
        const branch: BranchRow = {
          id: branchId,
          project_id: project.id,
          parent_id: parent.id,
          name,
          is_default: 0,
          protected: b.protected ? 1 : 0,
          expires_at: expiration?.expires_at ?? null,
          ttl_interval_seconds: expiration?.ttl_interval_seconds ?? null,
          state: 'init',
          creation_source: 'console',
          last_reset_at: null,
          created_at: now,
          updated_at: now,
        };
        await repo.insertBranch(trx, branch);
        await repo.copyRolesAndDatabases(trx, parent.id, branch.id, now);
        const endpoints = endpointsPlanned.map((e) => ({
          ...e,
          branch_id: branch.id,
          created_at: now,
          updated_at: now,
        }));
        for (const e of endpoints) await repo.insertEndpoint(trx, e);
        await appendAuditEvent(
          trx,
          projectEvent(ctx, project, {
            action: 'branch.created',
            status: 201,
            target: { type: 'branch', id: branch.id },
            changes: {
              project_id: project.id,
              name,
              parent_id: parent.id,
              endpoints: endpoints.map((e) => e.id),
            },
          }),
        );
        return {
          value: { branch, endpoints },
          kind: 'create_branch',
          detail: { branch_id: branch.id, endpoints: endpoints.map((e) => e.id) },
          operations: [
            { action: 'create_branch', branch_id: branch.id },
            ...endpoints.map((e) => ({ action: 'start_compute', branch_id: branch.id, endpoint_id: e.id })),
          ],
        };
      },
      work: async ({ branch, endpoints }) => {
        await this.engine.createBranchData(branch.id, branch.parent_id ?? undefined);
        for (const e of endpoints) await this.engine.openEndpoint(this.spec(e));
      },
      undoEngine: ({ branch, endpoints }) =>
        this.unprovision(
          [branch.id],
          endpoints.map((e) => e.id),
        ),
      undo: async (trx, { branch }) => repo.deleteBranchRecords(trx, branch.id),
      commit: async (trx, { branch }, now) =>
        repo.updateBranch(trx, branch.id, { state: 'ready', updated_at: now }),
    });
    const k = this.db.kysely;
    const branch = (await repo.findBranch(k, project.id, branchId)) ?? result.value.branch;
    const roles = await repo.listRoles(k, branchId);
    for (const r of roles)
      if (r.password_enc !== null) passwords.set(r.name, this.secrets.open(r.password_enc));
    return {
      branch,
      endpoints: result.value.endpoints.map((e) => this.view(project, e)),
      roles,
      databases: await repo.listDatabases(k, branchId),
      passwords,
      operations: result.operations,
    };
  }

  async updateBranch(
    principal: Principal,
    projectId: string,
    branchId: string,
    patch: {
      name?: string | undefined;
      protected?: boolean | undefined;
      expires_at?: string | null | undefined;
    },
    ctx: AuditContext,
  ): Promise<BranchRow> {
    const expiration =
      typeof patch.expires_at === 'string' ? expirationOf(patch.expires_at, this.clock()) : undefined;
    const project = await this.project(principal, projectId, 'branch:write');
    return this.inTransaction(async (trx) => {
      // Setting an expiration is checked against the branch's children under the project's lock,
      // the lock a branch creation takes to insert its record, so no child appears between the check and the commit.
      if (expiration) await lockProjectRow(trx, project.id);
      const b = await branchOf(trx, project.id, branchId);
      const now = nowIso();
      const changes: Partial<BranchRow> = { updated_at: now };
      if (patch.name !== undefined && patch.name !== b.name) {
        if (await repo.branchByName(trx, project.id, patch.name))
          throw conflict(`branch "${patch.name}" already exists`);
        changes.name = patch.name;
      }
      if (patch.protected !== undefined) changes.protected = patch.protected ? 1 : 0;
      if (patch.expires_at === null) {
        changes.expires_at = null;
        changes.ttl_interval_seconds = null;
      } else if (expiration) {
        Object.assign(changes, expiration);
      }
      checkExpirationAllowed({ ...b, ...changes });
      if (expiration) checkParentMayExpire(expiration.expires_at, await repo.countChildren(trx, b.id));
      await repo.updateBranch(trx, b.id, changes);
      await appendAuditEvent(
        trx,
        projectEvent(ctx, project, {
          action: 'branch.updated',
          target: { type: 'branch', id: b.id },
          changes: { project_id: project.id, ...patch },
        }),
      );
      return { ...b, ...changes };
    });
  }

  private inTransaction<T>(fn: (trx: Trx) => Promise<T>): Promise<T> {
    return this.db.kysely.transaction().execute(fn);
  }

  async setDefault(
    principal: Principal,
    projectId: string,
    branchId: string,
    ctx: AuditContext,
  ): Promise<BranchRow> {
    const project = await this.project(principal, projectId, 'branch:write');
    return this.inTransaction(async (trx) => {
      const b = await branchOf(trx, project.id, branchId);
      checkExpirationAllowed({ ...b, is_default: 1 });
      const now = nowIso();
      await repo.setDefaultBranch(trx, project.id, b.id, now);
      await repo.setProjectDefaultBranch(trx, project.id, b, now);
      await appendAuditEvent(
        trx,
        projectEvent(ctx, project, {
          action: 'branch.set_default',
          target: { type: 'branch', id: b.id },
          changes: { project_id: project.id },
        }),
      );
      return { ...b, is_default: 1, updated_at: now };
    });
  }

  async deleteBranch(
    principal: Principal,
    projectId: string,
    branchId: string,
    ctx: AuditContext,
  ): Promise<{ branch: BranchRow; operations: ProjectOperationRow[] }> {
    const project = await this.project(principal, projectId, 'branch:write');
    return this.removeBranch(project, branchId, ctx);
  }

  /**
   * The expiry sweep: each branch whose expires_at has passed (by the injected clock) is deleted
   * with its data and endpoints, as one operation like a DELETE (so a crash mid-way is finished
   * at start-up). A branch that cannot go (protected, default, with children, its project busy)
   * stays and is tried again on the next sweep. Returns the ids deleted.
   */
  async deleteExpired(onSkip: (branchId: string, err: unknown) => void = () => undefined): Promise<string[]> {
    const k = this.db.kysely;
    const deleted: string[] = [];
    for (const e of await repo.expiredBranches(k, new Date(this.clock()).toISOString())) {
      const project = await findProject(k, e.project_id);
      if (!project || project.deleted_at !== null) continue;
      try {
        await this.removeBranch(project, e.id, AuditContext.operator(), 'expired');
        deleted.push(e.id);
      } catch (err) {
        onSkip(e.id, err);
      }
    }
    return deleted;
  }

  private async removeBranch(
    project: ProjectRow,
    branchId: string,
    ctx: AuditContext,
    reason?: 'expired',
  ): Promise<{ branch: BranchRow; operations: ProjectOperationRow[] }> {
    const r = await runOperation(this.db, project.id, {
      what: 'deleting the branch',
      prepare: async (trx) => {
        const b = await branchOf(trx, project.id, branchId);
        if (b.is_default === 1) {
          throw new AppError(
            'UNPROCESSABLE',
            `branch ${b.id} is the project's default branch and cannot be deleted`,
          );
        }
        if (b.protected === 1) {
          throw new AppError('UNPROCESSABLE', `branch ${b.id} is protected; unprotect it before deleting it`);
        }
        if ((await repo.countChildren(trx, b.id)) > 0) {
          throw new AppError('UNPROCESSABLE', `branch ${b.id} has child branches; delete them first`);
        }
        const endpoints = await repo.listEndpoints(trx, project.id, b.id);
        await appendAuditEvent(
          trx,
          projectEvent(ctx, project, {
            action: 'branch.deleted',
            target: { type: 'branch', id: b.id },
            changes: { project_id: project.id, name: b.name, ...(reason ? { reason } : {}) },
          }),
        );
        return {
          value: { branch: b, endpoints },
          kind: 'delete_branch',
          detail: { branch_id: b.id, endpoints: endpoints.map((e) => e.id) },
          operations: [
            ...endpoints.map((e) => ({ action: 'suspend_compute', branch_id: b.id, endpoint_id: e.id })),
            { action: 'delete_timeline', branch_id: b.id },
          ],
        };
      },
      work: async ({ branch, endpoints }) => {
        for (const e of endpoints) await this.engine.closeEndpoint(e.id);
        await this.engine.deleteBranchData(branch.id);
      },
      commit: async (trx, { branch }) => repo.deleteBranchRecords(trx, branch.id),
    });
    return { branch: r.value.branch, operations: r.operations };
  }

  /** Reset to parent and restore from another branch: the branch's data becomes a copy of the source's. */
  async restoreBranch(
    principal: Principal,
    projectId: string,
    branchId: string,
    body: {
      source_branch_id: string;
      source_lsn?: string | undefined;
      source_timestamp?: string | undefined;
      preserve_under_name?: string | undefined;
    },
    ctx: AuditContext,
  ): Promise<{ branch: BranchRow; operations: ProjectOperationRow[] }> {
    if (body.source_lsn !== undefined || body.source_timestamp !== undefined) {
      throw new AppError('UNPROCESSABLE', POINT_IN_TIME_REFUSAL);
    }
    if (body.source_branch_id === branchId) {
      throw badRequest(
        'restoring a branch from itself needs source_lsn or source_timestamp, which orgplane cannot emulate',
      );
    }
    const project = await this.project(principal, projectId, 'branch:write');
    const backupId = body.preserve_under_name ? newBranchId() : undefined;
    const r = await runOperation(this.db, project.id, {
      what: 'restoring the branch',
      prepare: async (trx, now) => {
        const b = await branchOf(trx, project.id, branchId);
        const source = await repo.findBranch(trx, project.id, body.source_branch_id);
        if (!source) throw notFound('source branch');
        if (source.state !== 'ready' || b.state !== 'ready') {
          throw new AppError('LOCKED', 'the branch or its source is not ready yet; try again');
        }
        const children = await repo.countChildren(trx, b.id);
        if (children > 0 && !backupId) {
          throw badRequest(
            `branch ${b.id} has child branches: preserve_under_name is required to keep its current state for them`,
          );
        }
        if (backupId && body.preserve_under_name) {
          if (await repo.branchByName(trx, project.id, body.preserve_under_name)) {
            throw conflict(`branch "${body.preserve_under_name}" already exists`);
          }
          // The old state lives on under the new name; the branch's children move to it.
          await repo.insertBranch(trx, {
            ...b,
            id: backupId,
            name: body.preserve_under_name,
            is_default: 0,
            protected: 0,
            state: 'init',
            expires_at: null,
            ttl_interval_seconds: null,
            created_at: now,
            updated_at: now,
          });
          await repo.copyRolesAndDatabases(trx, b.id, backupId, now);
        }
        await appendAuditEvent(
          trx,
          projectEvent(ctx, project, {
            action: 'branch.restored',
            target: { type: 'branch', id: b.id },
            changes: {
              project_id: project.id,
              source_branch_id: source.id,
              preserve_under_name: body.preserve_under_name,
            },
          }),
        );
        return {
          value: { branch: b, source },
          kind: 'restore_branch',
          detail: { branch_id: b.id, source_branch_id: source.id, backup_branch_id: backupId ?? null },
          operations: [
            ...(backupId ? [{ action: 'create_branch', branch_id: backupId }] : []),
            { action: 'create_timeline', branch_id: b.id },
            { action: 'apply_config', branch_id: b.id },
          ],
        };
      },
      work: async ({ branch, source }) => {
        if (backupId) await this.engine.createBranchData(backupId, branch.id);
        await this.engine.replaceBranchData(branch.id, source.id);
      },
      undoEngine: async () => {
        if (backupId) await this.engine.deleteBranchData(backupId);
      },
      undo: async (trx) => {
        if (backupId) await repo.deleteBranchRecords(trx, backupId);
      },
      commit: (trx, { branch, source }, now) =>
        this.commitRestore(trx, branch.id, source.id, backupId ?? null, now),
    });
    const branch = (await repo.findBranch(this.db.kysely, project.id, branchId)) ?? r.value.branch;
    return { branch, operations: r.operations };
  }

  /** The records after a restore: the source's roles and databases, the backup ready and adopting children. */
  async commitRestore(
    trx: Trx,
    branchId: string,
    sourceId: string,
    backupId: string | null,
    now: string,
  ): Promise<void> {
    await repo.deleteRolesAndDatabases(trx, branchId);
    await repo.copyRolesAndDatabases(trx, sourceId, branchId, now);
    if (backupId) {
      await repo.moveChildren(trx, branchId, backupId, now);
      await repo.updateBranch(trx, backupId, { state: 'ready', updated_at: now });
    }
    await repo.updateBranch(trx, branchId, { last_reset_at: now, updated_at: now });
  }

  // ---------------------------------------------------------------- endpoints

  async createEndpoint(
    principal: Principal,
    projectId: string,
    input: EndpointOptions & { branch_id: string; region_id?: string | undefined },
    ctx: AuditContext,
  ): Promise<{ endpoint: EndpointView; operations: ProjectOperationRow[] }> {
    const project = await this.project(principal, projectId, 'branch:write');
    if (input.region_id !== undefined && input.region_id !== project.region_id) {
      throw badRequest(`region_id must be the project's region (${project.region_id})`);
    }
    const planned = await this.newEndpointRow(project, input.branch_id, input, nowIso());
    const r = await runOperation(this.db, project.id, {
      what: 'creating the endpoint',
      prepare: async (trx, now) => {
        const b = await branchOf(trx, project.id, input.branch_id);
        const existing = await repo.listEndpoints(trx, project.id, b.id);
        if (existing.some((e) => e.type === 'read_write')) {
          throw new AppError('CONFLICT', `branch ${b.id} already has a read_write endpoint`);
        }
        const e = { ...planned, created_at: now, updated_at: now };
        await repo.insertEndpoint(trx, e);
        await appendAuditEvent(
          trx,
          projectEvent(ctx, project, {
            action: 'endpoint.created',
            status: 201,
            target: { type: 'endpoint', id: e.id },
            changes: { project_id: project.id, branch_id: b.id },
          }),
        );
        return {
          value: e,
          kind: 'create_endpoint',
          detail: { endpoint_id: e.id },
          operations: [{ action: 'start_compute', branch_id: b.id, endpoint_id: e.id }],
        };
      },
      work: (e) => this.engine.openEndpoint(this.spec(e)),
      undoEngine: (e) => this.engine.closeEndpoint(e.id),
      undo: (trx, e) => repo.deleteEndpoint(trx, e.id),
    });
    return { endpoint: this.view(project, r.value), operations: r.operations };
  }

  async updateEndpoint(
    principal: Principal,
    projectId: string,
    endpointId: string,
    patch: Partial<EndpointOptions> & {
      branch_id?: string | undefined;
      pooler_enabled?: boolean | undefined;
      pooler_mode?: string | undefined;
    },
    ctx: AuditContext,
  ): Promise<{ endpoint: EndpointView; operations: ProjectOperationRow[] }> {
    const project = await this.project(principal, projectId, 'branch:write');
    const r = await runOperation(this.db, project.id, {
      what: 'updating the endpoint',
      prepare: async (trx, now) => {
        const e = await endpointOf(trx, project.id, endpointId);
        const next: EndpointRow = { ...e, updated_at: now };
        if (patch.branch_id !== undefined && patch.branch_id !== e.branch_id) {
          const b = await branchOf(trx, project.id, patch.branch_id);
          if ((await repo.listEndpoints(trx, project.id, b.id)).some((x) => x.type === 'read_write')) {
            throw new AppError('CONFLICT', `branch ${b.id} already has a read_write endpoint`);
          }
          next.branch_id = b.id;
        }
        if (patch.suspend_timeout_seconds !== undefined)
          next.suspend_timeout_seconds = patch.suspend_timeout_seconds;
        if (patch.disabled !== undefined) next.disabled = patch.disabled ? 1 : 0;
        if (patch.autoscaling_limit_min_cu !== undefined)
          next.autoscaling_limit_min_cu = patch.autoscaling_limit_min_cu;
        if (patch.autoscaling_limit_max_cu !== undefined)
          next.autoscaling_limit_max_cu = patch.autoscaling_limit_max_cu;
        if (next.autoscaling_limit_min_cu > next.autoscaling_limit_max_cu) {
          throw badRequest(
            `autoscaling_limit_min_cu (${next.autoscaling_limit_min_cu}) must not be greater than autoscaling_limit_max_cu (${next.autoscaling_limit_max_cu})`,
          );
        }
        if (patch.settings !== undefined) next.settings = JSON.stringify(patch.settings);
        if (patch.name !== undefined) next.name = patch.name;
        if (patch.pooler_enabled !== undefined) next.pooler_enabled = patch.pooler_enabled ? 1 : 0;
        if (patch.pooler_mode !== undefined) next.pooler_mode = patch.pooler_mode;
        const { id: _id, ...rest } = next;
        await repo.updateEndpoint(trx, e.id, rest);
        await appendAuditEvent(
          trx,
          projectEvent(ctx, project, {
            action: 'endpoint.updated',
            target: { type: 'endpoint', id: e.id },
            changes: { project_id: project.id, ...patch },
          }),
        );
        return {
          value: { before: e, after: next },
          kind: 'update_endpoint',
          operations: [{ action: 'apply_config', branch_id: next.branch_id, endpoint_id: e.id }],
        };
      },
      work: async ({ before, after }) => {
        if (before.branch_id !== after.branch_id) await this.engine.closeEndpoint(before.id);
        await this.engine.openEndpoint(this.spec(after));
        if (after.disabled === 1) await this.engine.suspendEndpoint(after.id);
      },
      undo: async (trx, { before }) => {
        const { id: _id, ...rest } = before;
        await repo.updateEndpoint(trx, before.id, rest);
      },
      undoEngine: ({ before }) => this.engine.openEndpoint(this.spec(before)),
    });
    return { endpoint: this.view(project, r.value.after), operations: r.operations };
  }

  async deleteEndpoint(
    principal: Principal,
    projectId: string,
    endpointId: string,
    ctx: AuditContext,
  ): Promise<{ endpoint: EndpointView; operations: ProjectOperationRow[] }> {
    const project = await this.project(principal, projectId, 'branch:write');
    const r = await runOperation(this.db, project.id, {
      what: 'deleting the endpoint',
      prepare: async (trx) => {
        const e = await endpointOf(trx, project.id, endpointId);
        await appendAuditEvent(
          trx,
          projectEvent(ctx, project, {
            action: 'endpoint.deleted',
            target: { type: 'endpoint', id: e.id },
            changes: { project_id: project.id, branch_id: e.branch_id },
          }),
        );
        return {
          value: e,
          kind: 'delete_endpoint',
          detail: { endpoint_id: e.id },
          operations: [{ action: 'suspend_compute', branch_id: e.branch_id, endpoint_id: e.id }],
        };
      },
      work: (e) => this.engine.closeEndpoint(e.id),
      commit: (trx, e) => repo.deleteEndpoint(trx, e.id),
    });
    return { endpoint: { ...this.view(project, r.value), current_state: 'idle' }, operations: r.operations };
  }

  async endpointAction(
    principal: Principal,
    projectId: string,
    endpointId: string,
    act: 'start' | 'suspend' | 'restart',
    ctx: AuditContext,
  ): Promise<{ endpoint: EndpointView; operations: ProjectOperationRow[] }> {
    const project = await this.project(principal, projectId, 'branch:write');
    const r = await runOperation(this.db, project.id, {
      what: `${act === 'suspend' ? 'suspending' : act === 'start' ? 'starting' : 'restarting'} the endpoint`,
      prepare: async (trx) => {
        const e = await endpointOf(trx, project.id, endpointId);
        if (act !== 'suspend' && e.disabled === 1) {
          throw new AppError('UNPROCESSABLE', `endpoint ${e.id} is disabled; enable it before starting it`);
        }
        await appendAuditEvent(
          trx,
          projectEvent(ctx, project, {
            action: `endpoint.${act === 'start' ? 'started' : act === 'suspend' ? 'suspended' : 'restarted'}`,
            target: { type: 'endpoint', id: e.id },
            changes: { project_id: project.id },
          }),
        );
        const ops =
          act === 'start'
            ? [{ action: 'start_compute', branch_id: e.branch_id, endpoint_id: e.id }]
            : act === 'suspend'
              ? [{ action: 'suspend_compute', branch_id: e.branch_id, endpoint_id: e.id }]
              : [
                  { action: 'suspend_compute', branch_id: e.branch_id, endpoint_id: e.id },
                  { action: 'start_compute', branch_id: e.branch_id, endpoint_id: e.id },
                ];
        return { value: e, kind: 'endpoint_state', operations: ops };
      },
      work: async (e) => {
        if (act === 'start') await this.engine.startEndpoint(e.id);
        else if (act === 'suspend') await this.engine.suspendEndpoint(e.id);
        else await this.engine.restartEndpoint(e.id);
      },
    });
    return { endpoint: this.view(project, r.value), operations: r.operations };
  }

  // ---------------------------------------------------------------- roles

  async createRole(
    principal: Principal,
    projectId: string,
    branchId: string,
    input: { name: string; no_login?: boolean | undefined },
    ctx: AuditContext,
  ): Promise<{ role: BranchRoleRow; password: string | undefined; operations: ProjectOperationRow[] }> {
    checkName('role', input.name);
    const project = await this.project(principal, projectId, 'branch:write');
    const password = input.no_login ? undefined : newRolePassword();
    const r = await runOperation(this.db, project.id, {
      what: 'creating the role',
      prepare: async (trx, now) => {
        const b = await branchOf(trx, project.id, branchId);
        if (await repo.findRole(trx, b.id, input.name)) throw conflict(`role "${input.name}" already exists`);
        const role: BranchRoleRow = {
          branch_id: b.id,
          name: input.name,
          project_id: project.id,
          password_enc:
            password === undefined || project.store_passwords !== 1 ? null : this.secrets.seal(password),
          protected: 0,
          no_login: input.no_login ? 1 : 0,
          created_at: now,
          updated_at: now,
        };
        await repo.insertRoles(trx, [role]);
        await appendAuditEvent(
          trx,
          projectEvent(ctx, project, {
            action: 'role.created',
            status: 201,
            target: { type: 'role', id: `${b.id}/${role.name}` },
            changes: { project_id: project.id, branch_id: b.id, name: role.name },
          }),
        );
        return {
          value: role,
          kind: 'create_role',
          detail: { branch_id: b.id, name: role.name },
          operations: [{ action: 'apply_config', branch_id: b.id }],
        };
      },
      work: (role) =>
        this.engine.admin(role.branch_id, async (c) => {
          const login = role.no_login ? 'NOLOGIN' : 'LOGIN';
          const pw = password === undefined ? '' : ` PASSWORD ${lit(c, password)}`;
          await c.query(`CREATE ROLE ${q(c, role.name)} ${login} CREATEDB CREATEROLE${pw}`);
        }),
      undo: (trx, role) => repo.deleteRole(trx, role.branch_id, role.name),
      undoEngine: (role) => this.dropRole(role.branch_id, role.name),
    });
    return { role: r.value, password, operations: r.operations };
  }

  private dropRole(branchId: string, name: string): Promise<void> {
    return this.engine.admin(branchId, async (c) => {
      await c.query(`DROP ROLE IF EXISTS ${q(c, name)}`);
    });
  }

  async deleteRole(
    principal: Principal,
    projectId: string,
    branchId: string,
    name: string,
    ctx: AuditContext,
  ): Promise<{ role: BranchRoleRow; operations: ProjectOperationRow[] }> {
    const project = await this.project(principal, projectId, 'branch:write');
    const r = await runOperation(this.db, project.id, {
      what: 'deleting the role',
      prepare: async (trx) => {
        const b = await branchOf(trx, project.id, branchId);
        const role = await roleOf(trx, b.id, name);
        const owned = await repo.databasesOwnedBy(trx, b.id, name);
        if (owned.length > 0) {
          throw new AppError(
            'UNPROCESSABLE',
            `role "${name}" owns database(s) ${owned.join(', ')}: delete them or give them another owner first`,
          );
        }
        await appendAuditEvent(
          trx,
          projectEvent(ctx, project, {
            action: 'role.deleted',
            target: { type: 'role', id: `${b.id}/${name}` },
            changes: { project_id: project.id, branch_id: b.id, name },
          }),
        );
        return {
          value: role,
          kind: 'delete_role',
          detail: { branch_id: b.id, name },
          operations: [{ action: 'apply_config', branch_id: b.id }],
        };
      },
      work: (role) =>
        this.engine.admin(role.branch_id, async (c) => {
          try {
            await c.query(`DROP ROLE IF EXISTS ${q(c, role.name)}`);
          } catch (err) {
            // 2BP01: the role still owns objects or holds privileges inside a database.
            if ((err as { code?: string }).code === '2BP01') {
              throw new AppError(
                'UNPROCESSABLE',
                `role "${role.name}" still owns objects or holds privileges in a database: ${(err as Error).message}`,
              );
            }
            throw err;
          }
        }),
      commit: (trx, role) => repo.deleteRole(trx, role.branch_id, role.name),
    });
    return { role: r.value, operations: r.operations };
  }

  async resetPassword(
    principal: Principal,
    projectId: string,
    branchId: string,
    name: string,
    ctx: AuditContext,
  ): Promise<{ role: BranchRoleRow; password: string; operations: ProjectOperationRow[] }> {
    const project = await this.project(principal, projectId, 'branch:write');
    const password = newRolePassword();
    const sealed = this.secrets.seal(password);
    const r = await runOperation(this.db, project.id, {
      what: "resetting the role's password",
      prepare: async (trx) => {
        const b = await branchOf(trx, project.id, branchId);
        const role = await roleOf(trx, b.id, name);
        if (role.no_login === 1)
          throw new AppError('UNPROCESSABLE', `role "${name}" cannot log in; it has no password`);
        await appendAuditEvent(
          trx,
          projectEvent(ctx, project, {
            action: 'role.password_reset',
            target: { type: 'role', id: `${b.id}/${name}` },
            changes: { project_id: project.id, branch_id: b.id, name },
          }),
        );
        return {
          value: role,
          kind: 'reset_password',
          detail: { branch_id: b.id, name, sealed },
          operations: [{ action: 'apply_config', branch_id: b.id }],
        };
      },
      work: (role) =>
        this.engine.admin(role.branch_id, async (c) => {
          await c.query(`ALTER ROLE ${q(c, role.name)} PASSWORD ${lit(c, password)}`);
        }),
      commit: (trx, role, now) =>
        repo.setRolePassword(
          trx,
          role.branch_id,
          role.name,
          project.store_passwords === 1 ? sealed : null,
          now,
        ),
    });
    return { role: r.value, password, operations: r.operations };
  }

  // ---------------------------------------------------------------- databases

  async createDatabase(
    principal: Principal,
    projectId: string,
    branchId: string,
    input: { name: string; owner_name: string },
    ctx: AuditContext,
  ): Promise<{ database: BranchDatabaseRow; operations: ProjectOperationRow[] }> {
    checkName('database', input.name);
    const project = await this.project(principal, projectId, 'branch:write');
    const r = await runOperation(this.db, project.id, {
      what: 'creating the database',
      prepare: async (trx, now) => {
        const b = await branchOf(trx, project.id, branchId);
        if (!(await repo.findRole(trx, b.id, input.owner_name))) throw notFound(`role "${input.owner_name}"`);
        if (await repo.findDatabase(trx, b.id, input.name))
          throw conflict(`database "${input.name}" already exists`);
        const d: BranchDatabaseRow = {
          branch_id: b.id,
          name: input.name,
          id: newDatabaseId(),
          project_id: project.id,
          owner_name: input.owner_name,
          created_at: now,
          updated_at: now,
        };
        await repo.insertDatabases(trx, [d]);
        await appendAuditEvent(
          trx,
          projectEvent(ctx, project, {
            action: 'database.created',
            status: 201,
            target: { type: 'database', id: `${b.id}/${d.name}` },
            changes: { project_id: project.id, branch_id: b.id, name: d.name, owner_name: d.owner_name },
          }),
        );
        return {
          value: d,
          kind: 'create_database',
          detail: { branch_id: b.id, name: d.name },
          operations: [{ action: 'apply_config', branch_id: b.id }],
        };
      },
      work: (d) =>
        this.engine.admin(d.branch_id, async (c) => {
          await c.query(`CREATE DATABASE ${q(c, d.name)} OWNER ${q(c, d.owner_name)}`);
        }),
      undo: (trx, d) => repo.deleteDatabase(trx, d.branch_id, d.name),
      undoEngine: (d) => this.dropDatabase(d.branch_id, d.name),
    });
    return { database: r.value, operations: r.operations };
  }

  private dropDatabase(branchId: string, name: string): Promise<void> {
    return this.engine.admin(branchId, async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${q(c, name)} WITH (FORCE)`);
    });
  }

  async updateDatabase(
    principal: Principal,
    projectId: string,
    branchId: string,
    name: string,
    patch: { name?: string | undefined; owner_name?: string | undefined },
    ctx: AuditContext,
  ): Promise<{ database: BranchDatabaseRow; operations: ProjectOperationRow[] }> {
    if (patch.name !== undefined) checkName('database', patch.name);
    const project = await this.project(principal, projectId, 'branch:write');
    const r = await runOperation(this.db, project.id, {
      what: 'updating the database',
      prepare: async (trx) => {
        const b = await branchOf(trx, project.id, branchId);
        const d = await databaseOf(trx, b.id, name);
        if (patch.owner_name !== undefined && !(await repo.findRole(trx, b.id, patch.owner_name))) {
          throw notFound(`role "${patch.owner_name}"`);
        }
        if (
          patch.name !== undefined &&
          patch.name !== name &&
          (await repo.findDatabase(trx, b.id, patch.name))
        ) {
          throw conflict(`database "${patch.name}" already exists`);
        }
        await appendAuditEvent(
          trx,
          projectEvent(ctx, project, {
            action: 'database.updated',
            target: { type: 'database', id: `${b.id}/${name}` },
            changes: { project_id: project.id, branch_id: b.id, ...patch },
          }),
        );
        return {
          value: d,
          kind: 'update_database',
          detail: { branch_id: b.id, name, to: patch },
          operations: [{ action: 'apply_config', branch_id: b.id }],
        };
      },
      work: (d) =>
        this.engine.admin(d.branch_id, async (c) => {
          if (patch.name !== undefined && patch.name !== d.name) {
            // A database with sessions cannot be renamed: end them, as Neon's apply_config does.
            await c.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [
              d.name,
            ]);
            await c.query(`ALTER DATABASE ${q(c, d.name)} RENAME TO ${q(c, patch.name)}`);
          }
          if (patch.owner_name !== undefined) {
            await c.query(`ALTER DATABASE ${q(c, patch.name ?? d.name)} OWNER TO ${q(c, patch.owner_name)}`);
          }
        }),
      commit: (trx, d, now) =>
        repo.updateDatabase(trx, d.branch_id, d.name, {
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.owner_name !== undefined ? { owner_name: patch.owner_name } : {}),
          updated_at: now,
        }),
    });
    const d = r.value;
    return {
      database: { ...d, name: patch.name ?? d.name, owner_name: patch.owner_name ?? d.owner_name },
      operations: r.operations,
    };
  }

  async deleteDatabase(
    principal: Principal,
    projectId: string,
    branchId: string,
    name: string,
    ctx: AuditContext,
  ): Promise<{ database: BranchDatabaseRow; operations: ProjectOperationRow[] }> {
    const project = await this.project(principal, projectId, 'branch:write');
    const r = await runOperation(this.db, project.id, {
      what: 'deleting the database',
      prepare: async (trx) => {
        const b = await branchOf(trx, project.id, branchId);
        const d = await databaseOf(trx, b.id, name);
        await appendAuditEvent(
          trx,
          projectEvent(ctx, project, {
            action: 'database.deleted',
            target: { type: 'database', id: `${b.id}/${name}` },
            changes: { project_id: project.id, branch_id: b.id, name },
          }),
        );
        return {
          value: d,
          kind: 'delete_database',
          detail: { branch_id: b.id, name },
          operations: [{ action: 'apply_config', branch_id: b.id }],
        };
      },
      work: (d) => this.dropDatabase(d.branch_id, d.name),
      commit: (trx, d) => repo.deleteDatabase(trx, d.branch_id, d.name),
    });
    return { database: r.value, operations: r.operations };
  }

  // ---------------------------------------------------------------- schema

  async schema(principal: Principal, projectId: string, branchId: string, dbName: string): Promise<string> {
    const { branch } = await this.branch(principal, projectId, branchId);
    if (!(await repo.findDatabase(this.db.kysely, branch.id, dbName))) throw notFound('database');
    return this.engine.schemaDump(branch.id, dbName);
  }
}
