import type { TaskId } from './tasks/index.ts';

/**
 * What the Hub file API (src/hub) needs of a repository: where its files are and who may read them. Runnable
 * models and cached repositories that cannot run both have it.
 */
export interface HubRepoInfo {
  /** Hub-style id, `org/name`. */
  id: string;
  /** Absolute path of the model folder (Hugging Face layout; for the HF cache, the snapshot of `refs/main`). */
  dir: string;
  /** Files relative to `dir`, as the Hub's `siblings`. */
  files: string[];
  /** The card's or modelhost.json's `private: true`: only callers with an `inference` token may see it. */
  private?: boolean;
  /** Set when the model comes from the HF cache: its `models--org--name` folder and the commit `dir` holds. */
  hfCache?: { repoDir: string; commit: string };
}

/** A repository found (in the HF cache) that this server cannot run, and why; its files are still served. */
export interface UnrunnableModel extends HubRepoInfo {
  reason: string;
}

/** A model found in the model repository (or shipped inside an npm package). */
export interface ModelInfo extends HubRepoInfo {
  /** The task it serves, from the model card's `pipeline_tag`. */
  pipelineTag: TaskId;
  /** `library_name` of the model card (transformers.js, fasttext, onnx, ...). */
  libraryName: string;
  /** Name of the engine runtime that runs it. */
  runtime: string;
  license?: string;
  tags: string[];
  /** Total size of the files in bytes: the basis of the memory budget and of load-time estimates. */
  sizeBytes: number;
  /** Runtime-specific settings from `modelhost.json` (e.g. the path of weights shipped in a package). */
  runtimeOptions: Record<string, unknown>;
  /** Parsed config.json, when the model has one. */
  config?: Record<string, unknown>;
}
