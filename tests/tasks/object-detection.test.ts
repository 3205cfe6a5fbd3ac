import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { b64, expectRefused, imageFiles, imageInputCases, png, postBytes, type Bytes, type ImageFile, type Malformed } from './vision-helpers.ts';

const MODEL = 'tiny/yolos';
const LABELS = ['person', 'car', 'dog', 'cat', 'bicycle'];

interface Detection {
  label: string;
  score: number;
  box: { xmin: number; ymin: number; xmax: number; ymax: number };
}

/** transformers.js's object-detection pipeline on the same bytes. */
async function expected(bytes: Bytes, threshold?: number): Promise<Detection[]> {
  const pipe = await reference('object-detection', MODEL);
  return pipe(new Blob([bytes]), threshold === undefined ? {} : { threshold });
}

describe('object-detection', () => {
  let server: TestServer;
  let url: string;
  let files: ImageFile[];

  beforeAll(async () => {
    server = await startServer({ batchWaitMs: 10 });
    url = `${server.url}/models/${MODEL}`;
    files = await imageFiles();
  });
  afterAll(() => server.close());

  describe('parity with transformers.js', () => {
    it('raw bytes and base64 JSON give the pipeline\'s boxes, scores and labels', async () => {
      const distinct = new Set<string>();
      let boxes = 0;
      for (const file of files) {
        for (const threshold of [undefined, 0.5, 0]) {
          const want = await expected(file.bytes, threshold);
          boxes += want.length;
          distinct.add(JSON.stringify(want));
          for (const d of want) expect(LABELS).toContain(d.label);
          const parameters = threshold === undefined ? {} : { threshold };
          const answers = [
            ...(threshold === undefined ? [await postBytes(url, file.bytes, file.type), await postBytes(url, file.bytes)] : []),
            await postJson(url, { inputs: b64(file.bytes), parameters }),
            await postJson(url, { inputs: `data:${file.type};base64,${b64(file.bytes)}`, parameters }),
            await postJson(url, { inputs: { image: b64(file.bytes) }, parameters }),
          ];
          for (const [i, res] of answers.entries()) {
            expect(res.status, `${file.name} t=${threshold} #${i}: ${res.text}`).toBe(200);
            expectClose(res.json, want);
          }
        }
      }
      // Boxes are found and the pictures are told apart (an empty or constant answer would pass only by accident).
      expect(boxes).toBeGreaterThan(files.length * 3);
      expect(distinct.size).toBeGreaterThan(files.length * 2);
    });

    it('boxes are whole pixels of the image sent, not of the 32×32 model input', async () => {
      const small = await png(40, 30, 9);
      const res = await postJson(url, { inputs: b64(small), parameters: { threshold: 0 } });
      expect(res.status).toBe(200);
      const found = res.json as Detection[];
      expect(found.length).toBeGreaterThan(0);
      for (const d of found) {
        expect(d.box.xmax).toBeLessThanOrEqual(40 * 1.5);
        expect(d.box.ymax).toBeLessThanOrEqual(30 * 1.5);
        expect(Number.isInteger(d.box.xmin) && Number.isInteger(d.box.ymax)).toBe(true);
      }
      expectClose(found, await expected(small, 0));
    });

    it('answers the same on the /pipeline and hf-inference routes', async () => {
      const file = files[3]!;
      const want = await expected(file.bytes);
      for (const route of [`/models/${MODEL}/pipeline/object-detection`, `/pipeline/object-detection/${MODEL}`, `/hf-inference/models/${MODEL}`]) {
        const res = await postBytes(`${server.url}${route}`, file.bytes, file.type);
        expect(res.status, route).toBe(200);
        expectClose(res.json, want);
      }
    });
  });

  describe('batching', () => {
    it('answers concurrent requests as it answers them one by one, sharing forward passes', async () => {
      const extra = await Promise.all([6, 7, 8, 9, 10].map((s) => png(30 + s * 3, 36, s)));
      const all = [...files.map((f) => f.bytes), ...files.map((f) => f.bytes), ...extra];
      const noCache = { 'x-use-cache': 'false' };
      const body = (bytes: Bytes) => JSON.stringify({ inputs: b64(bytes), parameters: { threshold: 0.3 } });
      const post = (bytes: Bytes) => postBytes(url, body(bytes), 'application/json', noCache);
      const sequential: unknown[] = [];
      for (const bytes of all) sequential.push((await post(bytes)).json);
      const before = { ...server.composed.deps.engine.counters };
      const concurrent = await Promise.all(all.map(post));
      const after = server.composed.deps.engine.counters;
      concurrent.forEach((res, i) => {
        expect(res.status).toBe(200);
        expectClose(res.json, sequential[i]);
      });
      expect(after.items - before.items).toBe(all.length);
      expect(after.batches - before.batches).toBeLessThan(all.length);
      for (const [i, bytes] of all.entries()) expectClose(sequential[i], await expected(bytes, 0.3));
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

  it('@huggingface/inference objectDetection (raw bytes; the client drops parameters)', async () => {
    const client = new InferenceClient('hf_test', { endpointUrl: url });
    for (const file of [files[0]!, files[1]!, files[3]!]) {
      const out = await client.objectDetection({ inputs: new Blob([file.bytes], { type: file.type }) });
      expectClose(out, await expected(file.bytes));
      const low = await client.objectDetection({ inputs: new Blob([file.bytes]), parameters: { threshold: 0.2 } });
      expectClose(low, await expected(file.bytes));
    }
    await expect(client.objectDetection({ inputs: new Blob([files[0]!.bytes.slice(0, 100)]) })).rejects.toThrow(/could not be decoded/);
  });

  it('refuses malformed requests with a 4xx naming the problem', async () => {
    const image = files[0]!.bytes;
    const withParams = (parameters: unknown, error: RegExp): Malformed => ({ json: { inputs: b64(image), parameters }, error });
    const cases: Malformed[] = [
      ...imageInputCases(image),
      withParams({ threshold: -0.1 }, /parameters\.threshold/),
      withParams({ threshold: 1.5 }, /parameters\.threshold/),
      withParams({ threshold: '0.5' }, /parameters\.threshold/),
      withParams({ threshold: null }, /parameters\.threshold/),
      withParams({ threshold: [0.5] }, /parameters\.threshold/),
      withParams({ threshold: true }, /parameters\.threshold/),
    ];
    expect(cases.length).toBeGreaterThanOrEqual(30);
    await expectRefused(url, cases);
  });
});
