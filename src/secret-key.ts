// The server key that seals revealable secrets (src/domain/secret-box.ts): ORGPLANE_SECRET
// (64 hex digits or 44 base64 characters) when set, else <data dir>/secret.key, made at first start
// with file mode 0600. ORGPLANE_SECRET_PREVIOUS (comma-separated) still opens values sealed under
// older keys while start-up reseals them (docs/compute.md: rotation).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config.ts';
import { SecretBox } from './domain/secret-box.ts';

export function parseKey(text: string, name: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (key.length !== 32) throw new Error(`${name} must be 32 bytes as 64 hex digits or base64`);
  return key;
}

function fileKey(dataDir: string): Buffer {
  const file = path.join(dataDir, 'secret.key');
  try {
    return parseKey(fs.readFileSync(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  try {
    // wx: two processes starting at once must not each write a different key.
    fs.writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      return parseKey(fs.readFileSync(file, 'utf8'), file);
    throw err;
  }
}

export function loadSecretBox(config: Pick<Config, 'secret' | 'previousSecrets' | 'dataDir'>): SecretBox {
  const current = config.secret ? parseKey(config.secret, 'ORGPLANE_SECRET') : fileKey(config.dataDir);
  const previous = config.previousSecrets.map((s, i) => parseKey(s, `ORGPLANE_SECRET_PREVIOUS[${i}]`));
  return new SecretBox(current, previous);
}
