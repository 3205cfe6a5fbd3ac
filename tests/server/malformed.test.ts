import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureBytes } from '../fixtures/audio/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

/** Small seeded generator, so a failure names a case that can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]! };
}

interface Case {
  name: string;
  path: string;
  body: Uint8Array | string;
  contentType?: string;
  openai?: boolean;
}

const TEXT_MODELS = ['tiny/bert-sentiment', 'tiny/bert-ner', 'tiny/bert-nli', 'tiny/bert-mlm', 'tiny/bert-qa', 'tiny/minilm-embed', 'tiny/gpt2', 'facebook/fasttext-lid-176'];
const BINARY_MODELS = ['tiny/vit', 'snakers4/silero-vad'];
const BAD_INPUTS: unknown[] = [42, true, null, [], [1, 2], { a: 1 }, '', '   ', [''], [[]], { question: 1 }];
const BAD_PARAMS: Record<string, unknown>[] = [
  { top_k: 0 },
  { top_k: -3 },
  { top_k: 'three' },
  { top_k: 1.5 },
  { function_to_apply: 'cube' },
  { aggregation_strategy: 'everything' },
  { max_new_tokens: 0 },
  { max_new_tokens: 'many' },
  { temperature: -1 },
  { threshold: 2 },
  { candidate_labels: [] },
];
const MEDIA_TYPES = ['application/xml', 'video/mp4', 'multipart/form-data; boundary=x', 'application/pdf', 'font/woff2'];

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function pngBytes(): Uint8Array {
  // A valid 1x1 PNG, to be cut short.
  return new Uint8Array(
    Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64'),
  );
}

function makeCases(count: number): Case[] {
  const r = rng(20261126);
  const wav = new Uint8Array(fixtureBytes('speech-16k-mono.wav'));
  const png = pngBytes();
  const cases: Case[] = [];
  const kinds = [
    'bad-json',
    'wrong-input-type',
    'bad-params',
    'empty',
    'huge',
    'truncated-image',
    'wrong-media-type',
    'modality-mismatch',
    'random-audio',
    'not-object',
    'openai',
    'bad-options',
  ] as const;
  for (let i = 0; i < count; i++) {
    const kind = kinds[i % kinds.length]!;
    const text = r.pick(TEXT_MODELS);
    const binary = r.pick(BINARY_MODELS);
    const name = `#${i} ${kind}`;
    switch (kind) {
      case 'bad-json': {
        const valid = JSON.stringify({ inputs: 'some text here', parameters: { top_k: 2 } });
        const cut = valid.slice(0, 1 + r.int(valid.length - 2));
        let body = cut + r.pick(['', '}}', ',', '\u0000']);
        // A cut that happens to close into valid JSON is made invalid again.
        if (isJson(body)) body += ',';
        cases.push({ name, path: `/models/${text}`, body, contentType: 'application/json' });
        break;
      }
      case 'wrong-input-type':
        cases.push({ name, path: `/models/${text}`, body: JSON.stringify({ inputs: r.pick(BAD_INPUTS) }), contentType: 'application/json' });
        break;
      case 'bad-params': {
        const model = r.pick(['tiny/bert-sentiment', 'tiny/vit', 'snakers4/silero-vad', 'tiny/gpt2', 'tiny/bert-ner', 'tiny/bert-nli']);
        const params = { ...r.pick(BAD_PARAMS) };
        // Each model gets a parameter its task validates, so every case is wrong by construction.
        const forModel: Record<string, Record<string, unknown>> = {
          'tiny/bert-sentiment': { top_k: r.pick([0, -1, 'x', 2.5]) },
          'tiny/vit': { function_to_apply: r.pick(['cube', 3, null]) },
          'snakers4/silero-vad': { threshold: r.pick([2, -1, 'high']) },
          'tiny/gpt2': { max_new_tokens: r.pick([0, -5, 'many', 1e9]) },
          'tiny/bert-ner': { aggregation_strategy: r.pick(['everything', 1, '']) },
          'tiny/bert-nli': { candidate_labels: r.pick([[], 7, [1, 2]]) },
        };
        Object.assign(params, forModel[model]);
        const inputs = model === 'tiny/vit' ? Buffer.from(png).toString('base64') : model === 'snakers4/silero-vad' ? Buffer.from(wav).toString('base64') : 'a short text';
        cases.push({ name, path: `/models/${model}`, body: JSON.stringify({ inputs, parameters: params }), contentType: 'application/json' });
        break;
      }
      case 'empty':
        cases.push({ name, path: `/models/${r.pick([text, binary])}`, body: '', contentType: r.pick(['application/json', 'text/plain', undefined as unknown as string]) });
        break;
      case 'huge':
        cases.push({ name, path: `/models/${r.pick([text, binary])}`, body: JSON.stringify({ inputs: 'x'.repeat(70_000 + r.int(50_000)) }), contentType: 'application/json' });
        break;
      case 'truncated-image': {
        const cut = png.subarray(0, 1 + r.int(png.length - 20));
        cases.push({ name, path: '/models/tiny/vit', body: cut, contentType: r.pick(['image/png', undefined as unknown as string]) });
        break;
      }
      case 'wrong-media-type':
        cases.push({ name, path: `/models/${r.pick([text, binary])}`, body: '<inputs>hello</inputs>', contentType: r.pick(MEDIA_TYPES) });
        break;
      case 'modality-mismatch':
        cases.push(
          r.next() < 0.5
            ? { name, path: `/models/${text}`, body: r.pick([png, wav]), contentType: r.pick(['image/png', 'audio/wav', undefined as unknown as string]) }
            : { name, path: '/models/tiny/vit', body: wav, contentType: 'audio/wav' },
        );
        break;
      case 'random-audio': {
        const junk = new Uint8Array(16 + r.int(4000)).map(() => r.int(256));
        cases.push({ name, path: '/models/snakers4/silero-vad', body: r.next() < 0.5 ? junk : wav.subarray(0, 8 + r.int(40)), contentType: r.pick(['audio/wav', 'application/octet-stream']) });
        break;
      }
      case 'not-object':
        cases.push({ name, path: `/models/${text}`, body: r.pick(['[1,2,3]', 'null', 'true', '[]']), contentType: 'application/json' });
        break;
      case 'openai':
        cases.push({
          name,
          path: '/v1/completions',
          body: r.pick([
            '{"model": "tiny/gpt2"}',
            '{"model": "tiny/gpt2", "prompt": 7}',
            '{"model": "tiny/gpt2", "prompt": "hi", "max_tokens": -1}',
            '{"model": "tiny/gpt2", "prompt": "hi", "n": 3}',
            '{"prompt": "hi", "model": "nobody/nothing"}',
            '{"model": "tiny/gpt2", "prompt": ',
            '',
          ]),
          contentType: 'application/json',
          openai: true,
        });
        break;
      case 'bad-options':
        cases.push({
          name,
          path: `/models/${text}`,
          body: JSON.stringify({ inputs: 'text', options: r.pick([{ wait_for_model: 'yes' }, { use_cache: 3 }, 'fast', [1]]) }),
          contentType: 'application/json',
        });
        break;
    }
  }
  return cases;
}

describe('1,000 malformed requests', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ bodyLimitMb: 0.064 });
  });
  afterAll(() => server.close());

  it('each gets a clear 4xx JSON error; none crashes the server or gets a 5xx', async () => {
    const cases = makeCases(1000);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (let i = 0; i < cases.length; i += 25) {
      await Promise.all(
        cases.slice(i, i + 25).map(async (c) => {
          const headers: Record<string, string> = c.contentType ? { 'content-type': c.contentType } : {};
          const body = typeof c.body === 'string' ? c.body : new Uint8Array(c.body);
          const res = await fetch(`${server.url}${c.path}`, { method: 'POST', headers, body });
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          const text = await res.text();
          let json: { error?: unknown } | undefined;
          try {
            json = JSON.parse(text) as { error?: unknown };
          } catch {
            json = undefined;
          }
          const message = c.openai ? (json?.error as { message?: unknown } | undefined)?.message : json?.error;
          if (res.status < 400 || res.status >= 500) failures.push(`${c.name} ${c.path}: status ${res.status} ${text.slice(0, 160)}`);
          else if (typeof message !== 'string' || message.length < 8) failures.push(`${c.name}: unclear error body ${text.slice(0, 160)}`);
          else if (/\n\s+at |node_modules|\/work\//.test(text)) failures.push(`${c.name}: leaks internals ${text.slice(0, 160)}`);
          if (!res.headers.get('x-request-id')) failures.push(`${c.name}: no x-request-id`);
        }),
      );
    }
    expect(failures, failures.slice(0, 10).join('\n')).toEqual([]);
    // The mix really exercised different answers (400, 404, 413, 415).
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([400, 404, 413, 415]));
    // And the server still serves.
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const ok = await fetch(`${server.url}/models/tiny/bert-sentiment`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs": "still alive"}' });
    expect(ok.status).toBe(200);
  }, 180_000);
});
