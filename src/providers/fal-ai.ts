/**
 * fal.ai through its queue API: https://docs.fal.ai/model-apis/model-endpoints/queue
 *
 * Submit `POST {base}/{endpoint id}` → a ticket with `status_url`, `response_url` and `cancel_url`; poll the
 * status until `COMPLETED`, then GET the result. Quirks:
 * - Endpoint ids may carry a sub-path (`fal-ai/flux/dev`) that the status, result and cancel URLs do not
 *   (`fal-ai/flux/requests/{id}`), so the adapter follows the ticket's URLs verbatim and never builds them.
 * - `COMPLETED` is terminal for success and failure alike: a failed run shows as a non-2xx answer on the
 *   result URL. A 422 whose `detail` names an input field (`loc: ["body", field, ...]`, fal's documented
 *   validation and content-policy form) is the caller's input: `invalid_input`, as fal's own client raises a
 *   ValidationError and fal documents that resending the same input fails the same way. Any other failure
 *   (a 422 about the run as a whole, `loc: ["body"]` or a string detail; 5xx request errors) is `job_failed`,
 *   with `X-Fal-Retryable: false` turning off retries on fal itself.
 * - A 504 with `X-Fal-Request-Timeout-Type: user` means the start deadline we sent expired: a timeout fal's
 *   clients must not retry.
 *
 * Options: `pollIntervalMs` (500, fal-js's default), `startTimeoutSeconds` (sent as `x-fal-request-timeout`),
 * `dataUriOutput` (sends `sync_mode: true`: images come back inline as data URIs instead of stored files),
 * `directUrl` (the `fal.run` host for direct calls; unused, since only the queue retries and can cancel).
 */
import { UpstreamError, type ProviderCall, type ProviderResult, type Usage, type CallSignal } from '../core/providers.ts';
import { delay, type AdapterFactory } from './_base/adapter.ts';
import { resolveArtifact } from './_base/artifact.ts';
import { UpstreamHttp, header, httpError, upstreamMessage, type Headers } from './_base/http.ts';

interface Ticket {
  statusUrl: string;
  responseUrl: string;
  cancelUrl: string;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** Status polls that failed in transit or with these kinds are tried again (fal-js retries 5xx and 429 too). */
const POLL_RETRIES = 2;
const CANCEL_TIMEOUT_MS = 5_000;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const positive = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);

/** fal's 504 for an expired `x-fal-request-timeout`, or the generic mapping. */
function falHttpError(provider: string, answer: Answer): UpstreamError {
  if (answer.status === 504 && header(answer.headers, 'x-fal-request-timeout-type') === 'user') {
    return new UpstreamError(provider, 'timeout', `${provider}: the request did not start before its x-fal-request-timeout`, {
      upstreamStatus: 504,
      retrySame: false,
    });
  }
  return httpError(provider, answer.status, answer.headers, answer.text);
}

/** A 422 whose errors point at a named input field (`["body", "prompt"]`), not at the run as a whole. */
function blamesInputField(text: string): boolean {
  try {
    const detail = (JSON.parse(text) as { detail?: unknown }).detail;
    return Array.isArray(detail) && detail.some((d) => isRecord(d) && Array.isArray(d.loc) && d.loc.length >= 2);
  } catch {
    return false;
  }
}

/** What a non-2xx answer on the result URL of a COMPLETED request means (see the header). */
function resultError(provider: string, answer: Answer): UpstreamError {
  const { status, headers, text } = answer;
  if ((status === 504 && header(headers, 'x-fal-request-timeout-type') === 'user') || status === 401 || status === 403) {
    return falHttpError(provider, answer);
  }
  const message = `${provider}: the request completed but its result is HTTP ${status}: ${upstreamMessage(text)}`;
  if (status === 422 && blamesInputField(text)) return new UpstreamError(provider, 'invalid_input', message, { upstreamStatus: 422 });
  const retryable = header(headers, 'x-fal-retryable');
  return new UpstreamError(provider, 'job_failed', message, {
    upstreamStatus: status,
    ...(retryable === 'false' ? { retrySame: false } : {}),
  });
}

function parseJson(provider: string, answer: Answer, what: string): Record<string, unknown> {
  try {
    const data: unknown = JSON.parse(answer.text);
    if (isRecord(data)) return data;
  } catch {
    // reported below
  }
  throw new UpstreamError(provider, 'malformed', `${provider}: the ${what} answer is not a JSON object`, { upstreamStatus: answer.status });
}

/** The caller's `{inputs, parameters}` as fal's text-to-image input. */
function falInput(provider: string, body: Record<string, unknown>, dataUriOutput: boolean): Record<string, unknown> {
  if (typeof body.inputs !== 'string' || !body.inputs.trim()) {
    throw new UpstreamError(provider, 'invalid_input', `${provider}: text-to-image takes a text prompt in "inputs"`);
  }
  const { width, height, target_size: targetSize, ...rest } = isRecord(body.parameters) ? body.parameters : {};
  const size = isRecord(targetSize) ? targetSize : { width, height };
  const input: Record<string, unknown> = { ...rest, prompt: body.inputs };
  // fal takes a preset name or {width, height}; without both the model's default size applies.
  if (positive(size.width) && positive(size.height)) input.image_size = { width: size.width, height: size.height };
  if (dataUriOutput) input.sync_mode = true;
  return input;
}

export const createFalAdapter: AdapterFactory = (config) => {
  const name = config.name;
  const http = new UpstreamHttp(name, config.timeouts);
  const base = config.baseUrl.replace(/\/+$/, '');
  const pollIntervalMs = positive(config.options.pollIntervalMs) ?? 500;
  const startTimeoutSeconds = positive(config.options.startTimeoutSeconds);
  const dataUriOutput = config.options.dataUriOutput === true;
  const auth: Record<string, string> = config.apiKey ? { authorization: `Key ${config.apiKey}` } : {};

  async function fetchText(url: string, signal: CallSignal): Promise<Answer> {
    const res = await http.send(url, { headers: auth, signal });
    return { status: res.status, headers: res.headers, text: await http.text(res, signal) };
  }

  /** A GET that is tried again, briefly, while it fails in one of the `transient` ways. */
  async function getWithRetries(url: string, signal: CallSignal, check: (a: Answer) => Answer, transient: Set<string>): Promise<Answer> {
    for (let attempt = 0; ; attempt++) {
      try {
        return check(await fetchText(url, signal));
      } catch (e) {
        if (!(e instanceof UpstreamError) || !transient.has(e.failure) || attempt >= POLL_RETRIES) throw e;
        await delay(Math.min(e.retryAfterMs ?? pollIntervalMs * (attempt + 1), 5_000), signal);
      }
    }
  }

  async function submit(call: ProviderCall, input: Record<string, unknown>): Promise<Ticket> {
    const headers: Record<string, string> = { ...auth, 'content-type': 'application/json' };
    if (startTimeoutSeconds) headers['x-fal-request-timeout'] = String(startTimeoutSeconds);
    // Never retried here: a lost answer may already have queued (and will bill) the request.
    const res = await http.send(`${base}/${call.providerModel}`, { method: 'POST', headers, body: JSON.stringify(input), signal: call.signal });
    const answer = { status: res.status, headers: res.headers, text: await http.text(res, call.signal) };
    if (answer.status < 200 || answer.status >= 300) throw falHttpError(name, answer);
    const data = parseJson(name, answer, 'submit');
    const { status_url: statusUrl, response_url: responseUrl, cancel_url: cancelUrl } = data;
    if (typeof statusUrl !== 'string' || typeof responseUrl !== 'string' || typeof cancelUrl !== 'string') {
      throw new UpstreamError(name, 'malformed', `${name}: the submit answer lacks status_url, response_url or cancel_url`);
    }
    return { statusUrl, responseUrl, cancelUrl };
  }

  /** Fires `PUT cancel_url` once if the call is aborted; fal may still finish a request that already runs. */
  function cancelOnAbort(ticket: Ticket, signal: CallSignal): () => void {
    const cancel = () => {
      http
        .send(ticket.cancelUrl, { method: 'PUT', headers: auth, signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS) })
        .then((res) => res.body.dump())
        .catch(() => undefined);
    };
    if (signal.aborted) {
      cancel();
      return () => undefined;
    }
    signal.addEventListener('abort', cancel, { once: true });
    return () => signal.removeEventListener('abort', cancel);
  }

  /** Polls until COMPLETED; answers the status body (it carries `metrics.inference_time`). */
  async function waitForCompletion(ticket: Ticket, signal: CallSignal): Promise<Record<string, unknown>> {
    const transient = new Set(['connect', 'stream_cut', 'server', 'rate_limited']);
    const ok = (a: Answer) => {
      if (a.status < 200 || a.status >= 300) throw falHttpError(name, a);
      return a;
    };
    for (;;) {
      const status = parseJson(name, await getWithRetries(ticket.statusUrl, signal, ok, transient), 'status');
      if (status.status === 'COMPLETED') return status;
      if (status.status !== 'IN_QUEUE' && status.status !== 'IN_PROGRESS') {
        throw new UpstreamError(name, 'malformed', `${name}: unknown request status ${JSON.stringify(status.status)}`);
      }
      await delay(pollIntervalMs, signal);
    }
  }

  async function fetchResult(ticket: Ticket, signal: CallSignal): Promise<Record<string, unknown>> {
    // A 5xx here is the run's failure, not a passing fault: only transport failures and 429 are tried again.
    const transient = new Set(['connect', 'stream_cut', 'rate_limited']);
    const check = (a: Answer) => {
      if (a.status === 429) throw httpError(name, a.status, a.headers, a.text);
      if (a.status < 200 || a.status >= 300) throw resultError(name, a);
      return a;
    };
    return parseJson(name, await getWithRetries(ticket.responseUrl, signal, check, transient), 'result');
  }

  async function toImage(output: Record<string, unknown>, status: Record<string, unknown>, signal: CallSignal): Promise<ProviderResult> {
    const images = output.images;
    const first: unknown = Array.isArray(images) ? images[0] : undefined;
    if (!Array.isArray(images) || !isRecord(first) || typeof first.url !== 'string') {
      throw new UpstreamError(name, 'malformed', `${name}: the result has no images[0].url`);
    }
    const mimeHint = typeof first.content_type === 'string' ? first.content_type : undefined;
    const artifact = await resolveArtifact(http, first.url, signal, mimeHint ? { mimeHint } : {});
    return { kind: 'bytes', bytes: artifact.bytes, contentType: artifact.contentType, usage: usageOf(images, status, output) };
  }

  return {
    name,
    type: 'fal-ai',
    supports: (api, task) => api === 'task' && task === 'text-to-image',
    async call(call) {
      const input = falInput(name, call.body, dataUriOutput);
      const ticket = await submit(call, input);
      const stopCancel = cancelOnAbort(ticket, call.signal);
      let status: Record<string, unknown>;
      let output: Record<string, unknown>;
      try {
        status = await waitForCompletion(ticket, call.signal);
        output = await fetchResult(ticket, call.signal);
      } finally {
        stopCancel();
      }
      return toImage(output, status, call.signal);
    },
    close: () => http.close(),
  };
};

function usageOf(images: unknown[], status: Record<string, unknown>, output: Record<string, unknown>): Usage {
  const usage: Usage = { outputs: images.length };
  let pixels = 0;
  for (const image of images) {
    if (isRecord(image)) pixels += (positive(image.width) ?? 0) * (positive(image.height) ?? 0);
  }
  if (pixels > 0) usage.megapixels = pixels / 1e6;
  const metrics = isRecord(status.metrics) ? status.metrics : {};
  const timings = isRecord(output.timings) ? output.timings : {};
  const seconds = positive(metrics.inference_time) ?? positive(timings.inference);
  if (seconds !== undefined) usage.computeSeconds = seconds;
  return usage;
}
