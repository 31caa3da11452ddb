// Branch, endpoint, role and database records → Neon's Branch / Endpoint / Role / Database shapes,
// and Neon's connection URIs built from an endpoint's real host.
import type { BranchDatabaseRow, BranchRoleRow, BranchRow, EndpointRow } from '../db/schema.ts';
import { toWireTime } from '../domain/time.ts';
import { neonConnectionUri } from '../domain/connection-uri.ts';
import { parseJson } from '../projects/projects.presenter.ts';
import type { DefaultChildren } from '../projects/projects.service.ts';

/** An endpoint with what the engine knows: where it listens and whether its compute runs. */
export type EndpointView = EndpointRow & {
  host: string;
  current_state: 'idle' | 'active' | 'init';
  region_id: string;
  proxy_host: string;
  provisioner: string;
};

export function presentBranch(b: BranchRow) {
  return {
    id: b.id,
    project_id: b.project_id,
    ...(b.parent_id ? { parent_id: b.parent_id } : {}),
    name: b.name,
    current_state: b.state === 'ready' ? 'ready' : 'init',
    ...(b.state === 'ready' ? {} : { pending_state: 'ready' }),
    state_changed_at: toWireTime(b.updated_at),
    creation_source: b.creation_source,
    primary: b.is_default === 1,
    default: b.is_default === 1,
    protected: b.protected === 1,
    cpu_used_sec: 0,
    compute_time_seconds: 0,
    active_time_seconds: 0,
    written_data_bytes: 0,
    data_transfer_bytes: 0,
    created_at: toWireTime(b.created_at),
    updated_at: toWireTime(b.updated_at),
    ...(b.expires_at ? { expires_at: toWireTime(b.expires_at) } : {}),
    ...(b.ttl_interval_seconds !== null ? { ttl_interval_seconds: b.ttl_interval_seconds } : {}),
    ...(b.last_reset_at ? { last_reset_at: toWireTime(b.last_reset_at) } : {}),
    init_source: 'parent-data',
  };
}

export function presentEndpoint(e: EndpointView) {
  return {
    host: e.host,
    id: e.id,
    ...(e.name ? { name: e.name } : {}),
    project_id: e.project_id,
    branch_id: e.branch_id,
    autoscaling_limit_min_cu: e.autoscaling_limit_min_cu,
    autoscaling_limit_max_cu: e.autoscaling_limit_max_cu,
    region_id: e.region_id,
    type: e.type,
    current_state: e.current_state,
    settings: parseJson<Record<string, unknown>>(e.settings, {}),
    pooler_enabled: e.pooler_enabled === 1,
    pooler_mode: e.pooler_mode,
    disabled: e.disabled === 1,
    passwordless_access: false,
    creation_source: e.creation_source,
    created_at: toWireTime(e.created_at),
    updated_at: toWireTime(e.updated_at),
    proxy_host: e.proxy_host,
    suspend_timeout_seconds: e.suspend_timeout_seconds,
    provisioner: e.provisioner,
  };
}

export function presentRole(r: BranchRoleRow, password?: string) {
  return {
    branch_id: r.branch_id,
    name: r.name,
    ...(password !== undefined ? { password } : {}),
    protected: r.protected === 1,
    created_at: toWireTime(r.created_at),
    updated_at: toWireTime(r.updated_at),
  };
}

export function presentDatabase(d: BranchDatabaseRow) {
  return {
    id: d.id,
    branch_id: d.branch_id,
    name: d.name,
    owner_name: d.owner_name,
    created_at: toWireTime(d.created_at),
    updated_at: toWireTime(d.updated_at),
  };
}

/** Neon's URI shape, with the endpoint's real host: what `neonctl cs` prints too. */
export const connectionUriFor = neonConnectionUri;

/** Neon's pooled host: "-pooler" after the endpoint id; a loopback host has no id, so it stays. */
export function pooledHost(host: string, endpointId: string): string {
  return host.replace(endpointId, `${endpointId}-pooler`);
}

export function connectionDetails(e: EndpointView, role: string, password: string, database: string) {
  return {
    connection_uri: connectionUriFor(e.host, role, password, database),
    connection_parameters: {
      database,
      password,
      role,
      host: e.host,
      pooler_host: pooledHost(e.host, e.id),
    },
  };
}

/** POST /projects with compute on: the default branch's records, its endpoint as the engine has it. */
export function presentDefaultChildren(ep: EndpointView, children: DefaultChildren, password: string) {
  const { branch, role, database } = children;
  return {
    connection_uris: [connectionDetails(ep, role.name, password, database.name)],
    roles: [presentRole(role, password)],
    databases: [presentDatabase(database)],
    branch: presentBranch(branch),
    endpoints: [presentEndpoint(ep)],
  };
}
