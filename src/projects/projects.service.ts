// Project use cases: list (keyset pages), create, read, update, soft delete, recover, operations.
// No Fastify here. Who may act is decided by the policy; this module computes the Subject.
import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Config } from '../config.ts';
import type { Db } from '../db/connect.ts';
import { withTransaction } from '../db/connect.ts';
import type {
  BranchDatabaseRow,
  BranchRoleRow,
  BranchRow,
  Database,
  EndpointRow,
  ProjectOperationRow,
  ProjectRow,
} from '../db/schema.ts';
import { AppError, badRequest, MESSAGES, notFound } from '../domain/errors.ts';
import { newBranchId, newEndpointId, newProjectId, newUuid } from '../domain/ids.ts';
import type { Principal } from '../domain/principal.ts';
import { nowIso } from '../domain/time.ts';
import { findOrganization, lockOrganization } from '../db/organizations.repository.ts';
import { findKeyCreator } from '../api-keys/api-keys.repository.ts';
import { findRole } from '../auth/auth.repository.ts';
import { findUserById } from '../users/users.repository.ts';
import {
  authorize,
  projectPermissionLevel,
  type Action,
  type ProjectPermissionLevel,
  type Subject,
} from '../policy/index.ts';
import { type SubjectSource, projectSubject } from '../policy/subjects.ts';
import { endpointSettingsOf, integrationsOf, settingsOf } from './projects.presenter.ts';
import {
  countLiveProjects,
  deleteProjectRecords,
  findCursorProject,
  findProject,
  insertProject,
  listProjectsPage,
  liveGrantProjectIds,
  markBranchReady,
  markProjectDeleted,
  markProjectRecovered,
  setIntegrations,
  updateProject,
  type ProjectListRow,
} from './projects.repository.ts';
import { findOperation, insertOperations, settleOperations } from './operations.repository.ts';
import {
  type DefaultEndpointSettings,
  type ProjectCreate,
  type ProjectListQuery,
  type ProjectUpdate,
} from './projects.schemas.ts';
import { DEFAULT_REGION, isRegion, REGIONS } from './regions.ts';
import { AuditContext } from '../audit/audit.ts';
import type { SecretBox } from '../domain/secret-box.ts';

/** The records of a new project's default branch, endpoint, role and database. */
export interface DefaultChildren {
  branch: BranchRow;
  endpoint: EndpointRow;
  role: BranchRoleRow;
  database: BranchDatabaseRow;
}

/**
 * What project creation needs of its default branch's records, in the project's transaction and in
 * both compute modes (src/branches/defaults.ts implements it; the composition root wires it in, so
 * projects/ does not import the branches above it).
 */
export interface DefaultChildrenRecords {
  /** Writes them; with compute on the branch starts in 'init' and the endpoint has a port. */
  record(
    trx: Kysely<Database>,
    project: ProjectRow,
    sealedPassword: string | null,
    port: number | null,
    computing: boolean,
  ): Promise<DefaultChildren>;
  /** Deletes a branch's records (a create whose compute failed). */
  forgetBranch(trx: Kysely<Database>, branchId: string): Promise<void>;
}

/**
 * What project creation, deletion and recovery need from the compute side (BranchesService
 * implements it; absent when compute is off).
 */
export interface ProjectCompute {
  allocatePort(): Promise<number>;
  /** Makes the default branch's data, role, database and endpoint listener. */
  provisionDefaults(children: DefaultChildren): Promise<void>;
  unprovision(branchIds: string[], endpointIds: string[]): Promise<void>;
  /** Closes (deleted) or reopens (recovered) the project's endpoints; data stays. */
  projectDeleted(projectId: string): Promise<void>;
  projectRecovered(projectId: string): Promise<void>;
}
import { appendAuditEvent } from '../audit/audit.repository.ts';
import { RECOVERY_WINDOW_MS, APPLICATION_TYPES, type ApplicationType } from '../domain/projects.ts';
import { planLimit } from '../domain/plans.ts';

/** One message for every cursor the caller cannot use: missing, malformed or another tenant's. */
export const INVALID_CURSOR = 'cursor is not valid: pass pagination.cursor from the previous page';

/** A project as one caller sees it: with their effective permission (users on organization projects). */
export type ProjectView = ProjectRow & { permission?: ProjectPermissionLevel | undefined };

/** Neon's effective_project_permission: for users on organization projects only. */
export function levelFor(
  principal: Principal,
  p: Pick<ProjectRow, 'org_id'>,
  subject: Subject,
): ProjectPermissionLevel | undefined {
  return principal.kind === 'user' && p.org_id !== null ? projectPermissionLevel(subject) : undefined;
}

export interface ProjectsPage {
  projects: Array<ProjectListRow & { permission?: ProjectPermissionLevel | undefined }>;
  /** Id of the last project: present whenever the page is not empty. */
  cursor: string | undefined;
}

export interface CreatedProjectResult {
  project: ProjectRow;
  operations: ProjectOperationRow[];
  /** The role's password: generated once; stored only when the project stores passwords. */
  password: string;
  /** The creator's effective_project_permission (users creating organization projects). */
  permission?: ProjectPermissionLevel | undefined;
  /** The default branch's records (the response presents them when compute is on). */
  children: DefaultChildren;
}

function mergeEndpointSettings(
  base: DefaultEndpointSettings,
  patch: DefaultEndpointSettings | undefined,
): DefaultEndpointSettings {
  const merged = { ...base, ...patch };
  const min = merged.autoscaling_limit_min_cu;
  const max = merged.autoscaling_limit_max_cu;
  if (min !== undefined && max !== undefined && min > max) {
    throw badRequest(
      `autoscaling_limit_min_cu (${min}) must not be greater than autoscaling_limit_max_cu (${max})`,
    );
  }
  return merged;
}

export class ProjectsService {
  constructor(
    private readonly db: Db,
    private readonly access: SubjectSource,
    private readonly config: Config,
    private readonly secrets: SecretBox,
    private readonly defaults: DefaultChildrenRecords,
    private readonly compute?: ProjectCompute,
  ) {}

  /** A project the caller may act on; 404 for missing, deleted (unless allowed) and invisible ones. */
  private async load(
    db: Kysely<Database>,
    principal: Principal,
    projectId: string,
    action: Action,
    opts: { deleted?: 'exclude' | 'include' | 'only' } = {},
  ): Promise<ProjectView> {
    const p = await findProject(db, projectId);
    if (!p) throw notFound('project');
    // Decide before revealing anything about the project's state.
    // Inside a transaction (write paths, under the organization's lock) the role is read there.
    const trx = db.isTransaction ? (db as Transaction<Database>) : undefined;
    const subject = await projectSubject(this.access, principal, p, trx);
    authorize(action, subject);
    const mode = opts.deleted ?? 'exclude';
    if (mode === 'exclude' && p.deleted_at !== null) throw notFound('project');
    if (mode === 'only' && p.deleted_at === null) throw badRequest(`project ${p.id} is not deleted`);
    return { ...p, permission: levelFor(principal, p, subject) };
  }

  /** The organization a request is about: org_id for personal keys (required), else the key's. */
  private orgFor(principal: Principal, orgId: string | undefined): string {
    if (principal.kind === 'user') {
      if (!orgId) throw badRequest(MESSAGES.orgIdRequired);
      return orgId;
    }
    return orgId ?? principal.orgId;
  }

  async list(principal: Principal, q: ProjectListQuery): Promise<ProjectsPage> {
    const k = this.db.kysely;
    const orgId = this.orgFor(principal, q.org_id);
    const subject = await this.access.subjectFor(principal, orgId);
    authorize('project:list', subject);
    // A collaborator sees only the projects shared with them; the others do not exist for them.
    const userId = principal.kind === 'user' ? principal.userId : undefined;
    const role = subject.kind === 'user' ? subject.role : null;
    let after: { created_at: string; id: string } | undefined;
    if (q.cursor !== undefined) {
      // Resolved only among the projects this caller may list: another organization's project id
      // answers exactly like a missing one (no existence or creation-order oracle).
      const found = await findCursorProject(
        k,
        orgId,
        q.cursor,
        principal.kind === 'project_key' ? principal.projectId : undefined,
      );
      if (!found) throw badRequest(INVALID_CURSOR);
      after = found;
    }
    const projects = await listProjectsPage(k, {
      orgId,
      // A project-scoped key sees its own project only.
      onlyProjectId: principal.kind === 'project_key' ? principal.projectId : undefined,
      sharedWithUserId: role === 'collaborator' ? userId : undefined,
      search: q.search,
      deletedSince: q.recoverable ? new Date(Date.now() - RECOVERY_WINDOW_MS).toISOString() : undefined,
      after,
      limit: q.limit,
    });
    const cursor = projects[projects.length - 1]?.id;
    if (userId === undefined) return { projects, cursor };
    // Grants raise a viewer's level on some projects (and are why a collaborator sees any).
    const shared =
      role === 'viewer' || role === 'editor' || role === 'collaborator'
        ? await liveGrantProjectIds(
            k,
            userId,
            projects.map((p) => p.id),
          )
        : new Set<string>();
    return {
      projects: projects.map((p) => ({
        ...p,
        permission: projectPermissionLevel({ kind: 'user', role, shared: shared.has(p.id) }),
      })),
      cursor,
    };
  }

  async create(principal: Principal, input: ProjectCreate, ctx: AuditContext): Promise<CreatedProjectResult> {
    const k = this.db.kysely;
    const orgId = this.orgFor(principal, input.org_id);
    const subject = await this.access.subjectFor(principal, orgId);
    authorize('project:create', subject);
    let ownerId: string;
    if (principal.kind === 'user') ownerId = principal.userId;
    else {
      // An organization key is not a user: the project belongs to whoever created the key.
      ownerId = await findKeyCreator(k, principal.keyId);
    }
    const created = await this.createRecord(orgId, ownerId, input, ctx);
    return { ...created, permission: levelFor(principal, created.project, subject) };
  }

  /**
   * Inserts a project with its default branch, endpoint, role, database and (finished) operations.
   * orgId null makes a personal project. Counting and inserting happen under the organization's
   * lock, so concurrent creates cannot overshoot the plan's limit.
   */
  async createRecord(
    orgId: string | null,
    ownerId: string,
    input: ProjectCreate,
    ctx = AuditContext.operator(),
  ): Promise<CreatedProjectResult> {
    const region = input.region_id ?? DEFAULT_REGION;
    if (!isRegion(region))
      throw badRequest(`region_id "${region}" is not supported; use one of ${REGIONS.join(', ')}`);
    const endpointSettings = mergeEndpointSettings(
      {
        ...(input.autoscaling_limit_min_cu !== undefined
          ? { autoscaling_limit_min_cu: input.autoscaling_limit_min_cu }
          : {}),
        ...(input.autoscaling_limit_max_cu !== undefined
          ? { autoscaling_limit_max_cu: input.autoscaling_limit_max_cu }
          : {}),
      },
      input.default_endpoint_settings,
    );
    const id = newProjectId();
    const storePasswords = input.store_passwords !== false;
    const password = `npg_${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x')}`;
    const databaseName = input.branch?.database_name ?? 'neondb';
    const sealed = storePasswords ? this.secrets.seal(password) : null;
    const compute = this.compute;
    const port = compute ? await compute.allocatePort() : null;
    const created = await withTransaction(this.db, async (trx) => {
      if (orgId !== null) {
        if (!(await lockOrganization(trx, orgId))) throw notFound('organization');
        // A project's owner is someone who can see it: an outsider would own a project they
        // cannot reach (an organization key whose creator has left the organization, the CLI).
        if ((await findRole(trx, orgId, ownerId)) === null) {
          const owner = await findUserById(trx, ownerId);
          throw badRequest(
            `user ${owner?.email ?? ownerId} is not a member of organization ${orgId}; a project's owner must be a member of its organization`,
          );
        }
        const org = await findOrganization(trx, orgId);
        if (!org) throw notFound('organization');
        const limit = planLimit(this.config, org.plan);
        const count = await countLiveProjects(trx, orgId);
        if (count + 1 > limit) {
          throw new AppError(
            'UNPROCESSABLE',
            `project limit reached: organization ${orgId} has ${count} of ${limit} projects allowed on the ${org.plan} plan; delete a project or upgrade the plan`,
          );
        }
      }
      const now = nowIso();
      const project = await insertProject(trx, {
        id,
        org_id: orgId,
        owner_id: ownerId,
        name: input.name ?? id,
        region_id: region,
        pg_version: input.pg_version ?? 17,
        provisioner: input.provisioner ?? 'k8s-neonvm',
        store_passwords: storePasswords ? 1 : 0,
        history_retention_seconds: input.history_retention_seconds ?? 86400,
        settings: JSON.stringify(input.settings ?? {}),
        default_endpoint_settings: JSON.stringify(endpointSettings),
        creation_source: 'console',
        branch_id: newBranchId(),
        branch_name: input.branch?.name ?? 'main',
        endpoint_id: newEndpointId(),
        database_name: databaseName,
        role_name: input.branch?.role_name ?? `${databaseName}_owner`,
        integrations: '[]',
        // Sealed with the server key (src/domain/secret-box.ts), never plain.
        role_password: sealed,
        created_at: now,
        updated_at: now,
        deleted_at: null,
      });
      const children = await this.defaults.record(trx, project, sealed, port, compute !== undefined);
      // Without compute nothing is provisioned, so the operations are already finished; with it
      // they run until the engine has made the branch (below, after this transaction).
      const operations: ProjectOperationRow[] = [
        { action: 'create_timeline', endpoint_id: null },
        { action: 'start_compute', endpoint_id: project.endpoint_id },
      ].map((o) => ({
        id: newUuid(),
        project_id: id,
        branch_id: project.branch_id,
        endpoint_id: o.endpoint_id,
        action: o.action,
        status: compute ? 'running' : 'finished',
        created_at: now,
        updated_at: now,
        error: null,
        failures_count: 0,
        kind: compute ? 'create_project' : null,
        detail: compute ? JSON.stringify({ branch_id: project.branch_id }) : null,
      }));
      await insertOperations(trx, operations);
      await appendAuditEvent(
        trx,
        ctx.event({
          action: 'project.created',
          status: 201,
          orgId,
          userId: ownerId,
          target: { type: 'project', id },
          changes: {
            name: project.name,
            region_id: region,
            pg_version: project.pg_version,
            owner_id: ownerId,
          },
        }),
      );
      return { project, operations, password, children };
    });
    if (!compute) return created;
    const ids = created.operations.map((o) => o.id);
    try {
      await compute.provisionDefaults(created.children);
    } catch (err) {
      // All or nothing: the project and its records go; the refusal says why.
      await compute.unprovision([created.project.branch_id], [created.project.endpoint_id]);
      await withTransaction(this.db, async (trx) => {
        await this.defaults.forgetBranch(trx, created.project.branch_id);
        await deleteProjectRecords(trx, created.project.id);
      });
      if (err instanceof AppError) throw err;
      throw new AppError(
        'UNAVAILABLE',
        `creating the project's compute failed: ${err instanceof Error ? err.message : String(err)}; nothing was created`,
      );
    }
    const done = nowIso();
    await withTransaction(this.db, async (trx) => {
      await markBranchReady(trx, created.project.branch_id, done);
      await settleOperations(trx, ids, 'finished', done);
    });
    return {
      ...created,
      children: {
        ...created.children,
        branch: { ...created.children.branch, state: 'ready', updated_at: done },
      },
      operations: created.operations.map((o) => ({ ...o, status: 'finished', updated_at: done })),
    };
  }

  async get(principal: Principal, projectId: string): Promise<ProjectView> {
    return this.load(this.db.kysely, principal, projectId, 'project:read');
  }

  async update(
    principal: Principal,
    projectId: string,
    patch: ProjectUpdate,
    ctx: AuditContext,
  ): Promise<ProjectView> {
    return withTransaction(this.db, async (trx) => {
      const p = await this.load(trx, principal, projectId, 'project:update');
      const changes: Partial<ProjectRow> = { updated_at: nowIso() };
      if (patch.name !== undefined) changes.name = patch.name;
      if (patch.history_retention_seconds !== undefined) {
        changes.history_retention_seconds = patch.history_retention_seconds;
      }
      // Settings objects merge key by key, as Neon's PATCH does: unmentioned settings stay.
      if (patch.settings !== undefined) {
        changes.settings = JSON.stringify({ ...settingsOf(p), ...patch.settings });
      }
      if (patch.default_endpoint_settings !== undefined) {
        changes.default_endpoint_settings = JSON.stringify(
          mergeEndpointSettings(endpointSettingsOf(p), patch.default_endpoint_settings),
        );
      }
      await updateProject(trx, p.id, changes);
      await appendAuditEvent(
        trx,
        ctx.event({
          action: 'project.updated',
          orgId: p.org_id,
          userId: p.owner_id,
          target: { type: 'project', id: p.id },
          changes: { ...patch },
        }),
      );
      return { ...p, ...changes };
    });
  }

  /** Soft delete; deleting a deleted project answers it again (Neon answers 200 too). */
  async remove(principal: Principal, projectId: string, ctx: AuditContext): Promise<ProjectView> {
    return withTransaction(this.db, async (k) => {
      const p = await this.load(k, principal, projectId, 'project:delete', { deleted: 'include' });
      const event = ctx.event({
        action: 'project.deleted',
        orgId: p.org_id,
        userId: p.owner_id,
        target: { type: 'project', id: p.id },
        changes: { name: p.name, already_deleted: p.deleted_at !== null || undefined },
      });
      if (p.deleted_at !== null) {
        await appendAuditEvent(k, event);
        return p;
      }
      const now = nowIso();
      await markProjectDeleted(k, p.id, now);
      await appendAuditEvent(k, event);
      const row = (await findProject(k, p.id)) ?? { ...p, deleted_at: now, updated_at: now };
      return { ...row, permission: p.permission };
    }).then(async (r) => {
      // Its connection strings stop working; its data stays for the recovery window.
      await this.compute?.projectDeleted(r.id);
      return r;
    });
  }

  /** Undoes a delete within the recovery window; the plan's limit applies as for a new project. */
  async recover(principal: Principal, projectId: string, ctx: AuditContext): Promise<ProjectView> {
    return withTransaction(this.db, async (trx) => {
      const first = await findProject(trx, projectId);
      if (first?.org_id) await lockOrganization(trx, first.org_id);
      const p = await this.load(trx, principal, projectId, 'project:recover', { deleted: 'only' });
      const deletedAt = p.deleted_at ?? nowIso();
      const until = Date.parse(deletedAt) + RECOVERY_WINDOW_MS;
      if (Date.now() > until) {
        throw new AppError(
          'GONE',
          `project ${p.id} can no longer be recovered: its recovery window ended at ${new Date(until).toISOString()}`,
        );
      }
      if (p.org_id !== null) {
        const org = await findOrganization(trx, p.org_id);
        if (!org) throw notFound('organization');
        const limit = planLimit(this.config, org.plan);
        const count = await countLiveProjects(trx, p.org_id);
        if (count + 1 > limit) {
          throw new AppError(
            'UNPROCESSABLE',
            `project limit reached: organization ${p.org_id} has ${count} of ${limit} projects allowed on the ${org.plan} plan`,
          );
        }
      }
      const now = nowIso();
      await markProjectRecovered(trx, p.id, now);
      await appendAuditEvent(
        trx,
        ctx.event({
          action: 'project.recovered',
          orgId: p.org_id,
          userId: p.owner_id,
          target: { type: 'project', id: p.id },
          changes: { name: p.name },
        }),
      );
      return { ...p, deleted_at: null, updated_at: now };
    }).then(async (r) => {
      await this.compute?.projectRecovered(r.id);
      return r;
    });
  }

  async operation(
    principal: Principal,
    projectId: string,
    operationId: string,
  ): Promise<ProjectOperationRow> {
    const k = this.db.kysely;
    const p = await this.load(k, principal, projectId, 'project:operation_read');
    const op = await findOperation(k, p.id, operationId);
    if (!op) throw notFound('operation');
    return op;
  }

  /** Operator path (CLI): records or removes an integration, so transfer refusals are testable. */
  async setIntegration(
    projectId: string,
    integration: string,
    present: boolean,
    ctx = AuditContext.operator(),
  ): Promise<ApplicationType[]> {
    if (!(APPLICATION_TYPES as readonly string[]).includes(integration)) {
      throw badRequest(`integration must be one of ${APPLICATION_TYPES.join(', ')}`);
    }
    return withTransaction(this.db, async (trx) => {
      const p = await findProject(trx, projectId);
      if (!p) throw notFound(`project ${projectId}`);
      const current = integrationsOf(p).filter((i) => i !== integration);
      const next = present ? [...current, integration as ApplicationType].sort() : current;
      await setIntegrations(trx, p.id, JSON.stringify(next));
      await appendAuditEvent(
        trx,
        ctx.event({
          action: 'project.updated',
          orgId: p.org_id,
          userId: p.owner_id,
          target: { type: 'project', id: p.id },
          changes: { integrations: { from: integrationsOf(p), to: next } },
        }),
      );
      return next;
    });
  }
}
