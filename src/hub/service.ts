/**
 * The Hub file API's view of the model repository: which repositories exist (runnable models and cached ones
 * that cannot run) and what a revision of one holds. Revisions: `main` (and `HEAD`, the Hub's name for the
 * default branch) and the commit id it resolves to; an HF-cache repository also has every commit present in
 * its snapshots/ and every branch in its refs/. Each call looks at the disk again (a listing and a stat per
 * file), so files a pull adds to a snapshot, a moved refs/main or an edited folder show at once; content is
 * hashed only for folder files that changed, and never for cache blobs, whose names are their ids.
 */
import path from 'node:path';
import type { HubRepoInfo } from '../core/model.ts';
import { resolveCachedRevision } from './cache.ts';
import { FileHasher } from './hashes.ts';
import { listFiles, readSnapshot, type RepoSnapshot } from './snapshot.ts';

export interface RepoSource {
  repo(id: string): HubRepoInfo | undefined;
}

export class HubFiles {
  private readonly hasher = new FileHasher();

  constructor(private readonly source: RepoSource) {}

  /** The repository with this id, whatever may be done with it. */
  find(id: string): HubRepoInfo | undefined {
    return this.source.repo(id);
  }

  /** The repository at `revision`, or undefined when it has no such revision. */
  async at(repo: HubRepoInfo, revision: string): Promise<RepoSnapshot | undefined> {
    if (repo.hfCache) {
      const commit = resolveCachedRevision(repo.hfCache.repoDir, revision);
      if (!commit) return undefined;
      const dir = path.join(repo.hfCache.repoDir, 'snapshots', commit);
      return readSnapshot(dir, await listFiles(dir), this.hasher, commit);
    }
    const current = await readSnapshot(repo.dir, repo.files, this.hasher);
    return revision === 'main' || revision === 'HEAD' || revision === current.commit ? current : undefined;
  }
}
