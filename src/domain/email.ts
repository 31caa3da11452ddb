// Email addresses: what we accept, and how we normalize them.
import { badRequest } from './errors.ts';

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

// The address shape Neon's spec declares (format: email, as ajv-formats checks it): an invitation
// we answer with must validate for Neon's clients, so anything else is refused up front.
export const SPEC_EMAIL =
  /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i;

/** The right side of the Message-IDs we send: the public host, or a fixed name without one. */
export function messageDomainOf(publicUrl: string): string {
  try {
    return new URL(publicUrl).hostname || 'orgplane.local';
  } catch {
    return 'orgplane.local';
  }
}
