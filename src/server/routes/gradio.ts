/**
 * A Gradio-compatible API per Space (research notes spaces.md section 8), so that `@gradio/client`'s
 * `Client.connect("<base>/spaces/org/name")` and `predict("/predict", ...)` work unchanged:
 *
 * - tier A: `GET /config`, `GET /gradio_api/info`, `POST /gradio_api/run/{api}`;
 * - tier B: `POST /gradio_api/queue/join` + `GET /gradio_api/queue/data` (SSE; generation streams `append` diffs);
 * - tier C: `POST /gradio_api/upload`, `GET /gradio_api/file={path}`, the curl pair `POST /gradio_api/call/{api}` +
 *   `GET /gradio_api/call/{api}/{event_id}`, and `cancel` / `reset`.
 *
 * Calls run on the local engine through the same parsing, cold-start policy (held: `x-wait-for-model: true`,
 * as Gradio's own `gr.load` asks), cache and usage accounting as `POST /models/{id}`. Uploads and results live
 * in memory, bounded (LRU), for an hour.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import { InputError, ModelhostError, reviveError } from '../../core/errors.ts';
import type { ModelInfo } from '../../core/model.ts';
import type { TaskId } from '../../core/tasks/index.ts';
import type { GenerationOutput } from '../../core/tasks/text-generation.ts';
import { baseUrlOf, findSpace, type SpaceInfo, type SpaceTask } from '../../ui/server/catalog.ts';
import { gradioIO, schemaOf, toGradioOutputs, toTaskCall, type GradioIO } from '../../ui/server/gradio-io.ts';
import { sampleFile } from '../../ui/server/assets.ts';
import { noteUsage } from '../access.ts';
import { exposedHeaders } from '../app.ts';
import { parseBody } from '../body.ts';
import type { ServerDeps } from '../deps.ts';
import { awaitModel, infer, resolveModel } from '../inference.ts';
import { callerSignal } from '../routed.ts';
import type { CancelSignal } from '../../engine/generation/index.ts';

const PREFIX = '/gradio_api';
const HOUR = 3_600_000;
const HEARTBEAT_MS = 15_000;

interface Upload {
  bytes: Buffer;
  mime: string;
  name: string;
}

/** One run: frames for the queue stream and the curl stream, kept until read (and a while after). */
interface Job {
  id: string;
  session: string;
  /** Gradio queue messages (`msg`), in order. */
  frames: Record<string, unknown>[];
  done: boolean;
  abort: AbortController;
  listeners: Set<() => void>;
}

interface Session {
  jobs: Set<string>;
  /** Frames not yet written to a stream. */
  pending: Record<string, unknown>[];
  stream?: ServerResponse;
}

function sseHead(res: ServerResponse, request: FastifyRequest) {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': request.id,
    'access-control-allow-origin': '*',
    'access-control-expose-headers': exposedHeaders.join(', '),
  });
}

/** The endpoints of a Space: `/predict` for its main task, one more per extra task (`/sentence_similarity`). */
function endpointsOf(space: SpaceInfo): { apiName: string; task: SpaceTask; io: GradioIO }[] {
  const out: { apiName: string; task: SpaceTask; io: GradioIO }[] = [];
  for (const task of [space.task, ...space.tasks.filter((t) => t !== space.task)]) {
    const io = gradioIO(task);
    if (io) out.push({ apiName: out.length === 0 ? 'predict' : task.replace(/-/g, '_'), task, io });
  }
  return out;
}

function appConfig(space: SpaceInfo, root: string) {
  const components: { id: number; type: string; props: Record<string, unknown> }[] = [];
  const dependencies = endpointsOf(space).map((e, id) => {
    const add = (c: GradioIO['inputs'][number]) => {
      components.push({ id: components.length + 1, type: c.type, props: { label: c.label, show_label: true, ...(c.default !== undefined ? { value: c.default } : {}) } });
      return components.length;
    };
    const inputs = e.io.inputs.map(add);
    const outputs = e.io.outputs.map(add);
    return {
      id,
      api_name: e.apiName,
      inputs,
      outputs,
      types: { generator: e.io.generator, cancel: false },
      queue: null,
      api_visibility: 'public',
      backend_fn: true,
      targets: [],
      trigger_mode: 'once',
      show_progress: 'full',
    };
  });
  return {
    version: '5.0.0',
    mode: 'interface',
    app_id: APP_ID,
    title: space.id,
    protocol: 'sse_v3',
    api_prefix: PREFIX,
    root,
    enable_queue: true,
    connect_heartbeat: false,
    is_space: false,
    components,
    dependencies,
    layout: { id: 0, children: components.map((c) => ({ id: c.id })) },
    max_file_size: null,
  };
}

const APP_ID = Number.parseInt(randomBytes(6).toString('hex'), 16);

function apiInfo(space: SpaceInfo) {
  const named: Record<string, unknown> = {};
  for (const e of endpointsOf(space)) {
    named[`/${e.apiName}`] = {
      description: `${e.task} with ${space.id}`,
      api_visibility: 'public',
      parameters: e.io.inputs.map((c) => ({
        label: c.label,
        parameter_name: c.name,
        parameter_has_default: c.default !== undefined,
        parameter_default: c.default ?? null,
        ...schemaOf(c),
        example_input: c.example ?? (c.type === 'image' || c.type === 'audio' ? { path: `/ui/samples/${c.type === 'image' ? 'image.png' : 'speech.wav'}`, meta: { _type: 'gradio.FileData' } } : null),
      })),
      returns: e.io.outputs.map((c) => ({ label: c.label, ...schemaOf(c) })),
    };
  }
  return { named_endpoints: named, unnamed_endpoints: {} };
}

export function gradioRoutes(deps: ServerDeps) {
  const uploads = new LRUCache<string, Upload>({ maxSize: 256 * 1024 ** 2, sizeCalculation: (u) => Math.max(1, u.bytes.length), ttl: HOUR });
  const jobs = new LRUCache<string, Job>({ max: 2000, ttl: HOUR });
  const sessions = new LRUCache<string, Session>({ max: 10_000, ttl: HOUR });

  function spaceOf(request: FastifyRequest<{ Params: { org: string; name: string } }>): { space: SpaceInfo; model: ModelInfo; root: string } {
    const id = `${request.params.org}/${request.params.name}`;
    const model = deps.repository.get(id);
    const base = baseUrlOf(request);
    const space = model ? findSpace(deps, id, base) : undefined;
    if (!space || !model) {
      throw new ModelhostError('model_not_found', 404, `No Gradio API for ${id}: it is not a model of this server's engine (see GET /api/models).`);
    }
    return { space, model, root: `${base}/spaces/${id}` };
  }

  function endpoint(space: SpaceInfo, apiName: string | number | undefined) {
    const list = endpointsOf(space);
    const wanted = typeof apiName === 'number' ? list[apiName] : list.find((e) => e.apiName === String(apiName ?? 'predict').replace(/^\//, ''));
    if (!wanted) throw new ModelhostError('bad_input', 404, `No endpoint ${String(apiName)}: this Space has ${list.map((e) => `/${e.apiName}`).join(', ')}`);
    return wanted;
  }

  /** A FileData (or a bare path string) → bytes: only files uploaded here or this server's samples. */
  function fileBytes(ref: unknown, root: string): Upload {
    const r = (ref && typeof ref === 'object' ? ref : { path: ref }) as { path?: unknown; url?: unknown };
    const path = typeof r.path === 'string' ? r.path : undefined;
    const url = typeof r.url === 'string' ? r.url : undefined;
    const upload = path ? uploads.get(path) : undefined;
    if (upload) return upload;
    for (const candidate of [path, url]) {
      if (!candidate) continue;
      const local = candidate.startsWith(root) ? candidate.slice(root.length) : candidate;
      const filePath = /\/gradio_api\/file=(.+)$/.exec(local)?.[1];
      const fromFile = filePath ? uploads.get(decodeURIComponent(filePath)) : undefined;
      if (fromFile) return fromFile;
      const sample = /(?:^|\/)ui\/samples\/([\w.-]+)$/.exec(new URL(candidate, 'http://local').pathname)?.[1];
      const bytes = sample ? sampleFile(sample) : undefined;
      if (bytes) return { bytes: bytes.data, mime: bytes.mime, name: sample! };
    }
    throw new InputError(
      'file input: upload the file first (the Gradio client does this for handle_file(), Blob and Buffer values); this server does not fetch URLs from elsewhere',
    );
  }

  /** Runs one call; `onText` receives generated text as it comes (text-generation). */
  async function execute(
    request: FastifyRequest,
    model: ModelInfo,
    space: SpaceInfo,
    task: SpaceTask,
    data: unknown[],
    root: string,
    onText?: (delta: string) => void,
    signal?: CancelSignal,
  ): Promise<{ outputs: unknown[]; seconds: number }> {
    const started = performance.now();
    const call = toTaskCall(task, data, space.parameters);
    const { spec } = resolveModel(deps, model.id, task as TaskId);
    let parsed;
    if (call.kind === 'file') {
      const file = fileBytes(call.ref, root);
      parsed = parseBody(file.bytes, file.mime, spec.modality, model.id);
    } else {
      parsed = parseBody(Buffer.from(JSON.stringify(call.body)), 'application/json', spec.modality, model.id);
    }
    const req = spec.parse(parsed.request);
    const options = { waitForModel: true };
    let answer: unknown;
    let computeMs: number;
    if (task === 'text-generation' && onText) {
      await awaitModel(deps, model, options, {});
      const t0 = performance.now();
      // The Textbox shows the prompt and its continuation (as Gradio's own text-generation interface does).
      let prefix = req.params.return_full_text === false ? '' : String(data[0] ?? '');
      const [out] = (await deps.engine.infer(model, 'text-generation', req.items, req.params, (event) => {
        const text = (event as { token?: { text?: string; special?: boolean } }).token;
        if (text?.text && !text.special) {
          onText(prefix + text.text);
          prefix = '';
        }
      }, signal)) as GenerationOutput[];
      computeMs = performance.now() - t0;
      answer = [{ generated_text: (req.params.return_full_text === false ? '' : out!.prompt) + out!.text }];
    } else {
      const result = await infer(deps, model, spec, req, options, {}, signal);
      answer = result.body;
      computeMs = result.computeMs;
    }
    const localPrice = deps.router?.file.routing.localPricePerSecond ?? 0;
    noteUsage(request, { provider: 'local', model: model.id, task: spec.id, costUsd: (computeMs / 1000) * localPrice, computeMs });
    return { outputs: toGradioOutputs(task, answer, data), seconds: (performance.now() - started) / 1000 };
  }

  function errorText(e: unknown): string {
    return reviveError(e).message;
  }

  // --- queue: frames per session ---------------------------------------------------------------------------

  function session(hash: string): Session {
    let s = sessions.get(hash);
    if (!s) {
      s = { jobs: new Set(), pending: [] };
      sessions.set(hash, s);
    }
    return s;
  }

  function write(res: ServerResponse, frame: Record<string, unknown>) {
    res.write(`data: ${JSON.stringify(frame)}\n\n`);
  }

  function emit(job: Job, frame: Record<string, unknown>) {
    const full: Record<string, unknown> = { ...frame, event_id: job.id };
    job.frames.push(full);
    if (full.msg === 'process_completed') job.done = true;
    for (const l of job.listeners) l();
    const s = sessions.get(job.session);
    if (!s) return;
    if (s.stream && !s.stream.destroyed) write(s.stream, full);
    else s.pending.push(full);
    if (job.done) {
      s.jobs.delete(job.id);
      if (s.jobs.size === 0 && s.stream && !s.stream.destroyed) {
        write(s.stream, { msg: 'close_stream', event_id: null });
        s.stream.end();
        s.stream = undefined;
      }
    }
  }

  /**
   * Stops a run whose caller left (Gradio's `clean_events` when a session's stream disconnects): its generation
   * ends at the next decoder step, and a replay of its frames shows why it stopped.
   */
  function abandon(job: Job) {
    if (job.done) return;
    job.abort.abort();
    emit(job, { msg: 'process_completed', success: false, output: { error: 'Cancelled: the caller closed its stream before the run finished', title: 'Error', visible: true }, title: 'Error' });
  }

  /** Starts a run in the background; frames follow Gradio's sse_v3 order. */
  function startJob(request: FastifyRequest, model: ModelInfo, space: SpaceInfo, task: SpaceTask, data: unknown[], hash: string, root: string): Job {
    const job: Job = { id: randomUUID().replace(/-/g, ''), session: hash, frames: [], done: false, abort: new AbortController(), listeners: new Set() };
    jobs.set(job.id, job);
    session(hash).jobs.add(job.id);
    const generator = gradioIO(task)!.generator;
    emit(job, { msg: 'estimation', rank: 0, queue_size: 1, rank_eta: null });
    queueMicrotask(async () => {
      emit(job, { msg: 'process_starts', eta: null, progress_data: null });
      let text = '';
      let sentFirst = false;
      const started = performance.now();
      try {
        const { outputs } = await execute(request, model, space, task, data, root, generator ? (delta) => {
          if (job.abort.signal.aborted) return;
          text += delta;
          // The first generating frame carries full values, later ones the appended text (Gradio's diff form).
          const out = sentFirst ? [[['append', [], delta]]] : [text];
          sentFirst = true;
          emit(job, { msg: 'process_generating', success: true, output: { data: out, is_generating: true }, time_limit: null });
        } : undefined, job.abort.signal);
        if (job.done) return;
        const duration = (performance.now() - started) / 1000;
        emit(job, { msg: 'process_completed', success: true, output: { data: outputs, is_generating: false, duration, average_duration: duration }, title: null });
      } catch (e) {
        if (job.done) return;
        emit(job, { msg: 'process_completed', success: false, output: { error: errorText(e), title: 'Error', visible: true }, title: 'Error' });
      }
    });
    return job;
  }

  function bodyOf(request: FastifyRequest): Record<string, unknown> {
    const raw = request.body as Buffer | undefined;
    if (!raw || raw.length === 0) return {};
    try {
      const v = JSON.parse(raw.toString('utf8')) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // fall through
    }
    throw new InputError('The body must be a JSON object such as {"data": [...]}');
  }

  function dataOf(body: Record<string, unknown>): unknown[] {
    if (!Array.isArray(body.data)) throw new InputError('"data" must be a list with one value per input');
    return body.data;
  }

  type P = { Params: { org: string; name: string } };
  type PA = { Params: { org: string; name: string; api: string } };

  return async function routes(app: FastifyInstance) {
    const base = '/spaces/:org/:name';

    app.get<P>(`${base}/config`, async (request) => {
      const { space, root } = spaceOf(request);
      return appConfig(space, root);
    });
    app.get<P>(`${base}${PREFIX}/info`, async (request) => apiInfo(spaceOf(request).space));

    // Tier A: one call, one answer.
    app.post<PA>(`${base}${PREFIX}/run/:api`, async (request, reply) => {
      const { space, model, root } = spaceOf(request);
      const body = bodyOf(request);
      const e = endpoint(space, request.params.api);
      try {
        const { outputs, seconds } = await execute(request, model, space, e.task, dataOf(body), root, undefined, callerSignal(reply));
        return { data: outputs, is_generating: false, duration: seconds, average_duration: seconds };
      } catch (err) {
        const error = reviveError(err);
        return reply.code(error.status >= 400 && error.status < 600 ? error.status : 500).send({ error: error.message });
      }
    });

    // Tier B: the queue.
    app.post<P>(`${base}${PREFIX}/queue/join`, async (request, reply) => {
      const { space, model, root } = spaceOf(request);
      const body = bodyOf(request);
      const hash = body.session_hash;
      if (typeof hash !== 'string' || hash === '') return reply.code(400).send({ detail: 'session_hash is required' });
      let e;
      try {
        e = endpoint(space, typeof body.fn_index === 'number' ? body.fn_index : undefined);
        dataOf(body);
      } catch (err) {
        return reply.code(422).send({ detail: reviveError(err).message });
      }
      const job = startJob(request, model, space, e.task, body.data as unknown[], hash, root);
      // The answer leaves before the work ends: the call's usage record names its model and task now.
      noteUsage(request, { provider: 'local', model: model.id, task: e.task, costUsd: 0 });
      return { event_id: job.id };
    });

    app.get<P & { Querystring: { session_hash?: string } }>(`${base}${PREFIX}/queue/data`, (request, reply) => {
      const hash = request.query.session_hash;
      if (!hash) return reply.code(400).send({ detail: 'session_hash is required' });
      reply.hijack();
      const res = reply.raw;
      sseHead(res, request);
      const s = session(hash);
      s.stream = res;
      for (const f of s.pending.splice(0)) write(res, f);
      if (s.jobs.size === 0) {
        write(res, { msg: 'close_stream', event_id: null });
        res.end();
        s.stream = undefined;
        return;
      }
      const beat = setInterval(() => write(res, { msg: 'heartbeat' }), HEARTBEAT_MS);
      res.on('close', () => {
        clearInterval(beat);
        if (s.stream !== res) return; // ended after close_stream, or replaced by a newer stream of the session
        s.stream = undefined;
        // The browser tab closed or the client went away with runs unfinished: nobody will read them.
        for (const id of [...s.jobs]) {
          const job = jobs.get(id);
          if (job) abandon(job);
        }
      });
    });

    // Tier C: files.
    app.post<P>(`${base}${PREFIX}/upload`, async (request, reply) => {
      spaceOf(request);
      const type = request.headers['content-type'] ?? '';
      if (!type.startsWith('multipart/form-data')) throw new InputError('Send multipart/form-data with one or more parts named "files"');
      let form: FormData;
      try {
        form = await new Response(new Uint8Array(request.body as Buffer), { headers: { 'content-type': type } }).formData();
      } catch {
        throw new InputError('The multipart body could not be read');
      }
      const paths: string[] = [];
      for (const part of form.getAll('files')) {
        if (typeof part === 'string') continue;
        const name = (part.name || 'file').replace(/[^\w.-]/g, '_').slice(-100);
        const path = `uploads/${randomUUID()}/${name}`;
        uploads.set(path, { bytes: Buffer.from(await part.arrayBuffer()), mime: part.type || 'application/octet-stream', name });
        paths.push(path);
      }
      if (paths.length === 0) throw new InputError('No part named "files" in the upload');
      return reply.send(paths);
    });

    app.get<P & { Params: { '*': string } }>(`${base}${PREFIX}/file=*`, async (request, reply) => {
      const path = decodeURIComponent(request.params['*']);
      const file = uploads.get(path);
      if (!file) return reply.code(404).send({ error: `No file ${path}: files are kept for an hour after upload` });
      return reply.type(file.mime).header('content-disposition', `inline; filename="${file.name}"`).send(file.bytes);
    });

    // The curl pair.
    app.post<PA>(`${base}${PREFIX}/call/:api`, async (request) => {
      const { space, model, root } = spaceOf(request);
      const body = bodyOf(request);
      const e = endpoint(space, request.params.api);
      const data = dataOf(body);
      const hash = typeof body.session_hash === 'string' && body.session_hash ? body.session_hash : `call-${randomUUID()}`;
      const job = startJob(request, model, space, e.task, data, hash, root);
      noteUsage(request, { provider: 'local', model: model.id, task: e.task, costUsd: 0 });
      return { event_id: job.id };
    });

    app.get<PA & { Params: { event_id: string } }>(`${base}${PREFIX}/call/:api/:event_id`, (request, reply) => {
      const job = jobs.get((request.params as { event_id: string }).event_id);
      if (!job) return reply.code(404).send({ error: 'No such event: results are kept for an hour, the 2,000 most recent' });
      reply.hijack();
      const res = reply.raw;
      sseHead(res, request);
      let sent = 0;
      let text: unknown[] | undefined;
      const flush = () => {
        for (; sent < job.frames.length; sent++) {
          const f = job.frames[sent]!;
          if (f.msg === 'process_generating') {
            // The curl stream carries full values, never diffs.
            const out = (f.output as { data: unknown[] }).data;
            text = text === undefined ? out : out.map((d, i) => (Array.isArray(d) && Array.isArray(d[0]) && d[0][0] === 'append' ? String(text![i]) + String(d[0][2]) : d));
            res.write(`event: generating\ndata: ${JSON.stringify(text)}\n\n`);
          } else if (f.msg === 'process_completed') {
            const output = f.output as { data?: unknown[]; error?: string };
            if (f.success) res.write(`event: complete\ndata: ${JSON.stringify(output.data)}\n\n`);
            else res.write(`event: error\ndata: ${JSON.stringify(output.error ?? null)}\n\n`);
            res.end();
            job.listeners.delete(flush);
            return;
          }
        }
      };
      job.listeners.add(flush);
      const beat = setInterval(() => res.write('event: heartbeat\ndata: null\n\n'), HEARTBEAT_MS);
      res.on('close', () => {
        clearInterval(beat);
        job.listeners.delete(flush);
        abandon(job); // a no-op once the run is done; else its reader left mid-stream
      });
      flush();
    });

    const cancel = async (request: FastifyRequest<P>, reply: FastifyReply) => {
      const body = bodyOf(request);
      const job = typeof body.event_id === 'string' ? jobs.get(body.event_id) : undefined;
      if (job && !job.done) {
        job.abort.abort();
        emit(job, { msg: 'process_completed', success: true, output: { data: [], is_generating: false }, title: null });
      }
      return reply.send({ success: true });
    };
    app.post<P>(`${base}${PREFIX}/cancel`, cancel);
    app.post<P>(`${base}${PREFIX}/reset`, cancel);
  };
}

export { endpointsOf };
