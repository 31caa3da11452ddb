// Neon's restrictions on branch expiration (its "Branch expiration" guide): a protected branch and
// the default branch cannot expire, and a branch that expires can be neither protected nor made
// the default. The 400 bodies (code and message) are Neon's own, as its CLI's test fixtures answer.
import { neonBadRequest } from '../domain/errors.ts';

export const PROTECTED_BRANCH_EXPIRATION = {
  code: 'PROTECTED_BRANCH_EXPIRATION_NOT_ALLOWED',
  message: 'Protected branch cannot have an expiration date',
} as const;
export const DEFAULT_BRANCH_EXPIRATION = {
  code: 'DEFAULT_BRANCH_EXPIRATION_NOT_ALLOWED',
  message: 'Default branch cannot have an expiration date',
} as const;

/** A branch as a change would leave it. */
export interface ExpirationState {
  is_default: number;
  protected: number;
  expires_at: string | null;
}

/** Refuses (Neon's 400) a change that would leave a protected or default branch with an expiration. */
export function checkExpirationAllowed(after: ExpirationState): void {
  if (after.expires_at === null) return;
  if (after.protected === 1) {
    throw neonBadRequest(PROTECTED_BRANCH_EXPIRATION.code, PROTECTED_BRANCH_EXPIRATION.message);
  }
  if (after.is_default === 1) {
    throw neonBadRequest(DEFAULT_BRANCH_EXPIRATION.code, DEFAULT_BRANCH_EXPIRATION.message);
  }
}
