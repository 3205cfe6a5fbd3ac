/**
 * What a Hugging Face hub cache holds (the layout huggingface_hub, `@huggingface/hub` and hf-hub write; where
 * it is: src/hub/cache-path.ts). A repository is `models--<org>--<name>/` with `blobs/<etag>` (content, named by its git SHA-1
 * or, for LFS files, its SHA-256), `snapshots/<commit>/<path>` (relative symlinks into blobs/) and
 * `refs/<branch>` (the commit a branch points to). Reading is synchronous on purpose: it runs once when the
 * model repository scans, like the folder scan beside it. Layout reference: hub-docs `docs/hub/local-cache.md`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ID_SEPARATOR } from '@huggingface/hub';

/** A full commit id: the cache names snapshot folders after one, and anything else is a branch name. */
export const COMMIT_RE = /^[0-9a-f]{40}$/;

/** One model repository of the cache, at the commit its `main` branch points to. */
export interface CachedRepo {
  id: string;
  /** The `models--org--name` folder. */
  repoDir: string;
  /** The commit served as `main`, or undefined with `problem` saying why none could be chosen. */
  commit?: string;
  problem?: string;
}

/** `models--org--name` → `org/name` (undefined for datasets, spaces and anything else). */
export function repoIdOf(folder: string): string | undefined {
  const [type, ...parts] = folder.split(REPO_ID_SEPARATOR);
  if (type !== 'models' || parts.length === 0 || parts.some((p) => p === '')) return undefined;
  return parts.join('/');
}

/** The commits present as `snapshots/<commit>/` folders. */
export function snapshotCommits(repoDir: string): string[] {
  try {
    return readdirSync(path.join(repoDir, 'snapshots'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && COMMIT_RE.test(d.name))
      .map((d) => d.name);
  } catch {
    return [];
  }
}

/**
 * The commit a revision names in this repository: a commit present as a snapshot, or a ref file
 * (`refs/main`, `refs/refs/pr/1`) whose commit is present. `HEAD` is the default branch, as on the Hub.
 */
export function resolveCachedRevision(repoDir: string, revision: string): string | undefined {
  const commits = snapshotCommits(repoDir);
  if (COMMIT_RE.test(revision)) return commits.includes(revision) ? revision : undefined;
  const ref = revision === 'HEAD' ? 'main' : revision;
  // Ref names come from the URL: the caller has refused `..` and absolute names already; this keeps it so.
  if (ref.split('/').some((s) => s === '' || s === '.' || s === '..')) return undefined;
  const file = path.join(repoDir, 'refs', ref);
  if (!existsSync(file)) {
    // A cache copied without refs/ still has one obvious main: its only snapshot.
    return ref === 'main' && commits.length === 1 ? commits[0] : undefined;
  }
  const commit = readFileSync(file, 'utf8').trim();
  return commits.includes(commit) ? commit : undefined;
}

/** Every model repository of the cache, sorted by id. A missing cache folder is an empty cache. */
export function readCachedRepos(cacheDir: string): CachedRepo[] {
  let folders: string[];
  try {
    folders = readdirSync(cacheDir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
  const repos: CachedRepo[] = [];
  for (const folder of folders) {
    const id = repoIdOf(folder);
    if (!id) continue;
    const repoDir = path.join(cacheDir, folder);
    const commit = resolveCachedRevision(repoDir, 'main');
    const problem = commit
      ? undefined
      : snapshotCommits(repoDir).length === 0
        ? 'no snapshot in the cache'
        : 'refs/main is missing or names a commit that is not in snapshots/ (download it again, or pass the commit)';
    repos.push({ id, repoDir, ...(commit ? { commit } : { problem }) });
  }
  return repos.sort((a, b) => a.id.localeCompare(b.id));
}
