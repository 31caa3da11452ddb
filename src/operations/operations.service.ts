// A project's operations: list (newest first, cursor = last id) and read. No Fastify here.
import type { Db } from '../db/connect.ts';
import type { ProjectOperationRow } from '../db/schema.ts';
import { badRequest } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import { liveProject } from '../projects/live-project.ts';
import type { SubjectSource } from '../policy/subjects.ts';
import { findOperation, listOperationsPage } from '../projects/operations.repository.ts';

export class OperationsService {
  constructor(
    private readonly db: Db,
    private readonly access: SubjectSource,
  ) {}

  private async projectId(principal: Principal, projectId: string): Promise<string> {
    const p = await liveProject(this.db.kysely, this.access, principal, projectId, 'project:operation_read');
    return p.id;
  }

  async list(
    principal: Principal,
    projectId: string,
    q: { cursor?: string | undefined; limit?: number | undefined },
  ): Promise<{ operations: ProjectOperationRow[]; cursor: string | undefined }> {
    const id = await this.projectId(principal, projectId);
    const k = this.db.kysely;
    let after: { created_at: string; id: string } | undefined;
    if (q.cursor !== undefined) {
      const op = await findOperation(k, id, q.cursor);
      if (!op) throw badRequest('cursor is not valid: pass pagination.cursor from the previous page');
      after = op;
    }
    const operations = await listOperationsPage(k, id, q.limit ?? 10, after);
    return { operations, cursor: operations[operations.length - 1]?.id };
  }
}
