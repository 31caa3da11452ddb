// The default database's connection data, computed the same way for the create response,
// reveal_password and GET /projects/{id}/connection_uri, so all three always agree.
import { createHash } from 'node:crypto';
import type { ProjectRow } from '../db/schema.ts';
import { neonConnectionUri } from '../domain/connection-uri.ts';
import { endpointHost, poolerHost } from './regions.ts';

/** The default database's id: derived from the project id, so it never needs storing. */
export function databaseIdOf(projectId: string): number {
  const n = createHash('sha256').update(projectId).digest().readUInt32BE(0) & 0x7fffffff;
  return n === 0 ? 1 : n;
}

type ConnectionProject = Pick<ProjectRow, 'endpoint_id' | 'region_id' | 'role_name' | 'database_name'>;

/** Neon's URI shape: `postgresql://role:password@host/db?sslmode=require&channel_binding=require`. */
export function connectionUri(p: ConnectionProject, password: string, pooled = false): string {
  const host = pooled ? poolerHost(p.endpoint_id, p.region_id) : endpointHost(p.endpoint_id, p.region_id);
  return neonConnectionUri(host, p.role_name, password, p.database_name);
}
