// File copy of a data directory, tolerant of files that vanish while the source runs (a running cluster
// recycles WAL, removes temp files). Files are cloned where the filesystem can (FICLONE: btrfs, XFS with
// reflink, APFS via copyfile), else copied. Owned by the compute user.
import fs from 'node:fs';
import path from 'node:path';
import type { OsUser } from './osuser.ts';

/** What a base backup leaves out (PostgreSQL's own list, "Backing Up the Data Directory"). */
const SKIP_CONTENTS = new Set([
  'pg_wal',
  'pg_replslot',
  'pg_dynshmem',
  'pg_notify',
  'pg_serial',
  'pg_snapshots',
  'pg_stat_tmp',
  'pg_subtrans',
]);
const SKIP_FILES = new Set([
  'postmaster.pid',
  'postmaster.opts',
  'backup_label',
  'tablespace_map',
  'current_logfiles',
  'backup_label.old',
]);

export interface CopyOptions {
  owner: OsUser | undefined;
  /** Leave out what a base backup leaves out (the source is running). */
  asBackup: boolean;
}

const gone = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

async function copyFile(src: string, dst: string, owner: OsUser | undefined): Promise<void> {
  try {
    await fs.promises.copyFile(src, dst, fs.constants.COPYFILE_FICLONE);
    const st = await fs.promises.stat(src);
    await fs.promises.chmod(dst, st.mode & 0o7777);
    if (owner) await fs.promises.chown(dst, owner.uid, owner.gid);
  } catch (err) {
    if (!gone(err)) throw err;
  }
}

async function mkdirLike(src: string, dst: string, owner: OsUser | undefined): Promise<void> {
  const st = await fs.promises.stat(src);
  await fs.promises.mkdir(dst, { mode: st.mode & 0o7777 });
  await fs.promises.chmod(dst, st.mode & 0o7777);
  if (owner) await fs.promises.chown(dst, owner.uid, owner.gid);
}

/** Copies src's contents into dst (which must not exist). Up to 16 files in flight. */
export async function copyDataDir(src: string, dst: string, opts: CopyOptions): Promise<void> {
  const files: [string, string][] = [];
  const walk = async (from: string, to: string, depth: number): Promise<void> => {
    await mkdirLike(from, to, opts.owner);
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(from, { withFileTypes: true });
    } catch (err) {
      if (gone(err)) return;
      throw err;
    }
    for (const e of entries) {
      const s = path.join(from, e.name);
      const d = path.join(to, e.name);
      if (opts.asBackup) {
        if (depth === 0 && SKIP_FILES.has(e.name)) continue;
        if (e.name.startsWith('pgsql_tmp') || e.name === 'pg_internal.init') continue;
      }
      if (e.isDirectory()) {
        if (opts.asBackup && depth === 0 && SKIP_CONTENTS.has(e.name)) {
          await mkdirLike(s, d, opts.owner);
          if (e.name === 'pg_wal')
            await mkdirLike(path.join(s, 'archive_status'), path.join(d, 'archive_status'), opts.owner);
          continue;
        }
        try {
          await walk(s, d, depth + 1);
        } catch (err) {
          if (!gone(err)) throw err;
        }
      } else if (e.isSymbolicLink()) {
        // Tablespaces would be symlinks in pg_tblspc; orgplane makes none, so copy the link as it is.
        await fs.promises.symlink(await fs.promises.readlink(s), d);
        if (opts.owner) await fs.promises.lchown(d, opts.owner.uid, opts.owner.gid);
      } else if (e.isFile()) {
        files.push([s, d]);
      }
    }
  };
  await walk(src, dst, 0);
  await copyFiles(files, opts.owner);
}

export async function copyFiles(files: [string, string][], owner: OsUser | undefined): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const pair = files[next++];
      if (pair) await copyFile(pair[0], pair[1], owner);
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, files.length) }, worker));
}
