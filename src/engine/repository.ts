import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { HubRepoInfo, ModelInfo, UnrunnableModel } from '../core/model.ts';
import { isTaskId } from '../core/tasks/index.ts';
import { readCachedRepos } from '../hub/cache.ts';
import { taskFromConfig } from '../hub/task-from-config.ts';
import { resolvePackageFile } from './runtimes/package-weights.ts';

/** Settings a model folder may carry in `modelhost.json`, for models that are not plain transformers.js repos. */
interface ModelhostJson {
  runtime?: string;
  pipeline_tag?: string;
  weights?: string | { package: string; file: string };
  private?: boolean;
  [key: string]: unknown;
}

export interface RepositoryOptions {
  /** An HF hub cache folder whose `models--org--name` repositories are served too (after the roots). */
  hfCache?: string;
}

export interface RepositoryWarning {
  dir: string;
  reason: string;
}

/**
 * The models this server can run: folders in Hugging Face layout under one or more roots
 * (`<root>/<org>/<name>/`), described by their model card's front matter, then the repositories of an HF hub
 * cache under their Hub id (the snapshot `refs/main` names). A cached repository that cannot run is kept with
 * the reason, and its files are still served over the Hub file API.
 */
export class ModelRepository {
  private models = new Map<string, ModelInfo>();
  private cantRun = new Map<string, UnrunnableModel>();
  readonly warnings: RepositoryWarning[] = [];

  constructor(
    private readonly roots: string[],
    private readonly opts: RepositoryOptions = {},
  ) {
    this.rescan();
  }

  /** Reads the roots again; later roots do not override a model id found in an earlier one, nor does the cache. */
  rescan(): void {
    this.models.clear();
    this.cantRun.clear();
    this.warnings.length = 0;
    for (const root of this.roots) {
      if (!existsSync(root)) continue;
      for (const org of listDirs(root)) {
        for (const name of listDirs(path.join(root, org))) {
          const id = `${org}/${name}`;
          if (this.models.has(id)) continue;
          const dir = path.join(root, org, name);
          try {
            const info = readModel(id, dir);
            if (info) this.models.set(id, info);
          } catch (e) {
            this.warnings.push({ dir, reason: (e as Error).message });
          }
        }
      }
    }
    if (this.opts.hfCache) this.scanCache(this.opts.hfCache);
  }

  private scanCache(cacheDir: string): void {
    for (const repo of readCachedRepos(cacheDir)) {
      if (this.models.has(repo.id)) continue;
      if (!repo.commit) {
        this.warnings.push({ dir: repo.repoDir, reason: repo.problem ?? 'no snapshot' });
        continue;
      }
      const dir = path.join(repo.repoDir, 'snapshots', repo.commit);
      const hfCache = { repoDir: repo.repoDir, commit: repo.commit };
      let reason: string;
      try {
        const info = readModel(repo.id, dir);
        const weightless = info?.runtime === 'transformers' && !info.files.some((f) => /^onnx\/[^/]+\.onnx$/.test(f));
        if (info && !weightless) {
          this.models.set(repo.id, { ...info, hfCache });
          continue;
        }
        reason = info ? 'no ONNX weights (onnx/*.onnx), which transformers.js needs' : 'no config.json or model card';
      } catch (e) {
        reason = (e as Error).message;
      }
      this.cantRun.set(repo.id, { id: repo.id, dir, files: walkFiles(dir), hfCache, reason, ...privacy(dir) });
    }
  }

  get(id: string): ModelInfo | undefined {
    return this.models.get(id);
  }

  list(): ModelInfo[] {
    return [...this.models.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Cached repositories found but not runnable here, with the reason (their files are still served). */
  unrunnable(): UnrunnableModel[] {
    return [...this.cantRun.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Any repository whose files this server has: a runnable model or a cached one that cannot run. */
  repo(id: string): HubRepoInfo | undefined {
    return this.models.get(id) ?? this.cantRun.get(id);
  }
}

/** `private: true` in the card's front matter or in modelhost.json. */
function privacy(dir: string): { private?: true } {
  try {
    const extra = readJson<ModelhostJson>(path.join(dir, 'modelhost.json'));
    return extra?.private === true || readCard(dir).private === true ? { private: true } : {};
  } catch {
    // A card or modelhost.json that cannot be read cannot make the repository public either.
    return { private: true };
  }
}

function listDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => d.name);
  } catch {
    return [];
  }
}

function readJson<T>(file: string): T | undefined {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : undefined;
}

/** YAML front matter of a model card (`---` fenced block at the top of README.md). */
export function readCard(dir: string): Record<string, unknown> {
  const file = path.join(dir, 'README.md');
  if (!existsSync(file)) return {};
  const match = /^---\r?\n([\s\S]*?)\r?\n---/.exec(readFileSync(file, 'utf8'));
  const data = match ? (parseYaml(match[1] ?? '') as unknown) : undefined;
  return data && typeof data === 'object' ? (data as Record<string, unknown>) : {};
}

function walkFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...walkFiles(path.join(dir, entry.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

function readModel(id: string, dir: string): ModelInfo | undefined {
  const card = readCard(dir);
  const extra = readJson<ModelhostJson>(path.join(dir, 'modelhost.json')) ?? {};
  const config = readJson<Record<string, unknown>>(path.join(dir, 'config.json'));
  if (!config && !existsSync(path.join(dir, 'README.md')) && !extra.runtime) return undefined;

  const tag = String(extra.pipeline_tag ?? card.pipeline_tag ?? taskFromConfig(config) ?? '');
  if (!isTaskId(tag)) throw new Error(`pipeline_tag "${tag}" is not a task served here`);

  const files = walkFiles(dir);
  let sizeBytes = files.reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0);
  const runtimeOptions: Record<string, unknown> = { ...extra };
  if (extra.weights) {
    const weights =
      typeof extra.weights === 'string'
        ? path.resolve(dir, extra.weights)
        : resolvePackageFile(extra.weights.package, extra.weights.file);
    runtimeOptions.weights = weights;
    sizeBytes += statSync(weights).size;
  }
  const libraryName = String(card.library_name ?? (config ? 'transformers.js' : 'onnx'));
  const runtime = extra.runtime ?? 'transformers';
  const tags = Array.isArray(card.tags) ? card.tags.map(String) : [];
  return {
    id,
    dir,
    pipelineTag: tag,
    libraryName,
    runtime,
    license: card.license === undefined ? undefined : String(card.license),
    tags: [...new Set([libraryName, tag, ...tags])],
    files,
    sizeBytes,
    runtimeOptions,
    config,
    ...(extra.private === true || card.private === true ? { private: true } : {}),
  };
}
