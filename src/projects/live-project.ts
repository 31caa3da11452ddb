// The check a project's children and operations start with, in one place: the project exists,
// the caller may do the action on it (decided before its state is revealed), and it is not deleted.
// No Fastify here.
import type { Kysely } from 'kysely';
import type { Database, ProjectRow } from '../db/schema.ts';
import { notFound } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import { authorize, type Action } from '../policy/index.ts';
import { projectSubject, type SubjectSource } from '../policy/subjects.ts';
import { findProject } from './projects.repository.ts';

/** The project, if the caller may act on it; 404 for missing, deleted and invisible ones. */
export async function liveProject(
  db: Kysely<Database>,
  access: SubjectSource,
  principal: Principal,
  projectId: string,
  action: Action,
): Promise<ProjectRow> {
  const p = await findProject(db, projectId);
  if (!p) throw notFound('project');
  authorize(action, await projectSubject(access, principal, p));
  if (p.deleted_at !== null) throw notFound('project');
  return p;
}
