// Extension: what the caller may do on one project, every project-level action of the policy
// answered by decide() for the caller's subject on that project (organization role, a live share
// grant, a personal project's owner). The console follows it for a project's controls, so a
// collaborator or a user with only a shared project gets exactly the buttons the API accepts.
import type { Db } from '../db/connect.ts';
import { notFound } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import type { SubjectSource } from '../policy/subjects.ts';
import { authorize, decide, RULES, type Action } from '../policy/index.ts';
import type { Capability, ProjectPermissionLevel } from '../policy/index.ts';
import { findProject } from './projects.repository.ts';
import { projectSubject } from '../policy/subjects.ts';
import { levelFor } from './projects.service.ts';

export interface ProjectCapabilities {
  project_id: string;
  org_id: string | null;
  effective_project_permission?: ProjectPermissionLevel | undefined;
  actions: Partial<Record<Action, Capability>>;
}

export class ProjectCapabilitiesService {
  constructor(
    private readonly db: Db,
    private readonly access: SubjectSource,
  ) {}

  async get(principal: Principal, projectId: string): Promise<ProjectCapabilities> {
    const p = await findProject(this.db.kysely, projectId);
    if (!p) throw notFound('project');
    const subject = await projectSubject(this.access, principal, p);
    // Who may not read the project learns nothing about it (the 404 of every other request).
    authorize('project:read', subject);
    if (p.deleted_at !== null) throw notFound('project');
    const actions: Partial<Record<Action, Capability>> = {};
    for (const action of Object.keys(RULES) as Action[]) {
      if (RULES[action].scope !== 'project') continue;
      const d = decide(action, subject);
      actions[action] = d.allow ? { allowed: true } : { allowed: false, reason: d.message };
    }
    return {
      project_id: p.id,
      org_id: p.org_id,
      effective_project_permission: levelFor(principal, p, subject),
      actions,
    };
  }
}
