import type { TaskId } from './tasks/index.ts';

/** A model found in the model repository (or shipped inside an npm package). */
export interface ModelInfo {
  /** Hub-style id, `org/name`. */
  id: string;
  /** Absolute path of the model folder (Hugging Face layout). */
  dir: string;
  /** The task it serves, from the model card's `pipeline_tag`. */
  pipelineTag: TaskId;
  /** `library_name` of the model card (transformers.js, fasttext, onnx, ...). */
  libraryName: string;
  /** Name of the engine runtime that runs it. */
  runtime: string;
  license?: string;
  tags: string[];
  /** Files relative to `dir`, as the Hub's `siblings`. */
  files: string[];
  /** Total size of the files in bytes: the basis of the memory budget and of load-time estimates. */
  sizeBytes: number;
  /** Runtime-specific settings from `modelhost.json` (e.g. the path of weights shipped in a package). */
  runtimeOptions: Record<string, unknown>;
  /** Parsed config.json, when the model has one. */
  config?: Record<string, unknown>;
}
