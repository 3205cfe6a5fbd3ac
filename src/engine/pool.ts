import { Worker } from 'node:worker_threads';
import { InferenceError, reviveError, type SerializedError } from '../core/errors.ts';
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
}

/** One worker thread and the requests in flight on it. Respawns itself if the thread dies. */
export class WorkerHandle {
  private worker!: Worker;
  private pending = new Map<number, Pending>();
  private nextId = 1;
  readonly hostedKeys = new Set<string>();
  hostedBytes = 0;
  private closing = false;

  constructor(
    readonly index: number,
    private readonly events: WorkerEvents,
    private readonly onInternalError: (message: string) => void,
  ) {
    this.spawn();
  }

  private spawn(): void {
    // The entry registers tsx's loader itself: the worker is TypeScript, whatever ran the main thread.
    this.worker = new Worker(new URL('./worker-entry.mjs', import.meta.url));
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
      case 'loaded':
        return this.events.loaded(msg.key, msg.ms);
      case 'load-failed':
        return this.events.loadFailed(msg.key, msg.error);
      case 'event':
        return this.pending.get(msg.id)?.onEvent?.(msg.event);
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

  run(msg: Omit<Extract<ToWorker, { type: 'run' }>, 'id' | 'type'>, onEvent?: (event: unknown) => void): Promise<unknown[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onEvent });
      this.post({ type: 'run', id, ...msg });
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }
}
