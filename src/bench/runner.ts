/**
 * Sends one target its requests and measures each: latency to the last byte, time to the first byte and (streams)
 * to the first token, and how it ended.
 *
 * Two load models:
 * - closed (no --rate): `concurrency` workers, each sending its next request when the previous one is answered.
 *   Latency runs from the send. A slow server gets fewer requests: that is what a closed loop is.
 * - open (--rate R): request i is due at start + i/R whatever happened before, with at most `concurrency` in
 *   flight. Latency runs from the time the request was *due*, so time a request spent waiting for a free slot, or
 *   for a load generator that fell behind, is counted (no coordinated omission: a stall shows in the percentiles
 *   instead of silently pausing the clock). The send-to-answer time is kept apart as `serviceMs`.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { Agent, errors as undiciErrors } from 'undici';
import type { ErrorKind, Example, Sample } from './result.ts';
import type { ResolvedTarget } from './targets.ts';

export interface RunOptions {
  requests: number;
  concurrency: number;
  warmup: number;
  /** Requests per second; null for a closed loop. */
  rate: number | null;
  timeoutMs: number;
  examples: number;
  /** Called after each measured request. */
  onResult?(sample: Sample, done: number): void;
  /** Called after each warm-up request. */
  onWarmup?(done: number): void;
  /** Awaited between the warm-up and the measured requests (e.g. to read the server's cost counters). */
  beforeMeasure?(): Promise<void>;
}

/** One request as it ended, before it becomes a sample. */
export interface Outcome {
  ok: boolean;
  status?: number;
  error?: ErrorKind;
  /** ms from the send. */
  totalMs: number;
  firstByteMs?: number;
  firstTokenMs?: number;
  provider?: string;
  contentType?: string;
  outputTokens?: number;
  /** Up to 4 KB of the body, for examples. */
  text: string;
  truncated: boolean;
  bytes: number;
}

export interface TargetRun {
  samples: Sample[];
  /** Send-to-answer time of each sample (equal to `ms` in the closed model). */
  serviceMs: number[];
  examples: Example[];
  outputTokens: number;
  sawTokens: boolean;
  elapsedSeconds: number;
  maxSendLagMs: number;
}

const EXAMPLE_BYTES = 4096;

export function errorKindOfStatus(status: number): ErrorKind {
  if (status === 429) return 'http_429';
  return status >= 500 ? 'http_5xx' : 'http_4xx';
}

function errorKindOf(e: unknown, timedOut: boolean): ErrorKind {
  if (timedOut) return 'timeout';
  if (e instanceof undiciErrors.HeadersTimeoutError || e instanceof undiciErrors.BodyTimeoutError || e instanceof undiciErrors.ConnectTimeoutError) return 'timeout';
  return 'connection';
}

/** Reads an SSE body: the first event carrying a token, whether the stream ended properly, how many tokens came. */
class StreamWatch {
  firstTokenAt?: number;
  tokens = 0;
  done = false;
  error = false;
  private readonly parser = createParser({ onEvent: (e) => this.event(e) });

  constructor(private readonly api: 'hf' | 'openai', private readonly now: () => number) {}

  feed(chunk: string) {
    this.parser.feed(chunk);
  }

  private event(e: EventSourceMessage) {
    if (e.data === '[DONE]') {
      this.done = true;
      return;
    }
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(e.data) as Record<string, unknown>;
    } catch {
      return;
    }
    if (data.error !== undefined) {
      this.error = true;
      return;
    }
    let token = false;
    if (this.api === 'openai') {
      const choice = (data.choices as { delta?: { content?: unknown }; text?: unknown }[] | undefined)?.[0];
      const piece = choice?.delta?.content ?? choice?.text;
      token = typeof piece === 'string' && piece.length > 0;
    } else {
      const t = data.token as { text?: unknown } | undefined;
      token = typeof t?.text === 'string';
      // TGI ends with the event that carries the whole text.
      if (typeof data.generated_text === 'string') this.done = true;
    }
    if (token) {
      this.tokens++;
      this.firstTokenAt ??= this.now();
    }
  }
}

function outputTokensOf(json: unknown): number | undefined {
  if (!json || typeof json !== 'object') return undefined;
  const o = json as { usage?: { completion_tokens?: unknown }; details?: { generated_tokens?: unknown } };
  const n = o.usage?.completion_tokens ?? (Array.isArray(json) ? (json[0] as typeof o | undefined)?.details?.generated_tokens : o.details?.generated_tokens);
  return typeof n === 'number' ? n : undefined;
}

/** One request, timed from the send with `performance.now()` (monotonic). */
export async function sendOne(agent: Agent, t: ResolvedTarget, timeoutMs: number): Promise<Outcome> {
  const start = performance.now();
  const since = () => performance.now() - start;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  let status: number | undefined;
  let contentType: string | undefined;
  let provider: string | undefined;
  let text = '';
  let bytes = 0;
  try {
    const url = new URL(t.url);
    const res = await agent.request({ origin: url.origin, path: url.pathname + url.search, method: 'POST', headers: t.headers, body: t.body, signal: controller.signal });
    status = res.statusCode;
    contentType = String(res.headers['content-type'] ?? '');
    const p = res.headers['x-modelhost-provider'];
    provider = typeof p === 'string' ? p : undefined;
    const sse = contentType.includes('text/event-stream') ? new StreamWatch(t.api, since) : undefined;
    const binary = !/json|text|event-stream/.test(contentType);
    let firstByteMs: number | undefined;
    const decoder = new TextDecoder();
    const parts: Buffer[] = [];
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      firstByteMs ??= since();
      bytes += chunk.length;
      if (sse) sse.feed(decoder.decode(chunk, { stream: true }));
      else if (!binary) parts.push(chunk);
      if (sse && text.length < EXAMPLE_BYTES) text += chunk.toString('utf8');
    }
    const totalMs = since();
    clearTimeout(timer);
    if (!sse) text = binary ? `<${bytes} bytes of ${contentType || 'binary data'}>` : Buffer.concat(parts).toString('utf8');
    const truncated = text.length > EXAMPLE_BYTES;
    const shown = text.slice(0, EXAMPLE_BYTES);
    const base = { status, totalMs, firstByteMs, provider, contentType, text: shown, truncated, bytes };
    if (status < 200 || status >= 300) return { ...base, ok: false, error: errorKindOfStatus(status) };
    if (sse) {
      const outcome = { ...base, firstTokenMs: sse.firstTokenAt, outputTokens: sse.tokens };
      if (sse.error) return { ...outcome, ok: false, error: 'stream_error' };
      if (!sse.done) return { ...outcome, ok: false, error: 'stream_incomplete' };
      return { ...outcome, ok: true };
    }
    if (contentType.includes('json')) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return { ...base, ok: false, error: 'invalid_body' };
      }
      return { ...base, ok: true, outputTokens: outputTokensOf(json) };
    }
    return { ...base, ok: true };
  } catch (e) {
    clearTimeout(timer);
    const truncated = text.length > EXAMPLE_BYTES;
    return {
      ok: false,
      status,
      error: status !== undefined && !timedOut ? 'stream_incomplete' : errorKindOf(e, timedOut),
      totalMs: since(),
      provider,
      contentType,
      text: text.slice(0, EXAMPLE_BYTES) || (e as Error).message,
      truncated,
      bytes,
    };
  }
}

/** A counting semaphore: at most `n` holders. */
function slots(n: number) {
  let free = n;
  const waiting: (() => void)[] = [];
  return {
    async take() {
      if (free > 0) {
        free--;
        return;
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    },
    give() {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
}

const sleepUntil = (at: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));

const SAMPLE_CAP = 20_000;

export async function runTarget(t: ResolvedTarget, o: RunOptions): Promise<TargetRun> {
  // One connection per concurrent request, kept alive: the bench measures the target, not TCP handshakes.
  const agent = new Agent({ connections: o.concurrency, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  try {
    // Warm-up: closed loop at the same concurrency, nothing recorded.
    let warmed = 0;
    await Promise.all(
      Array.from({ length: Math.min(o.concurrency, o.warmup) }, async () => {
        while (warmed < o.warmup) {
          warmed++;
          await sendOne(agent, t, o.timeoutMs);
          o.onWarmup?.(warmed);
        }
      }),
    );

    await o.beforeMeasure?.();
    const run: TargetRun = { samples: [], serviceMs: [], examples: [], outputTokens: 0, sawTokens: false, elapsedSeconds: 0, maxSendLagMs: 0 };
    const exampleKinds = new Set<string>();
    let done = 0;
    const t0 = performance.now();
    const finish = (due: number, sentAt: number, out: Outcome) => {
      const origin = due; // the closed model's due time is its send time
      const waited = sentAt - origin;
      const sample: Sample = {
        at: round(due - t0),
        ms: round(out.totalMs + waited),
        ...(out.firstByteMs !== undefined ? { firstByteMs: round(out.firstByteMs + waited) } : {}),
        ...(out.firstTokenMs !== undefined ? { firstTokenMs: round(out.firstTokenMs + waited) } : {}),
        ok: out.ok,
        ...(out.status !== undefined ? { status: out.status } : {}),
        ...(out.error ? { error: out.error } : {}),
        ...(out.provider ? { provider: out.provider } : {}),
      };
      if (run.samples.length < SAMPLE_CAP) {
        run.samples.push(sample);
        run.serviceMs.push(round(out.totalMs));
      }
      if (out.outputTokens !== undefined) {
        run.sawTokens = true;
        if (out.ok) run.outputTokens += out.outputTokens;
      }
      // The first answers, plus the first of each kind of failure (the one a reader most needs to see).
      const kind = out.error ?? 'ok';
      if (run.examples.length < o.examples || (out.error && !exampleKinds.has(kind))) {
        exampleKinds.add(kind);
        run.examples.push({
          ...(out.status !== undefined ? { status: out.status } : {}),
          ms: sample.ms,
          ok: out.ok,
          ...(out.error ? { error: out.error } : {}),
          ...(out.contentType ? { contentType: out.contentType } : {}),
          ...(out.provider ? { provider: out.provider } : {}),
          body: out.text,
          truncated: out.truncated,
        });
      }
      done++;
      o.onResult?.(sample, done);
    };

    if (o.rate === null) {
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(o.concurrency, o.requests) }, async () => {
          while (next < o.requests) {
            next++;
            const sentAt = performance.now();
            finish(sentAt, sentAt, await sendOne(agent, t, o.timeoutMs));
          }
        }),
      );
    } else {
      const interval = 1000 / o.rate;
      const free = slots(o.concurrency);
      const inFlight: Promise<void>[] = [];
      for (let i = 0; i < o.requests; i++) {
        const due = t0 + i * interval;
        await sleepUntil(due);
        await free.take();
        const sentAt = performance.now();
        run.maxSendLagMs = Math.max(run.maxSendLagMs, sentAt - due);
        inFlight.push(
          sendOne(agent, t, o.timeoutMs).then((out) => {
            free.give();
            finish(due, sentAt, out);
          }),
        );
      }
      await Promise.all(inFlight);
      run.maxSendLagMs = round(run.maxSendLagMs);
    }
    run.elapsedSeconds = (performance.now() - t0) / 1000;
    return run;
  } finally {
    await agent.close();
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;
