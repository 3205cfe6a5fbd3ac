/**
 * A local WaveSpeed task API under `/api/v3`: submit at `/api/v3/{model id}`, results at
 * `/api/v3/predictions/{id}/result` and `/api/v3/predictions/{id}`, a `{code, message, data}` envelope on
 * every answer. Tasks walk `created` (waiting behind a concurrency gate) → `processing` (a latency drawn from
 * the plan) → `completed` | `failed` (with WaveSpeed's numeric task error codes). Sync mode holds the submit
 * up to `syncLimitMs`, then answers a 504 from the gateway or a still-processing `5004` task while the work
 * goes on. Outputs are URLs served from `/files/...` for `urlTtlMs`, or bare base64 with
 * `enable_base64_output` (refused together with `?webhook=`).
 *
 * Plan fields: request faults on submit (and on result reads with `faultsOnPolls`), `latencyMs`,
 * `jobFailRate` (a model failure: 1403/1405), `failAfterCompleteRate` (the platform fails the task after the
 * model ran: 5000/5003), `malformedRate` (truncated JSON or no `outputs`), `urlTtlMs`.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FaultPlanInput } from './fault-plan.ts';
import { applyRequestFault, createSimApp, type FaultAnswers, simTimers } from './harness.ts';
import { fakeCompletionTokens, fakeImagePng } from './fake-models.ts';

export interface WavespeedSimulatorOptions {
  plan?: FaultPlanInput;
  /** When set, every API call must carry `Authorization: Bearer <token>` (401 otherwise). */
  token?: string;
  /** Tasks processing at once (the account tier's cap); the rest wait `created`. */
  concurrency?: number;
  /** Apply the plan's request faults to result reads too, not only to submits. */
  faultsOnPolls?: boolean;
  /** How long a sync-mode submit is held before the gateway gives up, ms. */
  syncLimitMs?: number;
  /** What a sync submit answers when its wait runs out: a gateway 504, or a 200 with a processing 5004 task. */
  syncTimeout?: '504' | '5004';
  /** Answer API errors as HTTP 200 whose envelope `code` carries the status. */
  errorsInEnvelope?: boolean;
}

type TaskStatus = 'created' | 'processing' | 'completed' | 'failed';

interface Task {
  id: string;
  model: string;
  input: Record<string, unknown>;
  origin: string;
  status: TaskStatus;
  outputs: string[];
  error: string;
  code?: number;
  createdAt: string;
  inferenceMs: number;
  malformed?: 'truncate' | 'missing';
  /** Resolved when the task reaches a terminal status (sync mode waits on it). */
  done: Promise<void>;
  settle: () => void;
}

const MAX_SIDE = 4096;
const RESULT_RETENTION_MS = 10 * 60_000;
const TASK_ERRORS: Record<number, string> = {
  1401: 'Invalid parameter: size must be at most 4096*4096',
  1403: 'Task execution failed: the model produced no output (simulated)',
  1405: 'Task failed (simulated)',
  5000: 'Internal error (simulated)',
  5003: 'Service unavailable (simulated)',
};

const isImageModel = (model: string) => /flux|diffusion|sdxl|image/i.test(model);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const envelope = (code: number, message: string, data: unknown = null) => ({ code, message, data });

const faultAnswers: FaultAnswers = { errorBody: (status, message) => envelope(status, message) };

export function createWavespeedSimulator(opts: WavespeedSimulatorOptions = {}) {
  const { app, sim } = createSimApp(opts.plan);
  const concurrency = opts.concurrency ?? Infinity;
  const syncLimitMs = opts.syncLimitMs ?? 30_000;
  const tasks = new Map<string, Task>();
  const waiting: Task[] = [];
  const files = new Map<string, { bytes: Buffer; contentType: string; expiresAt: number }>();
  let processing = 0;

  const later = simTimers(app);
  if (opts.errorsInEnvelope) {
    // Some gateways answer errors as HTTP 200 with the status only in the envelope.
    app.addHook('onSend', async (request, reply, payload) => {
      if (request.url.startsWith('/api/v3/') && reply.statusCode >= 400) reply.code(200);
      return payload;
    });
  }

  /** The task as WaveSpeed shows it in `data`. */
  function view(task: Task): Record<string, unknown> {
    return {
      id: task.id,
      model: task.model,
      outputs: task.status === 'completed' ? task.outputs : [],
      urls: { get: `${task.origin}/api/v3/predictions/${task.id}/result` },
      has_nsfw_contents: task.status === 'completed' ? task.outputs.map(() => false) : [],
      status: task.status,
      created_at: task.createdAt,
      error: task.error,
      ...(task.code !== undefined ? { code: task.code } : {}),
      executionTime: task.status === 'completed' || task.status === 'failed' ? task.inferenceMs : 0,
      timings: { inference: task.status === 'completed' ? task.inferenceMs : 0 },
    };
  }

  /** The success envelope, broken as the plan decided for this task once it has output. */
  function sendTask(reply: FastifyReply, task: Task, data: Record<string, unknown> = view(task)) {
    const body = envelope(200, 'success', data);
    if (task.status === 'completed' && task.malformed === 'missing') delete (body.data as Record<string, unknown>).outputs;
    let text = JSON.stringify(body);
    if (task.status === 'completed' && task.malformed === 'truncate') text = text.slice(0, Math.floor(text.length / 2));
    return reply.type('application/json').send(text);
  }

  function storeFile(task: Task, name: string, bytes: Buffer, contentType: string): string {
    if (files.size >= 256) {
      const now = Date.now();
      for (const [key, file] of files) if (now >= file.expiresAt) files.delete(key);
    }
    files.set(name, { bytes, contentType, expiresAt: Date.now() + sim.plan.urlTtlMs });
    return `${task.origin}/files/${name}`;
  }

  function fail(task: Task, code: number) {
    task.status = 'failed';
    task.code = code;
    task.error = TASK_ERRORS[code] ?? 'Task failed';
  }

  function runModel(task: Task) {
    const input = task.input;
    const prompt = input.prompt as string;
    if (!isImageModel(task.model)) {
      const maxTokens = Number.isInteger(input.max_tokens) ? (input.max_tokens as number) : 16;
      task.outputs = [fakeCompletionTokens(prompt, maxTokens).join('')];
      task.status = 'completed';
      return;
    }
    const [width = 64, height = 64] = typeof input.size === 'string' ? input.size.split('*').map(Number) : [];
    if (width > MAX_SIDE || height > MAX_SIDE) return fail(task, 1401);
    const png = fakeImagePng(prompt, width, height);
    task.outputs = [input.enable_base64_output === true ? png.toString('base64') : storeFile(task, `${task.id}.png`, png, 'image/png')];
    task.status = 'completed';
  }

  function complete(task: Task) {
    const plan = sim.plan;
    if (sim.chance(plan.jobFailRate)) {
      sim.count('job_failed');
      fail(task, sim.random() < 0.5 ? 1403 : 1405);
    } else if (sim.chance(plan.failAfterCompleteRate)) {
      sim.count('fail_after_complete');
      fail(task, sim.random() < 0.5 ? 5000 : 5003);
    } else {
      runModel(task);
      if (task.status === 'completed' && sim.chance(plan.malformedRate)) {
        sim.count('malformed');
        task.malformed = sim.random() < 0.5 ? 'truncate' : 'missing';
      }
    }
    task.settle();
    later(RESULT_RETENTION_MS, () => tasks.delete(task.id));
  }

  function pump() {
    while (processing < concurrency && waiting.length > 0) {
      const task = waiting.shift() as Task;
      processing++;
      task.status = 'processing';
      task.inferenceMs = Math.round(sim.latency());
      later(task.inferenceMs, () => {
        processing--;
        complete(task);
        pump();
      });
    }
  }

  function authorized(request: FastifyRequest, reply: FastifyReply): boolean {
    if (!opts.token || request.headers.authorization === `Bearer ${opts.token}`) return true;
    reply.code(401).send(envelope(401, 'Unauthorized: invalid or missing API key'));
    return false;
  }

  /** Why WaveSpeed refuses a submit before creating a task, or undefined. */
  function refusal(input: unknown, query: Record<string, string>): [number, unknown] | undefined {
    if (!isRecord(input) || '__invalidJson' in input) return [400, envelope(400, 'Invalid request body')];
    if (query.webhook && input.enable_base64_output === true) {
      return [400, { error: 'webhook callback does not support base64 output, please disable enable_base64_output' }];
    }
    if (typeof input.prompt !== 'string' || !input.prompt) return [400, envelope(400, 'prompt is required')];
    if (input.size !== undefined && (typeof input.size !== 'string' || !/^\d+\*\d+$/.test(input.size))) {
      return [400, envelope(400, 'size must be given as "width*height"')];
    }
    return undefined;
  }

  app.post('/api/v3/*', async (request, reply) => {
    if (applyRequestFault(sim, request, reply, faultAnswers)) return reply;
    if (!authorized(request, reply)) return reply;
    const refused = refusal(request.body, request.query as Record<string, string>);
    if (refused) return reply.code(refused[0]).send(refused[1]);
    const input = request.body as Record<string, unknown>;
    let settle = () => {};
    const done = new Promise<void>((resolve) => (settle = resolve));
    const task: Task = {
      id: randomBytes(16).toString('hex'),
      model: (request.params as { '*': string })['*'],
      input,
      origin: `${request.protocol}://${request.host}`,
      status: 'created',
      outputs: [],
      error: '',
      createdAt: new Date().toISOString(),
      inferenceMs: 0,
      done,
      settle,
    };
    tasks.set(task.id, task);
    sim.stats.creates++;
    const created = view(task);
    waiting.push(task);
    pump();
    if (input.enable_sync_mode !== true) return sendTask(reply, task, created);

    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => (timer = later(syncLimitMs, () => resolve('expired'))));
    const waited = await Promise.race([task.done.then(() => 'done' as const), expired]);
    if (timer) {
      clearTimeout(timer);
    }
    if (waited === 'done') return sendTask(reply, task);
    sim.count('sync_timeout');
    if (opts.syncTimeout === '504') {
      return reply.code(504).type('text/html').send('<html><body><h1>504 Gateway Time-out</h1></body></html>');
    }
    return sendTask(reply, task, { ...view(task), code: 5004, error: 'Sync mode timed out, please query the result later' });
  });

  async function result(request: FastifyRequest, reply: FastifyReply) {
    if (opts.faultsOnPolls && applyRequestFault(sim, request, reply, faultAnswers)) return reply;
    if (!authorized(request, reply)) return reply;
    const task = tasks.get((request.params as { id: string }).id);
    if (!task) return reply.code(404).send(envelope(404, 'prediction not found'));
    return sendTask(reply, task);
  }
  app.get('/api/v3/predictions/:id/result', result);
  app.get('/api/v3/predictions/:id', result);

  app.get('/files/:name', async (request, reply) => {
    const name = (request.params as { name: string }).name;
    const file = files.get(name);
    if (!file || Date.now() >= file.expiresAt) {
      files.delete(name);
      return reply.code(404).type('application/xml').send('<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>');
    }
    return reply.type(file.contentType).send(file.bytes);
  });

  return { app, sim };
}
