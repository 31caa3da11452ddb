// A project's children, read-only: its default branch, compute endpoint, database and role, and
// the connection data of that database. orgplane creates exactly one of each with the project
// (POST /projects) and serves them here with the values the create response showed.
// No Fastify here. Who may read is decided by the policy; this module computes the Subject.
import type { Db } from '../db/connect.ts';
import type { ProjectRow } from '../db/schema.ts';
import { AppError, badRequest, notFound } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import type { Action } from '../policy/index.ts';
import type { SubjectSource } from '../policy/subjects.ts';
import { connectionUri } from './connection.ts';
import { SecretBox } from '../domain/secret-box.ts';
import { liveProject } from './live-project.ts';

export interface BranchListQuery {
  search?: string | undefined;
  sort_by?: 'name' | 'created_at' | 'updated_at' | undefined;
  sort_order?: 'asc' | 'desc' | undefined;
  cursor?: string | undefined;
  limit?: number | undefined;
}

export interface BranchPage {
  /** Zero or one project: the page holds the default branch when it matches. */
  projects: ProjectRow[];
  sortBy: string;
  sortOrder: string;
}

function matches(p: ProjectRow, search: string | undefined): boolean {
  if (!search) return true;
  const s = search.toLowerCase();
  return p.branch_name.toLowerCase().includes(s) || p.branch_id.includes(s);
}

export class ChildrenService {
  constructor(
    private readonly db: Db,
    private readonly access: SubjectSource,
    private readonly secrets: SecretBox,
  ) {}

  /** The project, if the caller may act on it; 404 for missing, deleted and invisible ones. */
  async project(
    principal: Principal,
    projectId: string,
    action: Action = 'branch:read',
  ): Promise<ProjectRow> {
    return liveProject(this.db.kysely, this.access, principal, projectId, action);
  }

  /** The project and its branch; 404 "branch not found" for any other branch id. */
  async branch(
    principal: Principal,
    projectId: string,
    branchId: string,
    action: Action = 'branch:read',
  ): Promise<ProjectRow> {
    const p = await this.project(principal, projectId, action);
    if (branchId !== p.branch_id) throw notFound('branch');
    return p;
  }

  /**
   * One page of branches. The cursor (pagination.next) is the id of the last branch handed out:
   * with one branch per project it is only ever "past the default branch", i.e. the end.
   */
  async listBranches(principal: Principal, projectId: string, q: BranchListQuery): Promise<BranchPage> {
    const p = await this.project(principal, projectId);
    const page: BranchPage = {
      projects: [],
      sortBy: q.sort_by ?? 'updated_at',
      sortOrder: q.sort_order ?? 'desc',
    };
    if (q.cursor !== undefined && q.cursor !== p.branch_id) {
      throw badRequest('cursor is not valid: pass pagination.next from the previous page');
    }
    if (q.cursor === undefined && matches(p, q.search)) page.projects.push(p);
    return page;
  }

  async countBranches(principal: Principal, projectId: string, search: string | undefined): Promise<number> {
    const p = await this.project(principal, projectId);
    return matches(p, search) ? 1 : 0;
  }

  async endpoint(principal: Principal, projectId: string, endpointId: string): Promise<ProjectRow> {
    const p = await this.project(principal, projectId);
    if (endpointId !== p.endpoint_id) throw notFound('endpoint');
    return p;
  }

  async database(
    principal: Principal,
    projectId: string,
    branchId: string,
    databaseName: string,
  ): Promise<ProjectRow> {
    const p = await this.branch(principal, projectId, branchId);
    if (databaseName !== p.database_name) throw notFound('database');
    return p;
  }

  async role(
    principal: Principal,
    projectId: string,
    branchId: string,
    roleName: string,
  ): Promise<ProjectRow> {
    const p = await this.branch(principal, projectId, branchId);
    if (roleName !== p.role_name) throw notFound('role');
    return p;
  }

  /** reveal_password: the password the create response showed; 412 when the project does not store it. */
  async rolePassword(
    principal: Principal,
    projectId: string,
    branchId: string,
    roleName: string,
  ): Promise<string> {
    const p = await this.branch(principal, projectId, branchId, 'project:connection_read');
    if (roleName !== p.role_name) throw notFound('role');
    return storedPassword(p, this.secrets);
  }

  /** GET /projects/{id}/connection_uri: the create response's URI (with -pooler when pooled). */
  async connectionUri(
    principal: Principal,
    projectId: string,
    q: {
      branch_id?: string | undefined;
      endpoint_id?: string | undefined;
      database_name: string;
      role_name: string;
      pooled?: boolean | undefined;
    },
  ): Promise<string> {
    const p = await this.project(principal, projectId, 'project:connection_read');
    if (q.branch_id !== undefined && q.branch_id !== p.branch_id) throw notFound('branch');
    if (q.endpoint_id !== undefined && q.endpoint_id !== p.endpoint_id) throw notFound('endpoint');
    if (q.database_name !== p.database_name) throw notFound('database');
    if (q.role_name !== p.role_name) throw notFound('role');
    return connectionUri(p, storedPassword(p, this.secrets), q.pooled === true);
  }
}

function storedPassword(p: ProjectRow, secrets: SecretBox): string {
  // Sealed with the server key; a value stored before sealing is sealed at the next start.
  if (p.role_password !== null) {
    return SecretBox.isSealed(p.role_password) ? secrets.open(p.role_password) : p.role_password;
  }
  throw new AppError(
    'PRECONDITION_FAILED',
    p.store_passwords === 1
      ? `the password of role ${p.role_name} was not stored (project ${p.id} was created before orgplane stored passwords)`
      : `storing passwords is disabled for project ${p.id} (store_passwords is false)`,
  );
}
