/**
 * Worker thread entry: hosts loaded models and runs batches, so that tokenization and inference never
 * run on the HTTP event loop. Runs of one model are serialised here; the engine keeps the next batch queued
 * in this thread's inbox so the model never waits for the main thread.
 */
import { parentPort } from 'node:worker_threads';
import { ModelhostError, type SerializedError } from '../core/errors.ts';
import type { LoadedModel } from './runtime.ts';
import { loadRuntime } from './runtimes/index.ts';
import type { FromWorker, ToWorker } from './protocol.ts';
import type { SchedulerStats } from './generation/index.ts';

const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');

interface Hosted {
  model: Promise<LoadedModel>;
  chain: Promise<unknown>;
  /** Concurrent runs (generation) in flight, by request id: cancelled on unload, awaited before dispose. */
  concurrent: Map<number, Promise<unknown>>;
}
const hosted = new Map<string, Hosted>();
/**
 * Loads and disposals in progress. Terminating the thread in the middle of one makes onnxruntime's native code throw
 * where nothing can catch it, which aborts the whole process; the engine drains them before it terminates.
 */
const settling = new Set<Promise<unknown>>();
function track(work: Promise<unknown>): void {
  const done = work.then(
    () => undefined,
    () => undefined,
  );
  settling.add(done);
  void done.then(() => settling.delete(done));
}
/** Abort controllers of the runs in flight, by request id (the engine's cancel message names the id). */
const controllers = new Map<number, AbortController>();

/**
 * Messages go out together once per turn of this thread's loop: a generation step ends with one token event per
 * sequence plus the scheduler's stats, and one postMessage for all of them instead of one each saved 3% of this
 * thread's time and as many message dispatches on the HTTP thread (16 streams). Order is kept.
 */
let outbox: FromWorker[] = [];
function flush(): void {
  const messages = outbox;
  outbox = [];
  port!.postMessage(messages.length === 1 ? messages[0] : ({ type: 'batch', messages } satisfies FromWorker));
}
function send(msg: FromWorker): void {
  outbox.push(msg);
  if (outbox.length === 1) setImmediate(flush);
}

function serialize(e: unknown): SerializedError {
  if (e instanceof ModelhostError) return e.toJSON();
  const message = e instanceof Error ? e.message : String(e);
  // Library errors are not shown verbatim to callers (they may hold paths); the engine logs them.
  return { name: 'Error', code: 'inference_failed', status: 500, message, extra: { internal: true } };
}

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'load': {
      const started = performance.now();
      const key = msg.key;
      const generation = { options: msg.generation ?? {}, onStats: (stats: SchedulerStats) => send({ type: 'generation-stats', key, stats }) };
      const model = loadRuntime(msg.model.runtime).then((rt) => rt.load(msg.model, { generation, ...(msg.threads ? { threads: msg.threads } : {}) }));
      hosted.set(msg.key, { model, chain: Promise.resolve(), concurrent: new Map() });
      track(model);
      model.then(
        () => send({ type: 'loaded', key: msg.key, ms: performance.now() - started }),
        (e: unknown) => {
          hosted.delete(msg.key);
          send({ type: 'load-failed', key: msg.key, error: serialize(e) });
        },
      );
      break;
    }
    case 'unload': {
      const h = hosted.get(msg.key);
      hosted.delete(msg.key);
      if (!h) break;
      for (const id of h.concurrent.keys()) controllers.get(id)?.abort();
      track(
        Promise.allSettled([h.chain, ...h.concurrent.values()])
          .then(() => h.model)
          .then((m) => m.dispose()),
      );
      break;
    }
    case 'drain':
      void (async () => {
        while (settling.size > 0) await Promise.all(settling);
        send({ type: 'idle' });
      })();
      break;
    case 'cancel':
      controllers.get(msg.id)?.abort();
      break;
    case 'run': {
      const h = hosted.get(msg.key);
      if (!h) {
        send({ type: 'failed', id: msg.id, error: serialize(new Error(`model ${msg.key} is not loaded in this worker`)) });
        return;
      }
      const emit = msg.stream ? (event: unknown) => send({ type: 'event', id: msg.id, event }) : undefined;
      const controller = new AbortController();
      controllers.set(msg.id, controller);
      const execute = async () => {
        const started = performance.now();
        try {
          const model = await h.model;
          const outputs = await model.run(msg.task, msg.inputs, msg.params, emit, controller.signal);
          send({ type: 'result', id: msg.id, outputs, ms: performance.now() - started });
        } catch (e) {
          send({ type: 'failed', id: msg.id, error: serialize(e) });
        } finally {
          controllers.delete(msg.id);
          h.concurrent.delete(msg.id);
        }
      };
      // Generation runs start at once: the model's scheduler interleaves them step by step. Other runs of a model
      // take turns, so the engine's next batch waits here rather than in the main thread.
      if (msg.concurrent) h.concurrent.set(msg.id, execute());
      else h.chain = h.chain.then(execute);
      break;
    }
  }
});
