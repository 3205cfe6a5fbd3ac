import type { ModelInfo } from '../core/model.ts';
import type { TaskId } from '../core/tasks/index.ts';
import type { CancelSignal, GenerationContext } from './generation/index.ts';

/** What the engine passes to a load besides the model: generation models get their scheduler's bounds and reporter. */
export interface LoadOptions {
  generation?: GenerationContext;
  /** onnxruntime intra-op threads for this copy of the model (default: the runtime's own choice). */
  threads?: number;
}

/**
 * A runtime loads one kind of model (transformers.js, fastText, raw ONNX...) and runs batches of inputs.
 * Runtimes execute inside worker threads, so inputs and outputs must survive structured cloning.
 * Adding a runtime is one file exporting a `Runtime` plus one line in runtimes/index.ts.
 */
export interface Runtime {
  readonly name: string;
  load(model: ModelInfo, options?: LoadOptions): Promise<LoadedModel>;
}

export interface LoadedModel {
  /** Tasks this loaded model can answer (usually just its pipeline tag). */
  readonly tasks: readonly TaskId[];
  /**
   * Runs one batch. Every request in `inputs` shares the same `params`; the result has one entry per input,
   * in order. Throw `InputError` (src/core/errors.ts) for input the task cannot take. `emit`, when given (streaming
   * requests, always a batch of one), receives events as they happen (e.g. each generated token). `signal` aborts
   * when the caller has gone (generation tasks stop at their next step).
   */
  run(task: TaskId, inputs: unknown[], params: Record<string, unknown>, emit?: (event: unknown) => void, signal?: CancelSignal): Promise<unknown[]>;
  dispose(): Promise<void>;
}
