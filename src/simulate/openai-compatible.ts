/**
 * A local OpenAI-compatible server in the manner of vLLM (default), TGI or Ollama: `/v1/chat/completions`,
 * `/v1/completions`, `/v1/embeddings`, `/v1/models`, `/health`, answering from the fake models.
 *
 * Flavours differ where the real servers do: error bodies (vLLM `{error:{message,type,param,code:int}}`
 * with validation as 400; TGI `{error, error_type}` with validation as 422; Ollama `{error:{…,code:null}}`),
 * the 401 (vLLM `{"error":"Unauthorized"}`, TGI an empty body), `data: ` vs TGI's `data:`, TGI's
 * `finish_reason: ""` on completion chunks, vLLM's `stop_reason`, and what follows an in-stream error
 * (vLLM still sends `[DONE]`). The TGI flavour answers every 429 with its `overloaded` body: TGI has no
 * request-rate limit, only a full queue. Every answer carries `X-Request-Id` (echoed or generated).
 *
 * Fault plan: request-level faults as in harness.ts; `latencyMs` before the answer (or the stream's
 * headers); non-stream `malformedRate` truncates the JSON. Streams: `firstTokenDelayMs`, `tokenIntervalMs`,
 * and at event number `cutAfterEvents`: `cutRate` destroys the socket (0: right after the headers),
 * `malformedRate` sends that chunk as broken JSON (the rest and `[DONE]` follow), `jobFailRate` sends the
 * flavour's error chunk instead (generation failed); `failAfterCompleteRate` sends every chunk but no `[DONE]`.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FaultPlanInput } from './fault-plan.ts';
import { countTokens, fakeCompletionTokens, fakeEmbedding, lastUserText } from './fake-models.ts';
import { applyRequestFault, createSimApp, type FaultAnswers, type SimState } from './harness.ts';

export type Flavor = 'vllm' | 'tgi' | 'ollama';
type Body = Record<string, unknown>;

/** Waits without keeping the process alive after the app closed. */
export function wait(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms).unref()) : Promise.resolve();
}

const TGI_ERROR_TYPES: Record<number, string> = { 400: 'validation', 422: 'validation', 424: 'generation', 429: 'overloaded', 500: 'incomplete_generation' };

/** An error body in the flavour's shape. */
export function errorBody(flavor: Flavor, status: number, message: string, param: string | null = null): unknown {
  if (flavor === 'tgi') {
    return status === 429 ? { error: 'Model is overloaded', error_type: 'overloaded' } : { error: message, error_type: TGI_ERROR_TYPES[status] ?? 'server_error' };
  }
  if (flavor === 'ollama') {
    const type = status === 400 ? 'invalid_request_error' : status === 404 ? 'not_found_error' : 'api_error';
    return { error: { message, type, param: null, code: null } };
  }
  return { error: { message, type: STATUS_CODES[status] ?? 'Error', param, code: status } };
}

export function faultAnswers(flavor: Flavor): FaultAnswers {
  return { errorBody: (status, message) => errorBody(flavor, status, message) };
}

/** A request the server refuses before generating: vLLM and Ollama 400, TGI 422. */
function refuse(flavor: Flavor, reply: FastifyReply, message: string, param: string) {
  const status = flavor === 'tgi' ? 422 : 400;
  return reply.code(status).send(errorBody(flavor, status, flavor === 'tgi' ? `Input validation error: ${message}` : message, param));
}

export interface EventStream {
  /** `data:` payloads in order. */
  events: string[];
  /** The completion marker (`[DONE]`, or TGI's final event), sent last. */
  end: string;
  /** The flavour's in-stream error payload. */
  error: string;
  /** vLLM sends `[DONE]` even after an error chunk. */
  endAfterError: boolean;
  /** `data: ` (vLLM, Ollama) or `data:` (TGI). */
  prefix: string;
}

/** Plays an SSE answer with the plan's stream faults and timing. */
export async function sendEventStream(sim: SimState, request: FastifyRequest, reply: FastifyReply, stream: EventStream): Promise<void> {
  const p = sim.plan;
  const cut = sim.chance(p.cutRate);
  const malformed = !cut && sim.chance(p.malformedRate);
  const failed = !cut && !malformed && sim.chance(p.jobFailRate);
  const noEnd = !cut && !malformed && !failed && sim.chance(p.failAfterCompleteRate);
  const at = Math.min(p.cutAfterEvents, stream.events.length);
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { ...reply.getHeaders(), 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } as Record<string, string>);
  res.flushHeaders();
  const open = () => !res.destroyed && !res.writableEnded;
  // Each write is awaited so that a cut that follows does not discard events still in the socket's buffer.
  const send = (data: string) =>
    new Promise<void>((resolve) => (open() ? res.write(`${stream.prefix}${data}\n\n`, () => resolve()) : resolve()));
  await wait(p.firstTokenDelayMs);
  for (let i = 0; i <= stream.events.length; i++) {
    if (i === at && cut) {
      sim.count('stream_cut');
      request.raw.socket.destroy();
      return;
    }
    if (i === at && failed) {
      sim.count('stream_error');
      await send(stream.error);
      if (stream.endAfterError) await send(stream.end);
      res.end();
      return;
    }
    if (i === stream.events.length) break;
    if (i > 0) await wait(p.tokenIntervalMs);
    const event = stream.events[i]!;
    if (i === at && malformed) sim.count('malformed');
    await send(i === at && malformed ? event.slice(0, Math.ceil(event.length / 2)) : event);
  }
  if (noEnd) sim.count('no_end');
  else await send(stream.end);
  if (open()) res.end();
}

/** Sends a JSON answer, truncated when the plan says this one is malformed. */
export function sendJson(sim: SimState, reply: FastifyReply, answer: unknown) {
  if (sim.chance(sim.plan.malformedRate)) {
    sim.count('malformed');
    const text = JSON.stringify(answer);
    return reply.type('application/json').send(text.slice(0, Math.ceil(text.length / 2)));
  }
  return reply.type('application/json').send(answer);
}

/** The fake model's tokens up to a stop sequence (OpenAI leaves the stop string out). */
function generate(prompt: string, maxTokens: number, stop: unknown) {
  const stops = typeof stop === 'string' ? [stop] : Array.isArray(stop) ? stop.filter((s): s is string => typeof s === 'string' && s !== '') : [];
  const tokens = fakeCompletionTokens(prompt, maxTokens);
  let text = '';
  for (let i = 0; i < tokens.length; i++) {
    const next = text + tokens[i];
    const hit = stops.map((s) => next.indexOf(s)).filter((x) => x >= 0);
    if (hit.length) {
      const cutAt = Math.min(...hit);
      const pieces = tokens.slice(0, i);
      if (cutAt > text.length) pieces.push(next.slice(text.length, cutAt));
      return { pieces, finish: 'stop', stopReason: stops.find((s) => next.indexOf(s) === cutAt) ?? null };
    }
    text = next;
  }
  return { pieces: tokens, finish: 'length', stopReason: null };
}

export interface OpenAiRoutesOptions {
  flavor: Flavor;
  /** Answers the request itself (fault, auth, loading) and returns true when the route must not run. */
  guard(request: FastifyRequest, reply: FastifyReply): boolean;
  /** The model named by the URL (Hugging Face's `/models/{id}/v1/...`); otherwise the body's `model`. */
  urlModel?(request: FastifyRequest): string;
  /** Served models; others answer 404 (vLLM, Ollama). Any model when absent. */
  models?: string[];
}

/** Chat, completions and embeddings under `prefix` (`/v1`, or `/models/:org/:name/v1`). */
export function addOpenAiRoutes(app: FastifyInstance, sim: SimState, prefix: string, opts: OpenAiRoutesOptions) {
  const { flavor } = opts;
  const created = () => Math.floor(Date.now() / 1000);
  const sep = flavor === 'tgi' ? 'data:' : 'data: ';

  /** Common checks; the model id, or undefined when the request was answered. */
  function admit(request: FastifyRequest, reply: FastifyReply): { body: Body; model: string } | undefined {
    if (opts.guard(request, reply)) return undefined;
    const body = request.body as Body | undefined;
    if (!body || typeof body !== 'object' || '__invalidJson' in body || Buffer.isBuffer(body)) {
      refuse(flavor, reply, 'the body must be a JSON object', 'body');
      return undefined;
    }
    const model = opts.urlModel?.(request) ?? (typeof body.model === 'string' ? body.model : (opts.models?.[0] ?? 'sim/model'));
    if (opts.models && flavor !== 'tgi' && !opts.models.includes(model)) {
      const message = flavor === 'ollama' ? `model "${model}" not found, try pulling it first` : `The model \`${model}\` does not exist.`;
      reply.code(404).send(errorBody(flavor, 404, message, 'model'));
      return undefined;
    }
    return { body, model };
  }

  function maxTokens(body: Body, reply: FastifyReply): number | undefined {
    const value = body.max_completion_tokens ?? body.max_tokens ?? 16;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      refuse(flavor, reply, `max_tokens must be at least 1, got ${String(value)}.`, 'max_tokens');
      return undefined;
    }
    return value;
  }

  const errorChunk = () => JSON.stringify(errorBody(flavor, flavor === 'tgi' ? 424 : 500, 'Request failed during generation: simulated engine failure'));

  app.post(`${prefix}/chat/completions`, async (request, reply) => {
    const admitted = admit(request, reply);
    if (!admitted) return reply;
    const { body, model } = admitted;
    if (!Array.isArray(body.messages) || body.messages.length === 0) return refuse(flavor, reply, 'messages: a non-empty list is required', 'messages');
    const max = maxTokens(body, reply);
    if (max === undefined) return reply;
    sim.stats.creates++;
    const prompt = lastUserText(body.messages);
    const { pieces, finish, stopReason } = generate(prompt, max, body.stop);
    const usage = { prompt_tokens: countTokens(prompt), completion_tokens: pieces.length, total_tokens: countTokens(prompt) + pieces.length };
    const id = `chatcmpl-${randomUUID()}`;
    const extra = flavor === 'vllm' ? { stop_reason: stopReason } : {};
    await wait(sim.latency());
    if (body.stream !== true) {
      const message = { role: 'assistant', content: pieces.join('') };
      return sendJson(sim, reply, {
        id,
        object: 'chat.completion',
        created: created(),
        model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: finish, ...extra }],
        usage,
      });
    }
    const chunk = (delta: Body, finishReason: string | null, more: Body = {}) =>
      JSON.stringify({ id, object: 'chat.completion.chunk', created: created(), model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason, ...more }] });
    const events = [chunk({ role: 'assistant', content: '' }, null)];
    pieces.forEach((piece, i) => events.push(i === pieces.length - 1 ? chunk({ content: piece }, finish, extra) : chunk({ content: piece }, null)));
    if ((body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true) {
      events.push(JSON.stringify({ id, object: 'chat.completion.chunk', created: created(), model, choices: [], usage }));
    }
    await sendEventStream(sim, request, reply, { events, end: '[DONE]', error: errorChunk(), endAfterError: flavor === 'vllm', prefix: sep });
    return reply;
  });

  app.post(`${prefix}/completions`, async (request, reply) => {
    const admitted = admit(request, reply);
    if (!admitted) return reply;
    const { body, model } = admitted;
    const prompts = typeof body.prompt === 'string' ? [body.prompt] : body.prompt;
    if (!Array.isArray(prompts) || prompts.length === 0 || !prompts.every((x) => typeof x === 'string')) {
      return refuse(flavor, reply, 'prompt: a string or a non-empty list of strings is required', 'prompt');
    }
    const max = maxTokens(body, reply);
    if (max === undefined) return reply;
    sim.stats.creates++;
    const outputs = prompts.map((prompt) => ({ prompt, ...generate(prompt, max, body.stop) }));
    const promptTokens = outputs.reduce((n, o) => n + countTokens(o.prompt), 0);
    const completionTokens = outputs.reduce((n, o) => n + o.pieces.length, 0);
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
    const id = `cmpl-${randomUUID()}`;
    const extra = (o: { stopReason: string | null }) => (flavor === 'vllm' ? { stop_reason: o.stopReason } : {});
    await wait(sim.latency());
    if (body.stream !== true) {
      const choices = outputs.map((o, index) => ({ index, text: o.pieces.join(''), logprobs: null, finish_reason: o.finish, ...extra(o) }));
      return sendJson(sim, reply, { id, object: 'text_completion', created: created(), model, choices, usage });
    }
    // TGI marks unfinished completion chunks with an empty string rather than null.
    const unfinished = flavor === 'tgi' ? '' : null;
    const chunk = (choice: Body) => JSON.stringify({ id, object: 'text_completion', created: created(), model, choices: [{ logprobs: null, ...choice }] });
    const events = outputs.flatMap((o, index) =>
      o.pieces.map((text, i) => chunk(i === o.pieces.length - 1 ? { index, text, finish_reason: o.finish, ...extra(o) } : { index, text, finish_reason: unfinished })),
    );
    if ((body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true) {
      events.push(JSON.stringify({ id, object: 'text_completion', created: created(), model, choices: [], usage }));
    }
    await sendEventStream(sim, request, reply, { events, end: '[DONE]', error: errorChunk(), endAfterError: flavor === 'vllm', prefix: sep });
    return reply;
  });

  app.post(`${prefix}/embeddings`, async (request, reply) => {
    const admitted = admit(request, reply);
    if (!admitted) return reply;
    const { body, model } = admitted;
    const inputs = typeof body.input === 'string' ? [body.input] : body.input;
    if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((x) => typeof x === 'string')) {
      return refuse(flavor, reply, 'input: a string or a non-empty list of strings is required', 'input');
    }
    const dims = typeof body.dimensions === 'number' ? body.dimensions : 8;
    sim.stats.creates++;
    await wait(sim.latency());
    const data = inputs.map((text, index) => {
      const vector = fakeEmbedding(text, dims);
      const embedding = body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
      return { object: 'embedding', index, embedding };
    });
    const tokens = inputs.reduce((n, text) => n + countTokens(text), 0);
    return sendJson(sim, reply, { id: `embd-${randomUUID()}`, object: 'list', created: created(), model, data, usage: { prompt_tokens: tokens, total_tokens: tokens } });
  });
}

/** Adds `X-Request-Id` (echoed or generated) to every answer, as vLLM does. */
export function addRequestIds(app: FastifyInstance) {
  app.addHook('onRequest', async (request, reply) => {
    const given = request.headers['x-request-id'];
    reply.header('x-request-id', typeof given === 'string' && given ? given : randomUUID());
  });
}

export function createOpenAiSimulator(opts: { plan?: FaultPlanInput; flavor?: Flavor; token?: string; models?: string[] } = {}): {
  app: FastifyInstance;
  sim: SimState;
} {
  const flavor = opts.flavor ?? 'vllm';
  const { app, sim } = createSimApp(opts.plan);
  const answers = faultAnswers(flavor);
  addRequestIds(app);

  const authorized = (request: FastifyRequest) => !opts.token || request.headers.authorization === `Bearer ${opts.token}`;
  const guard = (request: FastifyRequest, reply: FastifyReply): boolean => {
    if (applyRequestFault(sim, request, reply, answers)) return true;
    if (authorized(request)) return false;
    sim.count('unauthorized');
    if (flavor === 'tgi') reply.code(401).send();
    else if (flavor === 'ollama') reply.code(401).send(errorBody('ollama', 401, 'unauthorized'));
    else reply.code(401).send({ error: 'Unauthorized' });
    return true;
  };
  addOpenAiRoutes(app, sim, '/v1', { flavor, guard, models: opts.models });

  app.get('/v1/models', async (request, reply) => {
    // TGI registers /v1/models outside its auth layer; vLLM protects every /v1 path.
    if (flavor !== 'tgi' && !authorized(request)) return reply.code(401).send(flavor === 'vllm' ? { error: 'Unauthorized' } : errorBody(flavor, 401, 'unauthorized'));
    const ids = opts.models ?? ['sim/model'];
    const owner = flavor === 'tgi' ? 'tgi' : flavor === 'ollama' ? 'library' : 'vllm';
    return { object: 'list', data: ids.map((id) => ({ id, object: 'model', created: 0, owned_by: owner })) };
  });
  app.get('/health', async (_request, reply) => reply.code(200).send());
  return { app, sim };
}
