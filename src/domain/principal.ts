// Who is calling. Built once per request by authentication; the policy module decides what it may do.

export type Principal =
  /** A person: through a personal API key or (in the console) a session. */
  | { kind: 'user'; userId: string; keyId: number | null }
  /** An organization key: admin-level, one organization, not tied to a user. */
  | { kind: 'org_key'; orgId: string; keyId: number }
  /** A project-scoped organization key: member-level, one project of one organization. */
  | { kind: 'project_key'; orgId: string; projectId: string; keyId: number };

export type AuthMethod = 'api_key_user' | 'api_key_org' | 'session_cookie';
