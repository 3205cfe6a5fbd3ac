/**
 * A dedicated endpoint's replica: one process hosting one model, apart from modelhost and from every other
 * endpoint, so that its load, crash or memory cannot touch them. The model runs on this process's main
 * thread (nothing else runs here), and whatever arrived while a batch ran forms the next batch. Generations start
 * at once instead: the model's scheduler batches them continuously, and a cancelled one stops at its next step.
 *
 * Started as a spare (`--preload=<runtime>`, replica-launcher.ts), it imports that runtime at once and waits for
 * the load message that makes it some endpoint's replica.
 */
import stringify from 'safe-stable-stringify';
import { ModelhostError, type SerializedError } from '../core/errors.ts';
import { taskSpec, type TaskId } from '../core/tasks/index.ts';
import { cancelledError, GENERATION_TASKS, type SchedulerStats } from '../engine/generation/index.ts';
import type { LoadedModel } from '../engine/runtime.ts';
import { loadRuntime } from '../engine/runtimes/index.ts';
import type { FromReplica, ToReplica } from './replica-protocol.ts';

if (!process.send) throw new Error('replica-process.ts must be started with child_process.fork');

function send(msg: FromReplica): void {
  process.send!(msg);
}

function serialize(e: unknown): SerializedError {
  if (e instanceof ModelhostError) return e.toJSON();
  const message = e instanceof Error ? e.message : String(e);
  // Library errors may hold paths: modelhost logs them and shows callers a generic message.
  return { name: 'Error', code: 'inference_failed', status: 500, message, extra: { internal: true } };
}

interface Item {
  id: number;
  input: unknown;
  stream: boolean;
}
interface Queue {
  task: TaskId;
  params: Record<string, unknown>;
  items: Item[];
}

let model: LoadedModel | undefined;
let maxBatchSize = 32;
let busy = false;
const queues = new Map<string, Queue>();
/** Generations in flight, by request id (a `cancel` message aborts one). */
const generations = new Map<number, AbortController>();
/** The batch running now: its requests, those whose callers left, and what stops it once all of them have. */
let running: { ids: number[]; left: Set<number>; controller: AbortController } | undefined;

/**
 * A caller left: its generation stops at the next step; a queued input leaves its queue; a running batch is
 * stopped (a seq2seq generation at its next step) once every caller in it has left.
 */
function cancel(id: number): void {
  const generation = generations.get(id);
  if (generation) return generation.abort();
  for (const [key, queue] of queues) {
    const at = queue.items.findIndex((item) => item.id === id);
    if (at < 0) continue;
    queue.items.splice(at, 1);
    if (queue.items.length === 0) queues.delete(key);
    return send({ type: 'failed', id, error: cancelledError().toJSON() });
  }
  if (running?.ids.includes(id)) {
    running.left.add(id);
    if (running.left.size === running.ids.length) running.controller.abort();
  }
}

const preload = process.argv.find((a) => a.startsWith('--preload='))?.slice('--preload='.length);

/** What `ps` shows: the command line it was started with, under another name (the spare's argument left room). */
function rename(replica: string): void {
  process.title = [process.execPath, process.argv[1], `--replica=${replica}`].join(' ');
}

// Imported while nobody waits (load() awaits the same import); the launcher hands out only a spare that is done, whose
// event loop is free to take its load message, and its name, at once.
if (preload) {
  loadRuntime(preload).then(
    () => {
      rename('(spare, ready)');
      send({ type: 'spare-ready' });
    },
    // A spare that cannot import its runtime could never serve: it ends, and the launcher says so in the log.
    (e: unknown) => {
      console.error(`spare replica: cannot import the ${preload} runtime: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}

async function load(msg: Extract<ToReplica, { type: 'load' }>): Promise<void> {
  const info = msg.model;
  const started = performance.now();
  // A spare's command line named no endpoint: `ps` shows which one it serves from now on.
  if (preload) rename(msg.id);
  // Read by the runtime when it creates the model's session (src/engine/runtimes/transformers.ts).
  process.env.MODELHOST_ORT_THREADS = String(msg.threads);
  try {
    const runtime = await loadRuntime(info.runtime);
    model = await runtime.load(info, { generation: { options: { maxBatchSize }, onStats: reportGeneration } });
    send({ type: 'ready', ms: performance.now() - started });
  } catch (e) {
    console.error(`loading ${info.id} failed: ${e instanceof Error ? e.message : String(e)}`);
    send({ type: 'load-failed', error: serialize(e) });
  }
}

/** Scheduler stats go to modelhost at most every 100 ms (each step would flood the IPC channel), the last one always. */
let latestGeneration: SchedulerStats | undefined;
let generationTimer: NodeJS.Timeout | undefined;
function reportGeneration(stats: SchedulerStats): void {
  latestGeneration = stats;
  generationTimer ??= setTimeout(() => {
    generationTimer = undefined;
    if (latestGeneration) send({ type: 'generation', stats: latestGeneration });
  }, 100);
}

/** A generation runs beside the others (and beside the batches): the scheduler interleaves it step by step. */
async function generate(msg: Extract<ToReplica, { type: 'run' }>): Promise<void> {
  const controller = new AbortController();
  generations.set(msg.id, controller);
  const started = performance.now();
  const emit = msg.stream ? (event: unknown) => send({ type: 'event', id: msg.id, event }) : undefined;
  try {
    const outputs = await model!.run(msg.task, msg.inputs, msg.params, emit, controller.signal);
    send({ type: 'result', id: msg.id, outputs, ms: performance.now() - started });
  } catch (e) {
    send({ type: 'failed', id: msg.id, error: serialize(e) });
  } finally {
    generations.delete(msg.id);
  }
}

function enqueue(msg: Extract<ToReplica, { type: 'run' }>): void {
  if (GENERATION_TASKS.has(msg.task)) return void generate(msg);
  // Streamed runs and tasks that cannot share a forward pass queue alone, under their own key.
  const alone = msg.stream || !taskSpec(msg.task).batchable || msg.inputs.length !== 1;
  const key = alone ? `#${msg.id}` : `${msg.task}\u0000${stringify(msg.params)}`;
  let queue = queues.get(key);
  if (!queue) queues.set(key, (queue = { task: msg.task, params: msg.params, items: [] }));
  if (alone) queue.items.push({ id: msg.id, input: msg.inputs, stream: msg.stream });
  else queue.items.push({ id: msg.id, input: msg.inputs[0], stream: false });
  // Messages that arrive in the same turn join one batch.
  if (!busy) setImmediate(next);
}

async function next(): Promise<void> {
  if (busy || !model) return;
  const first = queues.entries().next();
  if (first.done) return;
  const [key, queue] = first.value;
  const alone = key.startsWith('#');
  const batch = queue.items.splice(0, alone ? 1 : maxBatchSize);
  if (queue.items.length === 0) queues.delete(key);
  busy = true;
  const started = performance.now();
  const controller = new AbortController();
  running = { ids: batch.map((b) => b.id), left: new Set(), controller };
  try {
    if (alone) {
      const item = batch[0]!;
      const emit = item.stream ? (event: unknown) => send({ type: 'event', id: item.id, event }) : undefined;
      const outputs = await model.run(queue.task, item.input as unknown[], queue.params, emit, controller.signal);
      send({ type: 'result', id: item.id, outputs, ms: performance.now() - started });
    } else {
      await runBatch(queue, batch, started, controller.signal);
    }
  } catch (e) {
    for (const item of batch) send({ type: 'failed', id: item.id, error: serialize(e) });
  } finally {
    running = undefined;
    busy = false;
    setImmediate(next);
  }
}

/** A batch refused for its input (a 4xx) runs again item by item, so a bad input fails only its own request. */
async function runBatch(queue: Queue, batch: Item[], started: number, signal: AbortSignal): Promise<void> {
  let outputs: unknown[];
  try {
    outputs = await model!.run(queue.task, batch.map((b) => b.input), queue.params, undefined, signal);
  } catch (e) {
    if (batch.length === 1 || signal.aborted || !(e instanceof ModelhostError) || e.status >= 500) throw e;
    for (const item of batch) {
      try {
        const [output] = await model!.run(queue.task, [item.input], queue.params);
        send({ type: 'result', id: item.id, outputs: [output], ms: performance.now() - started });
      } catch (itemError) {
        send({ type: 'failed', id: item.id, error: serialize(itemError) });
      }
    }
    return;
  }
  batch.forEach((item, i) => send({ type: 'result', id: item.id, outputs: [outputs[i]], ms: performance.now() - started }));
}

process.on('message', (msg: ToReplica) => {
  if (msg.type === 'load') {
    maxBatchSize = msg.maxBatchSize;
    void load(msg);
  } else if (msg.type === 'run') {
    if (!model) send({ type: 'failed', id: msg.id, error: serialize(new Error('the replica has no model loaded yet')) });
    else enqueue(msg);
  } else if (msg.type === 'cancel') {
    cancel(msg.id);
  }
});
// The parent going away (crash, SIGKILL) closes the channel: a replica never outlives modelhost.
process.on('disconnect', () => process.exit(0));
setInterval(() => send({ type: 'stats', rssBytes: process.memoryUsage.rss() }), 1000).unref();
