import type { SerializedError } from '../core/errors.ts';
import type { ModelInfo } from '../core/model.ts';
import type { TaskId } from '../core/tasks/index.ts';
import type { SchedulerOptions, SchedulerStats } from './generation/index.ts';

/** Messages from the engine (main thread) to a worker. */
export type ToWorker =
  /** `threads`: onnxruntime's intra-op threads for this copy (a model loaded as several instances splits the cores). */
  | { type: 'load'; key: string; model: ModelInfo; generation?: Partial<SchedulerOptions>; threads?: number }
  | { type: 'unload'; key: string }
  /** `concurrent`: not queued behind the model's other runs (generation: the model's scheduler batches them). */
  | { type: 'run'; id: number; key: string; task: TaskId; inputs: unknown[]; params: Record<string, unknown>; stream: boolean; concurrent?: boolean }
  /** The caller of run `id` has gone: a generation stops at its next step. */
  | { type: 'cancel'; id: number }
  /** The engine is closing: answer `idle` once no model is loading or being disposed, then be terminated. */
  | { type: 'drain' };

/** Messages from a worker back to the engine. */
export type FromWorker =
  | { type: 'loaded'; key: string; ms: number }
  | { type: 'load-failed'; key: string; error: SerializedError }
  | { type: 'result'; id: number; outputs: unknown[]; ms: number }
  | { type: 'failed'; id: number; error: SerializedError }
  | { type: 'event'; id: number; event: unknown }
  /** After each step of a model's generation scheduler. */
  | { type: 'generation-stats'; key: string; stats: SchedulerStats }
  | { type: 'idle' }
  /** Several of the above, in order (the worker sends what one turn of its loop produced at once). */
  | { type: 'batch'; messages: FromWorker[] };
