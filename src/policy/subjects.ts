// Who the caller is relative to an organization or a project. Services depend on this interface,
// not on the authenticator that implements it (src/auth/), so imports keep running downwards.
import type { Kysely, Transaction } from 'kysely';
import type { Database, ProjectRow } from '../db/schema.ts';
import type { Principal } from '../domain/principal.ts';
import type { MemberRole } from '../domain/roles.ts';
import type { Subject } from './index.ts';

export interface SubjectSource {
  /** The caller relative to orgId (and projectId for project-level actions). */
  subjectFor(
    principal: Principal,
    orgId: string,
    projectId?: string,
    trx?: Transaction<Database>,
  ): Promise<Subject>;
  /** The user's role in the organization, or null when not a member. */
  roleOf(
    userId: string,
    orgId: string,
    principal?: Principal,
    trx?: Kysely<Database>,
  ): Promise<MemberRole | null>;
  /** Whether the user holds a live grant on the project (a share). */
  sharedWith(
    principal: Extract<Principal, { kind: 'user' }>,
    projectId: string,
    trx?: Kysely<Database>,
  ): Promise<boolean>;
}

/**
 * The caller relative to a project. Organization projects use the organization's subject; a
 * personal project (org_id null) exists only for its owner, who has admin rights over it.
 */
export async function projectSubject(
  access: SubjectSource,
  principal: Principal,
  p: Pick<ProjectRow, 'id' | 'org_id' | 'owner_id'>,
  trx?: Transaction<Database>,
): Promise<Subject> {
  if (p.org_id !== null) return access.subjectFor(principal, p.org_id, p.id, trx);
  if (principal.kind === 'user') {
    if (principal.userId === p.owner_id) return { kind: 'user', role: 'admin' };
    // Someone else's personal project: reachable only when its owner shared it with this user.
    return { kind: 'user', role: null, shared: await access.sharedWith(principal, p.id, trx) };
  }
  return principal.kind === 'org_key'
    ? { kind: 'org_key', sameOrg: false }
    : { kind: 'project_key', sameOrg: false, sameProject: false };
}
