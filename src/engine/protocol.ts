import type { SerializedError } from '../core/errors.ts';
import type { ModelInfo } from '../core/model.ts';
import type { TaskId } from '../core/tasks/index.ts';

/** Messages from the engine (main thread) to a worker. */
export type ToWorker =
  | { type: 'load'; key: string; model: ModelInfo }
  | { type: 'unload'; key: string }
  | { type: 'run'; id: number; key: string; task: TaskId; inputs: unknown[]; params: Record<string, unknown>; stream: boolean };

/** Messages from a worker back to the engine. */
export type FromWorker =
  | { type: 'loaded'; key: string; ms: number }
  | { type: 'load-failed'; key: string; error: SerializedError }
  | { type: 'result'; id: number; outputs: unknown[]; ms: number }
  | { type: 'failed'; id: number; error: SerializedError }
  | { type: 'event'; id: number; event: unknown };
