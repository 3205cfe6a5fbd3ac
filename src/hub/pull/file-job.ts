/**
 * What fetching one file needs (download.ts fetches it whole, parts.ts in parts), and the one retry policy both
 * follow: a failure the network may heal (a cut, a stall, a 5xx) is tried again after a growing pause, each try
 * resuming where the bytes stopped; an abort, a disk error or an answer that can never change fails at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RepoCache } from './cache.ts';
import { networkError, PullError } from './errors.ts';
import type { HubClient, TreeFile } from './hub-client.ts';
import type { Slots } from './pool.ts';

export interface FileProgress {
  /** Bytes of this file on disk now (resumed bytes included), and how many of them just arrived. */
  onBytes(onDisk: number, fresh: number): void;
}

/** One file to fetch: where from, where to, whom to tell. */
export interface FileJob {
  client: HubClient;
  cache: RepoCache;
  sha: string;
  file: TreeFile;
  progress: FileProgress;
  /** The pull's connection budget: every request holds one slot while it runs. */
  slots: Slots;
  signal?: AbortSignal;
}

/** Tries of one request (each resuming) before a pull gives up on it. */
export const MAX_ATTEMPTS = 6;

/** The blob name: the LFS sha-256, else the git blob sha-1 (as every HF cache writer names blobs). */
export function etagOf(file: TreeFile): string {
  return file.lfs?.oid ?? file.oid;
}

export function sizeOf(file: TreeFile): number {
  return file.lfs?.size ?? file.size;
}

/** `attempt()` until it succeeds, a failure cannot heal, or MAX_ATTEMPTS tries failed; `url` names the server in errors. */
export async function retrying<T>(url: string, signal: AbortSignal | undefined, attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (e) {
      // Aborts and disk errors (full, read-only, permissions) are not the network's: no retry, no rewording.
      if ((e as Error).name === 'AbortError' || signal?.aborted || (e as NodeJS.ErrnoException).syscall) throw e;
      const error = e instanceof PullError ? e : networkError(url, e);
      if (!error.retryable || tries >= MAX_ATTEMPTS) throw error;
      await sleep(Math.min(200 * 2 ** (tries - 1), 5000), undefined, { signal });
    }
  }
}
