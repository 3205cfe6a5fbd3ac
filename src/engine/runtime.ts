import type { ModelInfo } from '../core/model.ts';
import type { TaskId } from '../core/tasks/index.ts';

/**
 * A runtime loads one kind of model (transformers.js, fastText, raw ONNX...) and runs batches of inputs.
 * Runtimes execute inside worker threads, so inputs and outputs must survive structured cloning.
 * Adding a runtime is one file exporting a `Runtime` plus one line in runtimes/index.ts.
 */
export interface Runtime {
  readonly name: string;
  load(model: ModelInfo): Promise<LoadedModel>;
}

export interface LoadedModel {
  /** Tasks this loaded model can answer (usually just its pipeline tag). */
  readonly tasks: readonly TaskId[];
  /**
   * Runs one batch. Every request in `inputs` shares the same `params`; the result has one entry per input,
   * in order. Throw `InputError` (src/core/errors.ts) for input the task cannot take. `emit`, when given (streaming
   * requests, always a batch of one), receives events as they happen (e.g. each generated token).
   */
  run(task: TaskId, inputs: unknown[], params: Record<string, unknown>, emit?: (event: unknown) => void): Promise<unknown[]>;
  dispose(): Promise<void>;
}
