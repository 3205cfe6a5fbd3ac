import os from 'node:os';
import { InferenceError, ModelhostError, ModelLoadingError, OverloadedError, reviveError } from '../core/errors.ts';
import type { ModelInfo } from '../core/model.ts';
import { taskSpec, type TaskId } from '../core/tasks/index.ts';
import stringify from 'safe-stable-stringify';
import { cancelledError, GENERATION_TASKS, type CancelSignal, type SchedulerOptions, type SchedulerStats } from './generation/index.ts';
import { WorkerHandle } from './pool.ts';

export interface EngineOptions {
  /** Worker threads that host models (each model lives in one, or in `modelInstances` of them). */
  workers: number;
  /**
   * Copies of each batch-task model (not generation: its scheduler batches steps instead), each in its own worker
   * thread with its share of the cores for onnxruntime, so that one copy decodes and pre-processes its batch in
   * JavaScript while another runs the model. Costs the model's memory once per copy.
   */
  modelInstances: number;
  /** Cores onnxruntime may use in all (split between a model's instances). */
  cores: number;
  /** Most items merged into one forward pass; 1 turns dynamic batching off. */
  maxBatchSize: number;
  /** How long an idle model waits for more items before running a partial batch. */
  batchWaitMs: number;
  /** Loaded models are unloaded least-recently-used to stay under this many bytes. */
  memoryBudgetBytes: number;
  /** Items waiting per model beyond which requests are refused with 429 instead of queued. */
  maxQueuedItems: number;
  /**
   * Bounds of each generation model's continuous batching (src/engine/generation); its sequences per step are
   * `maxBatchSize` (1: one generation at a time).
   */
  generation?: Partial<Omit<SchedulerOptions, 'maxBatchSize'>>;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export const defaultEngineOptions: EngineOptions = {
  workers: 1,
  modelInstances: 1,
  cores: os.availableParallelism(),
  maxBatchSize: 64,
  batchWaitMs: 2,
  memoryBudgetBytes: 4 * 1024 ** 3,
  maxQueuedItems: 4096,
};

export type ModelState = 'unloaded' | 'loading' | 'ready';

/** What the HTTP layer runs models on: the engine, or a dedicated endpoint's replica processes. */
export interface EngineApi {
  ensureReady(model: ModelInfo, waitMs: number): Promise<void>;
  /** `signal` aborts when the caller has gone: a generation stops at its next decoder step and frees its slot. */
  infer(
    model: ModelInfo,
    task: TaskId,
    items: unknown[],
    params: Record<string, unknown>,
    onEvent?: (event: unknown) => void,
    signal?: CancelSignal,
  ): Promise<unknown[]>;
  state(modelId: string): ModelState;
  /** `instances`: copies of the model that are ready (absent where the engine has no such notion, e.g. endpoints). */
  loadedModels(): { id: string; state: ModelState; queued: number; lastUsed: number; instances?: number }[];
  /** `cancelled`: inputs whose callers left, dropped from the queue or stopped mid-run. */
  readonly counters: { batches: number; items: number; loads: number; unloads: number; cancelled: number };
  preload(model: ModelInfo): Promise<void>;
  unload(modelId: string): boolean;
  /** Each generation model's scheduler as of its last step (absent where the engine has none, e.g. endpoints). */
  generationStats?(): { model: string; stats: SchedulerStats }[];
  /** Called after every step of any generation model's scheduler; returns a function that stops the calls. */
  onGenerationStep?(listener: (model: string, stats: SchedulerStats) => void): () => void;
}

interface QueuedItem {
  input: unknown;
  enqueuedAt: number;
  resolve: (output: unknown) => void;
  reject: (e: Error) => void;
  onEvent?: (event: unknown) => void;
  /** Aborts when the caller has gone: a queued item leaves the queue; a batch whose callers all left is cancelled. */
  signal?: CancelSignal;
}

interface Queue {
  task: TaskId;
  params: Record<string, unknown>;
  batchable: boolean;
  items: QueuedItem[];
}

/**
 * A signal for a batch that aborts once every caller in it has left (a generating seq2seq batch then stops at its
 * next step); undefined when some caller cannot leave (no signal of its own).
 */
function abandonedWhenAllLeave(batch: QueuedItem[]): CancelSignal | undefined {
  if (!batch.every((b) => b.signal)) return undefined;
  const controller = new AbortController();
  const check = () => {
    if (batch.every((b) => b.signal!.aborted)) controller.abort();
  };
  for (const b of batch) b.signal!.addEventListener('abort', check);
  check();
  return controller.signal;
}

/** One copy of a model, in one worker thread. */
interface Instance {
  worker: WorkerHandle;
  ready: boolean;
  busy: boolean;
  batches: number;
}

interface Slot {
  model: ModelInfo;
  /** The first is where generation runs; batches go to whichever ready instance is idle. */
  instances: Instance[];
  state: 'loading' | 'ready';
  loadStarted: number;
  loaded: Promise<void>;
  settle: { resolve: () => void; reject: (e: Error) => void };
  lastUsed: number;
  /** When the model last finished a batch (0 before its first). */
  idleSince: number;
  /** Items in the model's last batch: more than one means requests are arriving together. */
  lastBatchSize: number;
  queued: number;
  /** Generation requests in flight on the worker (their scheduler queues and batches them). */
  generating: number;
  generation?: SchedulerStats;
  queues: Map<string, Queue>;
  waitTimer?: NodeJS.Timeout;
  bytes: number;
}

/** Roughly what a loaded ONNX model holds in memory compared with its files. */
const MEMORY_PER_FILE_BYTE = 1.5;

/**
 * Runs models in worker threads: lazy loading, least-recently-used unloading under a memory budget,
 * and dynamic batching (items of concurrent requests with the same model, task and parameters share a
 * forward pass, up to `maxBatchSize`).
 */
export class Engine implements EngineApi {
  private readonly opts: EngineOptions;
  private readonly workers: WorkerHandle[];
  private readonly slots = new Map<string, Slot>();
  /** Measured load speed (file bytes per second), refined after each load; starts conservative. */
  private loadBytesPerSecond = 50 * 1024 ** 2;
  readonly counters = { batches: 0, items: 0, loads: 0, unloads: 0, cancelled: 0 };
  private readonly stepListeners = new Set<(model: string, stats: SchedulerStats) => void>();

  constructor(opts: Partial<EngineOptions> = {}) {
    this.opts = { ...defaultEngineOptions, ...opts };
    const log = this.opts.log ?? (() => undefined);
    this.workers = Array.from(
      { length: Math.max(1, this.opts.workers, this.opts.modelInstances) },
      (_, i) =>
        new WorkerHandle(
          i,
          {
            loaded: (key, ms) => this.onLoaded(key, ms, i),
            loadFailed: (key, error) => this.onLoadFailed(key, reviveError(error), error.message, i),
            crashed: (keys) => this.onWorkerCrashed(keys, i),
            generationStats: (key, stats) => this.onGenerationStats(key, stats),
          },
          (message) => log('error', message),
        ),
    );
  }

  private log(level: 'info' | 'warn' | 'error', message: string): void {
    this.opts.log?.(level, message);
  }

  state(modelId: string): ModelState {
    return this.slots.get(modelId)?.state ?? 'unloaded';
  }

  loadedModels(): { id: string; state: ModelState; queued: number; lastUsed: number; instances: number }[] {
    return [...this.slots.values()].map((s) => ({
      id: s.model.id,
      state: s.state,
      queued: s.queued,
      lastUsed: s.lastUsed,
      instances: s.instances.filter((i) => i.ready).length,
    }));
  }

  /** A loaded model's copies: the worker thread each lives in, whether it is ready, and the batches it ran. */
  instanceStats(modelId: string): { worker: number; ready: boolean; batches: number }[] {
    return (this.slots.get(modelId)?.instances ?? []).map((i) => ({ worker: i.worker.index, ready: i.ready, batches: i.batches }));
  }

  /** Seconds a load of this model should take, from its size and the load speed measured so far. */
  estimateLoadSeconds(model: Pick<ModelInfo, 'id' | 'sizeBytes'>): number {
    const slot = this.slots.get(model.id);
    const total = 0.2 + model.sizeBytes / this.loadBytesPerSecond;
    if (slot?.state !== 'loading') return total;
    return Math.max(0.1, total - (performance.now() - slot.loadStarted) / 1000);
  }

  /**
   * Makes sure the model is loaded. Starts a load if needed; waits up to `waitMs` for it,
   * and otherwise throws ModelLoadingError (503 with estimated_time).
   */
  async ensureReady(model: ModelInfo, waitMs: number): Promise<void> {
    const slot = this.slots.get(model.id) ?? this.startLoad(model);
    slot.lastUsed = performance.now();
    if (slot.state === 'ready') return;
    if (waitMs <= 0) throw new ModelLoadingError(model.id, this.estimateLoadSeconds(model));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), waitMs);
    });
    try {
      const outcome = await Promise.race([slot.loaded.then(() => 'ok' as const), timeout]);
      if (outcome === 'timeout') throw new ModelLoadingError(model.id, this.estimateLoadSeconds(model));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Loads a model and resolves when it is ready (for --preload). */
  async preload(model: ModelInfo): Promise<void> {
    const slot = this.slots.get(model.id) ?? this.startLoad(model);
    await slot.loaded;
  }

  private startLoad(model: ModelInfo): Slot {
    const copies = GENERATION_TASKS.has(model.pipelineTag) ? 1 : Math.max(1, this.opts.modelInstances);
    const bytes = model.sizeBytes * MEMORY_PER_FILE_BYTE * copies;
    this.evictFor(bytes);
    const workers = [...this.workers].sort((a, b) => a.hostedBytes - b.hostedBytes).slice(0, copies);
    let settle!: Slot['settle'];
    const loaded = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    loaded.catch(() => undefined); // a load nobody waits for must not become an unhandled rejection
    const slot: Slot = {
      model,
      instances: workers.map((worker) => ({ worker, ready: false, busy: false, batches: 0 })),
      state: 'loading',
      loadStarted: performance.now(),
      loaded,
      settle,
      lastUsed: performance.now(),
      idleSince: 0,
      lastBatchSize: 0,
      queued: 0,
      generating: 0,
      queues: new Map(),
      bytes,
    };
    this.slots.set(model.id, slot);
    this.counters.loads++;
    const where = copies > 1 ? `${copies} instances, in workers ${workers.map((w) => w.index).join(', ')}` : `in worker ${workers[0]!.index}`;
    this.log('info', `loading ${model.id} (${(model.sizeBytes / 1024 ** 2).toFixed(1)} MB, runtime ${model.runtime}) ${where}`);
    // Instances share the cores: one copy gets onnxruntime's default (a thread per core), several split them.
    const threads = copies > 1 ? Math.max(1, Math.floor(this.opts.cores / copies)) : undefined;
    for (const worker of workers) {
      worker.hostedKeys.add(model.id);
      worker.hostedBytes += bytes / copies;
      worker.post({ type: 'load', key: model.id, model, generation: { ...this.opts.generation, maxBatchSize: this.opts.maxBatchSize }, ...(threads ? { threads } : {}) });
    }
    return slot;
  }

  /** Unloads idle models, least recently used first, until `bytes` more fit in the budget. */
  private evictFor(bytes: number): void {
    const used = () => [...this.slots.values()].reduce((sum, s) => sum + s.bytes, 0);
    const idle = [...this.slots.values()]
      .filter((s) => s.state === 'ready' && !s.instances.some((i) => i.busy) && s.queued === 0 && s.generating === 0)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    while (used() + bytes > this.opts.memoryBudgetBytes && idle.length > 0) this.unload(idle.shift()!.model.id);
    if (used() + bytes > this.opts.memoryBudgetBytes) {
      this.log('warn', `memory budget exceeded: ${(used() + bytes) / 1024 ** 2} MB needed, nothing idle to unload`);
    }
  }

  unload(modelId: string): boolean {
    const slot = this.slots.get(modelId);
    if (!slot) return false;
    this.release(slot);
    this.failQueued(slot, new InferenceError(`Model ${modelId} was unloaded; retry the request`));
    this.counters.unloads++;
    this.log('info', `unloaded ${modelId}`);
    return true;
  }

  /**
   * Forgets a model: its slot, and each instance's share of its worker's bookkeeping, telling those workers to
   * unload it. `gone`: the worker whose copy already went (a failed load, a crashed thread) and needs no message.
   */
  private release(slot: Slot, gone?: number): void {
    this.slots.delete(slot.model.id);
    for (const { worker } of slot.instances) {
      if (worker.index === gone && !worker.hostedKeys.has(slot.model.id)) continue;
      worker.hostedKeys.delete(slot.model.id);
      worker.hostedBytes -= slot.bytes / slot.instances.length;
      if (worker.index !== gone) worker.post({ type: 'unload', key: slot.model.id });
    }
  }

  private onLoaded(key: string, ms: number, workerIndex: number): void {
    const slot = this.slots.get(key);
    const instance = slot?.instances.find((i) => i.worker.index === workerIndex);
    if (!slot || !instance) return;
    instance.ready = true;
    if (slot.state === 'ready') {
      this.schedule(slot); // a further instance joins the one already serving
      return;
    }
    slot.state = 'ready';
    const seconds = Math.max(ms, 1) / 1000;
    this.loadBytesPerSecond = 0.5 * this.loadBytesPerSecond + 0.5 * Math.max(slot.model.sizeBytes / seconds, 1024 ** 2);
    this.log('info', `loaded ${key} in ${ms.toFixed(0)} ms`);
    slot.settle.resolve();
    this.schedule(slot);
  }

  private onLoadFailed(key: string, error: ModelhostError, detail: string, workerIndex: number): void {
    const slot = this.slots.get(key);
    if (!slot || !slot.instances.some((i) => i.worker.index === workerIndex)) return;
    this.log('error', `loading ${key} failed: ${detail}`);
    // The other instances load the same files; those that did are let go.
    this.release(slot, workerIndex);
    const shown =
      error.status >= 500
        ? new ModelhostError('inference_failed', 500, `Model ${key} could not be loaded; the server log says why`)
        : error;
    slot.settle.reject(shown);
    this.failQueued(slot, shown);
  }

  private onWorkerCrashed(keys: string[], workerIndex: number): void {
    for (const key of keys) {
      const slot = this.slots.get(key);
      if (!slot) continue;
      // The dead thread's bookkeeping is already cleared; copies in other workers are let go with the slot.
      this.release(slot, workerIndex);
      const error = new InferenceError(`The worker hosting ${key} stopped; retry the request`);
      slot.settle.reject(error);
      this.failQueued(slot, error);
    }
  }

  private onGenerationStats(key: string, stats: SchedulerStats): void {
    const slot = this.slots.get(key);
    if (slot) slot.generation = stats;
    for (const listener of this.stepListeners) listener(key, stats);
  }

  generationStats(): { model: string; stats: SchedulerStats }[] {
    return [...this.slots.values()].filter((s) => s.generation).map((s) => ({ model: s.model.id, stats: s.generation! }));
  }

  onGenerationStep(listener: (model: string, stats: SchedulerStats) => void): () => void {
    this.stepListeners.add(listener);
    return () => this.stepListeners.delete(listener);
  }

  private failQueued(slot: Slot, error: Error): void {
    clearTimeout(slot.waitTimer);
    for (const q of slot.queues.values()) for (const item of q.items) item.reject(error);
    slot.queues.clear();
    slot.queued = 0;
  }

  /**
   * Runs `items` (one request's inputs, all with the same params) on a ready model. Items are queued with
   * those of other requests for the same model, task and params, and run in batches.
   */
  infer(
    model: ModelInfo,
    task: TaskId,
    items: unknown[],
    params: Record<string, unknown>,
    onEvent?: (event: unknown) => void,
    signal?: CancelSignal,
  ): Promise<unknown[]> {
    const slot = this.slots.get(model.id);
    if (!slot || slot.state !== 'ready') return Promise.reject(new ModelLoadingError(model.id, this.estimateLoadSeconds(model)));
    if (GENERATION_TASKS.has(task)) return this.generate(slot, task, items, params, onEvent, signal);
    if (signal?.aborted) return Promise.reject(cancelledError());
    if (slot.queued + items.length > this.opts.maxQueuedItems) {
      return Promise.reject(new OverloadedError(`Model ${model.id} is overloaded (${slot.queued} inputs queued); retry later`));
    }
    const batchable = taskSpec(task).batchable && !onEvent && this.opts.maxBatchSize > 1;
    const key = `${task}\u0000${stringify(params)}`;
    let queue = slot.queues.get(key);
    if (!queue) {
      queue = { task, params, batchable, items: [] };
      slot.queues.set(key, queue);
    }
    const now = performance.now();
    const promises = items.map(
      (input) =>
        new Promise<unknown>((resolve, reject) => {
          const item: QueuedItem = { input, enqueuedAt: now, resolve, reject, onEvent, signal };
          queue.items.push(item);
          signal?.addEventListener('abort', () => this.dropQueued(slot, queue, item));
        }),
    );
    slot.queued += items.length;
    slot.lastUsed = now;
    this.schedule(slot);
    return Promise.all(promises);
  }

  /**
   * Generation goes to the worker at once, concurrently with the model's other generations: its scheduler admits
   * them into the running batch at the next decoder step (or queues them past its bounds).
   */
  private async generate(
    slot: Slot,
    task: TaskId,
    items: unknown[],
    params: Record<string, unknown>,
    onEvent?: (event: unknown) => void,
    signal?: CancelSignal,
  ): Promise<unknown[]> {
    if (slot.generating + items.length > this.opts.maxQueuedItems) {
      throw new OverloadedError(`Model ${slot.model.id} is overloaded (${slot.generating} generations in flight); retry later`);
    }
    slot.generating += items.length;
    slot.lastUsed = performance.now();
    this.counters.items += items.length;
    try {
      return await slot.instances[0]!.worker.run({ key: slot.model.id, task, inputs: items, params, stream: !!onEvent, concurrent: true }, onEvent, signal);
    } catch (e) {
      if (signal?.aborted) this.counters.cancelled += items.length;
      throw e;
    } finally {
      slot.generating -= items.length;
      slot.lastUsed = performance.now();
    }
  }

  /** Sends the next batch to an idle instance of the model, if it has one. */
  private schedule(slot: Slot): void {
    const instance = slot.instances.find((i) => i.ready && !i.busy);
    if (!instance || slot.state !== 'ready' || slot.queued === 0) return;
    // Serve the queue whose oldest item has waited longest.
    let queue: Queue | undefined;
    let queueKey = '';
    for (const [k, q] of slot.queues) {
      if (q.items.length > 0 && (!queue || q.items[0]!.enqueuedAt < queue.items[0]!.enqueuedAt)) {
        queue = q;
        queueKey = k;
      }
    }
    if (!queue) return;
    const max = queue.batchable ? this.opts.maxBatchSize : 1;
    // An idle model waits up to batchWaitMs for more items, counted from the oldest item or from when the model went idle,
    // whichever is later: items that queued up while it was busy are joined by the requests its last answers let through.
    // It waits only under load (its last batch was shared, or items are already queuing): a lone request at low
    // concurrency is run at once instead of paying the wait for company that is not coming.
    const age = performance.now() - Math.max(queue.items[0]!.enqueuedAt, slot.idleSince);
    const underLoad = slot.lastBatchSize > 1 || queue.items.length > 1;
    if (queue.batchable && underLoad && queue.items.length < max && age < this.opts.batchWaitMs) {
      if (!slot.waitTimer) {
        slot.waitTimer = setTimeout(() => {
          slot.waitTimer = undefined;
          this.schedule(slot);
        }, this.opts.batchWaitMs - age);
      }
      return;
    }
    clearTimeout(slot.waitTimer);
    slot.waitTimer = undefined;
    const batch = queue.items.splice(0, max);
    if (queue.items.length === 0) slot.queues.delete(queueKey);
    slot.queued -= batch.length;
    slot.lastBatchSize = batch.length;
    instance.busy = true;
    instance.batches++;
    this.counters.batches++;
    this.counters.items += batch.length;
    const onEvent = batch.length === 1 ? batch[0]!.onEvent : undefined;
    const abandoned = abandonedWhenAllLeave(batch);
    instance.worker
      .run({ key: slot.model.id, task: queue.task, inputs: batch.map((b) => b.input), params: queue.params, stream: !!onEvent }, onEvent, abandoned)
      .then(
        (outputs) => batch.forEach((item, i) => item.resolve(outputs[i])),
        (e: Error) => {
          if (!abandoned?.aborted) return this.retryAlone(instance.worker, slot, queue.task, queue.params, batch, e);
          // Stopped mid-run: every caller of the batch had left.
          this.counters.cancelled += batch.length;
          batch.forEach((item) => item.reject(cancelledError()));
        },
      )
      .finally(() => {
        instance.busy = false;
        slot.lastUsed = performance.now();
        slot.idleSince = slot.lastUsed;
        if (this.slots.get(slot.model.id) === slot) this.schedule(slot);
      });
    // Items beyond this batch go to another idle instance at once.
    this.schedule(slot);
  }

  /** A caller left while its item still waited: it leaves the queue (a batch it shared keeps running for the others). */
  private dropQueued(slot: Slot, queue: Queue, item: QueuedItem): void {
    const at = queue.items.indexOf(item);
    if (at < 0) return;
    queue.items.splice(at, 1);
    slot.queued--;
    this.counters.cancelled++;
    item.reject(cancelledError());
  }

  /**
   * A batch refused for its input (a 4xx) is run again one item at a time, so a bad input fails only the
   * request that sent it, not the others that shared its forward pass.
   */
  private async retryAlone(worker: WorkerHandle, slot: Slot, task: TaskId, params: Record<string, unknown>, batch: QueuedItem[], error: Error): Promise<void> {
    if (batch.length === 1 || !(error instanceof ModelhostError) || error.status >= 500) {
      batch.forEach((item) => item.reject(error));
      return;
    }
    for (const item of batch) {
      try {
        const [output] = await worker.run({ key: slot.model.id, task, inputs: [item.input], params, stream: false });
        item.resolve(output);
      } catch (e) {
        item.reject(e as Error);
      }
    }
  }

  async close(): Promise<void> {
    for (const slot of this.slots.values()) this.failQueued(slot, new InferenceError('The server is shutting down'));
    await Promise.all(this.workers.map((w) => w.close()));
  }
}
