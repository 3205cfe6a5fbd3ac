/**
 * Replicate (https://replicate.com/docs/reference/http; provider-apis.md section 1). A call creates a
 * prediction on `POST /models/{owner}/{name}/predictions`, or on `POST /predictions` with `version` when
 * the provider model is `owner/name:version`, held open with `Prefer: wait=<n>`, then polls `urls.get`.
 *
 * Quirks this adapter handles:
 * - "Output present" and "status terminal" are separate signals: a file model answers a waiting create as
 *   soon as its files exist, often still `processing`; that output is final. Text output grows while
 *   `processing`, so text waits for `succeeded`.
 * - Files come as `data:` URIs (sync mode) or `replicate.delivery` URLs deleted after an hour.
 * - A model failure is a 2xx prediction with `status: failed` and an `error` string, not an HTTP error.
 * - Streams are an SSE URL in `urls.stream`: `output` events are text chunks, `error` carries
 *   `{detail}`, `done` ends the stream (`{}`, or `{reason: "canceled" | "error"}`).
 *
 * Options: `waitSeconds` (Prefer: wait, 1..60, default 60; 0 sends no Prefer and polls from the start),
 * `pollIntervalMs` (default 500), `cancelAfter` (a `Cancel-After` duration such as "5m", unset by default),
 * `chatPrompt` ("last-user", the default: the last user message is the prompt, system messages become
 * `system_prompt`; "transcript": the whole conversation as role-tagged lines).
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { UpstreamError, type CallApi, type ProviderCall, type ProviderResult, type Usage, type CallSignal } from '../core/providers.ts';
import { delay, type AdapterConfig, type AdapterFactory } from './_base/adapter.ts';
import { resolveArtifact } from './_base/artifact.ts';
import { header, httpError, UpstreamHttp } from './_base/http.ts';

interface Prediction {
  id: string;
  status: string;
  output?: unknown;
  error?: unknown;
  created_at?: string;
  data_removed?: boolean;
  metrics?: Record<string, unknown>;
  urls?: { get?: string; cancel?: string; stream?: string };
}

/** A created prediction as this call last saw it. */
interface Job {
  p: Prediction;
  /** Where to poll: `urls.get`, else the `Location` header. */
  pollUrl: string;
  cancelled?: boolean;
}

const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'aborted']);
const TASKS = new Set(['text-to-image', 'text-generation']);
/** Poll failures worth another GET (the GET is idempotent; the create POST is never repeated). */
const TRANSIENT = new Set(['connect', 'timeout', 'server', 'rate_limited', 'stream_cut', 'malformed']);
const POLL_RETRIES = 2;

/** Hugging Face text-generation parameters renamed for Replicate's language models; null drops an HF-only knob. */
const TEXT_PARAMS: Record<string, string | null> = {
  max_new_tokens: 'max_tokens',
  stop: 'stop_sequences',
  return_full_text: null,
  details: null,
  decoder_input_details: null,
  watermark: null,
  do_sample: null,
  best_of: null,
  truncate: null,
  top_n_tokens: null,
  grammar: null,
  adapter_id: null,
};
/** OpenAI chat fields Replicate's language models take under the same name. */
const CHAT_PARAMS = ['temperature', 'top_p', 'presence_penalty', 'frequency_penalty', 'seed'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
/** Replicate's Llama-style models take stop sequences as one comma-separated string. */
const stopSequences = (v: unknown) => (Array.isArray(v) ? v.join(',') : v);

function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p: { type?: string; text?: string }) => (p?.type === 'text' ? (p.text ?? '') : '')).join(' ');
}

function chatInput(body: Record<string, unknown>, mode: string): Record<string, unknown> {
  const messages = (Array.isArray(body.messages) ? body.messages : []) as Array<{ role?: string; content?: unknown }>;
  const isSystem = (m: { role?: string }) => m.role === 'system' || m.role === 'developer';
  const turns = messages.filter((m) => !isSystem(m));
  const prompt =
    mode === 'transcript'
      ? [...turns.map((m) => `${m.role}: ${messageText(m.content)}`), 'assistant:'].join('\n')
      : messageText([...turns].reverse().find((m) => m.role === 'user')?.content);
  const input: Record<string, unknown> = { prompt };
  const system = messages.filter(isSystem).map((m) => messageText(m.content)).join('\n');
  if (system) input.system_prompt = system;
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) input.max_tokens = maxTokens;
  for (const k of CHAT_PARAMS) if (body[k] !== undefined && body[k] !== null) input[k] = body[k];
  if (body.stop !== undefined && body.stop !== null) input.stop_sequences = stopSequences(body.stop);
  return input;
}

function taskInput(provider: string, call: ProviderCall): Record<string, unknown> {
  const { inputs, parameters } = call.body;
  if (typeof inputs !== 'string') throw new UpstreamError(provider, 'invalid_input', `${call.task} takes a text prompt as "inputs"`);
  const input: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(isObject(parameters) ? parameters : {})) {
    if (v === undefined || v === null) continue;
    if (call.task === 'text-to-image' && k === 'target_size' && isObject(v)) {
      Object.assign(input, { width: v.width, height: v.height });
      continue;
    }
    const renamed = call.task === 'text-generation' && k in TEXT_PARAMS ? TEXT_PARAMS[k] : k;
    if (renamed) input[renamed] = renamed === 'stop_sequences' ? stopSequences(v) : v;
  }
  input.prompt = inputs;
  return input;
}

/** Width and height of a PNG, from its IHDR chunk. */
function pngSize(b: Uint8Array): { width: number; height: number } | undefined {
  if (b.length < 24 || b[0] !== 0x89 || b[1] !== 0x50) return undefined;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

class ReplicateAdapter {
  readonly name: string;
  readonly type = 'replicate';
  private readonly http: UpstreamHttp;
  private readonly base: string;
  private readonly waitSeconds: number;
  private readonly pollIntervalMs: number;

  constructor(private readonly config: AdapterConfig) {
    this.name = config.name;
    this.http = new UpstreamHttp(config.name, config.timeouts);
    this.base = config.baseUrl.replace(/\/+$/, '');
    const wait = config.options.waitSeconds ?? 60;
    const poll = config.options.pollIntervalMs ?? 500;
    if (typeof wait !== 'number' || wait < 0 || wait > 60) throw new RangeError(`${config.name}: options.waitSeconds must be 0..60`);
    if (typeof poll !== 'number' || poll < 0) throw new RangeError(`${config.name}: options.pollIntervalMs must be a number >= 0`);
    this.waitSeconds = Math.round(wait);
    this.pollIntervalMs = poll;
  }

  supports(api: CallApi, task: string): boolean {
    return api === 'chat' || (api === 'task' && TASKS.has(task));
  }

  async call(call: ProviderCall): Promise<ProviderResult> {
    if (!this.supports(call.api, call.task)) {
      throw new UpstreamError(this.name, 'invalid_input', `${this.name} does not serve ${call.api} ${call.task}`);
    }
    const input = call.api === 'chat' ? chatInput(call.body, String(this.config.options.chatPrompt ?? 'last-user')) : taskInput(this.name, call);
    const isFile = call.api === 'task' && call.task === 'text-to-image';
    if (call.stream && !isFile) return this.streamCall(call, input);
    const job = await this.create(call, input, false);
    const final = await this.watch(job, call.signal, () => this.settle(job, call.signal, isFile));
    if (isFile) return this.fileResult(final, input, call.signal);
    const text = this.textOutput(final);
    return call.api === 'chat' ? this.chatResult(call, final, input, text) : this.textGenerationResult(call, final, text);
  }

  close(): Promise<void> {
    return this.http.close();
  }

  // ---- the prediction lifecycle ----

  private authHeaders(): Record<string, string> {
    return this.config.apiKey ? { authorization: `Bearer ${this.config.apiKey}` } : {};
  }

  private async create(call: ProviderCall, input: Record<string, unknown>, stream: boolean): Promise<Job> {
    const [model, version] = call.providerModel.split(':', 2);
    const url = version ? `${this.base}/predictions` : `${this.base}/models/${model!.split('/').map(encodeURIComponent).join('/')}/predictions`;
    const headers: Record<string, string> = { ...this.authHeaders(), 'content-type': 'application/json' };
    // A stream reads its events from urls.stream at once; waiting would only delay the first token.
    const wait = stream ? 0 : this.waitSeconds;
    if (wait > 0) headers.prefer = `wait=${wait}`;
    if (typeof this.config.options.cancelAfter === 'string') headers['cancel-after'] = this.config.options.cancelAfter;
    const body = JSON.stringify({ ...(version ? { version } : {}), input, ...(stream ? { stream: true } : {}) });
    const res = await this.http.json(url, {
      method: 'POST',
      headers,
      body,
      signal: call.signal,
      // Replicate holds the response up to `wait` seconds by design.
      firstByteMs: this.config.timeouts.firstByteMs + wait * 1000,
    });
    const p = this.readPrediction(res.data);
    return { p, pollUrl: p.urls?.get ?? header(res.headers, 'location') ?? `${this.base}/predictions/${encodeURIComponent(p.id)}` };
  }

  private readPrediction(data: unknown): Prediction {
    if (!isObject(data) || typeof data.id !== 'string' || typeof data.status !== 'string') {
      throw new UpstreamError(this.name, 'malformed', `${this.name} answered something that is not a prediction`);
    }
    return data as unknown as Prediction;
  }

  /**
   * Runs `work` for a created prediction; if the call is aborted or fails while the prediction still runs,
   * cancels it (best effort) so it stops costing money.
   */
  private async watch<T>(job: Job, signal: CallSignal, work: () => Promise<T>): Promise<T> {
    const onAbort = () => this.cancel(job);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await work();
    } catch (e) {
      if (!signal.aborted) this.cancel(job);
      throw e;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private cancel(job: Job): void {
    if (TERMINAL.has(job.p.status) || job.cancelled) return;
    job.cancelled = true;
    const url = job.p.urls?.cancel ?? `${this.base}/predictions/${encodeURIComponent(job.p.id)}/cancel`;
    this.http
      .send(url, { method: 'POST', headers: this.authHeaders(), signal: AbortSignal.timeout(5_000) })
      .then((res) => res.body.dump())
      .catch(() => undefined);
  }

  /** Polls until the prediction is terminal (or, for file models, has its output); failures throw. */
  private async settle(job: Job, signal: CallSignal, isFile: boolean): Promise<Prediction> {
    const hasFiles = (p: Prediction) => isFile && p.output !== null && p.output !== undefined && !(Array.isArray(p.output) && !p.output.length);
    while (!TERMINAL.has(job.p.status) && !hasFiles(job.p)) {
      await delay(this.pollIntervalMs, signal);
      job.p = await this.poll(job.pollUrl, signal);
    }
    const p = job.p;
    if (p.status === 'failed') {
      throw new UpstreamError(this.name, 'job_failed', `${this.name}: prediction ${p.id} failed: ${typeof p.error === 'string' ? p.error : 'no error given'}`);
    }
    if (p.status === 'canceled' || p.status === 'aborted') {
      throw new UpstreamError(this.name, 'job_failed', `${this.name}: prediction ${p.id} ended ${p.status}`);
    }
    return p;
  }

  private async poll(url: string, signal: CallSignal): Promise<Prediction> {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.http.json(url, { headers: this.authHeaders(), signal });
        return this.readPrediction(res.data);
      } catch (e) {
        if (!(e instanceof UpstreamError) || !TRANSIENT.has(e.failure) || attempt >= POLL_RETRIES) throw e;
        await delay(Math.min(e.retryAfterMs ?? 100 * 2 ** attempt, 5_000), signal);
      }
    }
  }

  // ---- answers ----

  private usage(p: Prediction): Usage {
    const m = isObject(p.metrics) ? p.metrics : {};
    const usage: Usage = {};
    const seconds = num(m.predict_time);
    const inputTokens = num(m.input_token_count);
    const outputTokens = num(m.output_token_count);
    if (seconds !== undefined) usage.computeSeconds = seconds;
    if (inputTokens !== undefined) usage.inputTokens = inputTokens;
    if (outputTokens !== undefined) usage.outputTokens = outputTokens;
    return usage;
  }

  private async fileResult(p: Prediction, input: Record<string, unknown>, signal: CallSignal): Promise<ProviderResult> {
    const refs = (Array.isArray(p.output) ? p.output : [p.output]).filter((x): x is string => typeof x === 'string');
    if (!refs[0]) {
      if (p.data_removed) throw new UpstreamError(this.name, 'artifact_expired', `${this.name}: prediction ${p.id} output was already removed`);
      throw new UpstreamError(this.name, 'malformed', `${this.name}: prediction ${p.id} has no file output`);
    }
    const file = await resolveArtifact(this.http, refs[0], signal);
    const size = pngSize(file.bytes) ?? { width: num(input.width), height: num(input.height) };
    const usage: Usage = { ...this.usage(p), outputs: refs.length };
    if (size.width && size.height) usage.megapixels = (refs.length * size.width * size.height) / 1e6;
    return { kind: 'bytes', bytes: file.bytes, contentType: file.contentType, usage };
  }

  /** Language models answer an array of tokens (or one string). */
  private textOutput(p: Prediction): string {
    if (typeof p.output === 'string') return p.output;
    if (Array.isArray(p.output) && p.output.every((t) => typeof t === 'string')) return p.output.join('');
    throw new UpstreamError(this.name, 'malformed', `${this.name}: prediction ${p.id} has no text output`);
  }

  private textGenerationResult(call: ProviderCall, p: Prediction, text: string): ProviderResult {
    const params = isObject(call.body.parameters) ? call.body.parameters : {};
    const prefix = params.return_full_text === true ? String(call.body.inputs) : '';
    return { kind: 'json', body: [{ generated_text: prefix + text }], usage: this.usage(p) };
  }

  private chatResult(call: ProviderCall, p: Prediction, input: Record<string, unknown>, text: string): ProviderResult {
    const usage = this.usage(p);
    const maxTokens = num(input.max_tokens);
    const truncated = maxTokens !== undefined && usage.outputTokens !== undefined && usage.outputTokens >= maxTokens;
    const body: Record<string, unknown> = {
      id: `chatcmpl-${p.id}`,
      object: 'chat.completion',
      created: created(p),
      model: call.model,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: truncated ? 'length' : 'stop' }],
    };
    if (usage.inputTokens !== undefined && usage.outputTokens !== undefined) {
      body.usage = { prompt_tokens: usage.inputTokens, completion_tokens: usage.outputTokens, total_tokens: usage.inputTokens + usage.outputTokens };
    }
    return { kind: 'json', body, usage };
  }

  // ---- streams ----

  private async streamCall(call: ProviderCall, input: Record<string, unknown>): Promise<ProviderResult> {
    const job = await this.create(call, input, true);
    const usage: Usage = {};
    const text = job.p.urls?.stream ? this.sseText(job, job.p.urls.stream, call.signal, usage) : this.polledText(job, call.signal, usage);
    const events = call.api === 'chat' ? chatChunks(call, job.p, input, text, usage) : tgiEvents(text, usage);
    return { kind: 'stream', events, usage };
  }

  /** The text chunks of a prediction's SSE stream; returns only on `done`. */
  private async *sseText(job: Job, url: string, signal: CallSignal, usage: Usage): AsyncGenerator<string> {
    const onAbort = () => this.cancel(job);
    signal.addEventListener('abort', onAbort, { once: true });
    let finished = false;
    try {
      const res = await this.http.send(url, { headers: { ...this.authHeaders(), accept: 'text/event-stream', 'cache-control': 'no-store' }, signal });
      if (res.status !== 200) throw httpError(this.name, res.status, res.headers, await this.http.text(res, signal));
      const queue: EventSourceMessage[] = [];
      const parser = createParser({ onEvent: (e) => queue.push(e) });
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body) {
          parser.feed(decoder.decode(chunk as Buffer, { stream: true }));
          for (let e = queue.shift(); e; e = queue.shift()) {
            // Once the caller has gone, its reason is the answer, whatever else arrived (our own cancel's `done`).
            signal.throwIfAborted();
            if (e.event === 'output') {
              if (e.data) yield e.data;
            } else if (e.event === 'error') {
              throw new UpstreamError(this.name, 'job_failed', `${this.name}: prediction ${job.p.id} failed: ${streamError(e.data)}`);
            } else if (e.event === 'done') {
              this.endOfStream(job, e.data);
              finished = true;
              await this.finalUsage(job, usage, signal);
              return;
            }
          }
        }
      } catch (e) {
        throw e instanceof UpstreamError ? e : this.http.transportError(e, signal);
      }
      throw new UpstreamError(this.name, 'stream_cut', `${this.name}: the stream of prediction ${job.p.id} ended before its done event`);
    } finally {
      signal.removeEventListener('abort', onAbort);
      // Cut, failed, aborted or abandoned by the consumer: the prediction may still be running.
      if (!finished) this.cancel(job);
    }
  }

  /** Checks the `done` event: `{}` on success, `{reason}` when the prediction did not succeed. */
  private endOfStream(job: Job, data: string): void {
    let done: unknown;
    try {
      done = JSON.parse(data || '{}');
    } catch {
      throw new UpstreamError(this.name, 'malformed', `${this.name}: unreadable done event in the stream of prediction ${job.p.id}`);
    }
    const reason = isObject(done) ? done.reason : undefined;
    if (reason === 'error' || reason === 'canceled') {
      throw new UpstreamError(this.name, 'job_failed', `${this.name}: prediction ${job.p.id} ended with reason ${reason}`);
    }
    job.p = { ...job.p, status: 'succeeded' };
  }

  /** After `done`, the finished prediction's metrics (billed seconds, token counts); best effort. */
  private async finalUsage(job: Job, usage: Usage, signal: CallSignal): Promise<void> {
    try {
      const res = await this.http.json(job.pollUrl, { headers: this.authHeaders(), signal });
      Object.assign(usage, this.usage(this.readPrediction(res.data)));
    } catch (e) {
      if (signal.aborted) throw signal.reason ?? e;
    }
  }

  /** For a model without a stream URL: poll to the end, then hand out its tokens. */
  private async *polledText(job: Job, signal: CallSignal, usage: Usage): AsyncGenerator<string> {
    const final = await this.watch(job, signal, () => this.settle(job, signal, false));
    Object.assign(usage, this.usage(final));
    const output = final.output;
    if (typeof output === 'string') yield output;
    else yield* (Array.isArray(output) ? output : []).filter((t): t is string => typeof t === 'string');
  }
}

function created(p: Prediction): number {
  const ms = Date.parse(p.created_at ?? '');
  return Math.floor((Number.isFinite(ms) ? ms : Date.now()) / 1000);
}

function streamError(data: string): string {
  try {
    const e = JSON.parse(data) as unknown;
    if (isObject(e) && typeof e.detail === 'string') return e.detail;
  } catch {
    // not JSON: the text itself
  }
  return data || 'no error given';
}

/** Text chunks as OpenAI `chat.completion.chunk` objects; the role rides on the first content chunk. */
async function* chatChunks(call: ProviderCall, p: Prediction, input: Record<string, unknown>, text: AsyncIterable<string>, usage: Usage) {
  const base = { id: `chatcmpl-${p.id}`, object: 'chat.completion.chunk', created: created(p), model: call.model };
  let count = 0;
  for await (const content of text) {
    usage.outputTokens = ++count;
    yield { ...base, choices: [{ index: 0, delta: count === 1 ? { role: 'assistant', content } : { content }, logprobs: null, finish_reason: null }] };
  }
  const maxTokens = num(input.max_tokens);
  const finish = maxTokens !== undefined && count >= maxTokens ? 'length' : 'stop';
  yield { ...base, choices: [{ index: 0, delta: count ? {} : { role: 'assistant', content: '' }, logprobs: null, finish_reason: finish }] };
  const options = call.body.stream_options;
  if (isObject(options) && options.include_usage === true) {
    const prompt = usage.inputTokens ?? 0;
    const completion = usage.outputTokens ?? count;
    yield { ...base, choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } };
  }
}

/**
 * Text chunks as TGI token events. A token is held back until the next one arrives, so the last one can
 * carry `generated_text` as TGI's final event does.
 */
async function* tgiEvents(text: AsyncIterable<string>, usage: Usage) {
  const event = (index: number, token: string, generated: string | null) => ({
    index,
    token: { id: 0, text: token, logprob: 0, special: false },
    generated_text: generated,
    details: null,
  });
  let held: string | undefined;
  let all = '';
  let index = 0;
  for await (const token of text) {
    if (held !== undefined) yield event(index++, held, null);
    held = token;
    all += token;
    usage.outputTokens = index + 1;
  }
  yield event(index, held ?? '', all);
}

export const createReplicateAdapter: AdapterFactory = (config) => new ReplicateAdapter(config);
