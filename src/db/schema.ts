// Table interfaces for Kysely. Timestamps are ISO-8601 UTC strings with milliseconds on both
// SQLite and PostgreSQL (TEXT columns), so both databases sort and compare them identically.
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

import type { MemberRole } from '../domain/roles.ts';
// The role list lives in domain/roles.ts; re-exported for the CLI, which imports it from here.
export { MEMBER_ROLES, type MemberRole } from '../domain/roles.ts';

export interface UsersTable {
  id: string; // uuid
  email: string;
  /** Lower-cased email: the unique key; emails compare case-insensitively. */
  email_lower: string;
  name: string;
  last_name: string;
  image: string;
  password_hash: string | null;
  created_at: string;
  updated_at: string;
}

export interface OrganizationsTable {
  id: string; // org-word-word-12345678
  name: string;
  handle: string;
  plan: string;
  managed_by: string;
  created_at: string;
  updated_at: string;
  /** Extension: keys of this organization must expire within this many days (null: no limit). */
  max_api_key_lifetime_days: number | null;
}

export interface MembersTable {
  id: string; // uuid: the member id used in /members/{member_id}
  org_id: string;
  user_id: string;
  role: MemberRole;
  /** Copy of the user's lower-cased email so members can be sorted and paged by email with an index. */
  email: string;
  joined_at: string;
}

export type ApiKeyKind = 'personal' | 'org' | 'project';

export interface ApiKeysTable {
  id: Generated<number>;
  kind: ApiKeyKind;
  name: string;
  /** SHA-256 (hex) of the token; the token itself is never stored. */
  token_hash: string;
  /** Owner of a personal key. */
  user_id: string | null;
  org_id: string | null;
  project_id: string | null;
  /** User who created the key. */
  created_by: string;
  created_at: string;
  last_used_at: string | null;
  last_used_from_addr: string;
  revoked_at: string | null;
  /** After this instant (whole seconds) the key answers 401; null: never. */
  expires_at: Generated<string | null>;
  /** 0 | 1: a honeytoken; every use answers 401 and alerts. */
  canary: Generated<number>;
  /** The key that replaced this one by rotation. */
  rotated_to_id: Generated<number | null>;
  /** When the last canary alert email was queued (one per key per hour). */
  canary_alerted_at: Generated<string | null>;
}

/** Each use of a canary key (kept here until an audit log takes the event). */
export interface ApiKeyCanaryUsesTable {
  id: Generated<number>;
  key_id: number;
  org_id: string | null;
  user_id: string | null;
  used_at: string;
  addr: string;
  user_agent: string;
  /** 0 | 1: this use queued the alert email. */
  emailed: number;
}

/** A POST's Idempotency-Key per principal (scope), its first response once done. */
export interface IdempotencyKeysTable {
  scope: string;
  key: string;
  /** SHA-256 of method, path and canonical body: a retry must match. */
  fingerprint: string;
  state: 'running' | 'done';
  status: number | null;
  /** The first response's body, with every token redacted. */
  response: string | null;
  /** 0 | 1 */
  token_redacted: number;
  created_at: string;
  /** A running claim older than this was abandoned (its process died) and may be taken over. */
  locked_until: string;
  expires_at: string;
}

export interface ProjectsTable {
  id: string;
  /** null: a personal project (owner only; see POST /users/me/projects/transfer). */
  org_id: string | null;
  owner_id: string;
  name: string;
  region_id: Generated<string>;
  pg_version: Generated<number>;
  provisioner: Generated<string>;
  /** 0 | 1 */
  store_passwords: Generated<number>;
  history_retention_seconds: Generated<number>;
  /** JSON: ProjectSettingsData */
  settings: Generated<string>;
  /** JSON: DefaultEndpointSettings */
  default_endpoint_settings: Generated<string>;
  creation_source: Generated<string>;
  branch_id: Generated<string>;
  branch_name: Generated<string>;
  endpoint_id: Generated<string>;
  database_name: Generated<string>;
  role_name: Generated<string>;
  /** JSON array of ApplicationType */
  integrations: Generated<string>;
  /**
   * The default role's password, kept only when store_passwords is on (as Neon keeps it, to
   * reveal it); null otherwise and for projects created before migration 0008. orgplane runs no
   * Postgres, so it opens nothing; it is never logged and leaves only through reveal_password
   * and connection_uri.
   */
  role_password: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

/** A one-time, expiring request to move a project to whoever accepts it (Neon's claim links). */
export interface ProjectTransferRequestsTable {
  id: string; // uuid
  project_id: string;
  /** The project's organization when the request was made (null: personal); accepting requires it still is. */
  source_org_id: string | null;
  /** The user who made it (for an organization key, the key's creator). */
  created_by: string;
  created_at: string;
  expires_at: string;
  accepted_at: string | null;
  accepted_by: string | null;
  accepted_org_id: string | null;
  /** Extension: cancelled by an admin of the source organization (or its creator); it no longer works. */
  cancelled_at: string | null;
  cancelled_by: string | null;
  /** The organization key that made it (null: a user); the request works only while that key does. */
  created_by_key_id: number | null;
}

export interface ProjectOperationsTable {
  id: string; // uuid
  project_id: string;
  branch_id: string | null;
  endpoint_id: string | null;
  action: string;
  /** Neon's OperationStatus: 'running' while compute work is under way, then 'finished' or 'failed'. */
  status: string;
  created_at: string;
  updated_at: string;
  /** Why it failed (migration 0012). */
  error: Generated<string | null>;
  failures_count: Generated<number>;
  /** Internal: what a restart redoes or undoes while status is 'running' (src/branches/reconcile.ts). */
  kind: Generated<string | null>;
  /** Internal: JSON arguments of kind (secrets in it sealed). */
  detail: Generated<string | null>;
}

/** A branch of a project (migration 0012): one data directory per branch when compute runs. */
export interface BranchesTable {
  id: string;
  project_id: string;
  parent_id: string | null;
  name: string;
  /** 0 | 1 */
  is_default: number;
  /** 0 | 1 */
  protected: number;
  expires_at: string | null;
  ttl_interval_seconds: number | null;
  /** 'init' while its data is being made (a pending operation), 'ready' after. */
  state: string;
  creation_source: string;
  last_reset_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface EndpointsTable {
  id: string;
  project_id: string;
  branch_id: string;
  name: string | null;
  type: 'read_write' | 'read_only';
  /** The loopback port orgplane listens on (null when compute is off). */
  port: number | null;
  suspend_timeout_seconds: number;
  /** 0 | 1 */
  disabled: number;
  autoscaling_limit_min_cu: number;
  autoscaling_limit_max_cu: number;
  /** 0 | 1 */
  pooler_enabled: number;
  pooler_mode: string;
  /** JSON: EndpointSettingsData */
  settings: string;
  creation_source: string;
  created_at: string;
  updated_at: string;
}

export interface BranchRolesTable {
  branch_id: string;
  name: string;
  project_id: string;
  /** Sealed with the server key (src/domain/secret-box.ts); null: not stored. */
  password_enc: string | null;
  /** 0 | 1 */
  protected: number;
  /** 0 | 1 */
  no_login: number;
  created_at: string;
  updated_at: string;
}

export interface BranchDatabasesTable {
  branch_id: string;
  name: string;
  id: number;
  project_id: string;
  owner_name: string;
  created_at: string;
  updated_at: string;
}

/** A console sign-in. The cookie carries the id; only its SHA-256 is stored. */
export interface SessionsTable {
  id_hash: string;
  user_id: string;
  /** Sent back by the console in X-CSRF-Token on unsafe requests. */
  csrf_token: string;
  created_at: string;
  expires_at: string;
}

/** One-time link to set a password (the bootstrap admin, `orgplane users setup-link`). */
export interface PasswordSetupTokensTable {
  token_hash: string;
  user_id: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export type InvitationStatus = 'pending' | 'accepted' | 'revoked' | 'expired';
export type EmailStatus = 'pending' | 'sent' | 'failed' | 'cancelled';

export interface InvitationsTable {
  id: string; // uuid
  org_id: string;
  email: string;
  email_lower: string;
  role: MemberRole;
  invited_by: string;
  invited_at: string;
  status: InvitationStatus;
  expires_at: string;
  accepted_at: string | null;
  accepted_user_id: string | null;
  revoked_at: string | null;
  /** SHA-256 (hex) of the join link's token; the token itself is never stored here. */
  token_hash: string | null;
  email_status: EmailStatus;
  updated_at: string;
}

/**
 * A project shared with an email address (Neon's ProjectPermission). Access follows the address:
 * the account whose email_lower matches holds the grant while revoked_at is null, whether it
 * existed at grant time or signs up later (through the emailed link, signup_token_hash).
 */
export interface ProjectPermissionsTable {
  id: string; // uuid
  project_id: string;
  email: string;
  email_lower: string;
  /** The user who granted it; null when an organization or project-scoped key did. */
  granted_by: string | null;
  granted_at: string;
  revoked_at: string | null;
  /** SHA-256 (hex) of the sign-up link's token, for an address without an account; null once used. */
  signup_token_hash: string | null;
  signup_expires_at: string | null;
}

export type OutboxStatus = 'pending' | 'sending' | 'sent' | 'dead' | 'cancelled';

export interface MailOutboxTable {
  id: string; // uuid
  kind: string;
  org_id: string | null;
  invitation_id: string | null;
  recipient: string;
  subject: string;
  text_body: string;
  html_body: string;
  message_id: string;
  status: OutboxStatus;
  attempts: number;
  /** 5xx refusals so far; dead-lettered after config.mail.maxPermanentFailures. */
  permanent_failures: number;
  next_attempt_at: string;
  locked_until: string | null;
  last_error: string | null;
  sent_at: string | null;
  created_at: string;
}

/** One audit event (migration 0010); see src/audit/audit.repository.ts for the hash chain. */
export interface AuditEventsTable {
  id: string;
  /** "org:<org_id>" or "user:<user_id>" (events outside organizations). */
  chain: string;
  seq: number;
  at: string;
  org_id: string | null;
  action: string;
  actor_id: string;
  actor_email: string | null;
  /** JSON of the actor. */
  actor: string;
  target_type: string;
  target_id: string | null;
  request_id: string | null;
  client_addr: string | null;
  outcome: 'allowed' | 'denied';
  status: number;
  /** JSON of the changed fields (never a secret). */
  changes: string;
  prev_hash: string;
  hash: string;
}

export interface AuditChainsTable {
  chain: string;
  seq: number;
  head_hash: string;
  anchor_seq: number;
  anchor_hash: string;
}

export interface Database {
  users: UsersTable;
  organizations: OrganizationsTable;
  members: MembersTable;
  api_keys: ApiKeysTable;
  projects: ProjectsTable;
  project_operations: ProjectOperationsTable;
  branches: BranchesTable;
  endpoints: EndpointsTable;
  branch_roles: BranchRolesTable;
  branch_databases: BranchDatabasesTable;
  project_transfer_requests: ProjectTransferRequestsTable;
  sessions: SessionsTable;
  password_setup_tokens: PasswordSetupTokensTable;
  invitations: InvitationsTable;
  mail_outbox: MailOutboxTable;
  audit_events: AuditEventsTable;
  audit_chains: AuditChainsTable;
  /** Invitation emails queued per organization and minute ('YYYY-MM-DDTHH:MM', UTC): the hourly limit. */
  invitation_sends: { org_id: string; minute: string; n: number };
  project_permissions: ProjectPermissionsTable;
  api_key_canary_uses: ApiKeyCanaryUsesTable;
  idempotency_keys: IdempotencyKeysTable;
  /** One row (id 1): the server key every stored role password was last resealed under (migration 0014). */
  secret_reseals: { id: number; key_id: string; resealed_at: string };
  /** SQLite only: bumped by triggers on every access change (migration 0006). */
  access_version: { id: number; n: number };
}

export type UserRow = Selectable<UsersTable>;
export type OrganizationRow = Selectable<OrganizationsTable>;
export type MemberRow = Selectable<MembersTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type NewApiKey = Insertable<ApiKeysTable>;
export type ProjectRow = Selectable<ProjectsTable>;
export type NewProject = Insertable<ProjectsTable>;
export type ProjectOperationRow = Selectable<ProjectOperationsTable>;
export type BranchRow = Selectable<BranchesTable>;
export type EndpointRow = Selectable<EndpointsTable>;
export type BranchRoleRow = Selectable<BranchRolesTable>;
export type BranchDatabaseRow = Selectable<BranchDatabasesTable>;
export type ProjectTransferRequestRow = Selectable<ProjectTransferRequestsTable>;
export type OrganizationUpdate = Updateable<OrganizationsTable>;
export type SessionRow = Selectable<SessionsTable>;
export type PasswordSetupTokenRow = Selectable<PasswordSetupTokensTable>;
export type InvitationRow = Selectable<InvitationsTable>;
export type OutboxRow = Selectable<MailOutboxTable>;
export type ProjectPermissionRow = Selectable<ProjectPermissionsTable>;
