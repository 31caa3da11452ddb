// The caller's own account: who am I, which organizations, how did I authenticate.
import type { Db } from '../db/connect.ts';
import type { OrganizationRow, UserRow } from '../db/schema.ts';
import { badRequest, conflict, notFound } from '../domain/errors.ts';
import type { AuthMethod, Principal } from '../domain/principal.ts';
import { authorize, accountSubject } from '../policy/index.ts';
import { findOrganization, listOrganizationsOfUser } from '../organizations/organizations.repository.ts';
import { isUniqueViolation } from '../db/connect.ts';
import { findUserByEmail, findUserById, insertUser } from './users.repository.ts';

/** RFC 5321 limits; CR, LF, commas and angle brackets would let an address inject mail headers. */
export function normalizeEmail(raw: string): string {
  const email = raw.trim();
  const at = email.lastIndexOf('@');
  if (
    email.length > 254 ||
    at < 1 ||
    at > 64 ||
    at === email.length - 1 ||
    // eslint-disable-next-line no-control-regex -- control characters are exactly what must be refused
    /[\s,<>;:"\\()[\]\u0000-\u001f\u007f]/.test(email) ||
    !/^[^@]+@[^@]+\.[^@.]+$|^[^@]+@localhost$/i.test(email)
  ) {
    throw badRequest(`"${raw.slice(0, 300)}" is not a valid email address`);
  }
  return email;
}

export class UsersService {
  constructor(private readonly db: Db) {}

  auth(principal: Principal): { account_id: string; auth_method: AuthMethod } {
    authorize('auth:read', accountSubject(principal));
    if (principal.kind === 'user') {
      return {
        account_id: principal.userId,
        auth_method: principal.keyId === null ? 'session_cookie' : 'api_key_user',
      };
    }
    return { account_id: principal.orgId, auth_method: 'api_key_org' };
  }

  async me(principal: Principal): Promise<UserRow> {
    authorize('user:read', accountSubject(principal));
    if (principal.kind !== 'user') throw new Error('unreachable: policy admits users only');
    const user = await findUserById(this.db.kysely, principal.userId);
    if (!user) throw notFound('user');
    return user;
  }

  /** A user's organizations; for an organization or project-scoped key, the one organization owning it. */
  async organizations(principal: Principal): Promise<OrganizationRow[]> {
    authorize('user:list_organizations', accountSubject(principal));
    if (principal.kind === 'user') return listOrganizationsOfUser(this.db.kysely, principal.userId);
    const org = await findOrganization(this.db.kysely, principal.orgId);
    return org ? [org] : [];
  }

  /** Operator path (CLI, bootstrap): creates a user; 409 if the email is taken. */
  async create(input: {
    email: string;
    name?: string | undefined;
    passwordHash?: string | null;
  }): Promise<UserRow> {
    const email = normalizeEmail(input.email);
    if (await findUserByEmail(this.db.kysely, email)) {
      throw conflict(`a user with email ${email} already exists`);
    }
    try {
      return await insertUser(this.db.kysely, {
        email,
        name: input.name ?? email.split('@')[0] ?? '',
        passwordHash: input.passwordHash ?? null,
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`a user with email ${email} already exists`);
      throw err;
    }
  }
}
