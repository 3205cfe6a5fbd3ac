/**
 * One writer per blob across processes (a CLI pull beside a server pulling on first call, or two pulls of one
 * repo): `<cache>/.locks/models--org--name/<etag>.lock`, created exclusively and holding the owner's pid. A lock
 * whose owner is gone (a pull killed with SIGKILL) is taken over, so a restarted pull never waits on a corpse.
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `fn` while holding the lock file, waiting for a live owner to finish first. */
export async function withLock<T>(file: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  await mkdir(path.dirname(file), { recursive: true });
  for (;;) {
    signal?.throwIfAborted();
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(await readFile(file, 'utf8').catch(() => ''));
      // An empty file is a lock being written this instant: wait, as for a live owner.
      if (owner > 0 && !alive(owner)) await rm(file, { force: true });
      else await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(file, { force: true });
  }
}
