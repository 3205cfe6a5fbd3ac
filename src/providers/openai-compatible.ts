/**
 * Any OpenAI-compatible server (vLLM, TGI, Ollama, llama.cpp, hosted OpenAI-style providers), one adapter
 * instance per configured server. `baseUrl` is the API root ending in `/v1`.
 *
 * OpenAI calls (chat, completions, embeddings) pass through with `model` swapped. Hugging Face task calls
 * are translated: `text-generation` → `/completions` (TGI parameters renamed; answers `[{generated_text}]`,
 * streams as TGI token events), `feature-extraction` and `sentence-similarity` → `/embeddings`,
 * `conversational` → `/chat/completions`.
 *
 * Options (providers file): `headers` (fixed extra request headers), `streamUsage` (default true: request
 * `stream_options.include_usage` to count streamed tokens; set false for servers that reject it).
 */
import { UpstreamError, type ProviderCall, type ProviderResult, type Usage } from '../core/providers.ts';
import type { AdapterConfig, AdapterFactory } from './_base/adapter.ts';
import { UpstreamHttp } from './_base/http.ts';
import { clientOptions, OpenAiClient, usageOf, type JsonObject } from './_base/openai-compatible.ts';

/** TGI generation parameters → OpenAI completion fields (unlisted TGI parameters are not sent). */
const TGI_TO_OPENAI: Record<string, string> = {
  max_new_tokens: 'max_tokens',
  temperature: 'temperature',
  top_p: 'top_p',
  top_k: 'top_k',
  stop: 'stop',
  stop_sequences: 'stop',
  seed: 'seed',
  repetition_penalty: 'repetition_penalty',
  frequency_penalty: 'frequency_penalty',
};

/** Parameters that make TGI sample; without any of them (and without `do_sample`) TGI decodes greedily. */
const SAMPLING = ['temperature', 'top_p', 'top_k', 'typical_p'];

type TaskHandler = (ctx: Context, call: ProviderCall) => Promise<ProviderResult>;

interface Context {
  name: string;
  base: string;
  client: OpenAiClient;
}

function invalid(ctx: Context, message: string): UpstreamError {
  return new UpstreamError(ctx.name, 'invalid_input', `${ctx.name}: ${message}`);
}

function malformed(ctx: Context, message: string): UpstreamError {
  return new UpstreamError(ctx.name, 'malformed', `${ctx.name}: ${message}`);
}

function parametersOf(call: ProviderCall): JsonObject {
  const p = call.body.parameters;
  return p && typeof p === 'object' ? (p as JsonObject) : {};
}

/** TGI parameters as OpenAI fields; greedy unless TGI would sample. */
function openAiParams(params: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(params)) {
    const to = TGI_TO_OPENAI[key];
    if (to && value != null) out[to] = value;
  }
  const samples = params.do_sample === true || (params.do_sample !== false && SAMPLING.some((k) => params[k] != null));
  if (!samples) out.temperature = 0;
  return out;
}

/** OpenAI finish reasons → TGI's. vLLM's `stop_reason` names the stop string that matched. */
function tgiFinish(choice: { finish_reason?: unknown; stop_reason?: unknown }): string {
  if (choice.finish_reason === 'length') return 'length';
  return typeof choice.stop_reason === 'string' ? 'stop_sequence' : 'eos_token';
}

const textGeneration: TaskHandler = async (ctx, call) => {
  const { inputs } = call.body;
  if (typeof inputs !== 'string') throw invalid(ctx, 'text-generation inputs must be a string');
  const params = parametersOf(call);
  const body = { model: call.providerModel, prompt: inputs, ...openAiParams(params) };
  const prefix = params.return_full_text === true ? inputs : '';
  const details = params.details === true;
  const seed = typeof params.seed === 'number' ? params.seed : null;
  const url = `${ctx.base}/completions`;

  if (!call.stream) {
    const data = await ctx.client.post(url, body, call.signal);
    const choice = (data.choices as Array<JsonObject> | undefined)?.[0];
    if (!choice || typeof choice.text !== 'string') throw malformed(ctx, 'completion without choices[0].text');
    const usage = usageOf(data.usage);
    const answer: JsonObject = { generated_text: prefix + choice.text };
    if (details) answer.details = { finish_reason: tgiFinish(choice), generated_tokens: usage.outputTokens ?? 0, seed };
    return { kind: 'json', body: [answer], usage };
  }

  const { chunks } = await ctx.client.stream(url, body, call.signal);
  const usage: Usage = {};
  return { kind: 'stream', events: tgiEvents(ctx, chunks, { prefix, details, seed, usage }), usage };
};

/**
 * Completion chunks as TGI token events. Each chunk's text is sent at once; the chunk with a finish
 * reason becomes the final event (full `generated_text`), held until `[DONE]` proves the stream complete.
 */
async function* tgiEvents(
  ctx: Context,
  chunks: AsyncIterable<JsonObject>,
  opts: { prefix: string; details: boolean; seed: number | null; usage: Usage },
): AsyncGenerator<JsonObject> {
  let text = opts.prefix;
  let index = 0;
  let final: { event: JsonObject; finish: string } | undefined;
  for await (const chunk of chunks) {
    if (chunk.usage) Object.assign(opts.usage, usageOf(chunk.usage));
    const choice = (chunk.choices as Array<JsonObject> | undefined)?.[0];
    if (!choice) continue;
    if (typeof choice.text !== 'string') throw malformed(ctx, 'completion chunk without choices[0].text');
    text += choice.text;
    index++;
    const event: JsonObject = { index, token: { id: 0, text: choice.text, logprob: 0, special: false }, generated_text: null, details: null };
    // TGI's own /v1/completions sends `finish_reason: ""` on every chunk but the last.
    if (choice.finish_reason) final = { event, finish: tgiFinish(choice) };
    else yield event;
  }
  if (opts.usage.outputTokens === undefined) opts.usage.outputTokens = index;
  const last = final?.event ?? { index: index + 1, token: { id: 0, text: '', logprob: 0, special: true } };
  const details = opts.details ? { finish_reason: final?.finish ?? 'eos_token', generated_tokens: opts.usage.outputTokens, seed: opts.seed } : null;
  yield { ...last, generated_text: text, details };
}

/** Embeddings of a list of texts, in input order. */
async function embed(ctx: Context, call: ProviderCall, input: string[]): Promise<{ vectors: number[][]; usage: Usage }> {
  const body = { model: call.providerModel, input, encoding_format: 'float' };
  const data = await ctx.client.post(`${ctx.base}/embeddings`, body, call.signal);
  const items = data.data as Array<{ index?: unknown; embedding?: unknown }> | undefined;
  if (!Array.isArray(items) || items.length !== input.length) throw malformed(ctx, 'embeddings answer without one item per input');
  const vectors: number[][] = new Array<number[]>(input.length);
  items.forEach((item, i) => {
    if (!Array.isArray(item.embedding)) throw malformed(ctx, 'embedding that is not a list of numbers');
    vectors[typeof item.index === 'number' ? item.index : i] = item.embedding as number[];
  });
  return { vectors, usage: usageOf(data.usage) };
}

const featureExtraction: TaskHandler = async (ctx, call) => {
  const { inputs } = call.body;
  const list = typeof inputs === 'string' ? [inputs] : inputs;
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) throw invalid(ctx, 'feature-extraction inputs must be a string or a list of strings');
  const { vectors, usage } = await embed(ctx, call, list);
  return { kind: 'json', body: typeof inputs === 'string' ? vectors[0] : vectors, usage };
};

/** Cosine similarity of the source sentence with each sentence. */
const sentenceSimilarity: TaskHandler = async (ctx, call) => {
  const inputs = call.body.inputs as { source_sentence?: unknown; sentences?: unknown } | undefined;
  const source = inputs?.source_sentence;
  const sentences = inputs?.sentences;
  if (typeof source !== 'string' || !Array.isArray(sentences) || !sentences.every((s) => typeof s === 'string')) {
    throw invalid(ctx, 'sentence-similarity inputs must be {source_sentence, sentences[]}');
  }
  const { vectors, usage } = await embed(ctx, call, [source, ...sentences]);
  const [first, ...rest] = vectors as [number[], ...number[][]];
  const norm = (v: number[]) => Math.hypot(...v) || 1;
  const scores = rest.map((v) => v.reduce((sum, x, i) => sum + x * (first[i] ?? 0), 0) / (norm(v) * norm(first)));
  return { kind: 'json', body: scores, usage };
};

/** A chat body as sent (`messages` present), or `{inputs: text | messages, parameters}`. */
const conversational: TaskHandler = (ctx, call) => {
  const { inputs, messages } = call.body;
  if (messages !== undefined) return ctx.client.forward(`${ctx.base}/chat/completions`, call);
  const list = typeof inputs === 'string' ? [{ role: 'user', content: inputs }] : inputs;
  if (!Array.isArray(list)) throw invalid(ctx, 'conversational inputs must be a string or a list of messages');
  const body = { ...openAiParams(parametersOf(call)), messages: list, stream: call.stream };
  return ctx.client.forward(`${ctx.base}/chat/completions`, { ...call, body });
};

const TASKS: Record<string, TaskHandler> = {
  'text-generation': textGeneration,
  'feature-extraction': featureExtraction,
  'sentence-similarity': sentenceSimilarity,
  conversational,
};

export const createOpenAiCompatibleAdapter: AdapterFactory = (config: AdapterConfig) => {
  const http = new UpstreamHttp(config.name, config.timeouts);
  const client = new OpenAiClient(http, clientOptions(config.name, config.apiKey, config.options));
  const ctx: Context = { name: config.name, base: config.baseUrl.replace(/\/+$/, ''), client };
  return {
    name: config.name,
    type: 'openai-compatible',
    supports: (api, task) => api !== 'task' || Object.hasOwn(TASKS, task),
    call(call) {
      switch (call.api) {
        case 'chat':
          return client.forward(`${ctx.base}/chat/completions`, call);
        case 'completions':
          return client.forward(`${ctx.base}/completions`, call);
        case 'embeddings':
          return client.forward(`${ctx.base}/embeddings`, call);
        case 'task': {
          const handler = Object.hasOwn(TASKS, call.task) ? TASKS[call.task] : undefined;
          if (!handler) return Promise.reject(invalid(ctx, `task ${call.task} is not served by an OpenAI-compatible server`));
          return handler(ctx, call);
        }
      }
    },
    close: () => http.close(),
  };
};
