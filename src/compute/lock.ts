// One orgplane process manages one compute directory: a lock file holding the owner's pid and start time.
// A lock whose process is gone (or whose pid now belongs to another program) is stale and taken over.
import fs from 'node:fs';
import { AppError } from '../domain/errors.ts';

export interface DirLock {
  release(): void;
}

function startTime(pid: number): string {
  if (process.platform !== 'linux') return '';
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime), counted after the command name's closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function holder(file: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const [pidText, started = ''] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  if (started && startTime(pid) !== started) return undefined;
  return pid;
}

export function acquireDirLock(file: string): DirLock {
  const me = `${process.pid} ${startTime(process.pid)}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, me, { flag: 'wx', mode: 0o644 });
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          try {
            if (fs.readFileSync(file, 'utf8') === me) fs.unlinkSync(file);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = holder(file);
    if (pid !== undefined)
      throw new AppError(
        'CONFLICT',
        `compute directory ${file.replace(/\/[^/]+$/, '')} is managed by another orgplane process (pid ${pid}); one process runs computes, the others reach them through their endpoints`,
      );
    // Stale: its process is gone. Rename-then-remove so two takers cannot both delete a fresh lock.
    const stale = `${file}.stale.${process.pid}`;
    try {
      fs.renameSync(file, stale);
      fs.unlinkSync(stale);
    } catch {
      // Someone else took it over first; try again.
    }
  }
  throw new AppError('CONFLICT', `could not take the compute directory lock ${file}`);
}
