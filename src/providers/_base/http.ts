/**
 * Outbound HTTP for adapters: one undici Agent per provider with its connect / first-byte / idle timeouts,
 * and the mapping from transport failures and HTTP statuses to UpstreamError kinds.
 */
import { Agent, errors, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { CallAbort, UpstreamError, type CallSignal } from '../../core/providers.ts';

export interface Timeouts {
  /** TCP connect. */
  connectMs: number;
  /** Request sent → response headers (for a stream: the router also bounds the first event). */
  firstByteMs: number;
  /** Longest silence between two body chunks (streams and downloads). */
  idleMs: number;
  /** Whole call including polling and downloads; enforced by the router through the call's signal. */
  totalMs: number;
}

export const defaultTimeouts: Timeouts = { connectMs: 2_000, firstByteMs: 30_000, idleMs: 30_000, totalMs: 120_000 };

export type Headers = Record<string, string | string[] | undefined>;

export interface SendInit {
  method?: Dispatcher.HttpMethod;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  signal: CallSignal;
  /** Per-request override of the first-byte timeout (e.g. Replicate's `Prefer: wait` holds up to 60 s). */
  firstByteMs?: number;
}

export interface UpstreamResponse {
  status: number;
  headers: Headers;
  body: Dispatcher.ResponseData['body'];
}

export function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `retry-after-ms` (OpenAI), then `Retry-After` in seconds or as an HTTP date. */
export function retryAfterMs(headers: Headers): number | undefined {
  const ms = Number(header(headers, 'retry-after-ms'));
  if (Number.isFinite(ms) && ms >= 0 && header(headers, 'retry-after-ms') !== undefined) return ms;
  const raw = header(headers, 'retry-after');
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

/** The human message out of the error bodies providers use (OpenAI, TGI, RFC 7807, FastAPI, WaveSpeed). */
export function upstreamMessage(text: string): string {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return text.trim().slice(0, 300) || '(empty body)';
  }
  if (data && typeof data === 'object') {
    const d = data as Record<string, unknown>;
    if (typeof d.error === 'string' && d.error) return d.error;
    if (d.error && typeof d.error === 'object' && typeof (d.error as { message?: unknown }).message === 'string') {
      return (d.error as { message: string }).message;
    }
    if (typeof d.detail === 'string') return d.detail;
    if (Array.isArray(d.detail)) {
      return d.detail
        .map((x: { loc?: unknown[]; msg?: string }) => `${Array.isArray(x.loc) ? x.loc.join('.') + ': ' : ''}${x.msg ?? ''}`)
        .join('; ');
    }
    if (typeof d.message === 'string') return d.message;
    if (typeof d.title === 'string') return d.title;
  }
  return text.slice(0, 300);
}

/** An HTTP error answer as an UpstreamError of the right kind. */
export function httpError(provider: string, status: number, headers: Headers, text: string): UpstreamError {
  const message = `${provider} answered HTTP ${status}: ${upstreamMessage(text)}`;
  const opts = { upstreamStatus: status, retryAfterMs: retryAfterMs(headers) };
  if (status === 429) {
    // TGI signals a full queue with 429 + error_type "overloaded": another backend, not a wait, helps.
    return new UpstreamError(provider, /"error_type"\s*:\s*"overloaded"/.test(text) ? 'overloaded' : 'rate_limited', message, opts);
  }
  if (status === 409) return new UpstreamError(provider, 'overloaded', message, opts);
  if (status === 408) return new UpstreamError(provider, 'timeout', message, opts);
  if (status === 401 || status === 403 || status === 404) return new UpstreamError(provider, 'provider_config', message, opts);
  if (status >= 400 && status < 500) return new UpstreamError(provider, 'invalid_input', message, opts);
  return new UpstreamError(provider, 'server', message, opts);
}

export class UpstreamHttp {
  readonly agent: Agent;

  constructor(
    readonly provider: string,
    readonly timeouts: Timeouts,
    opts: { connections?: number } = {},
  ) {
    this.agent = new Agent({
      connect: { timeout: timeouts.connectMs },
      headersTimeout: timeouts.firstByteMs,
      bodyTimeout: timeouts.idleMs,
      keepAliveTimeout: 30_000,
      connections: opts.connections ?? 512,
    });
  }

  /**
   * Sends a request; transport failures become UpstreamErrors, an aborted signal rethrows its reason. The
   * first-byte deadline is timed here to the millisecond (undici's own header timer ticks about once a second).
   * This is the gateway's hot path: the Agent is called directly and the per-call signal is the light kind
   * undici accepts (an AbortController per call costs more than the rest of this function).
   */
  async send(url: string, init: SendInit): Promise<UpstreamResponse> {
    const firstByteMs = init.firstByteMs ?? this.timeouts.firstByteMs;
    const signal = new CallAbort();
    const onAbort = () => signal.abort(init.signal.reason);
    if (init.signal.aborted) onAbort();
    else init.signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => signal.abort(new UpstreamError(this.provider, 'timeout', `${this.provider}: no response headers within ${firstByteMs} ms`)),
      firstByteMs,
    );
    try {
      const target = this.target(url);
      const res = await this.agent.request({
        origin: target.origin,
        path: target.path,
        method: init.method ?? 'GET',
        headers: init.headers,
        body: init.body,
        // undici takes any EventEmitter-style signal; its types name only AbortSignal and EventEmitter.
        signal: signal as unknown as AbortSignal,
        headersTimeout: firstByteMs + 1000,
      });
      // The caller's signal must keep reaching the body while it is read (streams), until it is done.
      res.body.once('close', () => init.signal.removeEventListener('abort', onAbort));
      return { status: res.statusCode, headers: res.headers as Headers, body: res.body };
    } catch (e) {
      init.signal.removeEventListener('abort', onAbort);
      throw this.transportError(e, signal);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A request whose whole answer is read into memory (small JSON answers: the gateway's common case), with no
   * stream objects in between: undici's dispatch API and a handler that keeps the chunks. Same deadlines and
   * errors as `send` + `text`.
   */
  fetchText(url: string, init: SendInit): Promise<{ status: number; headers: Headers; text: string }> {
    const firstByteMs = init.firstByteMs ?? this.timeouts.firstByteMs;
    const target = this.target(url);
    return new Promise((resolve, reject) => {
      const handler = new BufferedHandler(resolve, reject, this, init.signal);
      handler.timer = setTimeout(
        () => handler.abort(new UpstreamError(this.provider, 'timeout', `${this.provider}: no response headers within ${firstByteMs} ms`)),
        firstByteMs,
      );
      this.agent.dispatch(
        { origin: target.origin, path: target.path, method: init.method ?? 'GET', headers: init.headers, body: init.body, headersTimeout: firstByteMs + 1000 },
        handler,
      );
    });
  }

  private readonly targets = new Map<string, { origin: string; path: string }>();

  private target(url: string): { origin: string; path: string } {
    let t = this.targets.get(url);
    if (!t) {
      const u = new URL(url);
      t = { origin: u.origin, path: u.pathname + u.search };
      // Job URLs are unique per call; only a bounded number of (mostly fixed API) URLs is remembered.
      if (this.targets.size < 256) this.targets.set(url, t);
    }
    return t;
  }

  /** Reads a whole body as text, mapping a stalled or cut body to an UpstreamError. */
  async text(res: UpstreamResponse, signal: CallSignal): Promise<string> {
    try {
      return await res.body.text();
    } catch (e) {
      throw this.transportError(e, signal);
    }
  }

  /** A request whose 2xx answer is JSON; anything else throws the matching UpstreamError. */
  async json<T = unknown>(url: string, init: SendInit): Promise<{ status: number; headers: Headers; data: T }> {
    const res = await this.send(url, init);
    const text = await this.text(res, init.signal);
    if (res.status < 200 || res.status >= 300) throw httpError(this.provider, res.status, res.headers, text);
    try {
      return { status: res.status, headers: res.headers, data: JSON.parse(text) as T };
    } catch {
      throw new UpstreamError(this.provider, 'malformed', `${this.provider} answered HTTP ${res.status} with a body that is not JSON`, {
        upstreamStatus: res.status,
      });
    }
  }

  transportError(e: unknown, signal: { aborted: boolean; reason?: unknown }): unknown {
    if (signal.aborted) return signal.reason ?? e;
    if (e instanceof UpstreamError) return e;
    const p = this.provider;
    if (e instanceof errors.ConnectTimeoutError) return new UpstreamError(p, 'connect', `${p}: no connection within ${this.timeouts.connectMs} ms`);
    if (e instanceof errors.HeadersTimeoutError) {
      return new UpstreamError(p, 'timeout', `${p}: no response headers within the first-byte timeout`);
    }
    if (e instanceof errors.BodyTimeoutError) return new UpstreamError(p, 'timeout', `${p}: no data for ${this.timeouts.idleMs} ms`);
    const code = (e as { code?: string }).code ?? '';
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH') {
      return new UpstreamError(p, 'connect', `${p}: connection failed (${code})`);
    }
    if (e instanceof errors.SocketError || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') {
      return new UpstreamError(p, 'stream_cut', `${p}: connection closed by the provider (${code || 'socket closed'})`);
    }
    return new UpstreamError(p, 'server', `${p}: request failed (${(e as Error).message ?? String(e)})`);
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}


/** Collects an answer for `fetchText`; aborts through undici's controller on the caller's signal or a deadline. */
class BufferedHandler implements Dispatcher.DispatchHandler {
  timer: NodeJS.Timeout | undefined;
  aborted = false;
  reason: unknown = undefined;
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private headers: Headers = {};
  private readonly chunks: Buffer[] = [];
  private readonly onAbort: () => void;

  constructor(
    private readonly resolve: (v: { status: number; headers: Headers; text: string }) => void,
    private readonly reject: (e: unknown) => void,
    private readonly http: UpstreamHttp,
    private readonly signal: CallSignal,
  ) {
    this.onAbort = this.abort.bind(this, undefined);
    if (signal.aborted) this.abort(signal.reason);
    else signal.addEventListener('abort', this.onAbort, { once: true });
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason ?? this.signal.reason;
    this.controller?.abort(this.reason as Error);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.aborted) controller.abort(this.reason as Error);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    if (status < 200) return;
    clearTimeout(this.timer);
    this.status = status;
    this.headers = headers as Headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    this.done();
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.resolve({ status: this.status, headers: this.headers, text: body.toString('utf8') });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.done();
    this.reject(this.http.transportError(error, this));
  }

  private done(): void {
    clearTimeout(this.timer);
    this.signal.removeEventListener('abort', this.onAbort);
  }
}
