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

const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');

interface Hosted {
  model: Promise<LoadedModel>;
  chain: Promise<unknown>;
}
const hosted = new Map<string, Hosted>();

function send(msg: FromWorker): void {
  port!.postMessage(msg);
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
      const model = loadRuntime(msg.model.runtime).then((rt) => rt.load(msg.model));
      hosted.set(msg.key, { model, chain: Promise.resolve() });
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
      void h?.chain.then(() => h.model).then((m) => m.dispose()).catch(() => undefined);
      break;
    }
    case 'run': {
      const h = hosted.get(msg.key);
      if (!h) {
        send({ type: 'failed', id: msg.id, error: serialize(new Error(`model ${msg.key} is not loaded in this worker`)) });
        return;
      }
      const emit = msg.stream ? (event: unknown) => send({ type: 'event', id: msg.id, event }) : undefined;
      const run = h.chain.then(async () => {
        const started = performance.now();
        try {
          const model = await h.model;
          const outputs = await model.run(msg.task, msg.inputs, msg.params, emit);
          send({ type: 'result', id: msg.id, outputs, ms: performance.now() - started });
        } catch (e) {
          send({ type: 'failed', id: msg.id, error: serialize(e) });
        }
      });
      h.chain = run;
      break;
    }
  }
});
