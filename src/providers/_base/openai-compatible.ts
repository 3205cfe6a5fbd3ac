/**
 * The OpenAI wire protocol as vLLM, TGI, Ollama and hosted OpenAI-style providers speak it, plus the SSE
 * reading every streaming adapter shares. Errors come in three shapes (vLLM `{error:{message,type,param,
 * code:int}}`, TGI `{error, error_type}`, Ollama `{error:{message,type,param,code:null}}`); `httpError`
 * reads them all. Quirks handled here: TGI's 424 `generation` is a backend failure, not the caller's; a
 * 503 "model is loading" carries `estimated_time` (seconds) as its retry hint. A stream is complete only
 * after `data: [DONE]`; an error chunk (vLLM sends one and then still `[DONE]`) fails it.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { UpstreamError, type ProviderCall, type ProviderResult, type Usage, type CallSignal } from '../../core/providers.ts';
import { header, httpError, upstreamMessage, type Headers, type UpstreamHttp, type UpstreamResponse } from './http.ts';

export type JsonObject = Record<string, unknown>;

/** `Authorization: Bearer` when a key is configured, plus any fixed headers from the providers file. */
export function bearerHeaders(apiKey: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return apiKey ? { ...extra, authorization: `Bearer ${apiKey}` } : { ...extra };
}

/** `httpError` plus the quirks of OpenAI-style and Hugging Face servers. */
export function upstreamHttpError(provider: string, status: number, headers: Headers, text: string): UpstreamError {
  const error = httpError(provider, status, headers, text);
  // TGI answers 424 `generation` when a shard fails mid-request: the backend's fault, worth another try.
  const failure = status === 424 ? 'server' : error.failure;
  const loading = /"estimated_time"\s*:\s*([\d.]+)/.exec(text);
  const retryAfterMs = error.retryAfterMs ?? (loading ? Math.round(Number(loading[1]) * 1000) : undefined);
  if (failure === error.failure && retryAfterMs === error.retryAfterMs) return error;
  return new UpstreamError(provider, failure, error.message, { upstreamStatus: status, retryAfterMs });
}

/** Reads a non-2xx answer and throws it as the matching UpstreamError. */
export async function throwHttpError(http: UpstreamHttp, res: UpstreamResponse, signal: CallSignal): Promise<never> {
  throw upstreamHttpError(http.provider, res.status, res.headers, await http.text(res, signal));
}

/** A 2xx JSON answer, parsed once; anything else throws. */
export async function readJson<T = JsonObject>(http: UpstreamHttp, res: UpstreamResponse, signal: CallSignal): Promise<T> {
  if (res.status < 200 || res.status >= 300) await throwHttpError(http, res, signal);
  const text = await http.text(res, signal);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UpstreamError(http.provider, 'malformed', `${http.provider} answered HTTP ${res.status} with a body that is not JSON`, {
      upstreamStatus: res.status,
    });
  }
}

/** OpenAI `usage` → modelhost units. */
export function usageOf(usage: unknown): Usage {
  if (!usage || typeof usage !== 'object') return {};
  const u = usage as { prompt_tokens?: unknown; completion_tokens?: unknown };
  const out: Usage = {};
  if (typeof u.prompt_tokens === 'number') out.inputTokens = u.prompt_tokens;
  if (typeof u.completion_tokens === 'number') out.outputTokens = u.completion_tokens;
  return out;
}

export interface SseEnd {
  /** Data that ends the stream without being an event (`[DONE]`). */
  doneMarker?: string;
  /** An event that is the last one (TGI: non-null `generated_text`): yielded, then the stream is complete. */
  isFinal?(event: JsonObject): boolean;
}

/**
 * The JSON events of an SSE body. Ends normally only at the protocol's end; a body that ends before, an
 * error event or a chunk that is not a JSON object throws. Leaving early (the consumer stops) closes the
 * connection; a complete stream's connection is drained for reuse.
 */
export async function* readJsonEvents(http: UpstreamHttp, res: UpstreamResponse, signal: CallSignal, end: SseEnd): AsyncGenerator<JsonObject> {
  const p = http.provider;
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (message) => pending.push(message) });
  const decoder = new TextDecoder();
  let complete = false;
  try {
    const body = res.body[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await body.next();
      } catch (e) {
        throw http.transportError(e, signal);
      }
      if (next.done) break;
      parser.feed(decoder.decode(next.value, { stream: true }));
      for (const message of pending.splice(0)) {
        if (end.doneMarker !== undefined && message.data.trim() === end.doneMarker) {
          complete = true;
          return;
        }
        const event = parseEvent(p, message);
        yield event;
        if (end.isFinal?.(event)) {
          complete = true;
          return;
        }
      }
    }
    throw new UpstreamError(p, 'stream_cut', `${p}: the stream ended before its completion marker`);
  } finally {
    if (complete) res.body.dump().catch(() => {});
    else res.body.destroy();
  }
}

function parseEvent(provider: string, message: EventSourceMessage): JsonObject {
  if (message.event === 'error') {
    throw new UpstreamError(provider, 'stream_cut', `${provider} sent an error event: ${upstreamMessage(message.data)}`);
  }
  let event: unknown;
  try {
    event = JSON.parse(message.data);
  } catch {
    throw new UpstreamError(provider, 'malformed', `${provider} sent a stream event that is not JSON: ${message.data.slice(0, 100)}`);
  }
  if (!event || typeof event !== 'object' || Array.isArray(event)) {
    throw new UpstreamError(provider, 'malformed', `${provider} sent a stream event that is not a JSON object`);
  }
  // vLLM `{error:{message,…}}`, TGI `{error, error_type}`: the generation failed after the 200.
  if ((event as JsonObject).error != null) {
    throw new UpstreamError(provider, 'stream_cut', `${provider} failed mid-stream: ${upstreamMessage(message.data)}`);
  }
  return event as JsonObject;
}

/** Sends a streaming request and checks the answer is an event stream; the events are read lazily. */
export async function openEventStream(http: UpstreamHttp, url: string, body: string, headers: Record<string, string>, signal: CallSignal) {
  const res = await http.send(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json', accept: 'text/event-stream' },
    body,
    signal,
  });
  if (res.status < 200 || res.status >= 300) await throwHttpError(http, res, signal);
  const type = header(res.headers, 'content-type') ?? '';
  if (!type.includes('text/event-stream')) {
    await res.body.dump().catch(() => {});
    throw new UpstreamError(http.provider, 'malformed', `${http.provider} answered a stream request with ${type || 'no content type'}`, {
      upstreamStatus: res.status,
    });
  }
  return res;
}

/** The `headers` and `streamUsage` adapter options, checked when the adapter is built. */
export function clientOptions(name: string, apiKey: string | undefined, options: Record<string, unknown>): OpenAiClientOptions {
  const { headers, streamUsage } = options;
  if (headers !== undefined && (typeof headers !== 'object' || headers === null || Object.values(headers).some((v) => typeof v !== 'string'))) {
    throw new TypeError(`provider ${name}: options.headers must map header names to strings`);
  }
  if (streamUsage !== undefined && typeof streamUsage !== 'boolean') throw new TypeError(`provider ${name}: options.streamUsage must be true or false`);
  return { apiKey, headers: headers as Record<string, string> | undefined, streamUsage };
}

export interface OpenAiClientOptions {
  apiKey?: string;
  /** Fixed extra headers (e.g. a hosted provider's routing header). */
  headers?: Record<string, string>;
  /**
   * Ask for `stream_options.include_usage` so streamed tokens can be counted even when the caller did not;
   * the usage-only chunk is then kept from the caller. Off for servers that reject the field.
   */
  streamUsage?: boolean;
}

/** An OpenAI-style server's chat, completions and embeddings routes. */
export class OpenAiClient {
  private readonly headers: Record<string, string>;
  private readonly jsonHeaders: Record<string, string>;
  private readonly streamUsage: boolean;

  constructor(
    readonly http: UpstreamHttp,
    opts: OpenAiClientOptions = {},
  ) {
    this.headers = bearerHeaders(opts.apiKey, opts.headers);
    this.jsonHeaders = { ...this.headers, 'content-type': 'application/json' };
    this.streamUsage = opts.streamUsage ?? true;
  }

  /** Non-streaming POST; the parsed answer. */
  async post(url: string, body: JsonObject, signal: CallSignal): Promise<JsonObject> {
    return (await this.postText(url, body, signal)).data;
  }

  /** A JSON POST whose answer is kept both parsed and as the text it came as. */
  private async postText(url: string, body: JsonObject, signal: CallSignal): Promise<{ data: JsonObject; text: string }> {
    const res = await this.http.fetchText(url, {
      method: 'POST',
      headers: this.jsonHeaders,
      body: JSON.stringify(body),
      signal,
    });
    if (res.status < 200 || res.status >= 300) throw upstreamHttpError(this.http.provider, res.status, res.headers, res.text);
    const text = res.text;
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new UpstreamError(this.http.provider, 'malformed', `${this.http.provider} answered HTTP ${res.status} with a body that is not JSON`, {
        upstreamStatus: res.status,
      });
    }
    if (!data || typeof data !== 'object' || Array.isArray(data)) {
      throw new UpstreamError(this.http.provider, 'malformed', `${this.http.provider} answered JSON that is not an object`);
    }
    return { data: data as JsonObject, text };
  }

  /**
   * Streaming POST: resolves once the headers are in; the chunks (`[DONE]` excluded) are read as iterated.
   * Also says whether the caller asked for the usage chunk itself.
   */
  async stream(url: string, body: JsonObject, signal: CallSignal): Promise<{ chunks: AsyncGenerator<JsonObject>; callerWantsUsage: boolean }> {
    const options = body.stream_options as { include_usage?: unknown } | null | undefined;
    const callerWantsUsage = options?.include_usage === true;
    const sent = this.streamUsage && !callerWantsUsage ? { ...body, stream: true, stream_options: { ...options, include_usage: true } } : { ...body, stream: true };
    const res = await openEventStream(this.http, url, JSON.stringify(sent), this.headers, signal);
    return { chunks: readJsonEvents(this.http, res, signal, { doneMarker: '[DONE]' }), callerWantsUsage };
  }

  /** An OpenAI call passed through: `model` swapped on the way in and back on the way out. */
  async forward(url: string, call: ProviderCall): Promise<ProviderResult> {
    const body = { ...call.body, model: call.providerModel };
    if (!call.stream) {
      const { data, text } = await this.postText(url, body, call.signal);
      // The answer goes back as the provider wrote it but for `model`: one string edit instead of re-serialising.
      const theirs = typeof data.model === 'string' ? `"model":${JSON.stringify(data.model)}` : undefined;
      const at = theirs ? text.indexOf(theirs) : -1;
      data.model = call.model;
      const raw = at >= 0 ? text.slice(0, at) + `"model":${JSON.stringify(call.model)}` + text.slice(at + theirs!.length) : undefined;
      return { kind: 'json', body: data, raw, usage: usageOf(data.usage) };
    }
    const { chunks, callerWantsUsage } = await this.stream(url, body, call.signal);
    const usage: Usage = {};
    return { kind: 'stream', events: relabel(chunks, call.model, usage, callerWantsUsage), usage };
  }
}

/**
 * Chunks with `model` set back to modelhost's id. Usage comes from the usage chunk; a server that sends
 * none gets its content chunks counted (vLLM and TGI send one chunk per token).
 */
async function* relabel(chunks: AsyncIterable<JsonObject>, model: string, usage: Usage, callerWantsUsage: boolean): AsyncGenerator<JsonObject> {
  let counted = 0;
  let reported = false;
  for await (const chunk of chunks) {
    const choices = chunk.choices as unknown[] | undefined;
    if (chunk.usage) {
      Object.assign(usage, usageOf(chunk.usage));
      reported = true;
      if (!callerWantsUsage && (!choices || choices.length === 0)) continue;
    } else if (!reported && hasText(choices)) {
      usage.outputTokens = ++counted;
    }
    chunk.model = model;
    yield chunk;
  }
}

function hasText(choices: unknown[] | undefined): boolean {
  const choice = choices?.[0] as { text?: unknown; delta?: { content?: unknown } } | undefined;
  return !!choice && (!!choice.text || !!choice.delta?.content);
}
