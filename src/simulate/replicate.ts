/**
 * A local Replicate predictions API (provider-apis.md section 1) under `/v1`: both create routes,
 * `GET /v1/predictions/:id`, cancel, `Prefer: wait[=n]` with its three outcomes, `Cancel-After`, an SSE
 * stream per language-model prediction, output files served from `/files/...` with a TTL, RFC 7807 error
 * bodies and `ratelimit-*` headers on every API answer.
 *
 * Fault plan: the request-level faults on every API route (not on file downloads), `latencyMs` (a job's
 * run time), `firstTokenDelayMs` / `tokenIntervalMs` (when a language model emits its tokens),
 * `cutRate` / `cutAfterEvents` (streams), `malformedRate` (a job whose answers carrying output are
 * truncated JSON, and whose stream ends with an unreadable `done`), `urlTtlMs`, `jobFailRate`, and
 * `failAfterCompleteRate`: an image job reports `succeeded` with output URLs that are already gone; a
 * language-model job emits its whole output and then ends `failed` (a stream gets every `output` event,
 * then `error`).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FaultPlanInput } from './fault-plan.ts';
import { applyRequestFault, createSimApp, type FaultAnswers, type SimState } from './harness.ts';
import { countTokens, fakeCompletionTokens, fakeImagePng } from './fake-models.ts';

export interface ReplicateSimulatorOptions {
  plan?: FaultPlanInput;
  /** When set, API calls must carry `Authorization: Bearer <token>` (401 otherwise); unset accepts any. */
  token?: string;
  /** Bare version ids the version route knows, mapped to their model (`owner/name`). */
  versions?: Record<string, string>;
}

type Status = 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled' | 'aborted';
type Fate = 'ok' | 'fail' | 'failAfterComplete';

const TERMINAL: ReadonlySet<Status> = new Set(['succeeded', 'failed', 'canceled', 'aborted']);
const IMAGE_MODEL = /flux|diffusion|sdxl|image/i;
const DEFAULT_MAX_TOKENS = 64;
const MAX_IMAGE_SIDE = 2048;
/** Time between "all files exist" and `succeeded`: the window in which a waiting create answers `processing` with output. */
const UPLOAD_MS = 25;
const PROBLEM = 'application/problem+json';
const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthenticated',
  403: 'Forbidden',
  404: 'Not found',
  422: 'Input validation failed',
  429: 'Too many requests',
  500: 'Internal server error',
  502: 'Bad gateway',
  503: 'Service unavailable',
};
const LIMITS = { creates: 600, other: 3000 };
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

interface Job {
  id: string;
  model: string;
  version: string;
  input: Record<string, unknown>;
  image: boolean;
  status: Status;
  /** Tokens emitted so far (language models) or output file URLs (image models). */
  output: string[] | null;
  error: string | null;
  createdAt: number;
  startedAt?: number;
  firstTokenAt?: number;
  completedAt?: number;
  origin: string;
  files: Buffer[];
  filesExpireAt: number;
  /** failAfterComplete for image models: the files were never kept. */
  filesLost: boolean;
  malformed: boolean;
  timers: Set<NodeJS.Timeout>;
  listeners: Set<() => void>;
}

const problem = (status: number, detail: string, extra: Record<string, unknown> = {}) => ({
  title: TITLES[status] ?? 'Error',
  detail,
  status,
  ...extra,
});

const newId = () => Array.from(randomBytes(26), (b) => ID_ALPHABET[b & 31]).join('');
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** `wait` → 60, `wait=n` → n clamped to 1..60; no `wait` preference → undefined. */
function preferWait(header: unknown): number | undefined {
  const m = /(?:^|[\s,;])wait(?:=(\d+))?(?:$|[\s,;])/.exec(String(header ?? ''));
  if (!m) return undefined;
  return m[1] === undefined ? 60 : Math.min(60, Math.max(1, Number(m[1])));
}

/** A Go-style duration (`1m30s`, `15s`, `500ms`), the format of `Cancel-After`. */
function parseDuration(header: unknown): number | undefined {
  const text = String(header ?? '').trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) return undefined;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, n, , u] of text.matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) total += Number(n) * unit[u!]!;
  return total;
}

function sseEvent(event: string, data: string, id: string): string {
  return `event: ${event}\nid: ${id}\n${data.split('\n').map((line) => `data: ${line}\n`).join('')}\n`;
}

/** The input problems Replicate reports as 422 for these simulated models; empty when the input is valid. */
function invalidFields(input: Record<string, unknown>, image: boolean): Array<{ type: string; field: string; description: string }> {
  const out: Array<{ type: string; field: string; description: string }> = [];
  if (typeof input.prompt !== 'string') out.push({ type: 'required', field: 'prompt', description: 'prompt is required' });
  const int = (field: string, min: number, max: number) => {
    const v = input[field];
    if (v === undefined) return;
    if (!Number.isInteger(v)) out.push({ type: 'invalid_type', field, description: 'Invalid type. Expected: integer' });
    else if ((v as number) < min) out.push({ type: 'number_gte', field, description: `Must be greater than or equal to ${min}` });
    else if ((v as number) > max) out.push({ type: 'number_lte', field, description: `Must be less than or equal to ${max}` });
  };
  if (image) {
    int('width', 1, MAX_IMAGE_SIDE);
    int('height', 1, MAX_IMAGE_SIDE);
    int('num_outputs', 1, 4);
  } else {
    int('max_tokens', 1, 4096);
  }
  return out;
}

export function createReplicateSimulator(opts: ReplicateSimulatorOptions = {}): { app: FastifyInstance; sim: SimState } {
  const { app, sim } = createSimApp(opts.plan);
  const jobs = new Map<string, Job>();
  const window = { start: Date.now(), creates: 0, other: 0 };

  const answers: FaultAnswers = {
    errorBody: (status, message) =>
      status === 429 ? problem(429, `Request was throttled. Expected available in ${sim.plan.retryAfterSeconds ?? 1} second.`) : problem(status, message),
    errorContentType: PROBLEM,
    rateLimitHeaders: () => ({ 'ratelimit-remaining': '0', 'ratelimit-reset': String(Math.max(1, Math.ceil(sim.plan.retryAfterSeconds ?? 1))) }),
  };

  const isCreate = (request: FastifyRequest) => request.method === 'POST' && !request.url.endsWith('/cancel');
  const isApi = (request: FastifyRequest) => request.url.startsWith('/v1/') || request.url.startsWith('/stream/');

  function rateHeaders(request: FastifyRequest): Record<string, string> {
    const kind = isCreate(request) ? 'creates' : 'other';
    const reset = Math.max(1, Math.ceil((window.start + 60_000 - Date.now()) / 1000));
    return { 'ratelimit-remaining': String(Math.max(0, LIMITS[kind] - window[kind])), 'ratelimit-reset': String(reset) };
  }

  app.addHook('onRequest', async (request) => {
    if (!isApi(request)) return;
    if (Date.now() - window.start >= 60_000) Object.assign(window, { start: Date.now(), creates: 0, other: 0 });
    window[isCreate(request) ? 'creates' : 'other']++;
  });
  app.addHook('onSend', async (request, reply) => {
    if (!isApi(request) || reply.hasHeader('ratelimit-remaining')) return;
    for (const [k, v] of Object.entries(rateHeaders(request))) reply.header(k, v);
  });
  app.addHook('onClose', async () => {
    for (const job of jobs.values()) {
      for (const t of job.timers) clearTimeout(t);
      job.listeners.clear();
    }
  });

  /** Request faults, then the bearer token. True when the request has been answered. */
  function guard(request: FastifyRequest, reply: FastifyReply): boolean {
    if (applyRequestFault(sim, request, reply, answers)) return true;
    if (opts.token !== undefined && request.headers.authorization !== `Bearer ${opts.token}`) {
      reply.code(401).type(PROBLEM).send(problem(401, 'You did not pass a valid authentication token'));
      return true;
    }
    return false;
  }

  // ---- job lifecycle ----

  function notify(job: Job) {
    for (const listener of [...job.listeners]) listener();
  }

  function at(job: Job, ms: number, fn: () => void) {
    const timer = setTimeout(() => {
      job.timers.delete(timer);
      fn();
    }, Math.max(0, ms));
    timer.unref();
    job.timers.add(timer);
  }

  function finish(job: Job, status: Status, error: string | null = null) {
    if (TERMINAL.has(job.status)) return;
    for (const t of job.timers) clearTimeout(t);
    job.timers.clear();
    Object.assign(job, { status, error, completedAt: Date.now() });
    notify(job);
  }

  function schedule(job: Job, fate: Fate) {
    const plan = sim.plan;
    const runMs = sim.latency();
    const startMs = runMs * 0.25;
    at(job, startMs, () => {
      Object.assign(job, { status: 'processing', startedAt: Date.now() });
      notify(job);
      if (job.image) at(job, runMs - startMs, () => filesReady(job, fate));
      else at(job, plan.firstTokenDelayMs, () => emitToken(job, fate, 0, runMs, plan.tokenIntervalMs));
    });
  }

  function filesReady(job: Job, fate: Fate) {
    if (fate === 'fail') return finish(job, 'failed', 'NSFW content detected. Try running it again, or try a different prompt.');
    const width = Number(job.input.width ?? 64);
    const height = Number(job.input.height ?? 64);
    const count = Number(job.input.num_outputs ?? 1);
    const png = fakeImagePng(String(job.input.prompt), width, height);
    job.files = Array.from({ length: count }, () => png);
    job.output = job.files.map((_, i) => `${job.origin}/files/${job.id}/out-${i}.png`);
    job.filesExpireAt = Date.now() + sim.plan.urlTtlMs;
    job.filesLost = fate === 'failAfterComplete';
    notify(job);
    at(job, UPLOAD_MS, () => finish(job, 'succeeded'));
  }

  function emitToken(job: Job, fate: Fate, index: number, runMs: number, intervalMs: number) {
    if (fate === 'fail') return finish(job, 'failed', 'CUDA out of memory. Tried to allocate 2.00 GiB');
    const maxTokens = Number(job.input.max_tokens ?? DEFAULT_MAX_TOKENS);
    const tokens = fakeCompletionTokens(String(job.input.prompt), maxTokens);
    job.output = [...(job.output ?? []), tokens[index]!];
    job.firstTokenAt ??= Date.now();
    notify(job);
    if (index + 1 < tokens.length) return at(job, intervalMs, () => emitToken(job, fate, index + 1, runMs, intervalMs));
    at(job, job.createdAt + runMs - Date.now(), () =>
      fate === 'failAfterComplete' ? finish(job, 'failed', 'Prediction interrupted; please retry (code: PA)') : finish(job, 'succeeded'),
    );
  }

  // ---- views ----

  function metrics(job: Job): Record<string, number> | undefined {
    if (job.completedAt === undefined) return undefined;
    const m: Record<string, number> = { total_time: (job.completedAt - job.createdAt) / 1000 };
    if (job.startedAt !== undefined) m.predict_time = (job.completedAt - job.startedAt) / 1000;
    if (!job.image) {
      m.input_token_count = countTokens(String(job.input.prompt));
      m.output_token_count = job.output?.length ?? 0;
      if (job.firstTokenAt !== undefined) m.time_to_first_token = (job.firstTokenAt - (job.startedAt ?? job.createdAt)) / 1000;
    }
    return m;
  }

  function view(job: Job, inlineFiles: boolean) {
    const get = `${job.origin}/v1/predictions/${job.id}`;
    let output: unknown = job.output && [...job.output];
    // Sync-mode answers carry the files inline (observed in replicate-python's cassettes).
    if (inlineFiles && job.image && job.output && !job.filesLost) output = job.files.map((b) => `data:image/png;base64,${b.toString('base64')}`);
    return {
      id: job.id,
      model: job.model,
      version: job.version,
      input: job.input,
      logs: job.startedAt === undefined ? '' : `Using seed: ${Number(job.input.seed ?? 42)}\n`,
      output,
      data_removed: Date.now() >= job.filesExpireAt,
      error: job.error,
      status: job.status,
      source: 'api',
      created_at: iso(job.createdAt),
      started_at: iso(job.startedAt),
      completed_at: iso(job.completedAt),
      urls: {
        get,
        cancel: `${get}/cancel`,
        ...(job.image ? {} : { stream: `${job.origin}/stream/v1/predictions/${job.id}` }),
        web: `https://replicate.com/p/${job.id}`,
      },
      metrics: metrics(job),
    };
  }

  function sendPrediction(reply: FastifyReply, job: Job, code: number, inlineFiles = false) {
    const body = JSON.stringify(view(job, inlineFiles));
    reply.code(code).type('application/json; charset=utf-8');
    if (job.malformed && (TERMINAL.has(job.status) || job.output !== null)) {
      sim.count('malformed');
      return reply.send(body.slice(0, Math.floor(body.length / 2)));
    }
    return reply.send(body);
  }

  /** Resolves when the job is terminal, or (image models) all its files exist, or after `ms`. */
  function waitFor(job: Job, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (TERMINAL.has(job.status) || (job.image && job.output !== null)) done();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      function done() {
        clearTimeout(timer);
        job.listeners.delete(check);
        resolve();
      }
      job.listeners.add(check);
      check();
    });
  }

  // ---- routes ----

  async function create(request: FastifyRequest, reply: FastifyReply, model: string, version: string) {
    const body = request.body as Record<string, unknown> | undefined;
    if (body && '__invalidJson' in body) return reply.code(400).type(PROBLEM).send(problem(400, 'The request body is not valid JSON'));
    const input = body?.input;
    if (!input || typeof input !== 'object' || Array.isArray(input)) {
      const fields = [{ type: 'required', field: 'input', description: 'input is required' }];
      return reply.code(422).type(PROBLEM).send(problem(422, '- input: input is required', { invalid_fields: fields }));
    }
    const image = IMAGE_MODEL.test(model);
    const fields = invalidFields(input as Record<string, unknown>, image);
    if (fields.length) {
      const detail = fields.map((f) => `- ${f.field}: ${f.description}`).join('\n');
      return reply.code(422).type(PROBLEM).send(problem(422, detail, { invalid_fields: fields }));
    }
    const fate: Fate = sim.chance(sim.plan.jobFailRate) ? 'fail' : sim.chance(sim.plan.failAfterCompleteRate) ? 'failAfterComplete' : 'ok';
    const job: Job = {
      id: newId(),
      model,
      version,
      input: input as Record<string, unknown>,
      image,
      status: 'starting',
      output: null,
      error: null,
      createdAt: Date.now(),
      origin: `${request.protocol}://${request.host}`,
      files: [],
      filesExpireAt: Infinity,
      filesLost: false,
      malformed: sim.chance(sim.plan.malformedRate),
      timers: new Set(),
      listeners: new Set(),
    };
    jobs.set(job.id, job);
    sim.stats.creates++;
    schedule(job, fate);
    const deadline = parseDuration(request.headers['cancel-after']);
    // A deadline that passes before the job started aborts it (not charged); after, it cancels it.
    if (deadline !== undefined) at(job, deadline, () => finish(job, job.startedAt === undefined ? 'aborted' : 'canceled'));
    const wait = preferWait(request.headers.prefer);
    if (wait !== undefined) {
      reply.header('preference-applied', `wait=${wait}`);
      await waitFor(job, wait * 1000);
    }
    if (!TERMINAL.has(job.status)) reply.header('location', `${job.origin}/v1/predictions/${job.id}`);
    return sendPrediction(reply, job, 201, wait !== undefined);
  }

  app.post('/v1/models/:owner/:name/predictions', async (request, reply) => {
    if (guard(request, reply)) return reply;
    const { owner, name } = request.params as { owner: string; name: string };
    const model = `${owner}/${name}`;
    return create(request, reply, model, createHash('sha256').update(model).digest('hex'));
  });

  app.post('/v1/predictions', async (request, reply) => {
    if (guard(request, reply)) return reply;
    const version = (request.body as { version?: unknown } | undefined)?.version;
    if (typeof version !== 'string' || !version) {
      const fields = [{ type: 'required', field: 'version', description: 'version is required' }];
      return reply.code(422).type(PROBLEM).send(problem(422, '- version: version is required', { invalid_fields: fields }));
    }
    const named = /^([^/:]+\/[^/:]+):(.+)$/.exec(version);
    const model = named ? named[1]! : opts.versions?.[version];
    if (model === undefined) {
      const detail = "The specified version does not exist (or perhaps you don't have permission to use it?)";
      return reply.code(422).type(PROBLEM).send(problem(422, detail, { title: 'Invalid version or not permitted' }));
    }
    return create(request, reply, model, named ? named[2]! : version);
  });

  app.get('/v1/predictions/:id', async (request, reply) => {
    if (guard(request, reply)) return reply;
    const job = jobs.get((request.params as { id: string }).id);
    if (!job) return reply.code(404).type(PROBLEM).send(problem(404, 'Not found.'));
    return sendPrediction(reply, job, 200);
  });

  app.post('/v1/predictions/:id/cancel', async (request, reply) => {
    if (guard(request, reply)) return reply;
    const job = jobs.get((request.params as { id: string }).id);
    if (!job) return reply.code(404).type(PROBLEM).send(problem(404, 'Not found.'));
    finish(job, 'canceled'); // a terminal prediction stays as it is
    return sendPrediction(reply, job, 200);
  });

  app.get('/stream/v1/predictions/:id', async (request, reply) => {
    if (guard(request, reply)) return reply;
    const found = jobs.get((request.params as { id: string }).id);
    if (!found || found.image) return reply.code(404).type(PROBLEM).send(problem(404, 'Not found.'));
    const job: Job = found;
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...rateHeaders(request) });
    raw.flushHeaders();
    const cutAt = sim.chance(sim.plan.cutRate) ? sim.plan.cutAfterEvents : Infinity;
    let sent = 0;
    let seq = 0;
    const id = () => `${Math.floor(Date.now() / 1000)}:${seq++}`;
    const stop = () => job.listeners.delete(pump);
    // The connection drops once what was written has left, so the client sees exactly `cutAt` events.
    const cut = () => {
      sim.count('cut');
      stop();
      raw.write('', () => request.raw.socket.destroy());
    };
    function pump() {
      const tokens = job.output ?? [];
      while (sent < tokens.length) {
        raw.write(sseEvent('output', tokens[sent++]!, id()));
        if (sent >= cutAt) return cut();
      }
      if (!TERMINAL.has(job.status)) return;
      stop();
      if (job.status === 'failed') {
        raw.write(sseEvent('error', JSON.stringify({ detail: job.error }), id()));
        raw.write(sseEvent('done', JSON.stringify({ reason: 'error' }), id()));
      } else if (job.status !== 'succeeded') {
        raw.write(sseEvent('done', JSON.stringify({ reason: 'canceled' }), id()));
      } else if (job.malformed) {
        sim.count('malformed');
        raw.write(sseEvent('done', '{"reas', id()));
      } else {
        raw.write(sseEvent('done', '{}', id()));
      }
      raw.end();
    }
    if (cutAt === 0) return cut();
    raw.on('close', stop);
    job.listeners.add(pump);
    pump();
  });

  /** The "delivery" host: public file URLs, gone after the plan's TTL (or at once for failAfterComplete jobs). */
  app.get('/files/:id/:name', async (request, reply) => {
    const { id, name } = request.params as { id: string; name: string };
    const job = jobs.get(id);
    const index = /^out-(\d+)\.png$/.exec(name)?.[1];
    const file = job && index !== undefined ? job.files[Number(index)] : undefined;
    if (!job || !file || job.filesLost || Date.now() >= job.filesExpireAt) return reply.code(404).type('text/plain').send('Not Found');
    return reply.type('image/png').send(file);
  });

  return { app, sim };
}
