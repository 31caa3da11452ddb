// Secrets orgplane must be able to give back (Neon reveals role passwords): sealed with
// AES-256-GCM under the server key, never stored in plain text. A sealed value names the key it
// was sealed with ("v1:<key id>:<iv|tag|ciphertext, base64url>"), so a key can be rotated: the
// previous key still opens old values and start-up reseals them under the current one.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { AppError } from './errors.ts';

const PREFIX = 'v1';

export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('orgplane-secret-key-id').update(key).digest('hex').slice(0, 12);
}

export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  readonly currentKeyId: string;

  /** current: 32 bytes; previous: keys that may still open older values (rotation). */
  constructor(
    private readonly current: Buffer,
    previous: Buffer[] = [],
  ) {
    if (current.length !== 32) throw new Error('the server key must be 32 bytes');
    this.currentKeyId = keyIdOf(current);
    for (const k of previous) if (k.length === 32) this.keys.set(keyIdOf(k), k);
    this.keys.set(this.currentKeyId, current);
  }

  static isSealed(value: string): boolean {
    return value.startsWith(`${PREFIX}:`);
  }

  /** The key id a sealed value names (undefined for anything else). */
  static keyIdOf(value: string): string | undefined {
    return SecretBox.isSealed(value) ? value.split(':')[1] : undefined;
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current, iv);
    // The key id is authenticated too: a value cannot be moved to another key's slot.
    cipher.setAAD(Buffer.from(this.currentKeyId));
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const blob = Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64url');
    return `${PREFIX}:${this.currentKeyId}:${blob}`;
  }

  open(sealed: string): string {
    const [prefix, keyId, blob] = sealed.split(':');
    const key = keyId === undefined ? undefined : this.keys.get(keyId);
    if (prefix !== PREFIX || blob === undefined || keyId === undefined || !key) {
      throw new AppError(
        'PRECONDITION_FAILED',
        'a stored password was sealed with a server key this server does not have (set ORGPLANE_SECRET_PREVIOUS to the old key; see docs/compute.md)',
      );
    }
    const raw = Buffer.from(blob, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(keyId));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}
