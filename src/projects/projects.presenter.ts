// Project rows → Neon's Project / ProjectListItem / Branch / Endpoint / Operation shapes.
import type { ProjectOperationRow, ProjectRow } from '../db/schema.ts';
import type { ProjectListRow } from './projects.repository.ts';
import { toWireTime } from '../domain/time.ts';
import { RECOVERY_WINDOW_MS, type ApplicationType } from '../domain/projects.ts';
import { databaseIdOf } from './connection.ts';
import { endpointHost, platformOf, proxyHostOf } from './regions.ts';
import type { DefaultEndpointSettings, ProjectSettings } from './projects.schemas.ts';

/** Neon's free-tier branch size limit, reported as-is: orgplane stores no data. */
const BRANCH_LIMIT_MIB = 3072;

export function parseJson<T>(text: string, fallback: T): T {
  // Most projects keep the defaults: no parse for them.
  if (text === '{}') return {} as T;
  if (text === '[]') return [] as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export const settingsOf = (p: ProjectRow) => parseJson<ProjectSettings>(p.settings, {});
export const endpointSettingsOf = (p: ProjectRow) =>
  parseJson<DefaultEndpointSettings>(p.default_endpoint_settings, {});
export const integrationsOf = (p: Pick<ProjectRow, 'integrations'>) =>
  parseJson<ApplicationType[]>(p.integrations, []);

function common(p: ProjectRow) {
  return {
    id: p.id,
    platform_id: platformOf(p.region_id),
    region_id: p.region_id,
    name: p.name,
    provisioner: p.provisioner,
    default_endpoint_settings: endpointSettingsOf(p),
    settings: settingsOf(p),
    pg_version: p.pg_version,
    proxy_host: proxyHostOf(p.region_id),
    branch_logical_size_limit: BRANCH_LIMIT_MIB,
    branch_logical_size_limit_bytes: BRANCH_LIMIT_MIB * 1024 * 1024,
    store_passwords: p.store_passwords === 1,
    cpu_used_sec: 0,
    creation_source: p.creation_source,
    history_retention_seconds: p.history_retention_seconds,
    created_at: toWireTime(p.created_at),
    updated_at: toWireTime(p.updated_at),
    owner_id: p.owner_id,
    ...(p.org_id ? { org_id: p.org_id } : {}),
  };
}

/** Neon's effective_project_permission, when the service computed one (users on organization projects). */
type WithPermission = { permission?: 'CAN_VIEW' | 'CAN_EDIT' | 'CAN_MANAGE' | undefined };
const permissionOf = (p: WithPermission) =>
  p.permission ? { effective_project_permission: p.permission } : {};

/**
 * One flat object literal (no spreads: this runs for every project of every list page); the
 * serializer writes the fields in the schema's order and leaves out the undefined ones.
 */
export function presentListItem(p: ProjectListRow & WithPermission) {
  return {
    id: p.id,
    platform_id: platformOf(p.region_id),
    region_id: p.region_id,
    name: p.name,
    provisioner: p.provisioner,
    default_endpoint_settings: parseJson<DefaultEndpointSettings>(p.default_endpoint_settings, {}),
    settings: parseJson<ProjectSettings>(p.settings, {}),
    pg_version: p.pg_version,
    proxy_host: proxyHostOf(p.region_id),
    branch_logical_size_limit: BRANCH_LIMIT_MIB,
    branch_logical_size_limit_bytes: BRANCH_LIMIT_MIB * 1024 * 1024,
    store_passwords: p.store_passwords === 1,
    cpu_used_sec: 0,
    creation_source: p.creation_source,
    history_retention_seconds: p.history_retention_seconds,
    created_at: toWireTime(p.created_at),
    updated_at: toWireTime(p.updated_at),
    owner_id: p.owner_id,
    org_id: p.org_id || undefined,
    effective_project_permission: p.permission,
    active_time: 0,
    org_name: p.org_name || undefined,
    deleted_at: p.deleted_at ? toWireTime(p.deleted_at) : undefined,
    recoverable_until: p.deleted_at
      ? toWireTime(new Date(Date.parse(p.deleted_at) + RECOVERY_WINDOW_MS).toISOString())
      : undefined,
  };
}

/** The consumption period is the current calendar month (UTC). */
function consumptionPeriod(now = new Date()) {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return { start: toWireTime(start.toISOString()), end: toWireTime(end.toISOString()) };
}

export function presentProject(p: ProjectRow & WithPermission) {
  const period = consumptionPeriod();
  return {
    ...common(p),
    ...permissionOf(p),
    data_storage_bytes_hour: 0,
    data_transfer_bytes: 0,
    written_data_bytes: 0,
    compute_time_seconds: 0,
    active_time_seconds: 0,
    consumption_period_start: period.start,
    consumption_period_end: period.end,
  };
}

export function presentOperation(o: ProjectOperationRow) {
  return {
    id: o.id,
    project_id: o.project_id,
    ...(o.branch_id ? { branch_id: o.branch_id } : {}),
    ...(o.endpoint_id ? { endpoint_id: o.endpoint_id } : {}),
    action: o.action,
    status: o.status,
    ...(o.error ? { error: o.error } : {}),
    failures_count: o.failures_count ?? 0,
    created_at: toWireTime(o.created_at),
    updated_at: toWireTime(o.updated_at),
    total_duration_ms: Math.max(0, Date.parse(o.updated_at) - Date.parse(o.created_at)),
  };
}

export function presentBranch(p: ProjectRow) {
  const at = toWireTime(p.created_at);
  return {
    id: p.branch_id,
    project_id: p.id,
    name: p.branch_name,
    current_state: 'ready',
    state_changed_at: at,
    creation_source: p.creation_source,
    primary: true,
    default: true,
    protected: false,
    cpu_used_sec: 0,
    compute_time_seconds: 0,
    active_time_seconds: 0,
    written_data_bytes: 0,
    data_transfer_bytes: 0,
    created_at: at,
    updated_at: at,
  };
}

export function presentEndpoint(p: ProjectRow) {
  const s = endpointSettingsOf(p);
  const at = toWireTime(p.created_at);
  return {
    host: endpointHost(p.endpoint_id, p.region_id),
    id: p.endpoint_id,
    project_id: p.id,
    branch_id: p.branch_id,
    autoscaling_limit_min_cu: s.autoscaling_limit_min_cu ?? 0.25,
    autoscaling_limit_max_cu: s.autoscaling_limit_max_cu ?? 2,
    region_id: p.region_id,
    type: 'read_write',
    current_state: 'idle',
    settings: s.pg_settings ? { pg_settings: s.pg_settings } : {},
    pooler_enabled: false,
    pooler_mode: 'transaction',
    disabled: false,
    passwordless_access: true,
    creation_source: p.creation_source,
    created_at: at,
    updated_at: at,
    proxy_host: proxyHostOf(p.region_id),
    suspend_timeout_seconds: s.suspend_timeout_seconds ?? 0,
    provisioner: p.provisioner,
  };
}

/** The default database (Neon's Database). */
export function presentDatabase(p: ProjectRow) {
  const at = toWireTime(p.created_at);
  return {
    id: databaseIdOf(p.id),
    branch_id: p.branch_id,
    name: p.database_name,
    owner_name: p.role_name,
    created_at: at,
    updated_at: at,
  };
}

/** The default role (Neon's Role), without its password: only reveal_password shows that. */
export function presentRole(p: ProjectRow) {
  const at = toWireTime(p.created_at);
  return { branch_id: p.branch_id, name: p.role_name, protected: false, created_at: at, updated_at: at };
}

/** orgplane keeps no branch annotations; Neon's spec requires the field, so it is empty. */
export const emptyAnnotation = (branchId: string) => ({
  object: { type: 'console/branch', id: branchId },
  value: {},
});
