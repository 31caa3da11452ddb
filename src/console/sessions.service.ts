// Console sign-in: password checks, sessions (the cookie holds a random id; the database only its
// hash), per-session CSRF tokens, and one-time password-setup links. No Fastify imports.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/connect.ts';
import type { UserRow } from '../db/schema.ts';
import { AppError, badRequest } from '../domain/errors.ts';
import { burnPasswordCheck, hashPassword, passwordProblem, verifyPassword } from '../domain/passwords.ts';
import type { Principal } from '../domain/principal.ts';
import { addHours, nowIso } from '../domain/time.ts';
import { findUserByEmail, findUserById, setPasswordHash } from '../users/users.repository.ts';
import {
  claimSetupToken,
  deleteExpiredSessions,
  deleteSession,
  deleteSessionsOfUser,
  findSession,
  findSetupToken,
  insertSession,
  insertSetupToken,
} from './sessions.repository.ts';

export const SESSION_TTL_HOURS = 12;
export const SETUP_LINK_TTL_HOURS = 72;
/** Same answer for an unknown email and a wrong password: nobody learns which emails exist. */
export const BAD_CREDENTIALS = 'incorrect email or password';

const secret = () => randomBytes(32).toString('base64url');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
/** Session ids and setup tokens are 43 base64url characters; anything else is not looked up. */
const WELL_FORMED = /^[A-Za-z0-9_-]{43}$/;

export interface SessionInfo {
  user: UserRow;
  csrfToken: string;
  expiresAt: string;
}

export class SessionsService {
  constructor(private readonly db: Db) {}

  /** Checks the password and opens a NEW session (a fresh id: a pre-set cookie is never adopted). */
  async signIn(email: string, password: string): Promise<{ sessionId: string; info: SessionInfo }> {
    const user = await findUserByEmail(this.db.kysely, email.trim());
    if (!user || !user.password_hash) {
      await burnPasswordCheck(password);
      throw new AppError('UNAUTHORIZED', BAD_CREDENTIALS);
    }
    if (!(await verifyPassword(password, user.password_hash))) {
      throw new AppError('UNAUTHORIZED', BAD_CREDENTIALS);
    }
    return this.open(user);
  }

  /**
   * Opens a session for a user already proven by other means (e.g. accepting an invitation with a
   * new password). The caller sets the cookie with `startSessionCookie` from console.routes.ts.
   */
  async openFor(userId: string): Promise<{ sessionId: string; info: SessionInfo }> {
    const user = await findUserById(this.db.kysely, userId);
    if (!user) throw new AppError('NOT_FOUND', 'user not found');
    return this.open(user);
  }

  private async open(user: UserRow): Promise<{ sessionId: string; info: SessionInfo }> {
    const sessionId = secret();
    const now = nowIso();
    const row = {
      id_hash: sha256(sessionId),
      user_id: user.id,
      csrf_token: secret(),
      created_at: now,
      expires_at: addHours(now, SESSION_TTL_HOURS),
    };
    await insertSession(this.db.kysely, row);
    // Housekeeping: expired sessions of anyone go away as new ones open.
    await deleteExpiredSessions(this.db.kysely, now);
    return { sessionId, info: { user, csrfToken: row.csrf_token, expiresAt: row.expires_at } };
  }

  /** The live session for a cookie value, or null (unknown, malformed or expired). */
  async lookup(sessionId: string | undefined): Promise<SessionInfo | null> {
    if (!sessionId || !WELL_FORMED.test(sessionId)) return null;
    const row = await findSession(this.db.kysely, sha256(sessionId));
    if (!row || row.expires_at <= nowIso()) return null;
    const user = await findUserById(this.db.kysely, row.user_id);
    if (!user) return null;
    return { user, csrfToken: row.csrf_token, expiresAt: row.expires_at };
  }

  async principalFor(
    sessionId: string | undefined,
  ): Promise<{ principal: Principal; csrfToken: string } | null> {
    const s = await this.lookup(sessionId);
    return s ? { principal: { kind: 'user', userId: s.user.id, keyId: null }, csrfToken: s.csrfToken } : null;
  }

  async signOut(sessionId: string | undefined): Promise<void> {
    if (!sessionId || !WELL_FORMED.test(sessionId)) return;
    await deleteSession(this.db.kysely, sha256(sessionId));
  }

  /** A one-time link token to set the user's password; shown once, stored hashed. */
  async createSetupToken(userId: string): Promise<string> {
    const token = secret();
    const now = nowIso();
    await insertSetupToken(this.db.kysely, {
      token_hash: sha256(token),
      user_id: userId,
      created_at: now,
      expires_at: addHours(now, SETUP_LINK_TTL_HOURS),
      used_at: null,
    });
    return token;
  }

  /**
   * The operator's password reset (CLI `users setup-link`): every console session of the user ends
   * now, when the link is issued, not only once it is used; then a new one-time token.
   * Returns the token and how many sessions ended.
   */
  async issueSetupLink(userId: string): Promise<{ token: string; sessionsEnded: number }> {
    const sessionsEnded = await deleteSessionsOfUser(this.db.kysely, userId);
    const token = await this.createSetupToken(userId);
    return { token, sessionsEnded };
  }

  /** Whether a setup token can still be used (for the page to say so before the form is filled). */
  async setupTokenValid(token: string): Promise<boolean> {
    if (!WELL_FORMED.test(token)) return false;
    const row = await findSetupToken(this.db.kysely, sha256(token));
    return !!row && row.used_at === null && row.expires_at > nowIso();
  }

  /**
   * Sets the password and signs in. Single use even under concurrency: the token is claimed by a
   * conditional UPDATE; only the request that flips used_at proceeds. Every other session of the
   * user ends (a password reset must lock out whoever knew the old one).
   */
  async completeSetup(token: string, password: string): Promise<{ sessionId: string; info: SessionInfo }> {
    const problem = passwordProblem(password);
    if (problem) throw badRequest(problem);
    const gone = new AppError('GONE', 'this setup link is invalid, expired or already used');
    if (!WELL_FORMED.test(token)) throw gone;
    const now = nowIso();
    const hash = await hashPassword(password);
    const user = await this.db.kysely.transaction().execute(async (trx) => {
      const userId = await claimSetupToken(trx, sha256(token), now);
      if (!userId) return null;
      await setPasswordHash(trx, userId, hash, now);
      await deleteSessionsOfUser(trx, userId);
      return findUserById(trx, userId);
    });
    if (!user) throw gone;
    return this.open(user);
  }

  /** Constant-time comparison of the CSRF header with the session's token. */
  static csrfMatches(expected: string, given: string | string[] | undefined): boolean {
    if (typeof given !== 'string') return false;
    const a = Buffer.from(expected);
    const b = Buffer.from(given);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
