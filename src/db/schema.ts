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
  sessions: SessionsTable;
  password_setup_tokens: PasswordSetupTokensTable;
  invitations: InvitationsTable;
  mail_outbox: MailOutboxTable;
  audit_events: AuditEventsTable;
  audit_chains: AuditChainsTable;
  /** Invitation emails queued per organization and minute ('YYYY-MM-DDTHH:MM', UTC): the hourly limit. */
  invitation_sends: { org_id: string; minute: string; n: number };
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
