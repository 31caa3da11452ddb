// Token shapes for tests, written from the definition (not from src/domain/ids.ts) so the
// tests can catch the implementation drifting: `napi_` + 64 base62 characters, the last 6 being
// the base62 CRC-32 (node:zlib's, an independent implementation) of everything before them.
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const TOKEN_SHAPE = /^napi_[A-Za-z0-9]{64}$/;

/** 6 base62 digits, most significant first. */
export function checksumOf(head: string): string {
  let n = crc32(head);
  let out = '';
  for (let i = 0; i < 6; i++) {
    out = BASE62.charAt(n % 62) + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export function hasValidChecksum(token: string): boolean {
  return TOKEN_SHAPE.test(token) && checksumOf(token.slice(0, -6)) === token.slice(-6);
}

export function randomBase62(n: number): string {
  let out = '';
  for (const b of randomBytes(n)) out += BASE62.charAt(b % 62);
  return out;
}

/** Right shape, random tail: the checksum (almost surely) does not match. */
export function randomShapedToken(): string {
  return `napi_${randomBase62(64)}`;
}

/** Right shape and a valid checksum, but never issued: an unknown key. */
export function forgedValidToken(): string {
  const head = `napi_${randomBase62(58)}`;
  return head + checksumOf(head);
}

/** The same token with its last character changed: the checksum no longer matches. */
export function withBadChecksum(token: string): string {
  const last = token.slice(-1);
  const swapped = BASE62.charAt((BASE62.indexOf(last) + 1) % 62);
  const bad = token.slice(0, -1) + swapped;
  if (hasValidChecksum(bad)) throw new Error('unreachable: one changed character always breaks a CRC');
  return bad;
}
