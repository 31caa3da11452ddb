// API key use cases: personal keys; organization and project-scoped keys; and the extensions
// expiry (with an organization's maximum lifetime), rotation with overlap, and canary keys.
import type { Kysely } from 'kysely';
import type { Db } from '../db/connect.ts';
import { withTransaction } from '../db/connect.ts';
import { findOrganization, lockOrganization } from '../db/organizations.repository.ts';
import type { ApiKeyKind, ApiKeyRow, Database } from '../db/schema.ts';
import { badRequest, conflict, notFound } from '../domain/errors.ts';
import { hashToken, newApiKeyToken } from '../domain/ids.ts';
import type { Principal } from '../domain/principal.ts';
import { nowIso, systemClock, type Clock } from '../domain/time.ts';
import { authorize, accountSubject, can, type Subject } from '../policy/index.ts';
import type { SubjectSource } from '../policy/subjects.ts';
import {
  findKeyById,
  insertApiKey,
  isLiveProjectOf,
  listOrgKeys,
  listPersonalKeys,
  markRotated,
  revokeKey,
  type ApiKeyWithCreator,
} from './api-keys.repository.ts';
import type { LastUsedTracker } from './last-used.ts';
import { AuditContext } from '../audit/audit.ts';
import { appendAuditEvent } from '../audit/audit.repository.ts';
import { ownsPersonalKey, createKeyAction, revokeAction } from '../policy/actions.ts';

export interface CreatedKey {
  row: ApiKeyRow;
  /** The only time the token exists outside the caller's hands. */
  token: string;
}

export interface RotatedKey extends CreatedKey {
  /** The old key after rotation: expiring after the overlap, or revoked. */
  previous: ApiKeyRow;
}

/** Extension fields of a create request. */
export interface KeyOptions {
  expires_at?: string | undefined;
  canary?: boolean | undefined;
}

export interface RotateOptions {
  overlap_seconds?: number | undefined;
  expires_at?: string | undefined;
}

const DAY_MS = 86_400_000;

export interface NewKeyFields {
  name: string;
  createdBy: string;
  userId?: string;
  orgId?: string;
  projectId?: string;
  expiresAt?: string | null;
  canary?: boolean;
}

/**
 * The one home for creating an API key: the row and its api_key.created event, in the caller's
 * transaction. Every path that creates a key (this service, invitation and share sign-ups) comes
 * here, so every new key is audited the same way. ctx null: the caller writes its own event.
 */
export async function createKey(
  db: Kysely<Database>,
  kind: ApiKeyKind,
  fields: NewKeyFields,
  ctx: AuditContext | null,
): Promise<CreatedKey> {
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
    expires_at: fields.expiresAt ?? null,
    canary: fields.canary ? 1 : 0,
  });
  if (!ctx) return { row, token };
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

export class ApiKeysService {
  constructor(
    private readonly db: Db,
    private readonly access: SubjectSource,
    private readonly lastUsed: LastUsedTracker,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Inserts the key and its api_key.created event in one transaction (the caller's, or a new one). */
  private async create(
    kind: ApiKeyKind,
    fields: NewKeyFields,
    /** null: the caller writes its own event (rotation records one api_key.rotated). */
    ctx: AuditContext | null,
    db?: Kysely<Database>,
  ): Promise<CreatedKey> {
    if (!db) return withTransaction(this.db, (trx) => this.create(kind, fields, ctx, trx));
    return createKey(db, kind, fields, ctx);
  }

  /**
   * The stored expiry of a new key: whole seconds, in the future, and within the organization's
   * maximum lifetime when it has one (then a key without expiry is refused, not silently capped).
   */
  private expiryFor(requested: string | undefined, maxDays: number | null): string | null {
    const now = this.clock();
    if (requested === undefined) {
      if (maxDays !== null) {
        throw badRequest(
          `expires_at is required: this organization's API keys may live at most ${maxDays} days (max_api_key_lifetime_days)`,
        );
      }
      return null;
    }
    const ms = Date.parse(requested);
    if (Number.isNaN(ms)) throw badRequest('expires_at must be an RFC 3339 timestamp');
    const at = Math.floor(ms / 1000) * 1000;
    if (at <= now) throw badRequest('expires_at must be in the future');
    if (maxDays !== null && at > now + maxDays * DAY_MS) {
      throw badRequest(
        `expires_at is too far ahead: this organization's API keys may live at most ${maxDays} days (max_api_key_lifetime_days)`,
      );
    }
    return new Date(at).toISOString();
  }

  // --- personal keys -------------------------------------------------------------------------

  async listPersonal(principal: Principal): Promise<ApiKeyWithCreator[]> {
    authorize('personal_api_key:list', accountSubject(principal));
    if (principal.kind !== 'user') return [];
    await this.lastUsed.flush();
    return listPersonalKeys(this.db.kysely, principal.userId, this.nowIsoFromClock());
  }

  async createPersonal(
    principal: Principal,
    name: string,
    opts: KeyOptions,
    ctx: AuditContext,
  ): Promise<CreatedKey> {
    authorize('personal_api_key:create', accountSubject(principal));
    if (principal.kind !== 'user') throw new Error('unreachable: policy admits users only');
    // Personal keys belong to no organization: no maximum lifetime applies.
    const expiresAt = this.expiryFor(opts.expires_at, null);
    return this.create(
      'personal',
      {
        name,
        createdBy: principal.userId,
        userId: principal.userId,
        expiresAt,
        canary: opts.canary === true,
      },
      ctx,
    );
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

  async rotatePersonal(
    principal: Principal,
    keyId: number,
    opts: RotateOptions,
    ctx: AuditContext,
  ): Promise<RotatedKey> {
    authorize('personal_api_key:rotate', accountSubject(principal));
    const key = await findKeyById(this.db.kysely, keyId);
    if (!key || key.kind !== 'personal' || principal.kind !== 'user' || key.user_id !== principal.userId) {
      throw notFound('API key');
    }
    return withTransaction(this.db, (trx) => this.rotate(trx, key, opts, null, ctx));
  }

  // --- organization and project-scoped keys ---------------------------------------------------

  async listOrg(principal: Principal, orgId: string): Promise<ApiKeyWithCreator[]> {
    const subject = await this.access.subjectFor(principal, orgId);
    authorize('org_api_key:list', subject);
    await this.lastUsed.flush();
    const keys = await listOrgKeys(this.db.kysely, orgId, this.nowIsoFromClock());
    // Canary keys exist only for admins: anyone else holding a key must not learn which are traps.
    return can('org_api_key:list_canaries', subject) ? keys : keys.filter((k) => !k.canary);
  }

  async createOrg(
    principal: Principal,
    orgId: string,
    input: { key_name: string; project_id?: string | undefined } & KeyOptions,
    ctx: AuditContext,
  ): Promise<CreatedKey> {
    const subject = await this.access.subjectFor(principal, orgId);
    authorize(createKeyAction(input.project_id), subject);
    if (input.canary === true) authorize('org_api_key:create_canary', subject);
    if (principal.kind !== 'user') throw new Error('unreachable: policy admits users only');
    const userId = principal.userId;
    const canary = input.canary === true;
    if (input.project_id !== undefined) {
      const projectId = input.project_id;
      // Under the organization's lock: a concurrent transfer of this project (which locks the
      // source organization) either happens before, and the project is not found here, or after,
      // and then revokes this key with the others. Never a live key for a project that left.
      return withTransaction(this.db, async (trx) => {
        await lockOrganization(trx, orgId);
        const expiresAt = this.expiryFor(input.expires_at, await this.maxLifetime(trx, orgId));
        await this.liveProject(trx, orgId, projectId);
        return this.create(
          'project',
          { name: input.key_name, createdBy: userId, orgId, projectId, expiresAt, canary },
          ctx,
          trx,
        );
      });
    }
    const expiresAt = this.expiryFor(input.expires_at, await this.maxLifetime(this.db.kysely, orgId));
    return this.create('org', { name: input.key_name, createdBy: userId, orgId, expiresAt, canary }, ctx);
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
    const key = await this.findOrgKey(k, subject, orgId, keyId);
    authorize(revokeAction(principal, key), subject);
    const revoked = await this.revoke(key, ctx);
    // Only admins learn that it was a canary.
    return can('org_api_key:list_canaries', subject) ? revoked : { ...revoked, canary: 0 };
  }

  /** Rotation needs what creating that kind of key needs (and, for someone else's project key, an admin). */
  async rotateOrg(
    principal: Principal,
    orgId: string,
    keyId: number,
    opts: RotateOptions,
    ctx: AuditContext,
  ): Promise<RotatedKey> {
    const subject = await this.access.subjectFor(principal, orgId);
    const key = await this.findOrgKey(this.db.kysely, subject, orgId, keyId);
    if (key.kind === 'org') authorize('org_api_key:rotate', subject);
    else {
      const own = principal.kind === 'user' && key.created_by === principal.userId;
      authorize(own ? 'project_api_key:rotate_own' : 'project_api_key:rotate', subject);
    }
    if (key.canary) authorize('org_api_key:create_canary', subject);
    return withTransaction(this.db, async (trx) => {
      // The same lock as creation: a project moving out cannot gain a fresh key.
      await lockOrganization(trx, orgId);
      if (key.kind === 'project' && key.project_id) await this.liveProject(trx, orgId, key.project_id);
      return this.rotate(trx, key, opts, await this.maxLifetime(trx, orgId), ctx);
    });
  }

  /**
   * Old key → new key with the same name, kind, owner, project, creator and canary flag. The old
   * key is marked rotated exactly once (a concurrent second rotation gets 409) and then either
   * revoked (overlap 0) or given an expiry at the end of the overlap; rotation never extends it.
   */
  private async rotate(
    trx: Kysely<Database>,
    old: ApiKeyRow,
    opts: RotateOptions,
    maxDays: number | null,
    ctx: AuditContext,
  ): Promise<RotatedKey> {
    const now = this.clock();
    if (old.rotated_to_id !== null)
      throw conflict(`API key was already rotated (to key ${old.rotated_to_id})`);
    if (old.revoked_at !== null || (old.expires_at !== null && Date.parse(old.expires_at) <= now)) {
      throw conflict('API key is revoked or expired: only a live key can be rotated; create a new one');
    }
    // Without an explicit expiry the new key gets the old one's lifetime, counted from now.
    let requested = opts.expires_at;
    if (requested === undefined && old.expires_at !== null) {
      const lifetime = Date.parse(old.expires_at) - Date.parse(old.created_at);
      requested = new Date(Math.ceil((now + Math.max(lifetime, 1000)) / 1000) * 1000).toISOString();
    }
    const expiresAt = this.expiryFor(requested, maxDays);
    const created = await this.create(
      old.kind,
      {
        name: old.name,
        createdBy: old.created_by,
        ...(old.user_id ? { userId: old.user_id } : {}),
        ...(old.org_id ? { orgId: old.org_id } : {}),
        ...(old.project_id ? { projectId: old.project_id } : {}),
        expiresAt,
        canary: old.canary === 1,
      },
      null,
      trx,
    );
    const overlap = opts.overlap_seconds ?? 0;
    let set: { rotated_to_id: number; revoked_at?: string; expires_at?: string };
    if (overlap === 0) set = { rotated_to_id: created.row.id, revoked_at: nowIso() };
    else {
      // Whole seconds, rounded up: the old key works for at least the overlap asked for.
      const end = Math.ceil(now / 1000) * 1000 + overlap * 1000;
      const current = old.expires_at === null ? Infinity : Date.parse(old.expires_at);
      set = { rotated_to_id: created.row.id, expires_at: new Date(Math.min(end, current)).toISOString() };
    }
    // Another rotation or a revocation won the race; the new key is rolled back with this error.
    if (!(await markRotated(trx, old.id, set)))
      throw conflict('API key was rotated or revoked by another request');
    await appendAuditEvent(
      trx,
      ctx.event({
        action: 'api_key.rotated',
        orgId: old.org_id,
        userId: old.user_id ?? undefined,
        target: { type: 'api_key', id: String(old.id) },
        changes: { kind: old.kind, key_name: old.name, new_key_id: created.row.id, overlap_seconds: overlap },
      }),
    );
    const previous = await findKeyById(trx, old.id);
    return { ...created, previous: previous ?? { ...old, ...set } };
  }

  /** Outsiders and project-scoped keys are refused before learning whether the key exists. */
  private async findOrgKey(
    db: Kysely<Database>,
    subject: Subject,
    orgId: string,
    keyId: number,
  ): Promise<ApiKeyRow> {
    authorize('org_api_key:list', subject);
    const key = await findKeyById(db, keyId);
    if (!key || key.kind === 'personal' || key.org_id !== orgId) throw notFound('API key');
    // Canaries are not listed for non-admins, but otherwise answer exactly as an ordinary key
    // would (403 where revoking is refused, 200 where it is allowed): a different answer would
    // tell a key holder which keys are traps.
    return key;
  }

  private async liveProject(trx: Kysely<Database>, orgId: string, projectId: string): Promise<void> {
    if (!(await isLiveProjectOf(trx, orgId, projectId))) throw notFound('project');
  }

  private async maxLifetime(db: Kysely<Database>, orgId: string): Promise<number | null> {
    return (await findOrganization(db, orgId))?.max_api_key_lifetime_days ?? null;
  }

  private nowIsoFromClock(): string {
    return new Date(this.clock()).toISOString();
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
