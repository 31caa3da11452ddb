// Neon's restrictions on branch expiration (its "Branch expiration" guide): a protected branch and
// the default branch cannot expire, and a branch that expires can be neither protected nor made
// the default. The 400 bodies (code and message) are Neon's own, as its CLI's test fixtures answer.
// The guide's third restriction, that a branch with children cannot expire (nor an expiring branch
// get children), has no documented body: orgplane's own code and message say so, in Neon's shape.
import { neonBadRequest } from '../domain/errors.ts';

export const PROTECTED_BRANCH_EXPIRATION = {
  code: 'PROTECTED_BRANCH_EXPIRATION_NOT_ALLOWED',
  message: 'Protected branch cannot have an expiration date',
} as const;
export const DEFAULT_BRANCH_EXPIRATION = {
  code: 'DEFAULT_BRANCH_EXPIRATION_NOT_ALLOWED',
  message: 'Default branch cannot have an expiration date',
} as const;

export const PARENT_BRANCH_EXPIRATION = {
  code: 'PARENT_BRANCH_EXPIRATION_NOT_ALLOWED',
  message: 'Branch with child branches cannot have an expiration date',
} as const;
export const CHILD_OF_EXPIRING_BRANCH = {
  code: 'PARENT_BRANCH_EXPIRATION_NOT_ALLOWED',
  message: 'Cannot create a child of a branch that has an expiration date',
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

/** Refuses (400) an expiration on a branch that has children: deleting it would orphan them. */
export function checkParentMayExpire(expiresAt: string | null, children: number): void {
  if (expiresAt !== null && children > 0) {
    throw neonBadRequest(PARENT_BRANCH_EXPIRATION.code, PARENT_BRANCH_EXPIRATION.message);
  }
}

/** Refuses (400) a new child of an expiring branch, for the same reason. */
export function checkParentOfNewBranch(parent: { expires_at: string | null }): void {
  if (parent.expires_at !== null) {
    throw neonBadRequest(CHILD_OF_EXPIRING_BRANCH.code, CHILD_OF_EXPIRING_BRANCH.message);
  }
}
