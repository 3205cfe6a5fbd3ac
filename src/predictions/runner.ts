/**
 * Runs one prediction as a call of its HF task route on the internal app (see internal-calls.ts) and turns the
 * answer into Replicate's terms: JSON stays the output, file bytes become a signed URL, a token stream becomes
 * an array of tokens (each reported as it arrives, for `urls.stream` and `output` webhooks). Says in the logs who
 * answered and how fast, what was fetched and stored, and how far a generation got.
 */
import { createParser } from 'eventsource-parser';
import { request, type Dispatcher } from 'undici';
import type { CallUsage } from '../server/access.ts';
import type { FileStore } from './files.ts';
import { INTERNAL_HEADER, type InternalCalls } from './internal-calls.ts';
import type { TaskPayload } from './input.ts';
import { duration, size } from './logs.ts';
import type { PredictionRow } from './types.ts';

export interface RunOutcome {
  status: 'succeeded' | 'failed' | 'canceled';
  output: unknown;
  error: string | null;
  usage: CallUsage | undefined;
  /** The HTTP status the route answered (the usage record's status). */
  httpStatus: number;
}

export interface RunContext {
  row: PredictionRow;
  payload: TaskPayload;
  signal: AbortSignal;
  onToken: (token: string) => void;
  /** A line for the prediction's logs. */
  log: (line: string) => void;
  /** A long generation logs how far it got at most this often (and once at the end). */
  logProgressMs: number;
  publicUrl: string;
}

/** Largest input file fetched from a URL. */
const MAX_INPUT_FILE_BYTES = 64 * 1024 ** 2;

export class Runner {
  constructor(
    private readonly calls: InternalCalls,
    private readonly files: FileStore,
    /** The guarded agent input-file URLs are fetched through (same address policy as webhooks). */
    private readonly fetchAgent: Dispatcher,
  ) {}

  async run(ctx: RunContext): Promise<RunOutcome> {
    const { row, signal } = ctx;
    const requestId = `pred_${row.id}_${row.attempt}`;
    const path = row.deployment ? `/endpoints/${encodeURIComponent(row.deployment)}` : `/models/${row.model}`;
    let httpStatus = 0;
    let usage = this.calls.usageOf(requestId);
    try {
      const inputs = ctx.payload.fetch ? await this.fetchInput(ctx.payload.fetch, signal, ctx.log) : ctx.payload.inputs;
      const sent = performance.now();
      const body = JSON.stringify({ inputs, parameters: ctx.payload.parameters, ...(row.stream ? { stream: true } : {}) });
      const res = await request(this.calls.url(path), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': requestId, 'x-wait-for-model': 'true', [INTERNAL_HEADER]: this.calls.secret },
        body,
        signal,
        dispatcher: this.calls.dispatcher,
      });
      httpStatus = res.statusCode;
      const type = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
      ctx.log(answeredLine(res.headers, res.statusCode, performance.now() - sent));
      // Who answered, as the route says: the internal app has no access layer to name a dedicated endpoint in usage.
      const provider = res.headers['x-modelhost-provider'];
      if (typeof provider === 'string') usage = usage.then((u) => u && { ...u, provider });
      if (res.statusCode >= 400) {
        const text = await res.body.text();
        return { status: 'failed', output: null, error: errorText(text, res.statusCode), usage: await usage, httpStatus };
      }
      if (type === 'text/event-stream') {
        const { tokens, error } = await this.readStream(res.body, ctx);
        return { status: error ? 'failed' : 'succeeded', output: tokens, error, usage: await usage, httpStatus };
      }
      if (type === 'application/json') {
        return { status: 'succeeded', output: await res.body.json(), error: null, usage: await usage, httpStatus };
      }
      const bytes = new Uint8Array(await res.body.arrayBuffer());
      const url = await this.files.put(row.id, bytes, type || 'application/octet-stream', ctx.publicUrl);
      ctx.log(`output stored: ${type || 'application/octet-stream'}, ${size(bytes.length)}, its URL valid for ${duration(this.files.ttlMs)}`);
      return { status: 'succeeded', output: url, error: null, usage: await usage, httpStatus };
    } catch (e) {
      if (signal.aborted) return { status: 'canceled', output: null, error: null, usage: await usage, httpStatus: 499 };
      return { status: 'failed', output: null, error: `The model could not be called: ${(e as Error).message}`, usage: await usage, httpStatus: httpStatus || 500 };
    }
  }

  /** TGI's stream: `{token: {text}}` per token, `{error}` when it breaks. */
  private async readStream(body: AsyncIterable<Buffer>, ctx: Pick<RunContext, 'onToken' | 'log' | 'logProgressMs'>): Promise<{ tokens: string[]; error: string | null }> {
    const { onToken, log } = ctx;
    const tokens: string[] = [];
    let error: string | null = null;
    const started = performance.now();
    let logged = started;
    const rate = (now: number) => (tokens.length / Math.max(0.001, (now - started) / 1000)).toFixed(1);
    const parser = createParser({
      onEvent(event) {
        let data: { token?: { text?: string; special?: boolean }; error?: string };
        try {
          data = JSON.parse(event.data) as typeof data;
        } catch {
          return;
        }
        if (typeof data.error === 'string') error = data.error;
        const text = data.token?.text;
        if (typeof text === 'string' && !data.token?.special) {
          tokens.push(text);
          onToken(text);
          const now = performance.now();
          if (now - logged >= ctx.logProgressMs) {
            logged = now;
            log(`generated ${tokens.length} tokens so far (${rate(now)} tokens/s)`);
          }
        }
      },
    });
    for await (const chunk of body) parser.feed(chunk.toString('utf8'));
    const now = performance.now();
    log(`generated ${tokens.length} token${tokens.length === 1 ? '' : 's'} in ${duration(now - started)} (${rate(now)} tokens/s)`);
    return { tokens, error };
  }

  private async fetchInput(url: string, signal: AbortSignal, log: (line: string) => void): Promise<string> {
    const started = performance.now();
    const res = await request(url, { dispatcher: this.fetchAgent, signal });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new Error(`the input file ${url} answered ${res.statusCode}`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > MAX_INPUT_FILE_BYTES) throw new Error(`the input file ${url} is larger than ${MAX_INPUT_FILE_BYTES} bytes`);
      chunks.push(chunk);
    }
    log(`input file fetched from ${new URL(url).host}: ${size(total)} in ${duration(performance.now() - started)}`);
    return Buffer.concat(chunks).toString('base64');
  }
}

/** The route's own error message (HF shape `{error}`), never a body dump. */
function errorText(text: string, status: number): string {
  try {
    const body = JSON.parse(text) as { error?: unknown };
    if (typeof body.error === 'string') return body.error;
    if (body.error && typeof body.error === 'object' && typeof (body.error as { message?: unknown }).message === 'string') return (body.error as { message: string }).message;
  } catch {
    // not JSON
  }
  return `The model answered HTTP ${status}`;
}

/** Who answered and how fast: `answered by local in 12 ms (compute 0.010 s)`, with failover attempts when the router made several. */
function answeredLine(headers: Record<string, string | string[] | undefined>, status: number, ms: number): string {
  const provider = typeof headers['x-modelhost-provider'] === 'string' ? headers['x-modelhost-provider'] : 'the model';
  const compute = typeof headers['x-compute-time'] === 'string' ? `, compute ${headers['x-compute-time']} s` : '';
  const attempts = Number(headers['x-modelhost-attempts'] ?? 1);
  const failover = attempts > 1 ? `, after ${attempts} attempts (failover)` : '';
  const what = status >= 400 ? `answered HTTP ${status}` : 'answered';
  return `${provider} ${what} in ${duration(ms)}${compute}${failover}`;
}
