/**
 * The contract between the router and provider adapters. Adapters translate a call in modelhost's terms
 * (a Hugging Face task payload or an OpenAI body) to one provider's API and back; the router decides which
 * adapter runs, retries, fails over and keeps statistics.
 */
import { ModelhostError } from './errors.ts';

/** The API the caller used; it fixes the shape of the answer. */
export type CallApi = 'task' | 'chat' | 'completions' | 'embeddings';

export interface ProviderCall {
  api: CallApi;
  /** modelhost's (Hub-style) model id. */
  model: string;
  /** The provider's own id for the model, from the router's mapping. */
  providerModel: string;
  /**
   * Hugging Face task id. For `task` calls the task of the payload; for OpenAI calls the task behind it
   * (`conversational`, `text-generation`, `feature-extraction`).
   */
  task: string;
  /**
   * `task`: `{inputs, parameters?}` as the Hugging Face API takes it (`inputs` is a Buffer for a raw image
   * or audio body). OpenAI APIs: the request JSON as the caller sent it (its `model` is replaced by the adapter).
   */
  body: Record<string, unknown>;
  /** The caller asked for a stream (SSE). */
  stream: boolean;
  /** Aborted when the caller goes away, the total timeout expires or a hedged twin won. */
  signal: CallSignal;
  requestId: string;
  /** Longest a cold local model may be waited for, ms (the local provider only). */
  waitForModelMs?: number;
}

/** What adapters use of a cancellation signal. An AbortSignal is one; so is the lighter CallAbort. */
export interface CallSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
  throwIfAborted(): void;
}

/**
 * A cancellation signal for the gateway's hot path. An AbortController with its EventTarget costs more than
 * the rest of the routing of a proxied call; this one is a list of callbacks. It also has the
 * EventEmitter-style `on`/`once`/`removeListener` undici accepts for a request's `signal`.
 */
export class CallAbort implements CallSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Array<() => void> = [];

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    this.listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const i = this.listeners.indexOf(listener);
    if (i >= 0) this.listeners.splice(i, 1);
  }

  on(_event: 'abort', listener: () => void): this {
    this.addEventListener('abort', listener);
    return this;
  }

  once(_event: 'abort', listener: () => void): this {
    this.addEventListener('abort', listener);
    return this;
  }

  removeListener(_event: 'abort', listener: () => void): this {
    this.removeEventListener('abort', listener);
    return this;
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason ?? new Error('aborted');
    for (const listener of this.listeners.splice(0)) listener();
  }
}

/** Units a provider reports or that can be counted from its answer; prices apply to them. */
export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
  /** Images, videos or audio files produced. */
  outputs?: number;
  /** Megapixels produced (sum over images). */
  megapixels?: number;
  /** Billed compute seconds when the provider reports them (Replicate `predict_time`, fal `inference_time`). */
  computeSeconds?: number;
}

export type ProviderResult =
  /** A JSON answer already in the caller API's shape. */
  | {
      kind: 'json';
      body: unknown;
      /** `body` already serialised, when the adapter has it (a pass-through saves re-serialising). */
      raw?: string;
      usage?: Usage;
    }
  /** A file answer (Hugging Face text-to-image, text-to-speech): the bytes, never a URL. */
  | { kind: 'bytes'; bytes: Uint8Array; contentType: string; usage?: Usage }
  /**
   * A stream of events already in the caller API's shape (OpenAI chunks; TGI token events). The iterator
   * ends normally only when the upstream said the answer is complete (`[DONE]`, a final event); a cut,
   * an error event or a malformed chunk throws an UpstreamError. `usage` is filled as events arrive.
   */
  | { kind: 'stream'; events: AsyncIterable<unknown>; usage: Usage };

export interface ProviderAdapter {
  /** Instance name used in routes, `x-provider` and statistics (several openai-compatible instances differ here). */
  readonly name: string;
  /** Adapter kind: local, hf-inference, openai-compatible, replicate, fal-ai, wavespeed. */
  readonly type: string;
  /** Whether the adapter can answer this API and task at all (the model mapping is checked by the router). */
  supports(api: CallApi, task: string): boolean;
  /**
   * For providers whose catalogue is known locally (the local engine): whether it serves this model and task.
   * Hosted providers leave it out; the router's model mapping says what they serve.
   */
  serves?(model: string, api: CallApi, task: string): boolean;
  call(call: ProviderCall): Promise<ProviderResult>;
  close?(): Promise<void>;
}

/**
 * Why an upstream call failed. The router acts on the kind: what it may retry on the same provider, what
 * it may fail over, and what belongs to the caller.
 */
export type UpstreamFailure =
  /** Connection refused, reset or not established in time. */
  | 'connect'
  /** No response headers, no first token, or no byte for too long, or the total deadline passed. */
  | 'timeout'
  /** The provider answered 5xx (or a job ended as an infrastructure failure). */
  | 'server'
  /** 429 from a request-rate limit: retry after Retry-After. */
  | 'rate_limited'
  /** At capacity (TGI 429 overloaded, Cog 409): try another backend rather than wait. */
  | 'overloaded'
  /** The answer was not what the API promises (bad JSON, missing fields, an output that cannot be read). */
  | 'malformed'
  /** An async job reported failure (possibly after saying it completed). */
  | 'job_failed'
  /** A stream ended without its completion marker or with an error event. */
  | 'stream_cut'
  /** An output URL had already expired when fetched. */
  | 'artifact_expired'
  /** 401/403/404 from the provider: its key or model mapping is wrong; other providers may still serve. */
  | 'provider_config'
  /** The provider rejected the input itself (400/422): the caller's problem, never retried or failed over. */
  | 'invalid_input';

export interface UpstreamErrorOptions {
  /** HTTP status the provider answered, when there was one. */
  upstreamStatus?: number;
  /** From Retry-After / retry-after-ms / provider-specific hints. */
  retryAfterMs?: number;
  /** Overrides the kind's default (e.g. fal's `X-Fal-Request-Timeout-Type: user` must not be retried). */
  retrySame?: boolean;
}

const retriedOnSameProvider: Record<UpstreamFailure, boolean> = {
  connect: true,
  timeout: true,
  server: true,
  rate_limited: true,
  overloaded: false,
  malformed: true,
  job_failed: true,
  stream_cut: true,
  artifact_expired: true,
  provider_config: false,
  invalid_input: false,
};

export class UpstreamError extends ModelhostError {
  readonly provider: string;
  readonly failure: UpstreamFailure;
  readonly upstreamStatus: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly retrySame: boolean;

  constructor(provider: string, failure: UpstreamFailure, message: string, opts: UpstreamErrorOptions = {}) {
    const status = failure === 'invalid_input' ? (opts.upstreamStatus === 422 ? 422 : 400) : 502;
    super(failure === 'invalid_input' ? 'bad_input' : 'upstream_failed', status, message);
    this.provider = provider;
    this.failure = failure;
    this.upstreamStatus = opts.upstreamStatus;
    this.retryAfterMs = opts.retryAfterMs;
    this.retrySame = opts.retrySame ?? retriedOnSameProvider[failure];
  }

  /** Another provider may answer where this one failed. */
  get failover(): boolean {
    return this.failure !== 'invalid_input';
  }
}
