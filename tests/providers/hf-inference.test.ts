import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../helpers/providers.ts';
import { InferenceClient } from '@huggingface/inference';
import type { ProviderAdapter, ProviderCall, ProviderResult } from '../../src/core/providers.ts';
import { createHfInferenceAdapter } from '../../src/providers/hf-inference.ts';
import { countTokens, fakeClassification, fakeCompletionTokens, fakeEmbedding, fakeImagePng } from '../../src/simulate/fake-models.ts';
import { listen, type Simulator } from '../../src/simulate/harness.ts';
import { createHfInferenceSimulator } from '../../src/simulate/hf-inference.ts';

const TOKEN = 'hf_simtoken';
const timeouts = { connectMs: 500, firstByteMs: 400, idleMs: 400, totalMs: 5_000 };
const MODEL_ROUTE = 'POST /models/:org/:name';
const PIPELINE_ROUTE = 'POST /models/:org/:name/pipeline/:task';

let server: Simulator;
let adapter: ProviderAdapter;
const adapters: ProviderAdapter[] = [];

function adapterWith(apiKey: string | undefined, options: Record<string, unknown> = {}) {
  const a = createHfInferenceAdapter({ name: 'hf-sim', type: 'hf-inference', baseUrl: `${server.url}/`, apiKey, timeouts, options });
  adapters.push(a);
  return a;
}

function task(taskId: string, providerModel: string, body: Record<string, unknown>, stream = false): ProviderCall {
  return { api: 'task', model: `hub/${providerModel}`, providerModel, task: taskId, body, stream, signal: AbortSignal.timeout(5_000), requestId: 'req-1' };
}

async function collect(result: ProviderResult): Promise<Array<Record<string, unknown>>> {
  expect(result.kind).toBe('stream');
  const events: Array<Record<string, unknown>> = [];
  for await (const event of (result as { events: AsyncIterable<unknown> }).events) events.push(event as Record<string, unknown>);
  return events;
}

async function streamFailure(result: Promise<ProviderResult>) {
  const events: unknown[] = [];
  const error = await failure(
    (async () => {
      for await (const event of ((await result) as { events: AsyncIterable<unknown> }).events) events.push(event);
    })(),
  );
  return { error, events };
}

const generation = (parameters: Record<string, unknown>, stream = false) => task('text-generation', 'org/tiny-llm', { inputs: 'once upon a time', parameters }, stream);

beforeAll(async () => {
  const { app, sim } = createHfInferenceSimulator({ token: TOKEN, loading: ['org/cold-llm'], loadingSeconds: 1.5 });
  server = await listen(app, sim);
  adapter = adapterWith(TOKEN);
});

afterEach(() => server.sim.setPlan({}, true));

afterAll(async () => {
  await Promise.all(adapters.map((a) => a.close?.()));
  await server.close();
});

describe('task calls', () => {
  it('text-classification: POST /models/{id} with {inputs, parameters} and the bearer token; the nested answer passed on', async () => {
    const result = await adapter.call(task('text-classification', 'org/sst2-sentiment', { inputs: 'I love it', parameters: { top_k: 2 } }));
    const sent = server.sim.stats.last[MODEL_ROUTE]!;
    expect(sent.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(sent.headers['content-type']).toBe('application/json');
    expect(sent.body).toEqual({ inputs: 'I love it', parameters: { top_k: 2 } });
    expect(result).toMatchObject({ kind: 'json', body: [fakeClassification('I love it')] });
    expect(typeof result.usage?.computeSeconds).toBe('number');
  });

  it('text-to-image: the PNG bytes with their content type, counted as one output and its megapixels', async () => {
    const result = await adapter.call(task('text-to-image', 'org/flux-schnell', { inputs: 'a red fox', parameters: { width: 32, height: 16 } }));
    expect(result.kind).toBe('bytes');
    const { bytes, contentType, usage } = result as Extract<ProviderResult, { kind: 'bytes' }>;
    expect(contentType).toBe('image/png');
    expect(Buffer.from(bytes).equals(fakeImagePng('a red fox', 32, 16))).toBe(true);
    expect(usage).toMatchObject({ outputs: 1, megapixels: (32 * 16) / 1e6 });
  });

  it('feature-extraction and sentence-similarity use the pipeline route', async () => {
    const one = await adapter.call(task('feature-extraction', 'org/bge-small', { inputs: 'hello world' }));
    expect(server.sim.stats.byRoute[PIPELINE_ROUTE]).toBeGreaterThanOrEqual(1);
    expect(server.sim.stats.last[PIPELINE_ROUTE]!.body).toEqual({ inputs: 'hello world' });
    expect((one as { body: unknown }).body).toEqual(fakeEmbedding('hello world'));
    const similarity = await adapter.call(task('sentence-similarity', 'org/bge-small', { inputs: { source_sentence: 'a', sentences: ['a', 'b'] } }));
    const [same, other] = (similarity as { body: number[] }).body;
    expect(same).toBeCloseTo(1, 6);
    expect(other).toBeCloseTo(fakeEmbedding('a').reduce((s, x, i) => s + x * fakeEmbedding('b')[i]!, 0), 6);
  });

  it('a binary input goes as raw bytes with its sniffed type; with parameters as base64 JSON', async () => {
    const png = fakeImagePng('cat photo', 8, 8);
    const raw = await adapter.call(task('image-classification', 'org/vit-base', { inputs: png }));
    const sent = server.sim.stats.last[MODEL_ROUTE]!;
    expect(sent.headers['content-type']).toBe('image/png');
    expect(Buffer.isBuffer(sent.body) && (sent.body as Buffer).equals(png)).toBe(true);
    expect((raw as { body: unknown }).body).toEqual(fakeClassification(png.toString('base64')));
    await adapter.call(task('image-classification', 'org/vit-base', { inputs: png, parameters: { top_k: 1 } }));
    expect(server.sim.stats.last[MODEL_ROUTE]!.body).toEqual({ inputs: png.toString('base64'), parameters: { top_k: 1 } });
  });

  it('text-generation: [{generated_text}] with token usage from the TGI headers', async () => {
    const result = await adapter.call(generation({ max_new_tokens: 4, details: true }));
    const body = (result as { body: Array<{ generated_text: string; details: { generated_tokens: number } }> }).body;
    expect(body[0]!.generated_text).toBe(fakeCompletionTokens('once upon a time', 4).join(''));
    expect(body[0]!.details.generated_tokens).toBe(4);
    expect(result.usage).toMatchObject({ inputTokens: countTokens('once upon a time'), outputTokens: 4 });
  });

  it('text-generation stream: TGI token events passed through, complete at the event with generated_text', async () => {
    const result = await adapter.call(generation({ max_new_tokens: 5, return_full_text: true }, true));
    const events = await collect(result);
    expect(server.sim.stats.last[MODEL_ROUTE]!.body).toMatchObject({ inputs: 'once upon a time', stream: true });
    const tokens = fakeCompletionTokens('once upon a time', 5);
    expect(events.map((e) => (e.token as { text: string }).text)).toEqual(tokens);
    expect(events.slice(0, -1).every((e) => e.generated_text === null)).toBe(true);
    expect(events.at(-1)!.generated_text).toBe('once upon a time' + tokens.join(''));
    expect(result.usage?.outputTokens).toBe(5);
  });

  it('sends the fixed headers of options.headers; refuses options of the wrong type at construction', async () => {
    await adapterWith(TOKEN, { headers: { 'x-hf-bill-to': 'my-org' } }).call(task('text-classification', 'org/sst2', { inputs: 'x' }));
    expect(server.sim.stats.last[MODEL_ROUTE]!.headers).toMatchObject({ 'x-hf-bill-to': 'my-org', authorization: `Bearer ${TOKEN}` });
    expect(() => adapterWith(TOKEN, { headers: 'x-hf-bill-to: my-org' })).toThrow(TypeError);
    expect(() => adapterWith(TOKEN, { streamUsage: 'yes' })).toThrow(TypeError);
  });

  it('claims every task', () => {
    expect(adapter.supports('task', 'object-detection')).toBe(true);
    expect(adapter.supports('embeddings', 'feature-extraction')).toBe(true);
  });
});

describe('OpenAI calls', () => {
  it('chat → /models/{id}/v1/chat/completions; completions → /models/{id}/v1/completions; model relabelled', async () => {
    const chat = await adapter.call({
      ...generation({}),
      api: 'chat',
      task: 'conversational',
      body: { model: 'whatever', messages: [{ role: 'user', content: 'hi there' }], max_tokens: 3 },
    });
    expect(server.sim.stats.last['POST /models/:org/:name/v1/chat/completions']!.body).toMatchObject({ model: 'org/tiny-llm' });
    const body = (chat as { body: { model: string; choices: Array<{ message: { content: string } }> } }).body;
    expect(body.model).toBe('hub/org/tiny-llm');
    expect(body.choices[0]!.message.content).toBe(fakeCompletionTokens('hi there', 3).join(''));

    const stream = await adapter.call({ ...generation({}), api: 'completions', body: { prompt: 'go', max_tokens: 3 }, stream: true });
    const events = await collect(stream);
    expect(server.sim.stats.byRoute['POST /models/:org/:name/v1/completions']).toBe(1);
    expect(events.map((e) => (e.choices as Array<{ text: string }>)[0]!.text).join('')).toBe(fakeCompletionTokens('go', 3).join(''));
  });

  it('embeddings → the feature-extraction pipeline, answered in the OpenAI shape (float or base64)', async () => {
    const call = { ...task('feature-extraction', 'org/minilm', {}), api: 'embeddings' as const, body: { input: 'some text' } };
    const floats = await adapter.call(call);
    expect(server.sim.stats.last[PIPELINE_ROUTE]!.body).toEqual({ inputs: ['some text'] });
    expect((floats as { body: unknown }).body).toMatchObject({ object: 'list', model: 'hub/org/minilm', data: [{ object: 'embedding', index: 0, embedding: fakeEmbedding('some text') }] });
    const b64 = await adapter.call({ ...call, body: { input: ['x', 'y'], encoding_format: 'base64' } });
    const data = (b64 as { body: { data: Array<{ embedding: string }> } }).body.data;
    const decoded = new Float32Array(Uint8Array.from(Buffer.from(data[1]!.embedding, 'base64')).buffer);
    Array.from(decoded).forEach((x, i) => expect(x).toBeCloseTo(fakeEmbedding('y')[i]!, 6));
  });
});

describe('errors map to failure kinds', () => {
  it('503 model loading → server with estimated_time as the retry hint', async () => {
    const e = await failure(adapter.call(task('text-generation', 'org/cold-llm', { inputs: 'x' })));
    expect([e.failure, e.upstreamStatus, e.retryAfterMs]).toEqual(['server', 503, 1500]);
    expect(e.message).toContain('currently loading');
  });

  it('5xx → server; 429 with and without Retry-After → rate_limited', async () => {
    server.sim.setPlan({ errorRate: 1, errorStatus: 502 });
    expect((await failure(adapter.call(generation({})))).failure).toBe('server');
    server.sim.setPlan({ rateLimitRate: 1, retryAfterSeconds: 3 }, true);
    const limited = await failure(adapter.call(generation({})));
    expect([limited.failure, limited.retryAfterMs]).toEqual(['rate_limited', 3000]);
    server.sim.setPlan({ rateLimitRate: 1, retryAfterSeconds: null }, true);
    const bare = await failure(adapter.call(generation({})));
    expect([bare.failure, bare.retryAfterMs]).toEqual(['rate_limited', undefined]);
  });

  it('401 → provider_config', async () => {
    const e = await failure(adapterWith('hf_wrong').call(generation({})));
    expect([e.failure, e.upstreamStatus]).toEqual(['provider_config', 401]);
    expect(e.message).toContain('Invalid credentials');
  });

  it('400 / 422 → invalid_input', async () => {
    const bad = await failure(adapter.call(task('text-classification', 'org/sst2', { parameters: {} })));
    expect([bad.failure, bad.upstreamStatus]).toEqual(['invalid_input', 400]);
    const tgi = await failure(adapter.call(generation({ max_new_tokens: 0 })));
    expect([tgi.failure, tgi.upstreamStatus]).toEqual(['invalid_input', 422]);
  });

  it('hang → timeout; reset → connect or stream_cut', async () => {
    server.sim.setPlan({ hangRate: 1 });
    expect((await failure(adapter.call(generation({})))).failure).toBe('timeout');
    server.sim.setPlan({ outage: 'reset' }, true);
    expect(['connect', 'stream_cut']).toContain((await failure(adapter.call(generation({})))).failure);
  });

  it('truncated JSON → malformed, for a JSON task and for an image task', async () => {
    server.sim.setPlan({ malformedRate: 1 });
    expect((await failure(adapter.call(generation({})))).failure).toBe('malformed');
    expect((await failure(adapter.call(task('text-to-image', 'org/sdxl', { inputs: 'x' })))).failure).toBe('malformed');
  });

  it('stream cut before the first event / after two events → stream_cut', async () => {
    server.sim.setPlan({ cutRate: 1, cutAfterEvents: 0 });
    const early = await streamFailure(adapter.call(generation({ max_new_tokens: 5 }, true)));
    expect([early.error.failure, early.events.length]).toEqual(['stream_cut', 0]);
    server.sim.setPlan({ cutRate: 1, cutAfterEvents: 2 }, true);
    const late = await streamFailure(adapter.call(generation({ max_new_tokens: 5 }, true)));
    expect([late.error.failure, late.events.length]).toEqual(['stream_cut', 2]);
  });

  it('an error event, a stream without its final event, a broken event', async () => {
    server.sim.setPlan({ jobFailRate: 1, cutAfterEvents: 1 });
    const failed = await streamFailure(adapter.call(generation({ max_new_tokens: 5 }, true)));
    expect(failed.error.failure).toBe('stream_cut');
    expect(failed.error.message).toContain('simulated shard failure');
    server.sim.setPlan({ failAfterCompleteRate: 1 }, true);
    const unfinished = await streamFailure(adapter.call(generation({ max_new_tokens: 5 }, true)));
    expect([unfinished.error.failure, unfinished.events.length]).toEqual(['stream_cut', 4]);
    server.sim.setPlan({ malformedRate: 1, cutAfterEvents: 1 }, true);
    expect((await streamFailure(adapter.call(generation({ max_new_tokens: 5 }, true)))).error.failure).toBe('malformed');
  });

  it('aborting the signal mid-stream stops it with the abort reason', async () => {
    server.sim.setPlan({ tokenIntervalMs: 40 });
    const controller = new AbortController();
    const result = await adapter.call({ ...generation({ max_new_tokens: 40 }, true), signal: controller.signal });
    const reason = new Error('caller went away');
    let seen = 0;
    const run = (async () => {
      for await (const _event of (result as { events: AsyncIterable<unknown> }).events) if (++seen === 2) controller.abort(reason);
    })();
    await expect(run).rejects.toBe(reason);
    expect(seen).toBe(2);
  });
});

describe('@huggingface/inference against the simulator', () => {
  const client = (model: string) => new InferenceClient(TOKEN, { endpointUrl: `${server.url}/models/${model}` });

  it('textClassification and featureExtraction', async () => {
    expect(await client('org/sst2-sentiment').textClassification({ inputs: 'what a day' })).toEqual(fakeClassification('what a day'));
    expect(await client('org/bge-small').featureExtraction({ inputs: 'hello' })).toEqual(fakeEmbedding('hello'));
  });

  it('textToImage returns the PNG', async () => {
    const blob = await client('org/flux-dev').textToImage({ inputs: 'blue sky', parameters: { width: 24, height: 24 } }, { outputType: 'blob' });
    expect(blob.type).toBe('image/png');
    expect(Buffer.from(await blob.arrayBuffer()).equals(fakeImagePng('blue sky', 24, 24))).toBe(true);
  });

  it('chatCompletion on the model route and an error surfaced from {"error": ...}', async () => {
    const answer = await client('org/tiny-llm').chatCompletion({ messages: [{ role: 'user', content: 'say this' }], max_tokens: 3 });
    expect(answer.choices[0]!.message.content).toBe(fakeCompletionTokens('say this', 3).join(''));
    await expect(client('org/sst2-sentiment').textClassification({ inputs: [] as unknown as string, parameters: {} })).rejects.toThrow(/inputs/);
  });
});
