import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ModelInfo } from '../core/model.ts';
import { isTaskId } from '../core/tasks/index.ts';
import { resolvePackageFile } from './runtimes/package-weights.ts';

/** Settings a model folder may carry in `modelhost.json`, for models that are not plain transformers.js repos. */
interface ModelhostJson {
  runtime?: string;
  pipeline_tag?: string;
  weights?: string | { package: string; file: string };
  [key: string]: unknown;
}

export interface RepositoryWarning {
  dir: string;
  reason: string;
}

/**
 * The models this server can run: folders in Hugging Face layout under one or more roots
 * (`<root>/<org>/<name>/`), described by their model card's front matter.
 */
export class ModelRepository {
  private models = new Map<string, ModelInfo>();
  readonly warnings: RepositoryWarning[] = [];

  constructor(private readonly roots: string[]) {
    this.rescan();
  }

  /** Reads the roots again; later roots do not override a model id found in an earlier one. */
  rescan(): void {
    this.models.clear();
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
  }

  get(id: string): ModelInfo | undefined {
    return this.models.get(id);
  }

  list(): ModelInfo[] {
    return [...this.models.values()].sort((a, b) => a.id.localeCompare(b.id));
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

  const tag = String(extra.pipeline_tag ?? card.pipeline_tag ?? '');
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
  };
}
