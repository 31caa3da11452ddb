// Table interfaces for Kysely. Timestamps are ISO-8601 UTC strings with milliseconds on both
// SQLite and PostgreSQL (TEXT columns), so both databases sort and compare them identically.
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export type MemberRole = 'admin' | 'member';

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
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface ProjectOperationsTable {
  id: string; // uuid
  project_id: string;
  branch_id: string | null;
  endpoint_id: string | null;
  action: string;
  status: string;
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

export interface Database {
  users: UsersTable;
  organizations: OrganizationsTable;
  members: MembersTable;
  api_keys: ApiKeysTable;
  projects: ProjectsTable;
  project_operations: ProjectOperationsTable;
  sessions: SessionsTable;
  password_setup_tokens: PasswordSetupTokensTable;
  invitations: InvitationsTable;
  mail_outbox: MailOutboxTable;
  api_key_canary_uses: ApiKeyCanaryUsesTable;
  idempotency_keys: IdempotencyKeysTable;
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
export type OrganizationUpdate = Updateable<OrganizationsTable>;
export type SessionRow = Selectable<SessionsTable>;
export type PasswordSetupTokenRow = Selectable<PasswordSetupTokensTable>;
export type InvitationRow = Selectable<InvitationsTable>;
export type OutboxRow = Selectable<MailOutboxTable>;
