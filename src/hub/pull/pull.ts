/**
 * `pull`: a Hub repo (or the runtime's share of it) into the HF cache. Resolves the revision to a commit, lists
 * the tree at that commit, selects files (select.ts), skips those the snapshot already has, fetches the rest a
 * bounded number at a time (download.ts), and writes `refs/<revision>` last, so a cache never names a commit
 * whose snapshot is not complete.
 *
 * Beside `@huggingface/hub`: its snapshotDownload / downloadFileToCacheDir fetch one file at a time, take the
 * whole repo, never resume (a `.incomplete` file is started over), verify nothing and report no progress;
 * this module keeps their cache layout and names (and reuses the library's cache-path functions) and adds
 * those. `scanCacheDir` reads what it writes (tests check that).
 */
import { PullError } from './errors.ts';
import { HubClient, type TreeFile } from './hub-client.ts';
import { RepoCache } from './cache.ts';
import { downloadFile, sizeOf } from './download.ts';
import { runPool, Slots } from './pool.ts';
import { selectFiles, type Dtype, type Selection } from './select.ts';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface PullTarget {
  repo: string;
  revision: string;
}

/** A repo id as transformers.js accepts one (`org/name` or `name`; no `..`, no `--`: the cache folder uses `--`). */
const REPO_ID = /^([\w.-]+\/)?[\w.-]{1,96}$/;

/** `org/name[@revision]` → repo and revision (default `main`). */
export function parseTarget(ref: string): PullTarget {
  const at = ref.indexOf('@');
  const repo = at < 0 ? ref : ref.slice(0, at);
  const revision = at < 0 ? 'main' : ref.slice(at + 1);
  if (!REPO_ID.test(repo) || repo.includes('..') || repo.includes('--')) throw new PullError('bad_input', `"${repo}" is not a Hub repo id (expected org/name)`);
  if (!revision || revision.includes('..')) throw new PullError('bad_input', `"${ref}" has an empty or invalid revision after @`);
  return { repo, revision };
}

export interface PullPlan extends PullTarget {
  endpoint: string;
  sha: string;
  pipelineTag?: string;
  dtype?: Dtype;
  /** Files to have in the snapshot. */
  files: TreeFile[];
  totalBytes: number;
  /** Bytes of `files` the cache already holds (complete blobs). */
  presentBytes: number;
}

export interface PullEvents {
  /** Once the revision, tree and selection are known, before any byte moves. */
  onPlan?(plan: PullPlan): void;
  /** A file's bytes on disk, and how many just arrived (0 when the count comes from disk). */
  onBytes?(file: TreeFile, onDisk: number, fresh: number): void;
  onFileDone?(file: TreeFile): void;
}

export interface PullOptions extends PullTarget, Selection {
  endpoint?: string;
  token?: string;
  /** HF cache root (see cache.ts hubCacheDir()). */
  cacheDir: string;
  /** Connections at once: files downloaded at once, a large file taking up to four for its parts. */
  concurrency?: number;
  events?: PullEvents;
  signal?: AbortSignal;
}

export interface PullResult {
  plan: PullPlan;
  /** `<cache>/models--org--name/snapshots/<sha>`. */
  snapshotDir: string;
  /** Bytes that came over the network in this run. */
  fetchedBytes: number;
  /** Files that were already complete in the cache. */
  skipped: number;
}

/** Resolves what a pull would fetch, without fetching (the plan also tells what is already here). */
export async function planPull(client: HubClient, cache: RepoCache, opts: PullOptions): Promise<PullPlan> {
  const info = await client.revision(opts.repo, opts.revision);
  const tree = await client.tree(opts.repo, info.sha);
  const { files: names, dtype } = selectFiles(
    tree.map((f) => f.path),
    opts.repo,
    opts,
  );
  const byPath = new Map(tree.map((f) => [f.path, f]));
  const files = names.map((n) => byPath.get(n)!);
  let presentBytes = 0;
  for (const f of files) if (await cache.has(info.sha, f.path)) presentBytes += sizeOf(f);
  return {
    repo: opts.repo,
    revision: opts.revision,
    endpoint: client.endpoint,
    sha: info.sha,
    pipelineTag: info.pipelineTag,
    dtype,
    files,
    totalBytes: files.reduce((n, f) => n + sizeOf(f), 0),
    presentBytes,
  };
}

export async function pull(opts: PullOptions): Promise<PullResult> {
  const client = new HubClient({ endpoint: opts.endpoint ?? DEFAULT_ENDPOINT, token: opts.token, connections: opts.concurrency ?? 8 });
  const cache = new RepoCache(opts.cacheDir, opts.repo);
  try {
    const plan = await planPull(client, cache, opts);
    opts.events?.onPlan?.(plan);
    let fetchedBytes = 0;
    let skipped = 0;
    // Largest first: the long transfers start at once and small files fill the gaps.
    const order = [...plan.files].sort((a, b) => sizeOf(b) - sizeOf(a));
    const slots = new Slots(opts.concurrency ?? 8);
    await runPool(order, opts.concurrency ?? 8, async (file) => {
      if (await cache.has(plan.sha, file.path)) {
        skipped++;
        opts.events?.onBytes?.(file, sizeOf(file), 0);
      } else {
        const fetched = await downloadFile({
          client,
          cache,
          sha: plan.sha,
          file,
          slots,
          signal: opts.signal,
          progress: { onBytes: (onDisk, fresh) => opts.events?.onBytes?.(file, onDisk, fresh) },
        });
        fetchedBytes += fetched;
      }
      opts.events?.onFileDone?.(file);
    });
    await cache.writeRef(plan.revision, plan.sha);
    return { plan, snapshotDir: cache.snapshot(plan.sha), fetchedBytes, skipped };
  } finally {
    await client.close();
  }
}
