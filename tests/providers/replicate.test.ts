import { afterEach, describe, expect, it } from 'vitest';
import { failure } from '../helpers/providers.ts';
import { UpstreamError, type ProviderCall, type ProviderResult } from '../../src/core/providers.ts';
import type { AdapterConfig } from '../../src/providers/_base/adapter.ts';
import { createReplicateAdapter } from '../../src/providers/replicate.ts';
import { countTokens, fakeCompletionTokens, fakeImagePng } from '../../src/simulate/fake-models.ts';
import { listen, sleep, type Simulator } from '../../src/simulate/harness.ts';
import { createReplicateSimulator, type ReplicateSimulatorOptions } from '../../src/simulate/replicate.ts';

const TOKEN = 'r8_test_token';
const VERSION = 'a'.repeat(64);
const CREATE_MODEL = 'POST /v1/models/:owner/:name/predictions';
const CREATE_VERSION = 'POST /v1/predictions';
const GET = 'GET /v1/predictions/:id';
const CANCEL = 'POST /v1/predictions/:id/cancel';
const STREAM = 'GET /stream/v1/predictions/:id';
const FILES = 'GET /files/:id/:name';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function start(opts: ReplicateSimulatorOptions = {}): Promise<Simulator> {
  const { app, sim } = createReplicateSimulator({ token: TOKEN, versions: { [VERSION]: 'stability-ai/sdxl' }, ...opts });
  const s = await listen(app, sim);
  closers.push(() => s.close());
  return s;
}

function adapterFor(s: Simulator, options: Record<string, unknown> = {}, config: Partial<AdapterConfig> = {}) {
  const adapter = createReplicateAdapter({
    name: 'replicate',
    type: 'replicate',
    baseUrl: `${s.url}/v1`,
    apiKey: TOKEN,
    timeouts: { connectMs: 500, firstByteMs: 1000, idleMs: 1000, totalMs: 10_000 },
    options: { waitSeconds: 5, pollIntervalMs: 10, ...options },
    ...config,
  });
  closers.push(() => adapter.close?.() ?? Promise.resolve());
  return adapter;
}

type CallInit = Partial<ProviderCall> & Pick<ProviderCall, 'api' | 'task' | 'body' | 'providerModel'>;
const call = (init: CallInit): ProviderCall => ({
  model: 'hub/model',
  stream: false,
  signal: new AbortController().signal,
  requestId: 'req-1',
  ...init,
});

const image = (prompt: string, parameters: Record<string, unknown> = {}, providerModel = 'black-forest-labs/flux-schnell') =>
  call({ api: 'task', task: 'text-to-image', providerModel, body: { inputs: prompt, parameters } });
const generate = (prompt: string, parameters: Record<string, unknown> = {}, stream = false) =>
  call({ api: 'task', task: 'text-generation', providerModel: 'meta/meta-llama-3-8b', body: { inputs: prompt, parameters }, stream });
const chat = (body: Record<string, unknown>, stream = false, signal?: AbortSignal) =>
  call({
    api: 'chat',
    task: 'conversational',
    model: 'meta-llama/Meta-Llama-3-8B-Instruct',
    providerModel: 'meta/meta-llama-3-8b-instruct',
    body: { model: 'meta-llama/Meta-Llama-3-8B-Instruct', ...body },
    stream,
    ...(signal ? { signal } : {}),
  });

/** Drains a stream; returns the events it yielded and the error it ended with, if any. */
async function drain(r: ProviderResult): Promise<{ events: unknown[]; error?: unknown }> {
  if (r.kind !== 'stream') throw new Error(`expected a stream, got ${r.kind}`);
  const events: unknown[] = [];
  try {
    for await (const e of r.events) events.push(e);
    return { events };
  } catch (error) {
    return { events, error };
  }
}

async function until(check: () => boolean, ms = 2000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

type Chunk = { object: string; model: string; choices: Array<{ delta: { role?: string; content?: string }; finish_reason: string | null }> };
const chunkText = (events: unknown[]) => (events as Chunk[]).map((c) => c.choices[0]?.delta.content ?? '').join('');

describe('replicate adapter: requests and normalised answers', () => {
  it('text-to-image on the model route with Prefer: wait takes the output of a still-processing prediction', async () => {
    const s = await start();
    const prompt = 'a red fox in the snow';
    const params = { width: 96, height: 80, num_inference_steps: 4, guidance_scale: 3.5, negative_prompt: 'blurry', seed: 7 };
    const r = await adapterFor(s).call(image(prompt, params));

    const sent = s.sim.stats.last[CREATE_MODEL]!;
    expect(sent.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(sent.headers.prefer).toBe('wait=5');
    expect(sent.headers['content-type']).toBe('application/json');
    expect(sent.body).toEqual({ input: { prompt, ...params } });
    expect(r.kind).toBe('bytes');
    if (r.kind !== 'bytes') return;
    expect(Buffer.from(r.bytes).equals(fakeImagePng(prompt, 96, 80))).toBe(true);
    expect(r.contentType).toBe('image/png');
    expect(r.usage?.outputs).toBe(1);
    expect(r.usage?.megapixels).toBeCloseTo((96 * 80) / 1e6, 9);
    // The sync answer carried the image inline while still processing: no poll, no download.
    expect(s.sim.stats.byRoute[GET]).toBeUndefined();
    expect(s.sim.stats.byRoute[FILES]).toBeUndefined();
    expect(s.sim.stats.creates).toBe(1);
  });

  it('owner/name:version uses POST /predictions with the version, polls without Prefer and downloads the file URL', async () => {
    const s = await start();
    const r = await adapterFor(s, { waitSeconds: 0 }).call(image('a lighthouse', { target_size: { width: 72, height: 64 } }, `stability-ai/sdxl:${VERSION}`));

    const sent = s.sim.stats.last[CREATE_VERSION]!;
    expect(sent.body).toEqual({ version: VERSION, input: { prompt: 'a lighthouse', width: 72, height: 64 } });
    expect(sent.headers.prefer).toBeUndefined();
    expect(s.sim.stats.byRoute[GET]).toBeGreaterThan(0);
    expect(s.sim.stats.byRoute[FILES]).toBe(1);
    expect(s.sim.stats.last[FILES]!.headers.authorization).toBeUndefined(); // the token stays with the API
    if (r.kind !== 'bytes') throw new Error('expected bytes');
    expect(Buffer.from(r.bytes).equals(fakeImagePng('a lighthouse', 72, 64))).toBe(true);
  });

  it('text-generation maps HF parameters to the model input and answers [{generated_text}] with token usage', async () => {
    const s = await start();
    const prompt = 'tell me about red foxes';
    const r = await adapterFor(s).call(generate(prompt, { max_new_tokens: 5, temperature: 0.5, stop: ['\n\n', 'END'], return_full_text: false, details: true }));

    expect(s.sim.stats.last[CREATE_MODEL]!.body).toEqual({
      input: { prompt, max_tokens: 5, temperature: 0.5, stop_sequences: '\n\n,END' },
    });
    expect(r).toMatchObject({ kind: 'json', body: [{ generated_text: fakeCompletionTokens(prompt, 5).join('') }] });
    expect(r.kind === 'json' && r.usage).toMatchObject({ inputTokens: countTokens(prompt), outputTokens: 5 });
    expect(r.kind === 'json' && r.usage?.computeSeconds).toBeGreaterThan(0);
    // Text is only final at `succeeded`; with a 5 s wait the create answered it.
    expect(s.sim.stats.byRoute[GET]).toBeUndefined();
  });

  it('text-generation waits for succeeded while the output is still growing', async () => {
    const s = await start({ plan: { latencyMs: { mean: 80 }, tokenIntervalMs: 10 } });
    const r = await adapterFor(s, { waitSeconds: 0 }).call(generate('count the sheep', { max_new_tokens: 8 }));
    expect(r).toMatchObject({ body: [{ generated_text: fakeCompletionTokens('count the sheep', 8).join('') }] });
    expect(s.sim.stats.byRoute[GET]).toBeGreaterThan(1);
  });

  it('chat sends the last user message as prompt and system messages as system_prompt; answers a chat.completion', async () => {
    const s = await start();
    const messages = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'first question' },
      { role: 'assistant', content: 'first answer' },
      { role: 'user', content: [{ type: 'text', text: 'what do foxes eat' }] },
    ];
    const r = await adapterFor(s).call(chat({ messages, max_tokens: 6, temperature: 0.2, stop: 'END', seed: 3 }));

    expect(s.sim.stats.last[CREATE_MODEL]!.body).toEqual({
      input: { prompt: 'what do foxes eat', system_prompt: 'You are terse.', max_tokens: 6, temperature: 0.2, seed: 3, stop_sequences: 'END' },
    });
    const expected = fakeCompletionTokens('what do foxes eat', 6).join('');
    expect(r.kind).toBe('json');
    if (r.kind !== 'json') return;
    expect(r.body).toMatchObject({
      object: 'chat.completion',
      model: 'meta-llama/Meta-Llama-3-8B-Instruct',
      choices: [{ index: 0, message: { role: 'assistant', content: expected }, finish_reason: 'length' }],
      usage: { prompt_tokens: countTokens('what do foxes eat'), completion_tokens: 6, total_tokens: countTokens('what do foxes eat') + 6 },
    });
  });

  it('chatPrompt "transcript" sends the conversation as role-tagged lines', async () => {
    const s = await start();
    const messages = [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
      { role: 'user', content: 'bye' },
    ];
    await adapterFor(s, { chatPrompt: 'transcript' }).call(chat({ messages, max_tokens: 2 }));
    expect((s.sim.stats.last[CREATE_MODEL]!.body as { input: { prompt: string } }).input.prompt).toBe('user: hi\nassistant: hello\nuser: bye\nassistant:');
  });

  it('chat stream: reads urls.stream and yields chat.completion.chunk objects ending on done', async () => {
    const s = await start();
    const r = await adapterFor(s).call(chat({ messages: [{ role: 'user', content: 'sing a song' }], max_tokens: 7, stream_options: { include_usage: true } }, true));
    const { events, error } = await drain(r);

    expect(error).toBeUndefined();
    expect(s.sim.stats.last[CREATE_MODEL]!.body).toMatchObject({ stream: true, input: { prompt: 'sing a song', max_tokens: 7 } });
    expect(s.sim.stats.last[CREATE_MODEL]!.headers.prefer).toBeUndefined();
    expect(s.sim.stats.last[STREAM]!.headers.accept).toBe('text/event-stream');
    expect(s.sim.stats.last[STREAM]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const chunks = events.filter((e) => (e as Chunk).choices.length) as Chunk[];
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'meta-llama/Meta-Llama-3-8B-Instruct')).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunkText(chunks)).toBe(fakeCompletionTokens('sing a song', 7).join(''));
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('length');
    expect(events.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 7, total_tokens: 10 } });
    if (r.kind === 'stream') expect(r.usage).toMatchObject({ inputTokens: 3, outputTokens: 7 });
    expect(r.kind === 'stream' && r.usage.computeSeconds).toBeGreaterThan(0);
  });

  it('text-generation stream yields TGI token events, the last carrying generated_text', async () => {
    const s = await start();
    const r = await adapterFor(s).call(generate('once upon a time', { max_new_tokens: 4 }, true));
    const { events, error } = await drain(r);
    expect(error).toBeUndefined();
    const tokens = fakeCompletionTokens('once upon a time', 4);
    expect(events).toEqual(
      tokens.map((text, index) => ({
        index,
        token: { id: 0, text, logprob: 0, special: false },
        generated_text: index === tokens.length - 1 ? tokens.join('') : null,
        details: null,
      })),
    );
  });

  it('the stream waits for the first token as the plan says', async () => {
    const s = await start({ plan: { latencyMs: { mean: 0 }, firstTokenDelayMs: 300 } });
    const r = await adapterFor(s).call(chat({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }, true));
    if (r.kind !== 'stream') throw new Error('expected a stream');
    const t0 = Date.now();
    const it = r.events[Symbol.asyncIterator]();
    await it.next();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    await it.return?.();
  });

  it('supports text-to-image, text-generation and chat only', () => {
    const a = createReplicateAdapter({ name: 'r', type: 'replicate', baseUrl: 'http://127.0.0.1:1/v1', timeouts: { connectMs: 1, firstByteMs: 1, idleMs: 1, totalMs: 1 }, options: {} });
    expect(a.supports('task', 'text-to-image')).toBe(true);
    expect(a.supports('task', 'text-generation')).toBe(true);
    expect(a.supports('chat', 'conversational')).toBe(true);
    expect(a.supports('task', 'text-classification')).toBe(false);
    expect(a.supports('embeddings', 'feature-extraction')).toBe(false);
    void a.close?.();
  });
});

describe('replicate adapter: failures map to UpstreamError kinds', () => {
  it('HTTP 5xx → server, with the RFC 7807 detail in the message', async () => {
    const s = await start({ plan: { errorRate: 1, errorStatus: 500 } });
    const e = await failure(adapterFor(s).call(image('x')));
    expect(e.failure).toBe('server');
    expect(e.upstreamStatus).toBe(500);
    expect(e.message).toContain('Simulated failure');
  });

  it('429 with Retry-After → rate_limited with retryAfterMs; the create is not retried', async () => {
    const s = await start({ plan: { rateLimitRate: 1, retryAfterSeconds: 2 } });
    const e = await failure(adapterFor(s).call(image('x')));
    expect(e.failure).toBe('rate_limited');
    expect(e.retryAfterMs).toBe(2000);
    expect(s.sim.stats.requests).toBe(1);
  });

  it('429 without Retry-After → rate_limited without retryAfterMs', async () => {
    const s = await start({ plan: { rateLimitRate: 1, retryAfterSeconds: null } });
    const e = await failure(adapterFor(s).call(image('x')));
    expect(e.failure).toBe('rate_limited');
    expect(e.retryAfterMs).toBeUndefined();
  });

  it('401 for a wrong token and 404 → provider_config', async () => {
    const s = await start();
    const e = await failure(adapterFor(s, {}, { apiKey: 'r8_wrong' }).call(image('x')));
    expect(e.failure).toBe('provider_config');
    expect(e.message).toContain('valid authentication token');
    const s404 = await start({ plan: { errorRate: 1, errorStatus: 404 } });
    expect((await failure(adapterFor(s404).call(image('x')))).failure).toBe('provider_config');
  });

  it('422 input validation, an unknown version and 400 → invalid_input', async () => {
    const s = await start();
    const e = await failure(adapterFor(s).call(image('x', { width: 5000 })));
    expect(e.failure).toBe('invalid_input');
    expect(e.upstreamStatus).toBe(422);
    expect(e.message).toContain('width');
    const v = await failure(adapterFor(s).call(image('x', {}, `someone/model:${'b'.repeat(64)}`)));
    expect(v.failure).toBe('invalid_input');
    const s400 = await start({ plan: { errorRate: 1, errorStatus: 400 } });
    expect((await failure(adapterFor(s400).call(image('x')))).failure).toBe('invalid_input');
  });

  it('a non-text prompt is refused before any request', async () => {
    const s = await start();
    const e = await failure(adapterFor(s).call(call({ api: 'task', task: 'text-to-image', providerModel: 'a/flux', body: { inputs: 42 } })));
    expect(e.failure).toBe('invalid_input');
    expect(s.sim.stats.requests).toBe(0);
  });

  it('a hanging create → timeout', async () => {
    const s = await start({ plan: { hangRate: 1 } });
    const t0 = Date.now();
    const e = await failure(adapterFor(s, { waitSeconds: 0 }, { timeouts: { connectMs: 500, firstByteMs: 200, idleMs: 200, totalMs: 5000 } }).call(image('x')));
    expect(e.failure).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('a reset connection → stream_cut or connect', async () => {
    const s = await start({ plan: { outage: 'reset' } });
    const e = await failure(adapterFor(s).call(image('x')));
    expect(['stream_cut', 'connect']).toContain(e.failure);
  });

  it('a truncated prediction body → malformed (sync create and polled text)', async () => {
    const s = await start({ plan: { malformedRate: 1 } });
    expect((await failure(adapterFor(s).call(image('x')))).failure).toBe('malformed');
    const e = await failure(adapterFor(s, { waitSeconds: 0 }).call(generate('hello there', { max_new_tokens: 3 })));
    expect(e.failure).toBe('malformed');
  });

  it('a failed prediction → job_failed with its error text', async () => {
    const s = await start({ plan: { jobFailRate: 1 } });
    const e = await failure(adapterFor(s).call(image('x')));
    expect(e.failure).toBe('job_failed');
    expect(e.message).toContain('NSFW');
    const t = await failure(adapterFor(s, { waitSeconds: 0 }).call(chat({ messages: [{ role: 'user', content: 'hi' }] })));
    expect(t.failure).toBe('job_failed');
    expect(t.message).toContain('CUDA out of memory');
  });

  it('a transient poll failure is retried on the GET, never by creating again', async () => {
    const s = await start({ plan: { latencyMs: { mean: 150 } } });
    const pending = adapterFor(s, { waitSeconds: 0 }).call(image('a boat'));
    await until(() => (s.sim.stats.byRoute[GET] ?? 0) > 0);
    s.sim.setPlan({ errorRate: 1, errorStatus: 503 });
    await until(() => (s.sim.stats.faults.error ?? 0) > 0);
    s.sim.setPlan({ errorRate: 0 });
    const r = await pending;
    expect(r.kind).toBe('bytes');
    expect(s.sim.stats.creates).toBe(1);
  });

  it('a succeeded prediction whose file is already gone → artifact_expired', async () => {
    const s = await start({ plan: { failAfterCompleteRate: 1 } });
    const e = await failure(adapterFor(s).call(image('x')));
    expect(e.failure).toBe('artifact_expired');
  });

  it('an output URL past its TTL → artifact_expired', async () => {
    const s = await start({ plan: { urlTtlMs: 0 } });
    const e = await failure(adapterFor(s, { waitSeconds: 0 }).call(image('x')));
    expect(e.failure).toBe('artifact_expired');
    expect(e.upstreamStatus).toBe(404);
  });

  it('a language model that fails after all its output → job_failed', async () => {
    const s = await start({ plan: { failAfterCompleteRate: 1 } });
    const e = await failure(adapterFor(s).call(generate('hello', { max_new_tokens: 3 })));
    expect(e.failure).toBe('job_failed');
  });

  it('Cancel-After: a deadline before start ends aborted, after start canceled; both → job_failed', async () => {
    const s = await start({ plan: { latencyMs: { mean: 400 } } });
    const aborted = await failure(adapterFor(s, { cancelAfter: '20ms', waitSeconds: 0 }).call(image('x')));
    expect(aborted.failure).toBe('job_failed');
    expect(aborted.message).toContain('aborted');
    expect(s.sim.stats.last[CREATE_MODEL]!.headers['cancel-after']).toBe('20ms');
    const canceled = await failure(adapterFor(s, { cancelAfter: '200ms', waitSeconds: 0 }).call(image('x')));
    expect(canceled.message).toContain('canceled');
  });

  it('a stream cut before the first event → stream_cut, nothing yielded', async () => {
    const s = await start({ plan: { cutRate: 1, cutAfterEvents: 0 } });
    const { events, error } = await drain(await adapterFor(s).call(chat({ messages: [{ role: 'user', content: 'hi there' }], max_tokens: 5 }, true)));
    expect(events).toEqual([]);
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).failure).toBe('stream_cut');
  });

  it('a stream cut after two events → those two chunks, then stream_cut; the prediction is cancelled', async () => {
    const s = await start({ plan: { cutRate: 1, cutAfterEvents: 2, tokenIntervalMs: 20 } });
    const { events, error } = await drain(await adapterFor(s).call(chat({ messages: [{ role: 'user', content: 'hi there' }], max_tokens: 6 }, true)));
    expect(chunkText(events)).toBe(fakeCompletionTokens('hi there', 6).slice(0, 2).join(''));
    expect((error as UpstreamError).failure).toBe('stream_cut');
    await until(() => s.sim.stats.byRoute[CANCEL] === 1);
  });

  it('a stream error event → job_failed; an unreadable done → malformed', async () => {
    const failing = await start({ plan: { jobFailRate: 1 } });
    const a = await drain(await adapterFor(failing).call(generate('hi', { max_new_tokens: 3 }, true)));
    expect((a.error as UpstreamError).failure).toBe('job_failed');
    expect((a.error as UpstreamError).message).toContain('CUDA out of memory');

    const broken = await start({ plan: { malformedRate: 1 } });
    const b = await drain(await adapterFor(broken).call(chat({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }, true)));
    expect(chunkText(b.events)).toBe(fakeCompletionTokens('hi', 3).join(''));
    expect((b.error as UpstreamError).failure).toBe('malformed');
  });

  it('abort while polling: rejects with the reason at once, cancels the prediction, stops polling', async () => {
    const s = await start({ plan: { latencyMs: { mean: 5000 } } });
    const ac = new AbortController();
    const pending = adapterFor(s, { waitSeconds: 0 }).call({ ...image('slow'), signal: ac.signal });
    await until(() => (s.sim.stats.byRoute[GET] ?? 0) >= 2);
    ac.abort(new Error('caller went away'));
    await expect(pending).rejects.toThrow('caller went away');
    await until(() => s.sim.stats.byRoute[CANCEL] === 1);
    const polls = s.sim.stats.byRoute[GET];
    await sleep(60);
    expect(s.sim.stats.byRoute[GET]).toBe(polls);
  });

  it('abort during a stream: the iterator rejects and the prediction is cancelled', async () => {
    const s = await start({ plan: { tokenIntervalMs: 50 } });
    const ac = new AbortController();
    const r = await adapterFor(s).call(chat({ messages: [{ role: 'user', content: 'a long story' }], max_tokens: 40 }, true, ac.signal));
    if (r.kind !== 'stream') throw new Error('expected a stream');
    const it = r.events[Symbol.asyncIterator]();
    await it.next();
    ac.abort(new Error('stop'));
    await expect(it.next()).rejects.toThrow('stop');
    await until(() => s.sim.stats.byRoute[CANCEL] === 1);
  });
});

describe('replicate simulator fidelity', () => {
  const post = (s: Simulator, path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${s.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('Prefer: wait on an image model answers 201 processing with a data: URI output and rate-limit headers', async () => {
    const s = await start();
    const res = await post(s, '/v1/models/black-forest-labs/flux-schnell/predictions', { input: { prompt: 'p' } }, { prefer: 'wait=2' });
    expect(res.status).toBe(201);
    expect(res.headers.get('preference-applied')).toBe('wait=2');
    expect(Number(res.headers.get('ratelimit-remaining'))).toBe(599);
    expect(res.headers.get('ratelimit-reset')).toMatch(/^\d+$/);
    const p = (await res.json()) as { status: string; output: string[] };
    expect(p.status).toBe('processing');
    expect(p.output[0]).toBe(`data:image/png;base64,${fakeImagePng('p').toString('base64')}`);
  });

  it('a wait that expires answers the unfinished prediction with Location', async () => {
    const s = await start({ plan: { latencyMs: { mean: 3000 } } });
    const res = await post(s, '/v1/models/black-forest-labs/flux-schnell/predictions', { input: { prompt: 'p' } }, { prefer: 'wait=1' });
    const p = (await res.json()) as { status: string; output: unknown; urls: { get: string; cancel: string } };
    expect(['starting', 'processing']).toContain(p.status);
    expect(p.output).toBeNull();
    expect(res.headers.get('location')).toBe(p.urls.get);
    const cancelled = (await (await post(s, new URL(p.urls.cancel).pathname, undefined)).json()) as { status: string };
    expect(cancelled.status).toBe('canceled');
  });

  it('a language model with Prefer: wait answers succeeded with its token array; the stream replays them', async () => {
    const s = await start();
    const res = await post(s, '/v1/models/meta/llama/predictions', { input: { prompt: 'two words', max_tokens: 4 } }, { prefer: 'wait' });
    const p = (await res.json()) as { status: string; output: string[]; urls: { stream: string }; metrics: Record<string, number> };
    expect(res.headers.get('preference-applied')).toBe('wait=60');
    expect(p.status).toBe('succeeded');
    expect(p.output).toEqual(fakeCompletionTokens('two words', 4));
    expect(p.metrics).toMatchObject({ input_token_count: 2, output_token_count: 4 });
    const sse = await (await fetch(p.urls.stream, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream' } })).text();
    expect(sse.match(/^event: output$/gm)).toHaveLength(4);
    expect(sse).toMatch(/event: done\nid: \d+:\d+\ndata: \{\}\n\n$/);
  });

  it('errors are problem+json; a missing token is 401', async () => {
    const s = await start();
    const res = await fetch(`${s.url}/v1/predictions/nope`);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(await res.json()).toEqual({ title: 'Unauthenticated', detail: 'You did not pass a valid authentication token', status: 401 });
    const missing = await post(s, '/v1/models/a/flux/predictions', { input: {} });
    expect(missing.status).toBe(422);
    expect(await missing.json()).toMatchObject({ status: 422, invalid_fields: [{ field: 'prompt' }] });
  });
});
