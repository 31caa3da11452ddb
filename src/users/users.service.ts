// The caller's own account: who am I, how did I authenticate (their organizations: organizations/).
import type { Db } from '../db/connect.ts';
import type { UserRow } from '../db/schema.ts';
import { AppError, conflict, notFound } from '../domain/errors.ts';
import type { AuthMethod, Principal } from '../domain/principal.ts';
import { authorize, accountSubject } from '../policy/index.ts';
import { isUniqueViolation } from '../db/connect.ts';
import { findUserByEmail, findUserById, insertUser } from './users.repository.ts';
import { normalizeEmail } from '../domain/email.ts';

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

  /** Operator path (CLI): the user with this email; 404 naming the email when there is none. */
  async byEmail(email: string): Promise<UserRow> {
    const user = await findUserByEmail(this.db.kysely, email);
    if (!user) throw new AppError('NOT_FOUND', `user ${email} not found`);
    return user;
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
