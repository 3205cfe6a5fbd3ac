import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import { InferenceError, reviveError, type SerializedError } from '../core/errors.ts';
import type { CancelSignal, SchedulerStats } from './generation/index.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

interface Pending {
  resolve: (outputs: unknown[]) => void;
  reject: (e: Error) => void;
  onEvent?: (event: unknown) => void;
}

export interface WorkerEvents {
  loaded(key: string, ms: number): void;
  loadFailed(key: string, error: SerializedError): void;
  /** The thread died: every model it hosted is gone. */
  crashed(keys: string[]): void;
  /** A model's generation scheduler finished a step. */
  generationStats?(key: string, stats: SchedulerStats): void;
}

/**
 * Compiled (dist/, how modelhost runs), the worker is plain JavaScript. Run from the sources (vitest,
 * MODELHOST_FROM_SOURCE=1), it starts from an entry that registers tsx first: worker threads start without the
 * parent's loaders on Node 20.
 */
const WORKER_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './worker-entry.mjs' : './worker.js', import.meta.url);

/**
 * Worker heaps start with room for 256 MB of old generation before their first full collection. Why: a generating
 * worker turns over ~1 GB/s of onnxruntime output buffers (each step's KV cache, copied into fresh ArrayBuffers) and
 * very little else; with V8's default start (a few tens of MB), about one run in two fell into a regime of full
 * marking every ~25 ms on V8's helper threads, which took the cores onnxruntime needs: 1,000-1,100 generated
 * tokens/s at 16 streams instead of 1,700-1,900 (bench:generation, Llama shape). With the room, those buffers die in
 * cheap young collections and runs stay in the fast regime. The flag applies to isolates created after it is set: the
 * workers, not this thread.
 */
v8.setFlagsFromString(`--initial-old-space-size=256`);

/** One worker thread and the requests in flight on it. Respawns itself if the thread dies. */
export class WorkerHandle {
  private worker!: Worker;
  private pending = new Map<number, Pending>();
  private nextId = 1;
  readonly hostedKeys = new Set<string>();
  hostedBytes = 0;
  private closing = false;
  private drained?: () => void;

  constructor(
    readonly index: number,
    private readonly events: WorkerEvents,
    private readonly onInternalError: (message: string) => void,
  ) {
    this.spawn();
  }

  private spawn(): void {
    this.worker = new Worker(WORKER_ENTRY);
    this.worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    this.worker.on('error', (e) => this.onInternalError(`worker ${this.index} error: ${e.message}`));
    this.worker.on('exit', (code) => {
      if (this.closing) return;
      this.onInternalError(`worker ${this.index} exited with code ${code}; restarting it`);
      const keys = [...this.hostedKeys];
      this.hostedKeys.clear();
      this.hostedBytes = 0;
      for (const p of this.pending.values()) p.reject(new InferenceError('The model worker stopped while running this request; retry it'));
      this.pending.clear();
      this.spawn();
      this.events.crashed(keys);
    });
  }

  private onMessage(msg: FromWorker): void {
    switch (msg.type) {
      case 'batch':
        for (const m of msg.messages) this.onMessage(m);
        return;
      case 'loaded':
        return this.events.loaded(msg.key, msg.ms);
      case 'load-failed':
        return this.events.loadFailed(msg.key, msg.error);
      case 'event':
        return this.pending.get(msg.id)?.onEvent?.(msg.event);
      case 'generation-stats':
        return this.events.generationStats?.(msg.key, msg.stats);
      case 'idle':
        return this.drained?.();
      case 'result': {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        return p?.resolve(msg.outputs);
      }
      case 'failed': {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error.extra?.internal) this.onInternalError(`inference failed: ${msg.error.message}`);
        const error = msg.error.extra?.internal ? new InferenceError('The model failed on this input') : reviveError(msg.error);
        return p?.reject(error);
      }
    }
  }

  post(msg: ToWorker): void {
    this.worker.postMessage(msg);
  }

  /** Runs on the worker; when `signal` aborts, the worker is told to cancel (generation stops at its next step). */
  run(msg: Omit<Extract<ToWorker, { type: 'run' }>, 'id' | 'type'>, onEvent?: (event: unknown) => void, signal?: CancelSignal): Promise<unknown[]> {
    const id = this.nextId++;
    const cancel = () => {
      if (this.pending.has(id)) this.post({ type: 'cancel', id });
    };
    signal?.addEventListener('abort', cancel);
    return new Promise<unknown[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onEvent });
      this.post({ type: 'run', id, ...msg });
    }).finally(() => signal?.removeEventListener('abort', cancel));
  }

  /** Lets loads and disposals in progress finish (at most `drainMs`), then stops the thread. */
  async close(drainMs = 30_000): Promise<void> {
    this.closing = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        this.drained = resolve;
        this.worker.once('exit', () => resolve()); // a thread that died answers nothing
        this.post({ type: 'drain' });
      }),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, drainMs);
      }),
    ]);
    clearTimeout(timer);
    await this.worker.terminate();
  }
}
