/**
 * A role held by one process per SQLite file (managing dedicated endpoints): a lock file next to the database,
 * created exclusively and holding the owner's pid. A lock whose process is gone is taken over, so a crashed
 * instance does not keep it.
 */
import { openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function claimFile(lockPath: string): (() => void) | undefined {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(lockPath, 'utf8') === String(process.pid)) unlinkSync(lockPath);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(readFileSync(lockPath, 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) return undefined;
      try {
        unlinkSync(lockPath); // its process is gone
      } catch {
        /* another process took it over first */
      }
    }
  }
  return undefined;
}
