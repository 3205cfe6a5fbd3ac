/**
 * The console's live view of traffic, kept in memory by one `onResponse` hook: the last 5,000 calls (redacted:
 * method, path without its query, model, status, latency, provider, and the token's name and id, never its
 * value or any body), per-minute counts by status class for the last 24 hours, and per-model latency samples
 * for percentiles. Per instance: with several instances each console shows its own (usage and cost come from
 * the shared store); the processes of one instance (`--processes`) are merged when the console asks.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface LoggedCall {
  at: number;
  id: string;
  method: string;
  path: string;
  model: string;
  kind: 'inference' | 'gradio' | 'admin' | 'other';
  status: number;
  ms: number;
  provider: string;
  token: string;
}

export interface MinuteBucket {
  minute: number;
  ok: number;
  clientErrors: number;
  serverErrors: number;
  /** Cold-model answers (503 with estimated_time) count here, not as errors. */
  loading: number;
  latencies: number[];
}

const MAX_CALLS = 5000;
const MAX_SAMPLES = 1000;
const MINUTES = 24 * 60;

export function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** A fixed-size ring: adding is O(1) on the request path; reading copies, oldest first. */
class Ring<T> {
  private readonly items: T[] = [];
  private next = 0;
  constructor(private readonly size: number) {}
  push(item: T): void {
    if (this.items.length < this.size) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.size;
  }
  get length(): number {
    return this.items.length;
  }
  /** Refills the ring with `items` (oldest first); the newest `size` are kept. */
  load(items: T[]): void {
    this.items.length = 0;
    this.next = 0;
    for (const item of items.slice(-this.size)) this.push(item);
  }
  toArray(): T[] {
    return this.items.length < this.size ? [...this.items] : [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }
}

/** A process's request log as plain data, to merge the logs of a cluster's processes (`--processes`). */
export interface RequestLogData {
  calls: LoggedCall[];
  minutes: MinuteBucket[];
  samples: [string, number[]][];
  lastUsed: [string, number][];
  counts: [string, { requests: number; errors: number }][];
}

/** What a cluster's processes are asked for when the console merges their logs. */
export const REQUEST_LOG = 'request-log';

export class RequestLog {
  private readonly ring = new Ring<LoggedCall>(MAX_CALLS);
  private readonly minutes = new Map<number, MinuteBucket>();
  private readonly samples = new Map<string, Ring<number>>();
  readonly lastUsed = new Map<string, number>();
  readonly counts = new Map<string, { requests: number; errors: number }>();

  /** The last calls kept (at most 5,000), oldest first. */
  get calls(): LoggedCall[] {
    return this.ring.toArray();
  }

  add(call: LoggedCall): void {
    this.ring.push(call);
    if (call.kind !== 'inference' && call.kind !== 'gradio') return;
    const minute = Math.floor(call.at / 60_000);
    let b = this.minutes.get(minute);
    if (!b) {
      b = { minute, ok: 0, clientErrors: 0, serverErrors: 0, loading: 0, latencies: [] };
      this.minutes.set(minute, b);
      for (const m of this.minutes.keys()) if (m < minute - MINUTES) this.minutes.delete(m);
    }
    if (call.status === 503 && call.path.startsWith('/models/')) b.loading++;
    else if (call.status >= 500) b.serverErrors++;
    else if (call.status >= 400) b.clientErrors++;
    else b.ok++;
    if (call.status < 400 && b.latencies.length < MAX_SAMPLES) b.latencies.push(call.ms);
    if (call.model) {
      this.lastUsed.set(call.model, call.at);
      let c = this.counts.get(call.model);
      if (!c) this.counts.set(call.model, (c = { requests: 0, errors: 0 }));
      c.requests++;
      if (call.status >= 400) c.errors++;
      if (call.status < 400) {
        let s = this.samples.get(call.model);
        if (!s) this.samples.set(call.model, (s = new Ring<number>(MAX_SAMPLES)));
        s.push(call.ms);
      }
    }
  }

  export(): RequestLogData {
    return {
      calls: this.ring.toArray(),
      minutes: [...this.minutes.values()],
      samples: [...this.samples].map(([model, ring]) => [model, ring.toArray()]),
      lastUsed: [...this.lastUsed],
      counts: [...this.counts],
    };
  }

  /** One log holding what several processes' logs hold: calls in time order, counts summed. */
  static merge(parts: RequestLogData[]): RequestLog {
    const log = new RequestLog();
    log.ring.load(parts.flatMap((p) => p.calls).sort((a, b) => a.at - b.at));
    for (const p of parts) {
      for (const b of p.minutes) {
        const m = log.minutes.get(b.minute);
        if (!m) log.minutes.set(b.minute, { ...b, latencies: b.latencies.slice(0, MAX_SAMPLES) });
        else {
          m.ok += b.ok;
          m.clientErrors += b.clientErrors;
          m.serverErrors += b.serverErrors;
          m.loading += b.loading;
          m.latencies.push(...b.latencies.slice(0, MAX_SAMPLES - m.latencies.length));
        }
      }
      for (const [model, values] of p.samples) {
        let s = log.samples.get(model);
        if (!s) log.samples.set(model, (s = new Ring<number>(MAX_SAMPLES)));
        for (const v of values) s.push(v);
      }
      for (const [model, at] of p.lastUsed) log.lastUsed.set(model, Math.max(at, log.lastUsed.get(model) ?? 0));
      for (const [model, c] of p.counts) {
        const had = log.counts.get(model) ?? { requests: 0, errors: 0 };
        log.counts.set(model, { requests: had.requests + c.requests, errors: had.errors + c.errors });
      }
    }
    return log;
  }

  /** Buckets of the last `minutes` minutes, oldest first, empty minutes included. */
  series(minutes: number, now = Date.now()): MinuteBucket[] {
    const last = Math.floor(now / 60_000);
    const out: MinuteBucket[] = [];
    for (let m = last - minutes + 1; m <= last; m++) out.push(this.minutes.get(m) ?? { minute: m, ok: 0, clientErrors: 0, serverErrors: 0, loading: 0, latencies: [] });
    return out;
  }

  modelLatency(model: string): { p50: number | null; p95: number | null; samples: number } {
    const s = (this.samples.get(model)?.toArray() ?? []).sort((a, b) => a - b);
    return { p50: percentile(s, 0.5), p95: percentile(s, 0.95), samples: s.length };
  }
}

function kindOf(path: string): LoggedCall['kind'] {
  if (path.startsWith('/spaces/') && path.includes('/gradio_api/')) return 'gradio';
  if (path.startsWith('/api/')) return 'admin';
  if (path.startsWith('/models/') || path.startsWith('/pipeline/') || path.startsWith('/v1/') || /^\/[\w-]+\/(models|v1)\//.test(path)) return 'inference';
  return 'other';
}

function modelOf(path: string, request: FastifyRequest): string {
  const used = (request as { callUsage?: { model?: string } }).callUsage?.model;
  if (used) return used;
  const m = /^\/(?:[\w-]+\/)?models\/([^/]+\/[^/]+)/.exec(path) ?? /^\/spaces\/([^/]+\/[^/]+)\/gradio_api\//.exec(path);
  return m?.[1] ?? '';
}

/** Adds the hook at the root (call before routes are registered). Pages and assets are not logged. */
export function registerRequestLog(app: FastifyInstance, log: RequestLog): void {
  const note = (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0]!;
    if (path.startsWith('/ui/') || path === '/health' || path === '/ready' || path === '/metrics') return;
    const kind = kindOf(path);
    // Reads of pages, the catalogue and the console itself (polled every few seconds) would drown the calls
    // that matter; admin changes (token created, model unloaded, ...) are kept.
    if ((kind === 'other' || kind === 'admin') && request.method === 'GET') return;
    const principal = (request as { principal?: { name: string; tokenId: string | null } }).principal;
    const started = (request as { startedAt?: number }).startedAt ?? performance.now();
    const provider = reply.getHeader('x-modelhost-provider');
    log.add({
      at: Date.now(),
      id: request.id,
      method: request.method,
      path,
      model: modelOf(path, request),
      kind,
      status: reply.raw.statusCode,
      ms: performance.now() - started,
      provider: typeof provider === 'string' ? provider : 'none',
      token: principal ? (principal.tokenId ? `${principal.name} (${principal.tokenId})` : principal.name) : '',
    });
  };
  // 'finish' fires for every answer, streamed (hijacked) ones included.
  app.addHook('onRequest', (request, reply, done) => {
    reply.raw.once('finish', () => note(request, reply));
    done();
  });
}
