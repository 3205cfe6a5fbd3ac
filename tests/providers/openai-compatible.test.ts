import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../helpers/providers.ts';
import OpenAI from 'openai';
import type { ProviderCall, ProviderResult } from '../../src/core/providers.ts';
import type { ProviderAdapter } from '../../src/core/providers.ts';
import { createOpenAiCompatibleAdapter } from '../../src/providers/openai-compatible.ts';
import { upstreamHttpError } from '../../src/providers/_base/openai-compatible.ts';
import { countTokens, fakeCompletionTokens, fakeEmbedding } from '../../src/simulate/fake-models.ts';
import { listen, type Simulator } from '../../src/simulate/harness.ts';
import { createOpenAiSimulator, type Flavor } from '../../src/simulate/openai-compatible.ts';

const TOKEN = 'sk-sim-test';
const timeouts = { connectMs: 500, firstByteMs: 400, idleMs: 400, totalMs: 5_000 };
const CHAT = 'POST /v1/chat/completions';
const COMPLETIONS = 'POST /v1/completions';

const sims: Record<Flavor, Simulator> = {} as Record<Flavor, Simulator>;
const adapters: Record<Flavor, ProviderAdapter> = {} as Record<Flavor, ProviderAdapter>;
const extra: ProviderAdapter[] = [];

function adapterFor(flavor: Flavor, options: Record<string, unknown> = {}, apiKey: string | undefined = flavor === 'vllm' ? TOKEN : undefined) {
  const adapter = createOpenAiCompatibleAdapter({ name: `${flavor}-sim`, type: 'openai-compatible', baseUrl: `${sims[flavor].url}/v1/`, apiKey, timeouts, options });
  extra.push(adapter);
  return adapter;
}

function call(partial: Partial<ProviderCall>): ProviderCall {
  return {
    api: 'chat',
    model: 'meta/llama',
    providerModel: 'served/llama',
    task: 'conversational',
    body: {},
    stream: false,
    signal: AbortSignal.timeout(5_000),
    requestId: 'req-1',
    ...partial,
  };
}

const chat = (text: string, extraBody: Record<string, unknown> = {}, stream = false) =>
  call({ body: { model: 'caller-name', messages: [{ role: 'user', content: text }], max_tokens: 5, ...extraBody }, stream });

async function collect(result: ProviderResult): Promise<Array<Record<string, unknown>>> {
  expect(result.kind).toBe('stream');
  const events: Array<Record<string, unknown>> = [];
  for await (const event of (result as { events: AsyncIterable<unknown> }).events) events.push(event as Record<string, unknown>);
  return events;
}

/** Runs a stream to its end; the error it throws and the events that came before. */
async function streamFailure(result: Promise<ProviderResult>) {
  const events: unknown[] = [];
  const error = await failure(
    (async () => {
      for await (const event of ((await result) as { events: AsyncIterable<unknown> }).events) events.push(event);
    })(),
  );
  return { error, events };
}

const chunkText = (events: Array<Record<string, unknown>>) =>
  events.map((e) => ((e.choices as Array<{ delta?: { content?: string }; text?: string }>)[0]?.delta?.content ?? (e.choices as Array<{ text?: string }>)[0]?.text ?? '')).join('');

beforeAll(async () => {
  for (const flavor of ['vllm', 'tgi', 'ollama'] as const) {
    const { app, sim } = createOpenAiSimulator({ flavor, token: flavor === 'vllm' ? TOKEN : undefined, models: ['served/llama', 'served/embed'] });
    sims[flavor] = await listen(app, sim);
    adapters[flavor] = adapterFor(flavor);
  }
});

afterEach(() => {
  for (const s of Object.values(sims)) s.sim.setPlan({}, true);
});

afterAll(async () => {
  await Promise.all(extra.map((a) => a.close?.()));
  await Promise.all(Object.values(sims).map((s) => s.close()));
});

describe('OpenAI calls pass through', () => {
  it('sends chat to {baseUrl}/chat/completions with the bearer key and the provider model, and relabels the answer', async () => {
    const result = await adapters.vllm.call(chat('hello there world', { temperature: 0.2 }));
    const sent = sims.vllm.sim.stats.last[CHAT]!;
    expect(sent.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(sent.headers['content-type']).toBe('application/json');
    expect(sent.body).toEqual({ model: 'served/llama', messages: [{ role: 'user', content: 'hello there world' }], max_tokens: 5, temperature: 0.2 });
    expect(result.kind).toBe('json');
    const body = (result as { body: { model: string; object: string; choices: Array<{ message: { content: string }; finish_reason: string }> } }).body;
    expect(body.model).toBe('meta/llama');
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0]!.message.content).toBe(fakeCompletionTokens('hello there world', 5).join(''));
    expect(body.choices[0]!.finish_reason).toBe('length');
    expect(result.usage).toEqual({ inputTokens: 3, outputTokens: 5 });
  });

  it('streams chat chunks relabelled, ending at [DONE], and counts usage from a usage chunk it asked for itself', async () => {
    const result = await adapters.vllm.call(chat('one two', {}, true));
    const events = await collect(result);
    expect(sims.vllm.sim.stats.last[CHAT]!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(events.every((e) => e.model === 'meta/llama' && e.object === 'chat.completion.chunk')).toBe(true);
    // The usage-only chunk the caller did not ask for is kept back.
    expect(events.every((e) => (e.choices as unknown[]).length === 1)).toBe(true);
    expect(chunkText(events)).toBe(fakeCompletionTokens('one two', 5).join(''));
    expect(result.usage).toEqual({ inputTokens: 2, outputTokens: 5 });
  });

  it('passes the usage chunk on when the caller asked for it', async () => {
    const events = await collect(await adapters.vllm.call(chat('one two', { stream_options: { include_usage: true } }, true)));
    const last = events.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 2, completion_tokens: 5, total_tokens: 7 });
  });

  it('counts streamed tokens itself when told not to ask for usage', async () => {
    const adapter = adapterFor('vllm', { streamUsage: false });
    const result = await adapter.call(chat('a b c', { max_tokens: 4 }, true));
    const events = await collect(result);
    expect(sims.vllm.sim.stats.last[CHAT]!.body).not.toHaveProperty('stream_options');
    expect(chunkText(events)).toBe(fakeCompletionTokens('a b c', 4).join(''));
    expect(result.usage).toEqual({ outputTokens: 4 });
  });

  it('sends completions to {baseUrl}/completions (stop sequences honoured by the server)', async () => {
    const prompt = 'red green blue';
    const result = await adapters.vllm.call(call({ api: 'completions', task: 'text-generation', body: { model: 'x', prompt, max_tokens: 6, stop: [' blue'] } }));
    const full = fakeCompletionTokens(prompt, 6).join('');
    const body = (result as { body: { model: string; choices: Array<{ text: string; finish_reason: string }> } }).body;
    expect(sims.vllm.sim.stats.last[COMPLETIONS]!.body).toMatchObject({ model: 'served/llama', prompt });
    expect(body.model).toBe('meta/llama');
    expect(body.choices[0]).toMatchObject({ text: full.slice(0, full.indexOf(' blue')), finish_reason: 'stop' });
  });

  it('sends embeddings to {baseUrl}/embeddings', async () => {
    const result = await adapters.vllm.call(call({ api: 'embeddings', task: 'feature-extraction', providerModel: 'served/embed', body: { input: ['alpha beta', 'gamma'] } }));
    const body = (result as { body: { model: string; data: Array<{ embedding: number[] }> } }).body;
    expect(sims.vllm.sim.stats.last['POST /v1/embeddings']!.body).toEqual({ model: 'served/embed', input: ['alpha beta', 'gamma'] });
    expect(body.model).toBe('meta/llama');
    expect(body.data.map((d) => d.embedding)).toEqual([fakeEmbedding('alpha beta'), fakeEmbedding('gamma')]);
    expect(result.usage).toEqual({ inputTokens: 3 });
  });
});

describe('Hugging Face tasks translated', () => {
  const generation = (parameters: Record<string, unknown>, stream = false) =>
    call({ api: 'task', task: 'text-generation', body: { inputs: 'the quick fox', parameters }, stream });

  it('text-generation → /completions with TGI parameters renamed, greedy by default; answers [{generated_text}]', async () => {
    const result = await adapters.vllm.call(generation({ max_new_tokens: 4, stop: ['zzz'], seed: 7, details: true }));
    expect(sims.vllm.sim.stats.last[COMPLETIONS]!.body).toEqual({ model: 'served/llama', prompt: 'the quick fox', max_tokens: 4, stop: ['zzz'], seed: 7, temperature: 0 });
    expect((result as { body: unknown }).body).toEqual([
      { generated_text: fakeCompletionTokens('the quick fox', 4).join(''), details: { finish_reason: 'length', generated_tokens: 4, seed: 7 } },
    ]);
    expect(result.usage).toEqual({ inputTokens: 3, outputTokens: 4 });
  });

  it('text-generation keeps sampling parameters and prepends the prompt for return_full_text', async () => {
    const result = await adapters.vllm.call(generation({ max_new_tokens: 3, temperature: 0.7, top_k: 5, return_full_text: true }));
    expect(sims.vllm.sim.stats.last[COMPLETIONS]!.body).toEqual({ model: 'served/llama', prompt: 'the quick fox', max_tokens: 3, temperature: 0.7, top_k: 5 });
    expect((result as { body: unknown }).body).toEqual([{ generated_text: 'the quick fox' + fakeCompletionTokens('the quick fox', 3).join('') }]);
  });

  for (const flavor of ['vllm', 'tgi'] as const) {
    it(`text-generation streams as TGI token events, the last with generated_text (${flavor} chunks)`, async () => {
      const result = await adapters[flavor].call(generation({ max_new_tokens: 5, details: true }, true));
      const events = await collect(result);
      const tokens = fakeCompletionTokens('the quick fox', 5);
      expect(events.map((e) => (e.token as { text: string }).text)).toEqual(tokens);
      expect(events.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
      expect(events.slice(0, -1).every((e) => e.generated_text === null && e.details === null)).toBe(true);
      expect(events.at(-1)).toMatchObject({ generated_text: tokens.join(''), details: { finish_reason: 'length', generated_tokens: 5 } });
      expect(events[0]!.token).toEqual({ id: 0, text: tokens[0], logprob: 0, special: false });
      expect(result.usage?.outputTokens).toBe(5);
    });
  }

  it('feature-extraction → /embeddings: number[] for a string, number[][] for a list', async () => {
    const one = await adapters.vllm.call(call({ api: 'task', task: 'feature-extraction', providerModel: 'served/embed', body: { inputs: 'hi there' } }));
    expect(sims.vllm.sim.stats.last['POST /v1/embeddings']!.body).toEqual({ model: 'served/embed', input: ['hi there'], encoding_format: 'float' });
    expect((one as { body: unknown }).body).toEqual(fakeEmbedding('hi there'));
    const many = await adapters.vllm.call(call({ api: 'task', task: 'feature-extraction', providerModel: 'served/embed', body: { inputs: ['a', 'b'] } }));
    expect((many as { body: unknown }).body).toEqual([fakeEmbedding('a'), fakeEmbedding('b')]);
    expect(many.usage).toEqual({ inputTokens: 2 });
  });

  it('sentence-similarity → cosine of the embeddings', async () => {
    const result = await adapters.vllm.call(
      call({ api: 'task', task: 'sentence-similarity', providerModel: 'served/embed', body: { inputs: { source_sentence: 'cat', sentences: ['cat', 'dog'] } } }),
    );
    const [same, other] = (result as { body: number[] }).body;
    const dot = fakeEmbedding('cat').reduce((s, x, i) => s + x * fakeEmbedding('dog')[i]!, 0);
    expect(same).toBeCloseTo(1, 6);
    expect(other).toBeCloseTo(dot, 6);
  });

  it('conversational {inputs} → chat', async () => {
    const result = await adapters.vllm.call(call({ api: 'task', task: 'conversational', body: { inputs: 'tell me', parameters: { max_new_tokens: 3 } } }));
    expect(sims.vllm.sim.stats.last[CHAT]!.body).toMatchObject({ model: 'served/llama', messages: [{ role: 'user', content: 'tell me' }], max_tokens: 3 });
    expect((result as { body: { choices: Array<{ message: { content: string } }> } }).body.choices[0]!.message.content).toBe(fakeCompletionTokens('tell me', 3).join(''));
  });

  it('claims only the tasks it translates', () => {
    expect(adapters.vllm.supports('task', 'text-generation')).toBe(true);
    expect(adapters.vllm.supports('task', 'text-to-image')).toBe(false);
    expect(adapters.vllm.supports('task', 'toString')).toBe(false);
    expect(adapters.vllm.supports('chat', 'conversational')).toBe(true);
  });
});

describe('HTTP errors map to failure kinds', () => {
  it('5xx → server', async () => {
    sims.vllm.sim.setPlan({ errorRate: 1, errorStatus: 500 });
    const e = await failure(adapters.vllm.call(chat('x')));
    expect([e.failure, e.upstreamStatus]).toEqual(['server', 500]);
    expect(e.message).toContain('Simulated failure');
  });

  it('503 outage → server', async () => {
    sims.ollama.sim.setPlan({ outage: '503' });
    const e = await failure(adapters.ollama.call(chat('x')));
    expect([e.failure, e.upstreamStatus]).toEqual(['server', 503]);
  });

  it('429 with Retry-After → rate_limited with retryAfterMs; without → no hint', async () => {
    sims.vllm.sim.setPlan({ rateLimitRate: 1, retryAfterSeconds: 2 });
    const a = await failure(adapters.vllm.call(chat('x')));
    expect([a.failure, a.retryAfterMs]).toEqual(['rate_limited', 2000]);
    sims.vllm.sim.setPlan({ rateLimitRate: 1, retryAfterSeconds: null });
    const b = await failure(adapters.vllm.call(chat('x')));
    expect([b.failure, b.retryAfterMs]).toEqual(['rate_limited', undefined]);
  });

  it('TGI 429 overloaded → overloaded (another backend, not a wait)', async () => {
    sims.tgi.sim.setPlan({ rateLimitRate: 1, retryAfterSeconds: null });
    const e = await failure(adapters.tgi.call(chat('x')));
    expect(e.failure).toBe('overloaded');
    expect(e.retrySame).toBe(false);
  });

  it('401 (vLLM {"error":"Unauthorized"}) → provider_config', async () => {
    const wrongKey = adapterFor('vllm', {}, 'sk-wrong');
    const e = await failure(wrongKey.call(chat('x')));
    expect([e.failure, e.upstreamStatus]).toEqual(['provider_config', 401]);
    expect(e.message).toContain('Unauthorized');
    expect(sims.vllm.sim.stats.last[CHAT]!.headers.authorization).toBe('Bearer sk-wrong');
  });

  it('404 unknown model → provider_config', async () => {
    const e = await failure(adapters.vllm.call(call({ ...chat('x'), providerModel: 'not/served' })));
    expect([e.failure, e.upstreamStatus]).toEqual(['provider_config', 404]);
    expect(e.message).toContain('does not exist');
  });

  it('validation: vLLM 400, TGI 422, Ollama 400 → invalid_input with the upstream message', async () => {
    const v = await failure(adapters.vllm.call(chat('x', { max_tokens: 0 })));
    expect([v.failure, v.upstreamStatus, v.status]).toEqual(['invalid_input', 400, 400]);
    expect(v.message).toContain('max_tokens must be at least 1');
    const t = await failure(adapters.tgi.call(chat('x', { messages: [] })));
    expect([t.failure, t.upstreamStatus, t.status]).toEqual(['invalid_input', 422, 422]);
    expect(t.message).toContain('Input validation error');
    const o = await failure(adapters.ollama.call(call({ api: 'completions', body: { max_tokens: 3 } })));
    expect([o.failure, o.upstreamStatus]).toEqual(['invalid_input', 400]);
    expect(o.message).toContain('prompt');
  });

  it('TGI 424 generation error → server; retry-after-ms and estimated_time become retry hints', () => {
    expect(upstreamHttpError('p', 424, {}, '{"error":"Request failed during generation","error_type":"generation"}').failure).toBe('server');
    expect(upstreamHttpError('p', 429, { 'retry-after-ms': '250', 'retry-after': '9' }, '{}').retryAfterMs).toBe(250);
    const loading = upstreamHttpError('p', 503, {}, '{"error":"Model m is currently loading","estimated_time":2.5}');
    expect([loading.failure, loading.retryAfterMs]).toEqual(['server', 2500]);
  });

  it('no response headers in time → timeout', async () => {
    sims.vllm.sim.setPlan({ hangRate: 1 });
    const e = await failure(adapters.vllm.call(chat('x')));
    expect(e.failure).toBe('timeout');
  });

  it('connection reset → connect or stream_cut', async () => {
    sims.vllm.sim.setPlan({ outage: 'reset' });
    const e = await failure(adapters.vllm.call(chat('x')));
    expect(['connect', 'stream_cut']).toContain(e.failure);
  });

  it('connection refused → connect', async () => {
    const adapter = createOpenAiCompatibleAdapter({ name: 'down', type: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1', timeouts, options: {} });
    extra.push(adapter);
    expect((await failure(adapter.call(chat('x')))).failure).toBe('connect');
  });

  it('truncated JSON answer → malformed', async () => {
    sims.vllm.sim.setPlan({ malformedRate: 1 });
    expect((await failure(adapters.vllm.call(chat('x')))).failure).toBe('malformed');
  });
});

describe('stream failures', () => {
  it('resolves at the headers and waits for the first event lazily', async () => {
    sims.vllm.sim.setPlan({ firstTokenDelayMs: 150 });
    const started = Date.now();
    const result = await adapters.vllm.call(chat('lazy', {}, true));
    const headersAt = Date.now() - started;
    const iterator = (result as { events: AsyncIterable<unknown> }).events[Symbol.asyncIterator]();
    await iterator.next();
    const firstAt = Date.now() - started;
    // The first-token delay is spent inside the iterator, not before call() resolves.
    expect(firstAt - headersAt).toBeGreaterThanOrEqual(100);
    await iterator.return?.();
  });

  it('cut right after the headers → stream_cut before any event', async () => {
    sims.vllm.sim.setPlan({ cutRate: 1, cutAfterEvents: 0 });
    const { error, events } = await streamFailure(adapters.vllm.call(chat('x', {}, true)));
    expect(error.failure).toBe('stream_cut');
    expect(events).toHaveLength(0);
  });

  it('cut after two events → two events, then stream_cut', async () => {
    sims.tgi.sim.setPlan({ cutRate: 1, cutAfterEvents: 2 });
    const { error, events } = await streamFailure(adapters.tgi.call(chat('x', {}, true)));
    expect(error.failure).toBe('stream_cut');
    expect(events).toHaveLength(2);
  });

  it('vLLM error chunk (followed by [DONE]) → stream_cut with the upstream message', async () => {
    sims.vllm.sim.setPlan({ jobFailRate: 1, cutAfterEvents: 1 });
    const { error, events } = await streamFailure(adapters.vllm.call(chat('x', {}, true)));
    expect(error.failure).toBe('stream_cut');
    expect(error.message).toContain('simulated engine failure');
    expect(events).toHaveLength(1);
  });

  it('TGI error event {error, error_type} → stream_cut', async () => {
    sims.tgi.sim.setPlan({ jobFailRate: 1, cutAfterEvents: 3 });
    const { error } = await streamFailure(adapters.tgi.call(call({ api: 'task', task: 'text-generation', body: { inputs: 'a', parameters: { max_new_tokens: 5 } }, stream: true })));
    expect(error.failure).toBe('stream_cut');
    expect(error.message).toContain('Request failed during generation');
  });

  it('a stream that ends without [DONE] → stream_cut, even after the finish reason', async () => {
    sims.ollama.sim.setPlan({ failAfterCompleteRate: 1 });
    const { error, events } = await streamFailure(adapters.ollama.call(chat('x y', {}, true)));
    expect(error.failure).toBe('stream_cut');
    expect(events.length).toBe(6);
  });

  it('a chunk that is not JSON → malformed, though [DONE] follows', async () => {
    sims.vllm.sim.setPlan({ malformedRate: 1, cutAfterEvents: 2 });
    const { error, events } = await streamFailure(adapters.vllm.call(chat('x', {}, true)));
    expect(error.failure).toBe('malformed');
    expect(events).toHaveLength(2);
  });

  it('a stalled stream → timeout', async () => {
    sims.vllm.sim.setPlan({ firstTokenDelayMs: 1_000 });
    const { error } = await streamFailure(adapters.vllm.call(chat('x', {}, true)));
    expect(error.failure).toBe('timeout');
  });

  it('aborting the signal stops the stream with the abort reason', async () => {
    sims.vllm.sim.setPlan({ tokenIntervalMs: 50 });
    const controller = new AbortController();
    const result = await adapters.vllm.call({ ...chat('x', { max_tokens: 50 }, true), signal: controller.signal });
    const reason = new Error('caller left');
    const seen: unknown[] = [];
    const run = (async () => {
      for await (const event of (result as { events: AsyncIterable<unknown> }).events) {
        seen.push(event);
        if (seen.length === 2) controller.abort(reason);
      }
    })();
    await expect(run).rejects.toBe(reason);
    expect(seen.length).toBeLessThan(5);
  });

  it('aborting before the headers rejects at once with the reason', async () => {
    sims.vllm.sim.setPlan({ latencyMs: { mean: 2_000 } });
    const controller = new AbortController();
    const reason = new Error('hedge won');
    setTimeout(() => controller.abort(reason), 30);
    const started = Date.now();
    await expect(adapters.vllm.call({ ...chat('x'), signal: controller.signal })).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(300);
  });
});

describe('the official openai SDK against the simulator', () => {
  const client = () => new OpenAI({ apiKey: TOKEN, baseURL: `${sims.vllm.url}/v1`, maxRetries: 0 });

  it('chat, streamed chat with usage, completions', async () => {
    const answer = await client().chat.completions.create({ model: 'served/llama', messages: [{ role: 'user', content: 'sdk says hi' }], max_tokens: 4 });
    expect(answer.choices[0]!.message.content).toBe(fakeCompletionTokens('sdk says hi', 4).join(''));
    expect(answer.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });

    const stream = await client().chat.completions.create({
      model: 'served/llama',
      messages: [{ role: 'user', content: 'sdk says hi' }],
      max_tokens: 4,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe(fakeCompletionTokens('sdk says hi', 4).join(''));
    expect(usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });

    const completion = await client().completions.create({ model: 'served/llama', prompt: 'go on', max_tokens: 3 });
    expect(completion.choices[0]!.text).toBe(fakeCompletionTokens('go on', 3).join(''));
  });

  it('embeddings in the base64 encoding the SDK asks for by default', async () => {
    const answer = await client().embeddings.create({ model: 'served/embed', input: ['one', 'two words'] });
    expect(sims.vllm.sim.stats.last['POST /v1/embeddings']!.body).toMatchObject({ encoding_format: 'base64' });
    const expected = fakeEmbedding('two words');
    answer.data[1]!.embedding.forEach((x, i) => expect(x).toBeCloseTo(expected[i]!, 6));
    expect(answer.usage.prompt_tokens).toBe(countTokens('one') + countTokens('two words'));
  });

  it('lists models; errors come out as the SDK error classes; an error chunk throws', async () => {
    expect((await client().models.list()).data.map((m) => m.id)).toEqual(['served/llama', 'served/embed']);
    await expect(client().chat.completions.create({ model: 'served/llama', messages: [], max_tokens: 1 })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    const wrong = new OpenAI({ apiKey: 'nope', baseURL: `${sims.vllm.url}/v1`, maxRetries: 0 });
    await expect(wrong.chat.completions.create({ model: 'served/llama', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    sims.vllm.sim.setPlan({ jobFailRate: 1, cutAfterEvents: 1 });
    const stream = await client().chat.completions.create({ model: 'served/llama', messages: [{ role: 'user', content: 'x' }], stream: true });
    await expect(
      (async () => {
        for await (const _chunk of stream);
      })(),
    ).rejects.toThrow(/simulated engine failure/);
  });

  it('echoes X-Request-Id', async () => {
    const res = await fetch(`${sims.tgi.url}/v1/models`, { headers: { 'x-request-id': 'trace-42' } });
    expect(res.headers.get('x-request-id')).toBe('trace-42');
    expect((await fetch(`${sims.tgi.url}/health`)).status).toBe(200);
  });
});
