/**
 * WaveSpeed: https://wavespeed.ai/docs/submit-task , https://wavespeed.ai/docs/get-result
 *
 * Submit `POST {base}/{model id}` → a task in a `{code, message, data}` envelope; poll `data.urls.get` until
 * `completed` (outputs are CDN URLs, or bare base64 with `enable_base64_output`) or `failed`. Quirks:
 * - The envelope's `code` repeats the HTTP status; a `code` of 4xx/5xx inside an HTTP 200 is mapped as that
 *   status would be.
 * - A model failure is not an HTTP error: `status: "failed"` with `error` and a numeric `code` (1200
 *   moderation, 1400-1405 parameter and execution errors, 5000-5004 platform errors). The 2026 Python SDK
 *   also ends on `cancelled` and `timeout`. All are `job_failed`; the moderation and parameter codes are not
 *   retried on WaveSpeed itself, since the same input fails the same way there.
 * - Sync mode (`enable_sync_mode`) answers the finished task, or, when its wait runs out, a still-processing
 *   task with `code: 5004` / "Sync mode timed out" that is then polled like any other; a 504 from the gateway
 *   is a timeout (the task may still run; there is no id to follow it).
 * - No cancel endpoint exists: an aborted call just stops polling.
 *
 * Options: `pollIntervalMs` (1000, the SDK default), `syncMode` (enable_sync_mode), `syncTimeoutMs` (how long
 * the sync submit may take before its first byte; default the provider's first-byte timeout), `base64Output`
 * (enable_base64_output).
 */
import { UpstreamError, type ProviderCall, type ProviderResult, type Usage, type CallSignal } from '../core/providers.ts';
import { delay, type AdapterFactory } from './_base/adapter.ts';
import { resolveArtifact } from './_base/artifact.ts';
import { UpstreamHttp, httpError, upstreamMessage, type Headers, type UpstreamResponse } from './_base/http.ts';

type Task = Record<string, unknown>;

/** Result polls failing in these ways are tried again, briefly (the SDKs retry 429 and 5xx on GETs). */
const POLL_RETRIES = 2;
const TRANSIENT = new Set(['connect', 'stream_cut', 'server', 'rate_limited']);
/** Task error codes that mean the input itself was refused (moderation, missing or invalid parameter). */
const INPUT_CODES = new Set([1200, 1400, 1401]);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const positive = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);

/** HTTP errors; a 504 is the gateway giving up on a call that may still be running. */
function wavespeedHttpError(provider: string, status: number, headers: Headers, text: string): UpstreamError {
  if (status === 504) {
    return new UpstreamError(provider, 'timeout', `${provider}: the gateway timed out (HTTP 504): ${upstreamMessage(text)}`, {
      upstreamStatus: 504,
    });
  }
  return httpError(provider, status, headers, text);
}

/** The task out of an answer, mapping HTTP and envelope errors. */
function taskOf(provider: string, status: number, headers: Headers, text: string): Task {
  if (status < 200 || status >= 300) throw wavespeedHttpError(provider, status, headers, text);
  let envelope: unknown;
  try {
    envelope = JSON.parse(text);
  } catch {
    throw new UpstreamError(provider, 'malformed', `${provider}: answer is not JSON`, { upstreamStatus: status });
  }
  if (!isRecord(envelope)) throw new UpstreamError(provider, 'malformed', `${provider}: answer is not an envelope`);
  const code = envelope.code;
  if (typeof code === 'number' && code >= 400 && code < 600) {
    const mapped = wavespeedHttpError(provider, code, headers, text);
    throw new UpstreamError(provider, mapped.failure, `${provider} answered HTTP ${status} with code ${code}: ${upstreamMessage(text)}`, {
      upstreamStatus: code,
      ...(mapped.retryAfterMs !== undefined ? { retryAfterMs: mapped.retryAfterMs } : {}),
    });
  }
  if (!isRecord(envelope.data)) throw new UpstreamError(provider, 'malformed', `${provider}: the envelope has no data`);
  return envelope.data;
}

/** `{inputs, parameters}` as WaveSpeed's model parameters (`size` is "W*H"). */
function wavespeedInput(provider: string, body: Record<string, unknown>, flags: Record<string, boolean>): Record<string, unknown> {
  if (typeof body.inputs !== 'string' || !body.inputs.trim()) {
    throw new UpstreamError(provider, 'invalid_input', `${provider}: text-to-image takes a text prompt in "inputs"`);
  }
  const { width, height, target_size: targetSize, ...rest } = isRecord(body.parameters) ? body.parameters : {};
  const size = isRecord(targetSize) ? targetSize : { width, height };
  const input: Record<string, unknown> = { ...rest, prompt: body.inputs };
  if (positive(size.width) && positive(size.height)) input.size = `${size.width}*${size.height}`;
  for (const [flag, on] of Object.entries(flags)) if (on) input[flag] = true;
  return input;
}

/** Width and height from a PNG's IHDR chunk, for megapixels when the caller did not fix the size. */
function pngSize(bytes: Uint8Array): [number, number] | undefined {
  if (bytes.length < 24 || bytes[0] !== 0x89 || bytes[1] !== 0x50) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return [view.getUint32(16), view.getUint32(20)];
}

function isSyncTimeout(task: Task): boolean {
  return task.code === 5004 || (typeof task.error === 'string' && /sync mode timed out/i.test(task.error));
}

export const createWavespeedAdapter: AdapterFactory = (config) => {
  const name = config.name;
  const http = new UpstreamHttp(name, config.timeouts);
  const base = config.baseUrl.replace(/\/+$/, '');
  const pollIntervalMs = positive(config.options.pollIntervalMs) ?? 1000;
  const syncMode = config.options.syncMode === true;
  const syncTimeoutMs = positive(config.options.syncTimeoutMs);
  const base64Output = config.options.base64Output === true;
  const auth: Record<string, string> = config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {};

  async function read(res: UpstreamResponse, signal: CallSignal): Promise<Task> {
    return taskOf(name, res.status, res.headers, await http.text(res, signal));
  }

  async function submit(call: ProviderCall, input: Record<string, unknown>): Promise<Task> {
    // Never retried here: the task may exist even if its answer was lost (wavespeed-python does the same).
    const res = await http.send(`${base}/${call.providerModel}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(input),
      signal: call.signal,
      ...(syncMode && syncTimeoutMs ? { firstByteMs: syncTimeoutMs } : {}),
    });
    return read(res, call.signal);
  }

  async function poll(url: string, signal: CallSignal): Promise<Task> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await read(await http.send(url, { headers: auth, signal }), signal);
      } catch (e) {
        if (!(e instanceof UpstreamError) || !TRANSIENT.has(e.failure) || attempt >= POLL_RETRIES) throw e;
        await delay(Math.min(e.retryAfterMs ?? pollIntervalMs * (attempt + 1), 5_000), signal);
      }
    }
  }

  function resultUrl(task: Task): string {
    const urls = isRecord(task.urls) ? task.urls : {};
    if (typeof urls.get === 'string') return urls.get;
    if (typeof task.id === 'string') return `${base}/predictions/${task.id}/result`;
    throw new UpstreamError(name, 'malformed', `${name}: the task has neither urls.get nor an id`);
  }

  function taskFailure(task: Task): UpstreamError {
    const code = typeof task.code === 'number' ? task.code : undefined;
    const error = typeof task.error === 'string' && task.error ? task.error : 'no error message';
    const message = `${name}: task ${String(task.id)} ${String(task.status)}${code !== undefined ? ` (code ${code})` : ''}: ${error}`;
    return new UpstreamError(name, 'job_failed', message, code !== undefined && INPUT_CODES.has(code) ? { retrySame: false } : {});
  }

  async function toImage(task: Task, input: Record<string, unknown>, signal: CallSignal): Promise<ProviderResult> {
    const outputs = task.outputs;
    const first: unknown = Array.isArray(outputs) ? outputs[0] : undefined;
    if (!Array.isArray(outputs) || typeof first !== 'string' || !first) {
      throw new UpstreamError(name, 'malformed', `${name}: the completed task has no outputs[0]`);
    }
    const artifact = await resolveArtifact(http, first, signal);
    const usage: Usage = { outputs: outputs.length };
    const [w, h] = typeof input.size === 'string' ? input.size.split('*').map(Number) : (pngSize(artifact.bytes) ?? []);
    if (positive(w) && positive(h)) usage.megapixels = ((w as number) * (h as number) * outputs.length) / 1e6;
    const timings = isRecord(task.timings) ? task.timings : {};
    const inferenceMs = positive(timings.inference);
    if (inferenceMs !== undefined) usage.computeSeconds = inferenceMs / 1000;
    return { kind: 'bytes', bytes: artifact.bytes, contentType: artifact.contentType, usage };
  }

  return {
    name,
    type: 'wavespeed',
    supports: (api, task) => api === 'task' && task === 'text-to-image',
    async call(call) {
      const input = wavespeedInput(name, call.body, { enable_sync_mode: syncMode, enable_base64_output: base64Output });
      let task = await submit(call, input);
      // A sync answer whose wait ran out is a running task: follow it like an async one.
      let url = syncMode && isSyncTimeout(task) ? resultUrl(task) : undefined;
      if (url) task = await poll(url, call.signal);
      for (;;) {
        switch (task.status) {
          case 'completed':
            return toImage(task, input, call.signal);
          case 'failed':
          case 'cancelled':
          case 'timeout':
            throw taskFailure(task);
          case 'created':
          case 'processing':
            url ??= resultUrl(task);
            await delay(pollIntervalMs, call.signal);
            task = await poll(url, call.signal);
            break;
          default:
            throw new UpstreamError(name, 'malformed', `${name}: unknown task status ${JSON.stringify(task.status)}`);
        }
      }
    },
    close: () => http.close(),
  };
};
