import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureBytes as fixtureView } from '../fixtures/audio/fixtures.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';

/** Fixture bytes backed by a plain ArrayBuffer, as fetch's body type wants. */
const fixtureBytes = (name: string) => new Uint8Array(fixtureView(name));

const LID = 'facebook/fasttext-lid-176';
const VAD = 'snakers4/silero-vad';

describe('protocol details (built-in models)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  it('identifies plain sentences in English, French, German and Spanish', async () => {
    const cases = {
      en: 'The weather is lovely today and I would like to go for a walk.',
      fr: 'Bonjour tout le monde, comment allez-vous ?',
      de: 'Guten Morgen, ich hätte gern einen Kaffee mit Milch.',
      es: 'Hola, ¿dónde está la estación de tren más cercana?',
    };
    for (const [lang, text] of Object.entries(cases)) {
      const res = await postJson(`${server.url}/models/${LID}`, { inputs: text });
      expect(res.status).toBe(200);
      expect(res.json[0][0].label).toBe(lang);
      expect(res.json[0][0].score).toBeGreaterThan(0.5);
    }
  });

  it('puts x-request-id, x-compute-time and x-compute-type on answers and on errors', async () => {
    const ok = await postJson(`${server.url}/models/${LID}`, { inputs: 'hello world' });
    const bad = await postJson(`${server.url}/models/${LID}`, { nope: 1 });
    for (const res of [ok, bad]) {
      expect(res.headers.get('x-request-id')).toMatch(/^[\w-]{8,}$/);
      expect(Number(res.headers.get('x-compute-time'))).toBeGreaterThanOrEqual(0);
      expect(res.headers.get('x-compute-type')).toBe('cpu');
    }
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ error: 'Missing "inputs" in the JSON body' });
    const echoed = await postJson(`${server.url}/models/${LID}`, { inputs: 'x' }, { 'x-request-id': 'my-trace-42' });
    expect(echoed.headers.get('x-request-id')).toBe('my-trace-42');
  });

  it('answers CORS preflights and exposes the compute headers', async () => {
    const pre = await fetch(`${server.url}/models/${LID}`, {
      method: 'OPTIONS',
      headers: { origin: 'http://example.test', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    const res = await fetch(`${server.url}/models/${LID}`, { method: 'POST', headers: { origin: 'http://example.test', 'content-type': 'application/json' }, body: '{"inputs":"hi"}' });
    const exposed = res.headers.get('access-control-expose-headers') ?? '';
    for (const h of ['x-compute-time', 'x-compute-type', 'x-request-id']) expect(exposed).toContain(h);
  });

  it('serves repeated payloads from the cache unless use_cache is off', async () => {
    const body = { inputs: `cache probe ${Math.random()}` };
    const first = await postJson(`${server.url}/models/${LID}`, body);
    const second = await postJson(`${server.url}/models/${LID}`, body);
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(second.json).toEqual(first.json);
    const header = await postJson(`${server.url}/models/${LID}`, body, { 'x-use-cache': 'false' });
    const option = await postJson(`${server.url}/models/${LID}`, { ...body, options: { use_cache: false } });
    expect(header.headers.get('x-cache')).toBe('MISS');
    expect(option.headers.get('x-cache')).toBe('MISS');
    expect(option.json).toEqual(first.json);
  });

  it('accepts a raw text body and curl -d form bodies', async () => {
    const raw = await fetch(`${server.url}/models/${LID}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'Ceci est une phrase en français.' });
    expect(((await raw.json()) as { label: string }[][])[0]![0]!.label).toBe('fr');
    const form = await fetch(`${server.url}/models/${LID}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '{"inputs": "Dies ist ein deutscher Satz."}',
    });
    expect(((await form.json()) as { label: string }[][])[0]![0]!.label).toBe('de');
  });

  it('maps errors to the right status with a JSON {"error"} body', async () => {
    const cases: [RequestInit & { path?: string }, number, RegExp][] = [
      [{ body: '{"inputs": ', headers: { 'content-type': 'application/json' } }, 400, /not valid JSON/],
      [{ body: '', headers: { 'content-type': 'application/json' } }, 400, /empty/],
      [{ body: '{"inputs": 42}', headers: { 'content-type': 'application/json' } }, 400, /inputs/],
      [{ body: '{"inputs": "x", "parameters": {"top_k": "three"}}', headers: { 'content-type': 'application/json' } }, 400, /top_k/],
      [{ body: '<a/>', headers: { 'content-type': 'application/xml' } }, 415, /Content-Type/],
      [{ body: fixtureBytes('speech-16k-mono.wav'), headers: { 'content-type': 'audio/wav' } }, 415, /takes text/],
      [{ body: '{"inputs":"x"}', headers: { 'content-type': 'application/json' }, path: '/models/nobody/nothing' }, 404, /does not exist/],
      [{ body: '{"inputs":"x"}', headers: { 'content-type': 'application/json' }, path: `/models/${LID}/pipeline/fill-mask` }, 400, /does not support task fill-mask/],
    ];
    for (const [init, status, message] of cases) {
      const res = await fetch(`${server.url}${init.path ?? `/models/${LID}`}`, { method: 'POST', ...init });
      const body = (await res.json()) as { error: string };
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(body.error).toMatch(message);
      expect(JSON.stringify(body)).not.toMatch(/\bat .*\.ts:\d+/);
    }
  });

  it('finds speech segments in WAV, FLAC and base64 JSON bodies', async () => {
    for (const name of ['speech-16k-mono.wav', 'speech-16k-mono.flac']) {
      const res = await fetch(`${server.url}/models/${VAD}`, { method: 'POST', body: fixtureBytes(name) });
      expect(res.status).toBe(200);
      const segments = (await res.json()) as { start: number; end: number }[];
      expect(segments.length).toBeGreaterThan(0);
      expect(segments[0]!.start).toBeLessThan(segments[0]!.end);
    }
    const b64 = Buffer.from(fixtureBytes('speech-16k-mono.wav')).toString('base64');
    const json = await postJson(`${server.url}/models/${VAD}`, { inputs: b64, parameters: { threshold: 0.6 } });
    expect(json.status).toBe(200);
    expect(json.json.length).toBeGreaterThan(0);
    const bad = await postJson(`${server.url}/models/${VAD}`, { inputs: 'not base64 !!' });
    expect(bad.status).toBe(400);
  });

  it('lists models in the Hub shape with filters and per-model ways to run them', async () => {
    const all = (await (await fetch(`${server.url}/api/models`)).json()) as { id: string; pipeline_tag: string }[];
    expect(all.map((m) => m.id)).toEqual(expect.arrayContaining([LID, VAD]));
    const vadOnly = (await (await fetch(`${server.url}/api/models?pipeline_tag=voice-activity-detection`)).json()) as { id: string }[];
    expect(vadOnly.map((m) => m.id)).toEqual([VAD]);
    const byLib = (await (await fetch(`${server.url}/api/models?library=fasttext`)).json()) as { id: string }[];
    expect(byLib.map((m) => m.id)).toEqual([LID]);
    const search = (await (await fetch(`${server.url}/api/models?search=SILERO`)).json()) as { id: string }[];
    expect(search.map((m) => m.id)).toEqual([VAD]);
    const one = (await (await fetch(`${server.url}/api/models/${LID}`)).json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(one).toMatchObject({ id: LID, pipeline_tag: 'text-classification', library_name: 'fasttext' });
    expect(one.siblings.map((s: { rfilename: string }) => s.rfilename)).toContain('README.md');
    const methods = one.modelhost.usage.map((u: { method: string }) => u.method);
    expect(methods).toContain('serverless');
    // fastText has no transformers.js pipeline: that way is absent rather than broken.
    expect(methods).not.toContain('library');
    expect((await fetch(`${server.url}/api/models/nobody/nothing`)).status).toBe(404);
    // A transformers.js model also lists local library use, with its files as siblings.
    const tiny = (await (await fetch(`${server.url}/api/models/tiny/bert-sentiment`)).json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(tiny.siblings.map((s: { rfilename: string }) => s.rfilename)).toEqual(expect.arrayContaining(['config.json', 'tokenizer.json', 'onnx/model.onnx']));
    const library = tiny.modelhost.usage.find((u: { method: string }) => u.method === 'library');
    expect(library.snippet).toContain("pipeline('text-classification', 'tiny/bert-sentiment', { dtype: 'fp32' })");
    const gen = (await (await fetch(`${server.url}/api/models/tiny/gpt2`)).json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(gen.modelhost.usage.map((u: { method: string }) => u.method)).toContain('openai-completions');
  });

  it('answers /health and /ready', async () => {
    expect(await (await fetch(`${server.url}/health`)).json()).toEqual({ status: 'ok', pid: process.pid });
    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(200);
  });
});

describe('cold starts', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ waitForModelByDefault: false });
  });
  afterAll(() => server.close());

  it('answers 503 with estimated_time and Retry-After while loading, then serves', async () => {
    const res = await postJson(`${server.url}/models/${LID}`, { inputs: 'hello there' });
    expect(res.status).toBe(503);
    expect(res.json.error).toBe(`Model ${LID} is currently loading`);
    expect(res.json.estimated_time).toBeGreaterThan(0);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const waited = await postJson(`${server.url}/models/${LID}`, { inputs: 'hello there' }, { 'x-wait-for-model': 'true' });
    expect(waited.status).toBe(200);
  });

  it('holds the request when asked in options, X-Scale-Up-Timeout or by the JS client', async () => {
    server.composed.deps.engine.unload(VAD);
    const wav = fixtureBytes('speech-16k-mono.wav');
    const b64 = Buffer.from(wav).toString('base64');
    const byOption = await postJson(`${server.url}/models/${VAD}`, { inputs: b64, options: { wait_for_model: true } });
    expect(byOption.status).toBe(200);
    server.composed.deps.engine.unload(VAD);
    const byScaleUp = await fetch(`${server.url}/models/${VAD}`, { method: 'POST', body: wav, headers: { 'x-scale-up-timeout': '30' } });
    expect(byScaleUp.status).toBe(200);
    server.composed.deps.engine.unload(VAD);
    const byClient = await fetch(`${server.url}/models/${VAD}`, { method: 'POST', body: wav, headers: { 'user-agent': '@huggingface/inference/4.13.30' } });
    expect(byClient.status).toBe(200);
    server.composed.deps.engine.unload(VAD);
    const refused = await postJson(`${server.url}/models/${VAD}`, { inputs: b64, options: { wait_for_model: false, use_cache: false } }, { 'user-agent': '@huggingface/inference/4.13.30' });
    expect(refused.status).toBe(503);
  });

  it('reports 503 from /ready until --preload finishes', async () => {
    const preloading = await startServer({ preload: [LID, VAD] });
    try {
      const before = await fetch(`${preloading.url}/ready`);
      await preloading.composed.preloaded;
      const after = await fetch(`${preloading.url}/ready`);
      expect(before.status).toBe(503);
      expect(after.status).toBe(200);
      expect(preloading.composed.deps.engine.state(LID)).toBe('ready');
    } finally {
      await preloading.close();
    }
  });

  it('keeps no cache at all with --cache-entries 0', async () => {
    const uncached = await startServer({ cacheEntries: 0 });
    try {
      const body = { inputs: 'the same text twice' };
      const first = await postJson(`${uncached.url}/models/${LID}`, body);
      const second = await postJson(`${uncached.url}/models/${LID}`, body);
      expect(first.headers.get('x-cache')).toBe('MISS');
      expect(second.headers.get('x-cache')).toBe('MISS');
      expect(uncached.composed.deps.cache.size).toBe(0);
    } finally {
      await uncached.close();
    }
  });

  it('refuses bodies over the limit with 413', async () => {
    const small = await startServer({ bodyLimitMb: 0.01 });
    try {
      const res = await postJson(`${small.url}/models/${LID}`, { inputs: 'x'.repeat(20_000) });
      expect(res.status).toBe(413);
      expect(res.json.error).toMatch(/larger than/);
    } finally {
      await small.close();
    }
  });
});
