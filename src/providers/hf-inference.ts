/**
 * Hugging Face's own `hf-inference` provider behind the HF router; `baseUrl` like
 * `https://router.huggingface.co/hf-inference` (protocol notes: /work/shared/docs/hf-protocol.md).
 *
 * Task calls: `POST {base}/models/{id}` with `{inputs, parameters}` (a Buffer input goes as raw bytes with
 * its sniffed type, or base64 JSON when there are parameters, as the Python client does); feature-extraction
 * and sentence-similarity at `{base}/models/{id}/pipeline/{task}`. JSON answers are passed on; image and
 * audio answers come back as bytes. A text-generation stream is TGI's SSE: token events, the last with
 * `generated_text`, no `[DONE]`. A 503 "model is loading" is a `server` failure whose `estimated_time` is
 * the retry hint. OpenAI calls use the model's own OpenAI routes (`/models/{id}/v1/...`); embeddings go
 * through the feature-extraction pipeline and are answered in the OpenAI shape.
 *
 * Options (providers file): `headers` (fixed extra headers, e.g. `X-HF-Bill-To`), `streamUsage` (see the
 * openai-compatible adapter).
 */
import { UpstreamError, type ProviderCall, type ProviderResult, type Usage } from '../core/providers.ts';
import type { AdapterConfig, AdapterFactory } from './_base/adapter.ts';
import { sniffMime } from './_base/artifact.ts';
import { header, UpstreamHttp, type Headers, type SendInit } from './_base/http.ts';
import {
  bearerHeaders,
  clientOptions,
  OpenAiClient,
  openEventStream,
  readJson,
  readJsonEvents,
  throwHttpError,
  type JsonObject,
} from './_base/openai-compatible.ts';

/** Tasks the HF API serves on a pipeline route rather than the model's root. */
const PIPELINE_TASKS = new Set(['feature-extraction', 'sentence-similarity']);

/** Billed compute time and TGI's token counts, from the answer's headers. */
function headerUsage(headers: Headers): Usage {
  const usage: Usage = {};
  const seconds = Number(header(headers, 'x-compute-time'));
  if (header(headers, 'x-compute-time') !== undefined && Number.isFinite(seconds)) usage.computeSeconds = seconds;
  const prompt = Number(header(headers, 'x-prompt-tokens'));
  const generated = Number(header(headers, 'x-generated-tokens'));
  if (header(headers, 'x-prompt-tokens') !== undefined && Number.isFinite(prompt)) usage.inputTokens = prompt;
  if (header(headers, 'x-generated-tokens') !== undefined && Number.isFinite(generated)) usage.outputTokens = generated;
  return usage;
}

/** Width × height of a PNG (IHDR), else the requested size. */
function megapixels(bytes: Uint8Array, params: JsonObject): number | undefined {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes.length >= 24) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return (view.getUint32(16) * view.getUint32(20)) / 1e6;
  }
  const { width, height } = params;
  return typeof width === 'number' && typeof height === 'number' ? (width * height) / 1e6 : undefined;
}

function parametersOf(body: JsonObject): JsonObject {
  const p = body.parameters;
  return p && typeof p === 'object' ? (p as JsonObject) : {};
}

/** The request body of a task call: JSON, or the raw file for a binary input without parameters. */
function taskRequest(body: JsonObject, headers: Record<string, string>): Pick<SendInit, 'headers' | 'body'> {
  const { inputs } = body;
  if (inputs instanceof Uint8Array) {
    if (Object.keys(parametersOf(body)).length === 0) {
      return { headers: { ...headers, 'content-type': sniffMime(inputs) ?? 'application/octet-stream' }, body: inputs };
    }
    body = { ...body, inputs: Buffer.from(inputs.buffer, inputs.byteOffset, inputs.byteLength).toString('base64') };
  }
  return { headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function float32Base64(vector: number[]): string {
  return Buffer.from(new Float32Array(vector).buffer).toString('base64');
}

export const createHfInferenceAdapter: AdapterFactory = (config: AdapterConfig) => {
  const name = config.name;
  const options = clientOptions(name, config.apiKey, config.options);
  const http = new UpstreamHttp(name, config.timeouts);
  const headers = bearerHeaders(config.apiKey, options.headers);
  const client = new OpenAiClient(http, options);
  const base = config.baseUrl.replace(/\/+$/, '');
  const modelUrl = (id: string) => `${base}/models/${id.split('/').map(encodeURIComponent).join('/')}`;
  const malformed = (message: string) => new UpstreamError(name, 'malformed', `${name}: ${message}`);

  async function task(call: ProviderCall): Promise<ProviderResult> {
    const root = modelUrl(call.providerModel);
    const url = PIPELINE_TASKS.has(call.task) ? `${root}/pipeline/${call.task}` : root;
    if (call.stream && call.task === 'text-generation') return generationStream(url, call);
    const res = await http.send(url, { method: 'POST', ...taskRequest(call.body, headers), signal: call.signal });
    if (res.status < 200 || res.status >= 300) await throwHttpError(http, res, call.signal);
    const usage = headerUsage(res.headers);
    const type = header(res.headers, 'content-type')?.split(';')[0]?.trim() ?? '';
    if (type.endsWith('json')) {
      const data = await readJson<unknown>(http, res, call.signal);
      return { kind: 'json', body: call.task === 'text-generation' ? generationAnswer(data, usage) : data, usage };
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await res.body.arrayBuffer());
    } catch (e) {
      throw http.transportError(e, call.signal);
    }
    const contentType = type && type !== 'application/octet-stream' ? type : sniffMime(bytes);
    if (!contentType) throw malformed('answered a file of unknown type');
    usage.outputs = 1;
    if (contentType.startsWith('image/')) usage.megapixels = megapixels(bytes, parametersOf(call.body));
    return { kind: 'bytes', bytes, contentType, usage };
  }

  /** `[{generated_text}]` (TGI's `/generate` answers the bare object). */
  function generationAnswer(data: unknown, usage: Usage): unknown {
    const list = Array.isArray(data) ? data : [data];
    const first = list[0] as { generated_text?: unknown; details?: { generated_tokens?: unknown } } | undefined;
    if (typeof first?.generated_text !== 'string') throw malformed('text-generation answer without generated_text');
    if (usage.outputTokens === undefined && typeof first.details?.generated_tokens === 'number') usage.outputTokens = first.details.generated_tokens;
    return list;
  }

  async function generationStream(url: string, call: ProviderCall): Promise<ProviderResult> {
    const res = await openEventStream(http, url, JSON.stringify({ ...call.body, stream: true }), headers, call.signal);
    const usage: Usage = {};
    const events = readJsonEvents(http, res, call.signal, { isFinal: (e) => typeof e.generated_text === 'string' });
    return { kind: 'stream', events: countTokens(events, usage), usage };
  }

  /** TGI events passed through; non-special tokens counted, then the final event's details preferred. */
  async function* countTokens(events: AsyncIterable<JsonObject>, usage: Usage): AsyncGenerator<JsonObject> {
    let generated = 0;
    for await (const event of events) {
      const token = event.token as { special?: unknown } | undefined;
      if (!token || typeof token !== 'object') throw malformed('stream event without a token');
      if (token.special !== true) usage.outputTokens = ++generated;
      const details = event.details as { generated_tokens?: unknown; input_length?: unknown } | null | undefined;
      if (typeof details?.generated_tokens === 'number') usage.outputTokens = details.generated_tokens;
      if (typeof details?.input_length === 'number') usage.inputTokens = details.input_length;
      yield event;
    }
  }

  /** OpenAI embeddings through the feature-extraction pipeline. */
  async function embeddings(call: ProviderCall): Promise<ProviderResult> {
    const { input, encoding_format: format } = call.body;
    const texts = typeof input === 'string' ? [input] : input;
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) {
      throw new UpstreamError(name, 'invalid_input', `${name}: embeddings input must be a string or a list of strings`);
    }
    const result = await task({ ...call, api: 'task', task: 'feature-extraction', body: { inputs: texts }, stream: false });
    const vectors = (result.kind === 'json' ? result.body : undefined) as unknown[] | undefined;
    const isVector = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');
    if (!Array.isArray(vectors) || vectors.length !== texts.length || !vectors.every(isVector)) {
      throw malformed('feature-extraction answer is not one sentence embedding per input');
    }
    const data = vectors.map((embedding, index) => ({ object: 'embedding', index, embedding: format === 'base64' ? float32Base64(embedding) : embedding }));
    // The pipeline does not count tokens; the OpenAI shape needs the field.
    const body = { object: 'list', data, model: call.model, usage: { prompt_tokens: 0, total_tokens: 0 } };
    return { kind: 'json', body, usage: result.usage ?? {} };
  }

  return {
    name,
    type: 'hf-inference',
    supports: () => true,
    call(call) {
      switch (call.api) {
        case 'chat':
          return client.forward(`${modelUrl(call.providerModel)}/v1/chat/completions`, call);
        case 'completions':
          return client.forward(`${modelUrl(call.providerModel)}/v1/completions`, call);
        case 'embeddings':
          return embeddings(call);
        case 'task':
          return task(call);
      }
    },
    close: () => http.close(),
  };
};
