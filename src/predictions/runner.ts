/**
 * Runs one prediction as a call of its HF task route on the internal app (see internal-calls.ts) and turns the
 * answer into Replicate's terms: JSON stays the output, file bytes become a signed URL, a token stream becomes
 * an array of tokens (each reported as it arrives, for `urls.stream` and `output` webhooks).
 */
import { createParser } from 'eventsource-parser';
import { request, type Dispatcher } from 'undici';
import type { CallUsage } from '../server/access.ts';
import type { FileStore } from './files.ts';
import { INTERNAL_HEADER, type InternalCalls } from './internal-calls.ts';
import type { TaskPayload } from './input.ts';
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
    const usage = this.calls.usageOf(requestId);
    try {
      const inputs = ctx.payload.fetch ? await this.fetchInput(ctx.payload.fetch, signal) : ctx.payload.inputs;
      const body = JSON.stringify({ inputs, parameters: ctx.payload.parameters, ...(row.stream ? { stream: true } : {}) });
      const res = await request(this.calls.url(path), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': requestId, 'x-wait-for-model': 'true', [INTERNAL_HEADER]: this.calls.secret },
        body,
        signal,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      httpStatus = res.statusCode;
      const type = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (res.statusCode >= 400) {
        const text = await res.body.text();
        return { status: 'failed', output: null, error: errorText(text, res.statusCode), usage: await usage, httpStatus };
      }
      if (type === 'text/event-stream') {
        const { tokens, error } = await this.readStream(res.body, ctx.onToken);
        return { status: error ? 'failed' : 'succeeded', output: tokens, error, usage: await usage, httpStatus };
      }
      if (type === 'application/json') {
        return { status: 'succeeded', output: await res.body.json(), error: null, usage: await usage, httpStatus };
      }
      const bytes = new Uint8Array(await res.body.arrayBuffer());
      const url = await this.files.put(row.id, bytes, type || 'application/octet-stream', ctx.publicUrl);
      return { status: 'succeeded', output: url, error: null, usage: await usage, httpStatus };
    } catch (e) {
      if (signal.aborted) return { status: 'canceled', output: null, error: null, usage: await usage, httpStatus: 499 };
      return { status: 'failed', output: null, error: `The model could not be called: ${(e as Error).message}`, usage: await usage, httpStatus: httpStatus || 500 };
    }
  }

  /** TGI's stream: `{token: {text}}` per token, `{error}` when it breaks. */
  private async readStream(body: AsyncIterable<Buffer>, onToken: (t: string) => void): Promise<{ tokens: string[]; error: string | null }> {
    const tokens: string[] = [];
    let error: string | null = null;
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
        }
      },
    });
    for await (const chunk of body) parser.feed(chunk.toString('utf8'));
    return { tokens, error };
  }

  private async fetchInput(url: string, signal: AbortSignal): Promise<string> {
    const res = await request(url, { dispatcher: this.fetchAgent, signal });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new Error(`the input file ${url} answered ${res.statusCode}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_INPUT_FILE_BYTES) throw new Error(`the input file ${url} is larger than ${MAX_INPUT_FILE_BYTES} bytes`);
      chunks.push(chunk);
    }
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
