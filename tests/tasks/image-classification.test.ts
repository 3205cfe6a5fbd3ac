import { RawImage } from '@huggingface/transformers';
import { InferenceClient } from '@huggingface/inference';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureBytes } from '../fixtures/audio/fixtures.ts';
import { expectClose, reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';

const MODEL = 'tiny/vit';
const LABELS = ['cat', 'dog', 'bird', 'car', 'tree'];

type Bytes = Uint8Array<ArrayBuffer>;

interface Label {
  label: string;
  score: number;
}

/** A deterministic picture: stripes and a gradient that differ with `seed`. */
function pixels(width: number, height: number, channels: 1 | 3 | 4, seed: number): Buffer {
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        const i = (y * width + x) * channels + c;
        data[i] = c === 3 ? 128 + ((x * seed) % 128) : (x * (seed + c) * 7 + y * (seed * 3 + 1) * 5 + ((x ^ y) & seed) * 13) & 255;
      }
    }
  }
  return data;
}

function image(width: number, height: number, channels: 1 | 3 | 4, seed: number) {
  return sharp(pixels(width, height, channels, seed), { raw: { width, height, channels } });
}

/** Bytes as a fresh Uint8Array (what fetch and Blob take). */
const bytesOf = (b: Buffer): Bytes => new Uint8Array(b);

/** transformers.js's image-classification pipeline on the same bytes. */
async function expected(bytes: Bytes, topK = 5): Promise<Label[]> {
  const pipe = await reference('image-classification', MODEL);
  return pipe(new Blob([bytes]), { top_k: topK });
}

/** The parts of transformers.js's image pipeline used to get raw logits. */
interface ImagePipe {
  processor(image: RawImage): Promise<{ pixel_values: unknown }>;
  model: ((inputs: { pixel_values: unknown }) => Promise<{ logits: { data: Float32Array } }>) & { config: { id2label: Record<number, string> } };
}

/** Scores from the reference model's logits with another function, largest first. */
async function expectedWith(bytes: Bytes, fn: 'sigmoid' | 'none' | 'softmax', topK = 5): Promise<Label[]> {
  const pipe = (await reference('image-classification', MODEL)) as unknown as ImagePipe;
  const { pixel_values } = await pipe.processor(await RawImage.fromBlob(new Blob([bytes])));
  const { logits } = await pipe.model({ pixel_values });
  const row = Array.from(logits.data);
  const max = Math.max(...row);
  const sum = row.reduce((s, x) => s + Math.exp(x - max), 0);
  const scores = row.map((x) => (fn === 'sigmoid' ? 1 / (1 + Math.exp(-x)) : fn === 'softmax' ? Math.exp(x - max) / sum : x));
  return scores
    .map((score, i) => ({ label: pipe.model.config.id2label[i]!, score }))
    .sort((a, b) => b.score - a.score)
    .slice(0, topK);
}

async function postBytes(url: string, body: Bytes, contentType?: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', body, headers: { ...(contentType ? { 'content-type': contentType } : {}), ...headers } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: JSON.parse(text) as unknown };
}

describe('image-classification', () => {
  let server: TestServer;
  let url: string;
  let files: { name: string; bytes: Bytes; type: string }[];

  beforeAll(async () => {
    // A slightly longer batch window than the default, so that concurrent requests surely share batches.
    server = await startServer({ batchWaitMs: 10 });
    url = `${server.url}/models/${MODEL}`;
    files = [
      { name: 'png 32x32 rgb', bytes: bytesOf(await image(32, 32, 3, 1).png().toBuffer()), type: 'image/png' },
      { name: 'png 120x80 rgba', bytes: bytesOf(await image(120, 80, 4, 2).png().toBuffer()), type: 'image/png' },
      { name: 'png 50x70 grey', bytes: bytesOf(await image(50, 70, 1, 3).png().toBuffer()), type: 'image/png' },
      { name: 'jpeg 64x48', bytes: bytesOf(await image(64, 48, 3, 4).jpeg({ quality: 90 }).toBuffer()), type: 'image/jpeg' },
      { name: 'webp 40x40', bytes: bytesOf(await image(40, 40, 3, 5).webp({ lossless: true }).toBuffer()), type: 'image/webp' },
    ];
  });
  afterAll(() => server.close());

  describe('parity with transformers.js', () => {
    it('raw bytes with and without Content-Type, and base64 JSON, give the pipeline\'s top 5', async () => {
      const distinct = new Set<string>();
      for (const file of files) {
        const want = await expected(file.bytes);
        expect(want.map((l) => l.label).sort()).toEqual([...LABELS].sort());
        distinct.add(JSON.stringify(want.map((l) => l.score.toFixed(4))));
        const b64 = Buffer.from(file.bytes).toString('base64');
        const answers = [
          await postBytes(url, file.bytes, file.type),
          await postBytes(url, file.bytes),
          await postBytes(url, file.bytes, 'application/octet-stream'),
          await postJson(url, { inputs: b64 }),
          await postJson(url, { inputs: `data:${file.type};base64,${b64}` }),
          await postJson(url, { inputs: { image: b64 } }),
        ];
        for (const [i, res] of answers.entries()) {
          expect(res.status, `${file.name} #${i}: ${res.text}`).toBe(200);
          expect(res.headers.get('content-type')).toMatch(/^application\/json/);
          expectClose(res.json, want);
        }
      }
      // The pictures are told apart (a constant answer would pass the comparisons above only by accident).
      expect(distinct.size).toBe(files.length);
    });

    it('answers the same on the /pipeline and hf-inference routes', async () => {
      const file = files[3]!;
      const want = await expected(file.bytes);
      for (const route of [`/models/${MODEL}/pipeline/image-classification`, `/pipeline/image-classification/${MODEL}`, `/hf-inference/models/${MODEL}`]) {
        const res = await postBytes(`${server.url}${route}`, file.bytes, file.type);
        expect(res.status, route).toBe(200);
        expectClose(res.json, want);
      }
    });

    it('top_k keeps the best k labels', async () => {
      const file = files[1]!;
      const b64 = Buffer.from(file.bytes).toString('base64');
      for (const k of [1, 2, 4, 5]) {
        const res = await postJson(url, { inputs: b64, parameters: { top_k: k } });
        expect(res.status).toBe(200);
        expect(res.json).toHaveLength(k);
        expectClose(res.json, await expected(file.bytes, k));
      }
      const more = await postJson(url, { inputs: b64, parameters: { top_k: 50 } });
      expectClose(more.json, await expected(file.bytes, 5));
    });

    it('function_to_apply picks softmax, sigmoid or raw logits', async () => {
      const file = files[0]!;
      const b64 = Buffer.from(file.bytes).toString('base64');
      for (const fn of ['softmax', 'sigmoid', 'none'] as const) {
        const res = await postJson(url, { inputs: b64, parameters: { function_to_apply: fn, top_k: 3 } });
        expect(res.status, fn).toBe(200);
        expectClose(res.json, await expectedWith(file.bytes, fn, 3));
      }
      const sigmoid = (await postJson(url, { inputs: b64, parameters: { function_to_apply: 'sigmoid' } })).json as Label[];
      const softmax = (await postJson(url, { inputs: b64 })).json as Label[];
      // Softmax scores add up to 1; sigmoid ones do not here.
      expect(softmax.reduce((s, l) => s + l.score, 0)).toBeCloseTo(1, 5);
      expect(Math.abs(sigmoid.reduce((s, l) => s + l.score, 0) - 1)).toBeGreaterThan(0.01);
    });
  });

  describe('batching', () => {
    it('answers concurrent requests as it answers them one by one, sharing forward passes', async () => {
      const bodies = Array.from({ length: 10 }, (_, i) => files[i % files.length]!);
      const seeds = await Promise.all([6, 7, 8, 9, 10].map((s) => image(36, 36, 3, s).png().toBuffer()));
      const all = [...bodies.map((f) => f.bytes), ...seeds.map(bytesOf)];
      const noCache = { 'x-use-cache': 'false' };
      const sequential: unknown[] = [];
      for (const bytes of all) sequential.push((await postBytes(url, bytes, undefined, noCache)).json);
      const before = { ...server.composed.deps.engine.counters };
      const concurrent = await Promise.all(all.map((bytes) => postBytes(url, bytes, undefined, noCache)));
      const after = server.composed.deps.engine.counters;
      concurrent.forEach((res, i) => {
        expect(res.status).toBe(200);
        expectClose(res.json, sequential[i]);
      });
      expect(after.items - before.items).toBe(all.length);
      expect(after.batches - before.batches).toBeLessThan(all.length);
      for (const [i, bytes] of all.entries()) expectClose(sequential[i], await expected(bytes));
    });

    it('a broken image fails only its own request, not the others in its batch', async () => {
      const broken = files[0]!.bytes.slice(0, 100);
      const all = [...files.map((f) => f.bytes), broken, ...files.map((f) => f.bytes)];
      const answers = await Promise.all(all.map((bytes) => postBytes(url, bytes, 'image/png', { 'x-use-cache': 'false' })));
      for (const [i, res] of answers.entries()) {
        if (all[i] === broken) {
          expect(res.status).toBe(400);
          expect((res.json as { error: string }).error).toMatch(/could not be decoded/);
        } else {
          expect(res.status, res.text).toBe(200);
          expectClose(res.json, await expected(all[i]!));
        }
      }
    });
  });

  describe('@huggingface/inference client', () => {
    it('imageClassification with a PNG Blob (raw bytes; the client drops parameters)', async () => {
      const client = new InferenceClient('hf_test', { endpointUrl: url });
      for (const file of [files[0]!, files[3]!]) {
        const blob = new Blob([file.bytes], { type: file.type });
        const out = await client.imageClassification({ inputs: blob });
        expectClose(out, await expected(file.bytes));
        const withParams = await client.imageClassification({ inputs: blob, parameters: { top_k: 2 } });
        expectClose(withParams, await expected(file.bytes, 5));
      }
      const untyped = await client.imageClassification({ inputs: new Blob([files[2]!.bytes]) });
      expectClose(untyped, await expected(files[2]!.bytes));
      await expect(client.imageClassification({ inputs: new Blob([files[0]!.bytes.slice(0, 100)], { type: 'image/png' }) })).rejects.toThrow(
        /could not be decoded/,
      );
    });
  });

  describe('bad inputs', () => {
    it('refuses files it cannot decode or that are not images', async () => {
      const png = files[0]!.bytes;
      const random = Uint8Array.from({ length: 600 }, (_, i) => (i * 7919 + 13) & 255);
      const wav = fixtureBytes('speech-16k-mono.wav');
      const cases: [Bytes | string, string | undefined, number, RegExp][] = [
        [png.slice(0, 100), 'image/png', 400, /could not be decoded/],
        [png.slice(0, 100), undefined, 400, /could not be decoded/],
        [random, 'image/png', 400, /could not be decoded/],
        [random, 'application/octet-stream', 400, /could not be decoded/],
        [new Uint8Array(wav), 'audio/wav', 415, /image files/],
        [new Uint8Array(wav), undefined, 415, /image files/],
        [png, 'audio/wav', 415, /image files/],
        ['hello, not an image', 'text/plain', 400, /could not be decoded/],
        ['<svg/>', 'application/xml', 415, /Content-Type/],
        ['', 'image/png', 400, /empty/],
        ['', undefined, 400, /empty/],
      ];
      for (const [body, type, status, message] of cases) {
        const res = await fetch(url, { method: 'POST', body, headers: type ? { 'content-type': type } : {} });
        const json = (await res.json()) as { error: string };
        expect(res.status, `${type} ${JSON.stringify(json)}`).toBe(status);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(json.error).toMatch(message);
      }
    });

    it('refuses bad JSON bodies and parameters with 400 naming the problem', async () => {
      const b64 = Buffer.from(files[0]!.bytes).toString('base64');
      const cases: [unknown, RegExp][] = [
        [{}, /Missing "inputs"/],
        [{ inputs: '' }, /base64/],
        [{ inputs: 'not base64 at all!' }, /base64/],
        [{ inputs: Buffer.from('just some text, not a picture').toString('base64') }, /could not be decoded/],
        [{ inputs: 42 }, /inputs/],
        [{ inputs: [b64] }, /inputs/],
        [{ inputs: { picture: b64 } }, /inputs/],
        [{ inputs: { image: 'not base64!' } }, /inputs\.image.*base64/],
        [{ inputs: b64, parameters: { top_k: 0 } }, /top_k/],
        [{ inputs: b64, parameters: { top_k: '3' } }, /top_k/],
        [{ inputs: b64, parameters: { function_to_apply: 'relu' } }, /function_to_apply/],
        [{ inputs: b64, stream: true }, /stream.*text-generation/],
        ['just a string', /raw body|base64/],
      ];
      for (const [body, message] of cases) {
        const res = await postJson(url, body);
        expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
        expect(typeof res.json.error).toBe('string');
        expect(res.json.error, JSON.stringify(body).slice(0, 80)).toMatch(message);
      }
    });
  });
});
