/**
 * The Hugging Face hub cache, as huggingface_hub, `@huggingface/hub` and hf-hub write it
 * (shared/docs/hub-protocol.md §4.1): `models--org--name/{blobs/<etag>, snapshots/<commit>/<path> -> blob,
 * refs/<revision>}`. Blobs appear only after they were verified (renamed from `<etag>.incomplete`), so a blob
 * that exists is complete and correct, and a snapshot link that resolves needs no download.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, symlink, writeFile, lstat, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { getRepoFolderName } from '@huggingface/hub';
import { hfCachePath } from '../cache-path.ts';

/**
 * The cache pulls write to: the one `modelhost serve` reads (`MODELHOST_HF_CACHE`), else the one the Hugging
 * Face clients use (`HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`).
 */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const own = env.MODELHOST_HF_CACHE;
  return path.resolve(own && own !== 'off' && own !== 'false' ? own : hfCachePath(env));
}

export class RepoCache {
  /** `<cache>/models--org--name`. */
  readonly dir: string;

  constructor(
    readonly root: string,
    readonly repo: string,
  ) {
    this.dir = path.join(root, getRepoFolderName({ type: 'model', name: repo }));
  }

  blob(etag: string): string {
    return path.join(this.dir, 'blobs', etag);
  }

  /** Where a blob grows while it downloads; kept across runs so a new pull resumes it with a Range request. */
  incomplete(etag: string): string {
    return `${this.blob(etag)}.incomplete`;
  }

  /**
   * Where a file fetched in parts grows, holes and all, beside `<etag>.partial.json` (the bytes it holds). A name
   * of its own: HF tools take an `.incomplete` file's length for the bytes done, which holes would make a lie.
   */
  partial(etag: string): string {
    return `${this.blob(etag)}.partial`;
  }

  /** huggingface_hub's lock folder: `<cache>/.locks/models--org--name/<etag>.lock`. */
  lock(etag: string): string {
    return path.join(this.root, '.locks', path.basename(this.dir), `${etag}.lock`);
  }

  snapshot(sha: string, file = ''): string {
    return path.join(this.dir, 'snapshots', sha, ...file.split('/'));
  }

  /** Whether the snapshot already holds this file (its link resolves to a complete blob). */
  async has(sha: string, file: string): Promise<boolean> {
    try {
      return (await stat(this.snapshot(sha, file))).isFile();
    } catch {
      return false;
    }
  }

  /** Links `snapshots/<sha>/<file>` to the blob with a relative symlink (a copy where symlinks are refused). */
  async link(sha: string, file: string, etag: string): Promise<void> {
    const target = this.snapshot(sha, file);
    await mkdir(path.dirname(target), { recursive: true });
    await rm(target, { force: true });
    try {
      await symlink(path.relative(path.dirname(target), this.blob(etag)), target);
    } catch {
      await copyFile(this.blob(etag), target);
    }
  }

  /** `refs/<revision>` holds the commit, without a newline (scanCacheDir compares it as is). */
  async writeRef(revision: string, sha: string): Promise<void> {
    if (revision === sha) return;
    const file = path.join(this.dir, 'refs', ...revision.split('/'));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, sha);
  }

  async readRef(revision: string): Promise<string | undefined> {
    if (/^[0-9a-f]{40}$/.test(revision)) return revision;
    try {
      return (await readFile(path.join(this.dir, 'refs', ...revision.split('/')), 'utf8')).trim();
    } catch {
      return undefined;
    }
  }

  async exists(): Promise<boolean> {
    try {
      return (await lstat(this.dir)).isDirectory();
    } catch {
      return false;
    }
  }

  /** Removes the repo folder and its locks. */
  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    const locks = path.join(this.root, '.locks', path.basename(this.dir));
    if (existsSync(locks)) await rm(locks, { recursive: true, force: true });
  }
}
