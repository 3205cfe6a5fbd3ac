import { InferenceClient } from '@huggingface/inference';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeClassification, fakeCompletionTokens, fakeEmbedding, fakeImagePng } from '../../src/simulate/fake-models.ts';
import type { Simulator } from '../../src/simulate/harness.ts';
import { fastTimeouts, startRouted, startSim } from '../helpers/router.ts';
import type { TestServer } from '../helpers/server.ts';

/** Real clients, unchanged, against modelhost's router in front of provider simulators. */
type Sim = Simulator & { api: string };
let server: TestServer;
let vllm: Sim;
let hf: Sim;
let fal: Sim;
let replicate: Sim;
let wavespeed: Sim;
const prompt = 'tell me about foxes';

beforeAll(async () => {
  vllm = await startSim('openai-compatible');
  hf = await startSim('hf-inference');
  fal = await startSim('fal-ai', { latencyMs: { mean: 5, jitter: 0 } });
  replicate = await startSim('replicate', { latencyMs: { mean: 5, jitter: 0 } });
  wavespeed = await startSim('wavespeed', { latencyMs: { mean: 5, jitter: 0 } });
  server = await startRouted({
    routing: { retries: 1, backoffMs: 5, timeouts: { ...fastTimeouts, firstByteMs: 2000, totalMs: 8000 } },
    providers: [
      { name: 'vllm', type: 'openai-compatible', baseUrl: vllm.api },
      // Named as a provider the JS client knows, so `provider: "together"` reaches it through /together/v1/...
      { name: 'together', type: 'openai-compatible', baseUrl: vllm.api },
      { name: 'hf-inference', type: 'hf-inference', baseUrl: hf.api },
      { name: 'fal-ai', type: 'fal-ai', baseUrl: fal.api, options: { pollIntervalMs: 10 } },
      { name: 'replicate', type: 'replicate', baseUrl: replicate.api, options: { pollIntervalMs: 10, waitSeconds: 1 } },
      { name: 'wavespeed', type: 'wavespeed', baseUrl: wavespeed.api, options: { pollIntervalMs: 10 } },
    ],
    models: [
      {
        id: 'meta-llama/Llama-3.1-8B-Instruct',
        task: 'conversational',
        providers: [
          { provider: 'vllm', id: 'llama-3.1-8b' },
          { provider: 'together', id: 'meta-llama/Llama-3.1-8B-Instruct-Turbo' },
        ],
      },
      { id: 'BAAI/bge-small-en-v1.5', task: 'feature-extraction', providers: [{ provider: 'vllm', id: 'bge-small' }] },
      { id: 'distilbert/sst2-sentiment', task: 'text-classification', providers: [{ provider: 'hf-inference' }] },
      { id: 'openai-community/gpt2-large', task: 'text-generation', providers: [{ provider: 'hf-inference' }] },
      {
        id: 'black-forest-labs/FLUX.1-schnell',
        task: 'text-to-image',
        providers: [
          { provider: 'fal-ai', id: 'fal-ai/flux/schnell', price: { perMegapixel: 0.003 } },
          { provider: 'replicate', id: 'black-forest-labs/flux-schnell', price: { perOutput: 0.003 } },
          { provider: 'wavespeed', id: 'wavespeed-ai/flux-schnell', price: { perRequest: 0.004 } },
        ],
      },
    ],
  });
});
afterAll(async () => {
  await server?.close();
  for (const s of [vllm, hf, fal, replicate, wavespeed]) await s?.close();
});

describe('openai SDK through the router', () => {
  const client = () => new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });

  it('chat completions', async () => {
    const out = await client().chat.completions.create({
      model: 'meta-llama/Llama-3.1-8B-Instruct',
      messages: [{ role: 'user', content: prompt }],
      max_tokens: 7,
    });
    expect(out.choices[0]!.message.content).toBe(fakeCompletionTokens(prompt, 7).join(''));
    expect(out.model).toBe('meta-llama/Llama-3.1-8B-Instruct');
    expect(out.usage!.completion_tokens).toBeGreaterThan(0);
  });

  it('streaming chat, with the provider suffix, and usage at the end', async () => {
    const stream = await client().chat.completions.create({
      model: 'meta-llama/Llama-3.1-8B-Instruct:vllm',
      messages: [{ role: 'user', content: prompt }],
      max_tokens: 7,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(fakeCompletionTokens(prompt, 7).join(''));
    expect(usage).toBeTruthy();
  });

  it('a stream cut after its first byte surfaces as an error in the SDK, not as a short answer', async () => {
    vllm.sim.setPlan({ cutRate: 1, cutAfterEvents: 2 });
    try {
      const stream = await client().chat.completions.create({
        model: 'meta-llama/Llama-3.1-8B-Instruct',
        messages: [{ role: 'user', content: prompt }],
        max_tokens: 7,
        stream: true,
      });
      const error = await (async () => {
        for await (const _ of stream) void _;
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/vllm/);
    } finally {
      vllm.sim.setPlan({ cutRate: 0 });
    }
  });

  it('embeddings', async () => {
    const out = await client().embeddings.create({ model: 'BAAI/bge-small-en-v1.5', input: ['a fox', 'a dog'] });
    expect(out.data).toHaveLength(2);
    const expected = fakeEmbedding('a fox', out.data[0]!.embedding.length);
    out.data[0]!.embedding.forEach((x, i) => expect(x).toBeCloseTo(expected[i]!, 5));
  });

  it('lists routed models with their providers', async () => {
    const list = await client().models.list();
    const flux = list.data.find((m) => m.id === 'black-forest-labs/FLUX.1-schnell') as unknown as { providers: Array<{ provider: string }> };
    expect(flux.providers.map((p) => p.provider)).toEqual(['fal-ai', 'replicate', 'wavespeed']);
    expect(list.data.some((m) => m.id === 'tiny/bert-sentiment')).toBe(true);
  });
});

describe('@huggingface/inference through the router', () => {
  const seen: string[] = [];
  const client = () => {
    const rewrite: typeof fetch = (input, init) => {
      const url = (typeof input === 'string' ? input : input instanceof URL ? input.href : input.url)
        .replace('https://router.huggingface.co', server.url)
        .replace('https://huggingface.co', server.url);
      seen.push(url.slice(server.url.length));
      return fetch(url, init);
    };
    return new InferenceClient('hf_router_test', { fetch: rewrite });
  };

  it('chat completion (auto provider: the router picks)', async () => {
    const out = await client().chatCompletion({ model: 'meta-llama/Llama-3.1-8B-Instruct', messages: [{ role: 'user', content: prompt }], max_tokens: 5 });
    expect(out.choices[0]!.message.content).toBe(fakeCompletionTokens(prompt, 5).join(''));
    expect(seen.at(-1)).toBe('/v1/chat/completions');
  });

  it('chat with a named provider: the client finds it in the mapping and posts to /{provider}/v1/chat/completions', async () => {
    const out = await client().chatCompletion({
      provider: 'together',
      model: 'meta-llama/Llama-3.1-8B-Instruct',
      messages: [{ role: 'user', content: prompt }],
      max_tokens: 4,
    });
    expect(out.choices[0]!.message.content).toBe(fakeCompletionTokens(prompt, 4).join(''));
    expect(seen.at(-1)).toBe('/together/v1/chat/completions');
    // The provider's own id went upstream.
    expect(JSON.stringify(vllm.sim.stats.last)).toContain('Llama-3.1-8B-Instruct-Turbo');
  });

  it('streaming chat', async () => {
    let text = '';
    for await (const chunk of client().chatCompletionStream({ model: 'meta-llama/Llama-3.1-8B-Instruct', messages: [{ role: 'user', content: prompt }], max_tokens: 5 })) {
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(text).toBe(fakeCompletionTokens(prompt, 5).join(''));
  });

  it('text-to-image on the hf-inference route: bytes of the image, from the first provider that answers', async () => {
    const blob = await client().textToImage(
      { model: 'black-forest-labs/FLUX.1-schnell', inputs: 'a red fox', parameters: { width: 64, height: 64 } },
      { outputType: 'blob' },
    );
    const bytes = Buffer.from(await blob.arrayBuffer());
    expect(bytes.equals(fakeImagePng('a red fox', 64, 64))).toBe(true);
    expect(seen).toContain('/hf-inference/models/black-forest-labs/FLUX.1-schnell');
  });

  it('text generation streaming from the hf-inference provider (the client uses /v1/completions since 4.13.17)', async () => {
    let text = '';
    for await (const event of client().textGenerationStream({ model: 'openai-community/gpt2-large', inputs: prompt, parameters: { max_new_tokens: 5 } })) {
      // This client version yields the OpenAI completion chunks as they come.
      text += (event as unknown as { choices: Array<{ text: string }> }).choices[0]?.text ?? '';
    }
    expect(text).toBe(fakeCompletionTokens(prompt, 5).join(''));
    expect(seen.at(-1)).toBe('/hf-inference/models/openai-community/gpt2-large/v1/completions');
  });

  it('TGI-style streaming on the task route passes TGI events through', async () => {
    const res = await fetch(`${server.url}/models/openai-community/gpt2-large`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: prompt, parameters: { max_new_tokens: 4 }, stream: true }),
    });
    const events = (await res.text())
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => JSON.parse(l.slice(5)));
    expect(events.map((e) => e.token.text).join('')).toBe(fakeCompletionTokens(prompt, 4).join(''));
    expect(events.at(-1).generated_text).toBe(fakeCompletionTokens(prompt, 4).join(''));
    expect(res.headers.get('x-modelhost-provider')).toBe('hf-inference');
  });

  it('text classification on a model served by the hf-inference provider', async () => {
    const out = await client().textClassification({ model: 'distilbert/sst2-sentiment', inputs: 'I love it' });
    expect(out).toEqual(fakeClassification('I love it'));
  });
});

describe('images through each provider, and failover between them', () => {
  const post = (headers: Record<string, string> = {}) =>
    fetch(`${server.url}/models/black-forest-labs/FLUX.1-schnell`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ inputs: 'a blue heron', parameters: { width: 64, height: 64 } }),
    });
  const png = fakeImagePng('a blue heron', 64, 64);

  for (const provider of ['fal-ai', 'replicate', 'wavespeed']) {
    it(`${provider}: the image bytes with their content type, like the Hugging Face API`, async () => {
      const res = await post({ 'x-provider': provider });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/png');
      expect(res.headers.get('x-modelhost-provider')).toBe(provider);
      expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);
    });
  }

  it('an async job that fails after "completed" is failed over to the next provider', async () => {
    fal.sim.setPlan({ failAfterCompleteRate: 1 });
    try {
      const res = await post();
      expect(res.status).toBe(200);
      expect(res.headers.get('x-modelhost-provider')).toBe('replicate');
      expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);
    } finally {
      fal.sim.setPlan({ failAfterCompleteRate: 0 });
    }
  });

  it('expired output URLs are failed over too', async () => {
    fal.sim.setPlan({ urlTtlMs: 0 });
    try {
      const res = await post();
      expect(res.status).toBe(200);
      expect(res.headers.get('x-modelhost-provider')).not.toBe('fal-ai');
    } finally {
      fal.sim.setPlan({ urlTtlMs: 3_600_000 });
    }
  });

  it('cheapest ranks by the price table (1024² is 2 billed megapixels at fal: $0.006; Replicate $0.003; WaveSpeed $0.004)', async () => {
    const router = server.composed.deps.router!;
    const order = router.candidates({ api: 'task', task: 'text-to-image', model: 'black-forest-labs/FLUX.1-schnell', body: { inputs: 'x', parameters: { width: 1024, height: 1024 } }, policy: 'cheapest' });
    expect(order.map((c) => c.provider)).toEqual(['replicate', 'wavespeed', 'fal-ai']);
  });

  it('a bad request is a 400 here, before any provider is paid', async () => {
    const before = fal.sim.stats.creates + replicate.sim.stats.creates + wavespeed.sim.stats.creates;
    const res = await fetch(`${server.url}/models/black-forest-labs/FLUX.1-schnell`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: '', parameters: { width: 'big' } }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/inputs/);
    expect(fal.sim.stats.creates + replicate.sim.stats.creates + wavespeed.sim.stats.creates).toBe(before);
  });
});
