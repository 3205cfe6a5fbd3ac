/**
 * What the HF cache holds, for `modelhost models list` / `rm`: each model repository with its size, its
 * revisions and whether modelhost can run it, and if not, why. Repositories and refs come from
 * `@huggingface/hub`'s scanCacheDir; sizes are summed over `blobs/` here, because scanCacheDir counts only the
 * top level of a snapshot (it skips `onnx/`, where the weights are). Whether a model runs is the model
 * repository's verdict (the same scan the server does), plus one check the server leaves to load time: that
 * transformers.js knows the architecture (`config.json` `model_type`).
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { scanCacheDir } from '@huggingface/hub';
import { ModelRepository } from '../../engine/repository.ts';
import { RepoCache } from './cache.ts';
import { PullError } from './errors.ts';

export interface CachedModel {
  id: string;
  repoDir: string;
  /** Bytes of complete blobs (partial downloads not counted). */
  sizeBytes: number;
  /** Bytes of `.incomplete` and `.partial` downloads waiting to be resumed. */
  partialBytes: number;
  /** Snapshots present, with the refs (branches, tags) pointing at each. */
  revisions: { commit: string; refs: string[] }[];
  runnable: boolean;
  pipelineTag?: string;
  /** Why modelhost cannot run it. */
  reason?: string;
}

function blobBytes(repoDir: string): { complete: number; partial: number } {
  let complete = 0;
  let partial = 0;
  let names: string[] = [];
  try {
    names = readdirSync(path.join(repoDir, 'blobs'));
  } catch {
    // no blobs yet
  }
  for (const name of names) {
    const st = statSync(path.join(repoDir, 'blobs', name));
    if (name.endsWith('.incomplete')) partial += st.size;
    // A file fetched in parts has holes until it is complete: count the blocks it holds, not its length.
    else if (name.endsWith('.partial')) partial += Math.min(st.size, st.blocks * 512);
    else if (!name.endsWith('.partial.json') && !name.endsWith('.partial.json.tmp')) complete += st.size;
  }
  return { complete, partial };
}

/** model_type values transformers.js has a class for (loaded on demand: the library takes a second to import). */
async function knownModelTypes(): Promise<(type: string) => boolean> {
  const { AutoModel } = await import('@huggingface/transformers');
  const maps = (AutoModel as unknown as { MODEL_CLASS_MAPPINGS?: Map<string, unknown>[] }).MODEL_CLASS_MAPPINGS ?? [];
  return (type) => maps.some((m) => m.has(type));
}

export async function listCachedModels(cacheDir: string): Promise<CachedModel[]> {
  let scanned: Awaited<ReturnType<typeof scanCacheDir>>;
  try {
    scanned = await scanCacheDir(cacheDir);
  } catch {
    return []; // no cache folder yet
  }
  const repository = new ModelRepository([], { hfCache: cacheDir });
  const cantRun = new Map(repository.unrunnable().map((m) => [m.id, m.reason]));
  const problems = new Map(repository.warnings.map((w) => [path.basename(w.dir), w.reason]));
  let knows: ((type: string) => boolean) | undefined;
  const out: CachedModel[] = [];
  for (const repo of scanned.repos.filter((r) => r.id.type === 'model')) {
    const model = repository.get(repo.id.name);
    let reason = model ? undefined : (cantRun.get(repo.id.name) ?? problems.get(path.basename(repo.path)) ?? 'no snapshot that refs/main names');
    if (model?.runtime === 'transformers') {
      const type = (model.config as { model_type?: unknown } | undefined)?.model_type;
      knows ??= await knownModelTypes();
      if (typeof type === 'string' && !knows(type)) reason = `unsupported architecture: transformers.js has no model for model_type "${type}"`;
    }
    const { complete, partial } = blobBytes(repo.path);
    out.push({
      id: repo.id.name,
      repoDir: repo.path,
      sizeBytes: complete,
      partialBytes: partial,
      revisions: repo.revisions.map((r) => ({ commit: r.commitOid, refs: r.refs })),
      runnable: !reason,
      ...(model ? { pipelineTag: model.pipelineTag } : {}),
      ...(reason ? { reason } : {}),
    });
  }
  // scanCacheDir gives up on a repository whose refs name a missing snapshot; list it with that reason.
  for (const w of scanned.warnings) {
    const dir = /\(([^)]+models--[^)]+)\)/.exec(w.message)?.[1];
    if (!dir) continue;
    const { complete, partial } = blobBytes(dir);
    const id = path.basename(dir).split('--').slice(1).join('/');
    out.push({ id, repoDir: dir, sizeBytes: complete, partialBytes: partial, revisions: [], runnable: false, reason: 'incomplete: a ref names a snapshot that is missing (pull it again)' });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/** Deletes a repository from the cache; returns the bytes freed. */
export async function removeCachedModel(cacheDir: string, id: string): Promise<number> {
  const cache = new RepoCache(cacheDir, id);
  if (!(await cache.exists())) throw new PullError('bad_input', `${id} is not in the HF cache (${cacheDir}); \`modelhost models list\` shows what is`);
  const { complete, partial } = blobBytes(cache.dir);
  await cache.remove();
  return complete + partial;
}
