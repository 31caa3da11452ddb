// Signed checkpoints: the audit log's witness outside the database. The hash chains alone prove
// nothing against someone who can write the database (they can recompute every hash, rewind a
// head, delete a chain or move a prune anchor). A checkpoint is every chain's head (sequence and
// hash, and its prune anchor) at one moment, signed with an Ed25519 key that is NOT in the
// database (ORGPLANE_AUDIT_KEY, or a 0600 file in the data directory), and written out as it is
// made (a file, or stdout for a log shipper). `orgplane audit verify --checkpoints FILE` then
// checks the database against every checkpoint: see docs/security.md for what that detects.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { canonicalJson } from './audit.ts';
import { findEventHash, listChains } from './audit.repository.ts';

export interface ChainHead {
  chain: string;
  seq: number;
  head_hash: string;
  anchor_seq: number;
  anchor_hash: string;
}

export interface Checkpoint {
  v: 1;
  /** When it was made (ISO 8601). */
  at: string;
  /** SHA-256 of the signing public key (SPKI DER), hex: which key signed it. */
  key_id: string;
  chains: ChainHead[];
}

export interface SignedCheckpoint {
  checkpoint: Checkpoint;
  /** Ed25519 signature of canonicalJson(checkpoint), base64. */
  sig: string;
}

export const KEY_FILE = 'audit-signing-key.pem';
export const PUBLIC_KEY_FILE = 'audit-signing-key.pub.pem';

/**
 * The signing key: ORGPLANE_AUDIT_KEY (PEM), else dataDir/audit-signing-key.pem, created (0600,
 * with its public half beside it) on first use.
 */
export function loadSigningKey(dataDir: string, pem?: string): KeyObject {
  if (pem) return checkEd25519(createPrivateKey(pem.replace(/\\n/g, '\n')));
  const file = path.join(dataDir, KEY_FILE);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    try {
      fs.writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
        mode: 0o600,
        flag: 'wx',
      });
      fs.writeFileSync(
        path.join(dataDir, PUBLIC_KEY_FILE),
        publicKey.export({ type: 'spki', format: 'pem' }),
      );
    } catch (err) {
      // Another process made it first: use theirs.
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
    }
  }
  const mode = fs.statSync(file).mode & 0o777;
  if (mode & 0o077)
    throw new Error(`${file} must be readable by its owner only (chmod 600), it is ${mode.toString(8)}`);
  return checkEd25519(createPrivateKey(fs.readFileSync(file, 'utf8')));
}

function checkEd25519(k: KeyObject): KeyObject {
  if (k.asymmetricKeyType !== 'ed25519') throw new Error('the audit signing key must be an Ed25519 key');
  return k;
}

export function keyId(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

export async function readChainHeads(db: Kysely<Database>): Promise<ChainHead[]> {
  const rows = await listChains(db);
  return rows.map((r) => ({
    chain: r.chain,
    seq: Number(r.seq),
    head_hash: r.head_hash,
    anchor_seq: Number(r.anchor_seq),
    anchor_hash: r.anchor_hash,
  }));
}

export function signCheckpoint(privateKey: KeyObject, chains: ChainHead[], at: string): SignedCheckpoint {
  const checkpoint: Checkpoint = { v: 1, at, key_id: keyId(createPublicKey(privateKey)), chains };
  return {
    checkpoint,
    sig: sign(null, Buffer.from(canonicalJson(checkpoint)), privateKey).toString('base64'),
  };
}

export function checkpointSignatureValid(c: SignedCheckpoint, publicKey: KeyObject): boolean {
  try {
    return verify(null, Buffer.from(canonicalJson(c.checkpoint)), publicKey, Buffer.from(c.sig, 'base64'));
  } catch {
    return false;
  }
}

/** Appends one checkpoint as a JSON line to file ('-': stdout), synced before returning. */
export function writeCheckpoint(file: string, c: SignedCheckpoint): void {
  const line = `${JSON.stringify(c)}\n`;
  if (file === '-') {
    process.stdout.write(line);
    return;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'a', 0o600);
  try {
    fs.writeSync(fd, line);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export interface CheckpointProblem {
  chain: string;
  problem: string;
}

/**
 * The database's chains against checkpoints (every signature checked with publicKey). Returns
 * every problem found; nothing when the database agrees with every checkpoint. retentionDays:
 * a checkpointed position may only have been pruned once it is older than this.
 */
export async function checkAgainstCheckpoints(
  db: Kysely<Database>,
  checkpoints: SignedCheckpoint[],
  publicKey: KeyObject,
  retentionDays: number,
  now: number,
): Promise<CheckpointProblem[]> {
  const problems: CheckpointProblem[] = [];
  const heads = new Map((await readChainHeads(db)).map((h) => [h.chain, h]));
  const cutoff = now - retentionDays * 86_400_000;
  checkpoints.forEach((c, i) => {
    if (!checkpointSignatureValid(c, publicKey)) {
      problems.push({
        chain: '*',
        problem: `checkpoint ${i + 1} (${c.checkpoint?.at}): bad signature or another key`,
      });
    }
  });
  const valid = checkpoints.filter((c) => checkpointSignatureValid(c, publicKey));
  for (const c of valid) {
    for (const cp of c.checkpoint.chains) {
      if (cp.seq === 0) continue;
      const head = heads.get(cp.chain);
      const where = `checkpoint of ${c.checkpoint.at} saw seq ${cp.seq}`;
      if (!head) {
        problems.push({ chain: cp.chain, problem: `the chain has vanished (${where})` });
        continue;
      }
      if (head.seq < cp.seq) {
        problems.push({ chain: cp.chain, problem: `truncated: the head is at seq ${head.seq} (${where})` });
        continue;
      }
      if (head.anchor_seq >= cp.seq) {
        // Pruned past this position (whether legitimately is decided below, per chain).
        if (head.anchor_seq === cp.seq && head.anchor_hash !== cp.head_hash) {
          problems.push({
            chain: cp.chain,
            problem: `the prune anchor's hash differs from the checkpoint (${where})`,
          });
        }
        continue;
      }
      const hash = await findEventHash(db, cp.chain, cp.seq);
      if (hash === undefined)
        problems.push({ chain: cp.chain, problem: `the event at seq ${cp.seq} is missing (${where})` });
      else if (hash !== cp.head_hash) {
        problems.push({
          chain: cp.chain,
          problem: `rewritten: the event at seq ${cp.seq} has another hash (${where})`,
        });
      }
    }
  }
  // A prune removes only events older than the retention period. The anchor's event was written
  // after the latest checkpoint that had not seen it yet: if that checkpoint is itself within the
  // retention period, the event was too, and its removal was no prune.
  for (const head of heads.values()) {
    if (head.anchor_seq === 0) continue;
    let before: string | undefined;
    for (const c of valid) {
      const cp = c.checkpoint.chains.find((x) => x.chain === head.chain);
      const saw = cp?.seq ?? 0;
      if (saw < head.anchor_seq && (before === undefined || c.checkpoint.at > before))
        before = c.checkpoint.at;
    }
    if (before !== undefined && Date.parse(before) > cutoff) {
      problems.push({
        chain: head.chain,
        problem: `events up to seq ${head.anchor_seq} were removed as pruned, but seq ${head.anchor_seq} was written after the checkpoint of ${before}, within the retention period (fake prune)`,
      });
    }
  }
  return problems;
}

/** Reads a checkpoint file (JSON lines); a line that does not parse is an error naming it. */
export function readCheckpointFile(file: string): SignedCheckpoint[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      try {
        const c = JSON.parse(l) as SignedCheckpoint;
        if (!c || typeof c.sig !== 'string' || !Array.isArray(c.checkpoint?.chains)) throw new Error('shape');
        return c;
      } catch {
        throw new Error(`${file}: line ${i + 1} is not a checkpoint`);
      }
    });
}
