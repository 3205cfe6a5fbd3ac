import type { SerializedError } from '../core/errors.ts';
import type { ModelInfo } from '../core/model.ts';
import type { TaskId } from '../core/tasks/index.ts';

/** From modelhost to a replica process (over the IPC channel of `child_process.fork`). */
export type ToReplica =
  | { type: 'load'; model: ModelInfo; maxBatchSize: number }
  | { type: 'run'; id: number; task: TaskId; inputs: unknown[]; params: Record<string, unknown>; stream: boolean };

/** From a replica process back to modelhost. */
export type FromReplica =
  | { type: 'ready'; ms: number }
  | { type: 'load-failed'; error: SerializedError }
  | { type: 'result'; id: number; outputs: unknown[]; ms: number }
  | { type: 'failed'; id: number; error: SerializedError }
  | { type: 'event'; id: number; event: unknown }
  | { type: 'stats'; rssBytes: number };
