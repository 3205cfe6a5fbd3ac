/**
 * A local fal.ai queue (`queue.fal.run`): submit at `/{owner}/{app}[/{sub-path}]`, status, result and cancel
 * under `/{owner}/{app}/requests/{id}` without the sub-path, as fal answers them. Requests wait `IN_QUEUE`
 * behind a concurrency gate (fal parks them rather than refusing), run `IN_PROGRESS` for a latency drawn from
 * the plan, and end `COMPLETED` whether they succeeded or not: a failure shows on the result URL. Output files
 * are served from `/files/...` for `urlTtlMs` (or the `x-fal-object-lifecycle-preference` the caller asked for).
 *
 * Plan fields: request faults on submit (and on status/result/cancel with `faultsOnPolls`), `latencyMs`,
 * `jobFailRate` (a 422 about the run as a whole), `failAfterCompleteRate` (a 500 request error),
 * `malformedRate` (truncated JSON or no `images`), `urlTtlMs`.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FaultPlanInput } from './fault-plan.ts';
import { applyRequestFault, createSimApp, type FaultAnswers, simTimers } from './harness.ts';
import { fakeCompletionTokens, fakeImagePng } from './fake-models.ts';

export interface FalSimulatorOptions {
  plan?: FaultPlanInput;
  /** When set, every API call must carry `Authorization: Key <token>` (401 otherwise). */
  token?: string;
  /** Requests running at once (fal's per-account concurrency limit); the rest wait IN_QUEUE. */
  concurrency?: number;
  /** Apply the plan's request faults to status, result and cancel calls too, not only to submits. */
  faultsOnPolls?: boolean;
}

type FalStatus = 'IN_QUEUE' | 'IN_PROGRESS' | 'COMPLETED';

interface Outcome {
  status: number;
  headers: Record<string, string>;
  /** JSON text as sent (possibly deliberately broken). */
  body: string;
  /** For the status answer of a failed request. */
  error?: { error: string; error_type: string };
}

interface FalJob {
  id: string;
  /** `owner/app`: where its status, result and cancel URLs live. */
  app: string;
  endpoint: string;
  input: Record<string, unknown>;
  origin: string;
  status: FalStatus;
  logs: Array<{ message: string; level: string; source: string; timestamp: string }>;
  startDeadline?: number;
  fileTtlMs?: number;
  runTimer?: NodeJS.Timeout;
  inferenceSeconds?: number;
  outcome?: Outcome;
}

const PRESET_SIZES: Record<string, [number, number]> = {
  square_hd: [1024, 1024],
  square: [512, 512],
  portrait_4_3: [768, 1024],
  portrait_16_9: [576, 1024],
  landscape_4_3: [1024, 768],
  landscape_16_9: [1024, 576],
};
const MAX_SIDE = 2048;
/** How long a finished request's result stays readable (fal keeps payloads for a while; bounded memory here). */
const RESULT_RETENTION_MS = 10 * 60_000;
const ERRORS_URL = 'https://docs.fal.ai/errors';

const isImageModel = (endpoint: string) => /flux|diffusion|sdxl|image/i.test(endpoint);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** fal's two error shapes: request errors `{detail: string, error_type}`, model errors `{detail: [...]}`. */
const faultAnswers: FaultAnswers = {
  errorBody(status, message) {
    if (status === 422) return { detail: [{ loc: ['body'], msg: message, type: 'value_error', url: ERRORS_URL }] };
    if (status === 429) return { detail: message, error_type: 'concurrent_requests_limit' };
    if (status === 503) return { detail: message, error_type: 'runner_scheduling_failure' };
    if (status >= 500) return { detail: message, error_type: 'internal_error' };
    return { detail: message };
  },
};

function modelError(loc: Array<string | number>, msg: string, type: string, ctx?: Record<string, unknown>): Outcome {
  const body = JSON.stringify({ detail: [{ loc, msg, type, url: `${ERRORS_URL}#${type}`, ...(ctx ? { ctx } : {}) }] });
  return { status: 422, headers: { 'x-fal-retryable': 'false' }, body, error: { error: msg, error_type: type } };
}

function requestError(status: number, detail: string, errorType: string, extra: Record<string, string> = {}): Outcome {
  return {
    status,
    headers: { 'x-fal-error-type': errorType, ...extra },
    body: JSON.stringify({ detail, error_type: errorType }),
    error: { error: detail, error_type: errorType },
  };
}

/** fal's field validation of a text-to-image input: an outcome when it fails, else the size to draw. */
function validateImageInput(input: Record<string, unknown>): Outcome | [number, number] {
  if (typeof input.prompt !== 'string' || !input.prompt) return modelError(['body', 'prompt'], 'Field required', 'missing');
  const size = input.image_size ?? [64, 64];
  let dims: [number, number] | undefined;
  if (typeof size === 'string') dims = PRESET_SIZES[size];
  else if (Array.isArray(size)) dims = size as [number, number];
  else if (isRecord(size)) dims = [size.width as number, size.height as number];
  if (!dims) return modelError(['body', 'image_size'], 'Input should be a valid image size', 'value_error');
  for (const [i, side] of ['width', 'height'].entries()) {
    const v = dims[i];
    if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > MAX_SIDE) {
      return modelError(['body', 'image_size', side], `Input should be an integer between 1 and ${MAX_SIDE}`, 'less_than_equal', { le: MAX_SIDE });
    }
  }
  const steps = input.num_inference_steps;
  if (steps !== undefined && (!Number.isInteger(steps) || (steps as number) < 1 || (steps as number) > 50)) {
    return modelError(['body', 'num_inference_steps'], 'Input should be less than or equal to 50', 'less_than_equal', { le: 50 });
  }
  return dims;
}

export function createFalSimulator(opts: FalSimulatorOptions = {}) {
  const { app, sim } = createSimApp(opts.plan);
  const concurrency = opts.concurrency ?? Infinity;
  const jobs = new Map<string, FalJob>();
  const pending: FalJob[] = [];
  const files = new Map<string, { bytes: Buffer; contentType: string; expiresAt: number }>();
  let running = 0;

  const later = simTimers(app);

  const log = (job: FalJob, message: string) => job.logs.push({ message, level: 'INFO', source: 'USER', timestamp: new Date().toISOString() });

  function urlsOf(job: FalJob) {
    const base = `${job.origin}/${job.app}/requests/${job.id}`;
    return { request_id: job.id, response_url: base, status_url: `${base}/status`, cancel_url: `${base}/cancel` };
  }

  function finish(job: FalJob, outcome: Outcome) {
    job.status = 'COMPLETED';
    job.outcome = outcome;
    later(RESULT_RETENTION_MS, () => jobs.delete(job.id));
  }

  function storeFile(job: FalJob, name: string, bytes: Buffer, contentType: string): string {
    if (files.size >= 256) {
      const now = Date.now();
      for (const [key, file] of files) if (now >= file.expiresAt) files.delete(key);
    }
    files.set(name, { bytes, contentType, expiresAt: Date.now() + (job.fileTtlMs ?? sim.plan.urlTtlMs) });
    return `${job.origin}/files/${name}`;
  }

  function runModel(job: FalJob): Outcome {
    const input = job.input;
    const seconds = job.inferenceSeconds ?? 0;
    let output: Record<string, unknown>;
    let main: string;
    if (isImageModel(job.endpoint)) {
      const dims = validateImageInput(input);
      if (!Array.isArray(dims)) return dims;
      const [width, height] = dims;
      const count = Number.isInteger(input.num_images) ? Math.min(Math.max(input.num_images as number, 1), 4) : 1;
      const png = fakeImagePng(input.prompt as string, width, height);
      const images = Array.from({ length: count }, (_, i) => {
        const fileName = `${job.id}-${i}.png`;
        const url = input.sync_mode === true ? `data:image/png;base64,${png.toString('base64')}` : storeFile(job, fileName, png, 'image/png');
        return { url, content_type: 'image/png', file_name: fileName, file_size: png.length, width, height };
      });
      const seed = Number.isInteger(input.seed) ? input.seed : Math.floor(sim.random() * 2 ** 31);
      output = { images, timings: { inference: seconds }, seed, has_nsfw_concepts: images.map(() => false), prompt: input.prompt };
      main = 'images';
    } else {
      if (typeof input.prompt !== 'string') return modelError(['body', 'prompt'], 'Field required', 'missing');
      const maxTokens = Number.isInteger(input.max_tokens) ? (input.max_tokens as number) : 16;
      output = { output: fakeCompletionTokens(input.prompt, maxTokens).join(''), partial: false, error: null };
      main = 'output';
    }
    let body = JSON.stringify(output);
    if (sim.chance(sim.plan.malformedRate)) {
      sim.count('malformed');
      if (sim.random() < 0.5) body = body.slice(0, Math.floor(body.length / 2));
      else body = JSON.stringify({ ...output, [main]: undefined });
    }
    return { status: 200, headers: {}, body };
  }

  function complete(job: FalJob) {
    const plan = sim.plan;
    log(job, 'Inference finished');
    if (sim.chance(plan.jobFailRate)) {
      sim.count('job_failed');
      return finish(job, modelError(['body'], 'The model failed to produce an output for this input (simulated)', 'generation_error'));
    }
    if (sim.chance(plan.failAfterCompleteRate)) {
      sim.count('fail_after_complete');
      return finish(job, requestError(500, 'Runner failed while sending the result (simulated)', 'runner_server_error'));
    }
    finish(job, runModel(job));
  }

  function start(job: FalJob) {
    running++;
    job.status = 'IN_PROGRESS';
    log(job, `Running ${job.endpoint}`);
    const runMs = sim.latency();
    job.inferenceSeconds = runMs / 1000;
    job.runTimer = later(runMs, () => {
      running--;
      job.runTimer = undefined;
      complete(job);
      pump();
    });
  }

  function startTimedOut(job: FalJob) {
    sim.count('start_timeout');
    finish(job, requestError(504, 'Request did not start before its timeout', 'request_timeout', { 'x-fal-request-timeout-type': 'user' }));
  }

  function pump() {
    while (running < concurrency && pending.length > 0) {
      const job = pending.shift() as FalJob;
      if (job.startDeadline !== undefined && Date.now() > job.startDeadline) startTimedOut(job);
      else start(job);
    }
  }

  function authorized(request: FastifyRequest, reply: FastifyReply): boolean {
    if (!opts.token) return true;
    const given = request.headers.authorization;
    if (given === `Key ${opts.token}`) return true;
    reply.code(401).send({ detail: given ? 'Invalid key credentials' : 'No authentication credentials provided' });
    return false;
  }

  /** Faults, auth and the job lookup shared by the status, result and cancel routes. */
  function findJob(request: FastifyRequest, reply: FastifyReply): FalJob | undefined {
    if (opts.faultsOnPolls && applyRequestFault(sim, request, reply, faultAnswers)) return undefined;
    if (!authorized(request, reply)) return undefined;
    const { owner, app: name, id } = request.params as { owner: string; app: string; id: string };
    const job = jobs.get(id);
    if (job && job.app === `${owner}/${name}`) return job;
    reply.code(404).send({ status: 'NOT_FOUND' });
    return undefined;
  }

  async function submit(request: FastifyRequest, reply: FastifyReply) {
    if (applyRequestFault(sim, request, reply, faultAnswers)) return reply;
    if (!authorized(request, reply)) return reply;
    const { owner, app: name } = request.params as { owner: string; app: string; '*'?: string };
    const sub = (request.params as { '*'?: string })['*'];
    const input = request.body;
    if (!isRecord(input) || '__invalidJson' in input) {
      return reply.code(422).send({ detail: [{ loc: ['body'], msg: 'Input should be a valid JSON object', type: 'model_attributes_type' }] });
    }
    const maxQueue = Number((request.query as { fal_max_queue_length?: string }).fal_max_queue_length);
    if (Number.isFinite(maxQueue) && pending.length >= maxQueue) {
      return reply.code(429).send({ detail: `Queue is longer than fal_max_queue_length=${maxQueue}`, error_type: 'queue_full' });
    }
    const job: FalJob = {
      id: randomUUID(),
      app: `${owner}/${name}`,
      endpoint: sub ? `${owner}/${name}/${sub}` : `${owner}/${name}`,
      input,
      origin: `${request.protocol}://${request.host}`,
      status: 'IN_QUEUE',
      logs: [],
    };
    const timeoutHeader = request.headers['x-fal-request-timeout'];
    if (timeoutHeader !== undefined) {
      const seconds = Number(timeoutHeader);
      if (!(seconds > 0)) return reply.code(400).send({ detail: 'Invalid x-fal-request-timeout header', error_type: 'bad_request' });
      job.startDeadline = Date.now() + seconds * 1000;
      later(seconds * 1000, () => {
        const at = pending.indexOf(job);
        if (at < 0) return;
        pending.splice(at, 1);
        startTimedOut(job);
      });
    }
    const lifecycle = request.headers['x-fal-object-lifecycle-preference'];
    if (typeof lifecycle === 'string') {
      try {
        const s = (JSON.parse(lifecycle) as { expiration_duration_seconds?: unknown }).expiration_duration_seconds;
        if (typeof s === 'number' && s >= 0) job.fileTtlMs = s * 1000;
      } catch {
        // fal ignores a preference it cannot read
      }
    }
    jobs.set(job.id, job);
    sim.stats.creates++;
    pending.push(job);
    pump();
    const position = pending.indexOf(job);
    return reply.send({
      ...urlsOf(job),
      gateway_request_id: job.id,
      status: job.status,
      queue_position: position < 0 ? 0 : position,
    });
  }

  app.post('/:owner/:app', submit);
  app.post('/:owner/:app/*', submit);

  app.get('/:owner/:app/requests/:id/status', async (request, reply) => {
    const job = findJob(request, reply);
    if (!job) return reply;
    const withLogs = (request.query as { logs?: string }).logs === '1';
    const body: Record<string, unknown> = { status: job.status, ...urlsOf(job) };
    if (job.status === 'IN_QUEUE') body.queue_position = pending.indexOf(job);
    if (withLogs && job.status !== 'IN_QUEUE') body.logs = job.logs;
    if (job.status === 'COMPLETED') {
      if (job.inferenceSeconds !== undefined) body.metrics = { inference_time: job.inferenceSeconds };
      Object.assign(body, job.outcome?.error);
    }
    return reply.send(body);
  });

  app.get('/:owner/:app/requests/:id', async (request, reply) => {
    const job = findJob(request, reply);
    if (!job) return reply;
    const outcome = job.outcome;
    if (!outcome) return reply.code(400).send({ detail: 'Request is still in progress' });
    return reply.code(outcome.status).headers({ ...outcome.headers, 'x-fal-request-id': job.id }).type('application/json').send(outcome.body);
  });

  app.put('/:owner/:app/requests/:id/cancel', async (request, reply) => {
    const job = findJob(request, reply);
    if (!job) return reply;
    if (job.status === 'COMPLETED') return reply.code(400).send({ status: 'ALREADY_COMPLETED' });
    sim.count('cancelled');
    if (job.status === 'IN_QUEUE') pending.splice(pending.indexOf(job), 1);
    if (job.runTimer) {
      // The simulated app honours the cancel signal at once.
      clearTimeout(job.runTimer);
      running--;
    }
    finish(job, requestError(499, 'Request was cancelled by the client', 'client_cancelled'));
    pump();
    return reply.code(202).send({ status: 'CANCELLATION_REQUESTED' });
  });

  app.get('/files/:name', async (request, reply) => {
    const file = files.get((request.params as { name: string }).name);
    if (!file || Date.now() >= file.expiresAt) {
      if (file) files.delete((request.params as { name: string }).name);
      return reply.code(404).type('application/json').send({ detail: 'File not found' });
    }
    return reply.type(file.contentType).send(file.bytes);
  });

  return { app, sim };
}
