// The endpoint record a serverless request names, with whether its project still exists. Executor
// first: reads only, no transaction needed.
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';

export interface EndpointForConnection {
  id: string;
  port: number | null;
  disabled: number;
  project_deleted_at: string | null;
}

export function findEndpointForConnection(
  db: Kysely<Database>,
  by: { id: string } | { port: number },
): Promise<EndpointForConnection | undefined> {
  let q = db
    .selectFrom('endpoints as e')
    .innerJoin('projects as p', 'p.id', 'e.project_id')
    .select(['e.id as id', 'e.port as port', 'e.disabled as disabled', 'p.deleted_at as project_deleted_at']);
  q = 'id' in by ? q.where('e.id', '=', by.id) : q.where('e.port', '=', by.port);
  return q.executeTakeFirst();
}
