import type { SerializedError } from '../core/errors.ts';
import type { ModelInfo } from '../core/model.ts';
import type { TaskId } from '../core/tasks/index.ts';
import type { SchedulerStats } from '../engine/generation/index.ts';

/** From modelhost to a replica process (over the IPC channel of `child_process.fork`). */
export type ToReplica =
  /** `id` names the replica (a spare learns it here); `threads` is onnxruntime's intra-op thread count. */
  | { type: 'load'; id: string; model: ModelInfo; maxBatchSize: number; threads: number }
  | { type: 'run'; id: number; task: TaskId; inputs: unknown[]; params: Record<string, unknown>; stream: boolean }
  /** The caller of run `id` has gone: its generation stops at the next decoder step. */
  | { type: 'cancel'; id: number };

/** From a replica process back to modelhost. */
export type FromReplica =
  | { type: 'ready'; ms: number }
  | { type: 'load-failed'; error: SerializedError }
  | { type: 'result'; id: number; outputs: unknown[]; ms: number }
  | { type: 'failed'; id: number; error: SerializedError }
  | { type: 'event'; id: number; event: unknown }
  | { type: 'stats'; rssBytes: number }
  /** The model's generation scheduler after its latest step (at most every 100 ms, and once it is idle). */
  | { type: 'generation'; stats: SchedulerStats }
  /** A spare (started ahead of need) has imported its runtime and waits for a model. */
  | { type: 'spare-ready' };
