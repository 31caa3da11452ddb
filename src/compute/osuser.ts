// PostgreSQL refuses to run as root. When orgplane is root (CI containers), every compute program runs as an
// unprivileged OS user: ORGPLANE_COMPUTE_USER if set, else `orgplane-pg`, created (system user, no home, no
// shell) when missing. As a normal user nothing changes: postgres runs as orgplane's own user.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AppError } from '../domain/errors.ts';

const run = promisify(execFile);

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

export const DEFAULT_COMPUTE_USER = 'orgplane-pg';

async function lookup(name: string): Promise<OsUser | undefined> {
  try {
    const uid = Number((await run('id', ['-u', name])).stdout.trim());
    const gid = Number((await run('id', ['-g', name])).stdout.trim());
    if (Number.isInteger(uid) && Number.isInteger(gid)) return { name, uid, gid };
  } catch {
    // No such user.
  }
  return undefined;
}

/** undefined when orgplane is not root: computes run as orgplane's own user. */
export async function computeOsUser(configured: string | undefined): Promise<OsUser | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const name = configured || DEFAULT_COMPUTE_USER;
  const found = await lookup(name);
  if (found) {
    if (found.uid === 0)
      throw new AppError(
        'UNAVAILABLE',
        `ORGPLANE_COMPUTE_USER=${name} is root; PostgreSQL refuses to run as root`,
      );
    return found;
  }
  if (configured) throw new AppError('UNAVAILABLE', `ORGPLANE_COMPUTE_USER=${name}: no such OS user`);
  try {
    await run('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      '--comment',
      'orgplane computes (PostgreSQL)',
      name,
    ]);
  } catch (err) {
    // Another process may have created it meanwhile.
    const again = await lookup(name);
    if (again) return again;
    throw new AppError(
      'UNAVAILABLE',
      `orgplane runs as root and PostgreSQL refuses root: could not create OS user ${name} (${(err as Error).message.trim()}); create it or set ORGPLANE_COMPUTE_USER`,
    );
  }
  const made = await lookup(name);
  if (!made) throw new AppError('UNAVAILABLE', `OS user ${name} was created but cannot be looked up`);
  return made;
}
