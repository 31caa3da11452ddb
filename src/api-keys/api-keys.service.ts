// API key use cases: authenticate a token; personal keys; organization and project-scoped keys.
import type { Kysely } from 'kysely';
import type { Db } from '../db/connect.ts';
import { withTransaction } from '../db/connect.ts';
import { lockOrganization } from '../organizations/organizations.repository.ts';
import type { ApiKeyKind, ApiKeyRow, Database } from '../db/schema.ts';
import { notFound } from '../domain/errors.ts';
import { hashToken, newApiKeyToken } from '../domain/ids.ts';
import type { Principal } from '../domain/principal.ts';
import { nowIso } from '../domain/time.ts';
import { authorize, accountSubject } from '../policy/index.ts';
import type { Authenticator } from '../auth/authenticator.ts';
import {
  findKeyById,
  insertApiKey,
  listOrgKeys,
  listPersonalKeys,
  revokeKey,
  type ApiKeyWithCreator,
} from './api-keys.repository.ts';
import type { LastUsedTracker } from './last-used.ts';
import { AuditContext } from '../audit/audit.ts';
import { appendAuditEvent } from '../audit/audit.repository.ts';

export interface CreatedKey {
  row: ApiKeyRow;
  /** The only time the token exists outside the caller's hands. */
  token: string;
}

export class ApiKeysService {
  constructor(
    private readonly db: Db,
    private readonly access: Authenticator,
    private readonly lastUsed: LastUsedTracker,
  ) {}

  /** Inserts the key and its api_key.created event in one transaction (the caller's, or a new one). */
  private async create(
    kind: ApiKeyKind,
    fields: { name: string; createdBy: string; userId?: string; orgId?: string; projectId?: string },
    ctx: AuditContext,
    db?: Kysely<Database>,
  ): Promise<CreatedKey> {
    if (!db) return withTransaction(this.db, (trx) => this.create(kind, fields, ctx, trx));
    const token = newApiKeyToken();
    const row = await insertApiKey(db, {
      kind,
      name: fields.name,
      token_hash: hashToken(token),
      user_id: fields.userId ?? null,
      org_id: fields.orgId ?? null,
      project_id: fields.projectId ?? null,
      created_by: fields.createdBy,
      created_at: nowIso(),
      last_used_at: null,
      last_used_from_addr: '',
      revoked_at: null,
    });
    await appendAuditEvent(
      db,
      ctx.event({
        action: 'api_key.created',
        orgId: row.org_id,
        userId: row.user_id ?? undefined,
        target: { type: 'api_key', id: String(row.id) },
        changes: { kind, key_name: row.name, project_id: row.project_id ?? undefined },
      }),
    );
    return { row, token };
  }

  // --- personal keys -------------------------------------------------------------------------

  async listPersonal(principal: Principal): Promise<ApiKeyWithCreator[]> {
    authorize('personal_api_key:list', accountSubject(principal));
    if (principal.kind !== 'user') return [];
    await this.lastUsed.flush();
    return listPersonalKeys(this.db.kysely, principal.userId);
  }

  async createPersonal(principal: Principal, name: string, ctx: AuditContext): Promise<CreatedKey> {
    authorize('personal_api_key:create', accountSubject(principal));
    if (principal.kind !== 'user') throw new Error('unreachable: policy admits users only');
    return this.createPersonalFor(principal.userId, name, ctx);
  }

  /** Operator path (CLI, bootstrap, invitation acceptance). */
  createPersonalFor(userId: string, name: string, ctx = AuditContext.operator()): Promise<CreatedKey> {
    return this.create('personal', { name, createdBy: userId, userId }, ctx);
  }

  async revokePersonal(principal: Principal, keyId: number, ctx: AuditContext): Promise<ApiKeyRow> {
    authorize('personal_api_key:revoke', accountSubject(principal));
    const key = await findKeyById(this.db.kysely, keyId);
    // Someone else's key does not exist for this caller.
    if (!key || !ownsPersonalKey(principal, key)) throw notFound('API key');
    return this.revoke(key, ctx);
  }

  // --- organization and project-scoped keys ---------------------------------------------------

  async listOrg(principal: Principal, orgId: string): Promise<ApiKeyWithCreator[]> {
    authorize('org_api_key:list', await this.access.subjectFor(principal, orgId));
    await this.lastUsed.flush();
    return listOrgKeys(this.db.kysely, orgId);
  }

  async createOrg(
    principal: Principal,
    orgId: string,
    input: { key_name: string; project_id?: string | undefined },
    ctx: AuditContext,
  ): Promise<CreatedKey> {
    const subject = await this.access.subjectFor(principal, orgId);
    authorize(createKeyAction(input.project_id), subject);
    if (principal.kind !== 'user') throw new Error('unreachable: policy admits users only');
    if (input.project_id !== undefined) {
      const projectId = input.project_id;
      const userId = principal.userId;
      // Under the organization's lock: a concurrent transfer of this project (which locks the
      // source organization) either happens before, and the project is not found here, or after,
      // and then revokes this key with the others. Never a live key for a project that left.
      return withTransaction(this.db, async (trx) => {
        await lockOrganization(trx, orgId);
        const project = await trx
          .selectFrom('projects')
          .select('id')
          .where('id', '=', projectId)
          .where('org_id', '=', orgId)
          .where('deleted_at', 'is', null)
          .executeTakeFirst();
        if (!project) throw notFound('project');
        return this.create(
          'project',
          { name: input.key_name, createdBy: userId, orgId, projectId: project.id },
          ctx,
          trx,
        );
      });
    }
    return this.create('org', { name: input.key_name, createdBy: principal.userId, orgId }, ctx);
  }

  /** Operator path (CLI): an organization key created on behalf of a user. */
  createOrgFor(
    userId: string,
    orgId: string,
    name: string,
    projectId?: string,
    ctx = AuditContext.operator(),
  ): Promise<CreatedKey> {
    return projectId
      ? this.create('project', { name, createdBy: userId, orgId, projectId }, ctx)
      : this.create('org', { name, createdBy: userId, orgId }, ctx);
  }

  async revokeOrg(principal: Principal, orgId: string, keyId: number, ctx: AuditContext): Promise<ApiKeyRow> {
    const k = this.db.kysely;
    const subject = await this.access.subjectFor(principal, orgId);
    // Outsiders and project-scoped keys are refused before learning whether the key exists.
    authorize('org_api_key:list', subject);
    const key = await findKeyById(k, keyId);
    if (!key || key.kind === 'personal' || key.org_id !== orgId) throw notFound('API key');
    authorize(revokeAction(principal, key), subject);
    return this.revoke(key, ctx);
  }

  /** Revoking is immediate (no cache to expire) and idempotent: a revoked key answers as revoked again. */
  private async revoke(key: ApiKeyRow, ctx: AuditContext): Promise<ApiKeyRow> {
    await this.lastUsed.flush();
    const at = nowIso();
    return withTransaction(this.db, async (trx) => {
      const revoked = await revokeKey(trx, key.id, at);
      await appendAuditEvent(
        trx,
        ctx.event({
          action: 'api_key.revoked',
          orgId: key.org_id,
          userId: key.user_id ?? undefined,
          target: { type: 'api_key', id: String(key.id) },
          changes: {
            kind: key.kind,
            key_name: key.name,
            already_revoked: key.revoked_at !== null || undefined,
          },
        }),
      );
      if (revoked) return revoked;
      return (await findKeyById(trx, key.id)) ?? { ...key, revoked_at: at };
    });
  }
}

/**
 * Which rule decides revoking an organization's key: a member's own project-scoped key, or any.
 * Shared by the request path and access/explain.
 */
export function revokeAction(
  principal: Principal,
  key: Pick<ApiKeyRow, 'kind' | 'created_by'>,
): 'org_api_key:revoke_own' | 'org_api_key:revoke' {
  const own = principal.kind === 'user' && key.kind === 'project' && key.created_by === principal.userId;
  return own ? 'org_api_key:revoke_own' : 'org_api_key:revoke';
}

/** Which rule decides creating an organization key: organization-wide, or project-scoped. */
export function createKeyAction(
  projectId: string | undefined,
): 'org_api_key:create' | 'project_api_key:create' {
  return projectId === undefined ? 'org_api_key:create' : 'project_api_key:create';
}

/** Whether the key is a personal key of the calling user (anyone else's does not exist for them). */
export function ownsPersonalKey(principal: Principal, key: Pick<ApiKeyRow, 'kind' | 'user_id'>): boolean {
  return key.kind === 'personal' && principal.kind === 'user' && key.user_id === principal.userId;
}
