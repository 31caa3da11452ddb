// The records of a new project's default branch, endpoint, role and database, written in the
// project's transaction (with compute off too, so turning compute on later finds them).
import type { Kysely } from 'kysely';
import type {
  BranchDatabaseRow,
  BranchRoleRow,
  BranchRow,
  Database,
  EndpointRow,
  ProjectRow,
} from '../db/schema.ts';
import { randomInt } from 'node:crypto';
import type { DefaultChildren, DefaultChildrenRecords } from '../projects/projects.service.ts';
import * as repo from './branches.repository.ts';

export const newDatabaseId = (): number => randomInt(1, 2 ** 31 - 1);

/**
 * Records of a new project's default branch, endpoint, role and database, in the project's
 * transaction (both modes). With compute on the branch starts in 'init' and the endpoint has a
 * port; provisionDefaults() then makes the data.
 */
export async function recordDefaultChildren(
  trx: Kysely<Database>,
  p: ProjectRow,
  sealedPassword: string | null,
  port: number | null,
  computing: boolean,
): Promise<DefaultChildren> {
  const now = p.created_at;
  const branch: BranchRow = {
    id: p.branch_id,
    project_id: p.id,
    parent_id: null,
    name: p.branch_name,
    is_default: 1,
    protected: 0,
    expires_at: null,
    ttl_interval_seconds: null,
    state: computing ? 'init' : 'ready',
    creation_source: p.creation_source,
    last_reset_at: null,
    created_at: now,
    updated_at: now,
  };
  const s = JSON.parse(p.default_endpoint_settings) as {
    autoscaling_limit_min_cu?: number;
    autoscaling_limit_max_cu?: number;
    suspend_timeout_seconds?: number;
    pg_settings?: Record<string, string>;
  };
  const endpoint: EndpointRow = {
    id: p.endpoint_id,
    project_id: p.id,
    branch_id: branch.id,
    name: null,
    type: 'read_write',
    port,
    suspend_timeout_seconds: s.suspend_timeout_seconds ?? 0,
    disabled: 0,
    autoscaling_limit_min_cu: s.autoscaling_limit_min_cu ?? 0.25,
    autoscaling_limit_max_cu: s.autoscaling_limit_max_cu ?? 2,
    pooler_enabled: 0,
    pooler_mode: 'transaction',
    settings: JSON.stringify(s.pg_settings ? { pg_settings: s.pg_settings } : {}),
    creation_source: p.creation_source,
    created_at: now,
    updated_at: now,
  };
  const role: BranchRoleRow = {
    branch_id: branch.id,
    name: p.role_name,
    project_id: p.id,
    password_enc: sealedPassword,
    protected: 0,
    no_login: 0,
    created_at: now,
    updated_at: now,
  };
  const database: BranchDatabaseRow = {
    branch_id: branch.id,
    name: p.database_name,
    id: newDatabaseId(),
    project_id: p.id,
    owner_name: p.role_name,
    created_at: now,
    updated_at: now,
  };
  await repo.insertBranch(trx, branch);
  await repo.insertEndpoint(trx, endpoint);
  await repo.insertRoles(trx, [role]);
  await repo.insertDatabases(trx, [database]);
  return { branch, endpoint, role, database };
}

/** The port project creation writes its default children through (wired in src/services.ts). */
export const defaultChildrenRecords: DefaultChildrenRecords = {
  record: recordDefaultChildren,
  forgetBranch: repo.deleteBranchRecords,
};
