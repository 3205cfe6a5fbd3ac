import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { b64, expectRefused, imageFiles, imageInputCases, png, postBytes, type Bytes, type ImageFile, type Malformed } from './vision-helpers.ts';

const MODEL = 'tiny/vit-features';

/** transformers.js's image-feature-extraction pipeline on the same bytes, as nested lists. */
async function expected(bytes: Bytes, pool = false): Promise<number[][] | number[][][]> {
  const pipe = await reference('image-feature-extraction', MODEL);
  return (await pipe(new Blob([bytes]), { pool })).tolist();
}

describe('image-feature-extraction', () => {
  let server: TestServer;
  let url: string;
  let files: ImageFile[];

  beforeAll(async () => {
    server = await startServer({ batchWaitMs: 10 });
    url = `${server.url}/models/${MODEL}`;
    files = await imageFiles();
  });
  afterAll(() => server.close());

  it('gives the pipeline\'s hidden states [1, 17, 32], or the pooled output [1, 32] with pool', async () => {
    const distinct = new Set<string>();
    for (const file of files) {
      const states = await expected(file.bytes);
      const pooled = await expected(file.bytes, true);
      expect([states.length, states[0]!.length, (states[0] as number[][])[0]!.length]).toEqual([1, 17, 32]);
      expect([pooled.length, pooled[0]!.length]).toEqual([1, 32]);
      distinct.add(JSON.stringify(pooled[0]!.slice(0, 3)));
      for (const res of [await postBytes(url, file.bytes, file.type), await postBytes(url, file.bytes), await postJson(url, { inputs: b64(file.bytes) })]) {
        expect(res.status, `${file.name}: ${res.text.slice(0, 200)}`).toBe(200);
        expectClose(res.json, states);
      }
      const res = await postJson(url, { inputs: { image: b64(file.bytes) }, parameters: { pool: true } });
      expect(res.status).toBe(200);
      expectClose(res.json, pooled);
    }
    expect(distinct.size).toBe(files.length);
  });

  it('answers the same on the /pipeline route', async () => {
    const res = await postBytes(`${server.url}/models/${MODEL}/pipeline/image-feature-extraction`, files[1]!.bytes);
    expect(res.status).toBe(200);
    expectClose(res.json, await expected(files[1]!.bytes));
  });

  it('answers concurrent requests as it answers them one by one, sharing forward passes', async () => {
    const extra = await Promise.all([6, 7, 8, 9].map((s) => png(20 + s * 4, 30, s)));
    const all = [...files.map((f) => f.bytes), ...extra, ...files.map((f) => f.bytes)];
    const noCache = { 'x-use-cache': 'false' };
    const post = (bytes: Bytes, i: number) => postJson(url, { inputs: b64(bytes), parameters: { pool: i % 2 === 0 } }, noCache);
    const sequential: unknown[] = [];
    for (const [i, bytes] of all.entries()) sequential.push((await post(bytes, i)).json);
    const before = { ...server.composed.deps.engine.counters };
    const concurrent = await Promise.all(all.map(post));
    const after = server.composed.deps.engine.counters;
    concurrent.forEach((res, i) => {
      expect(res.status).toBe(200);
      expectClose(res.json, sequential[i]);
    });
    expect(after.batches - before.batches).toBeLessThan(all.length);
    for (const [i, bytes] of all.entries()) expectClose(sequential[i], await expected(bytes, i % 2 === 0));
  });

  it('@huggingface/inference featureExtraction with base64 image inputs', async () => {
    const client = new InferenceClient('hf_test', { endpointUrl: url });
    for (const file of [files[0]!, files[3]!]) {
      const out = await client.featureExtraction({ inputs: b64(file.bytes) });
      expectClose(out, await expected(file.bytes));
      const pooled = await client.featureExtraction({ inputs: b64(file.bytes), parameters: { pool: true } as Record<string, unknown> });
      expectClose(pooled, await expected(file.bytes, true));
    }
    await expect(client.featureExtraction({ inputs: b64(files[0]!.bytes.slice(0, 50)) })).rejects.toThrow(/could not be decoded/);
  });

  it('refuses malformed requests with a 4xx naming the problem', async () => {
    const image = files[0]!.bytes;
    const withParams = (parameters: unknown): Malformed => ({ json: { inputs: b64(image), parameters }, error: /parameters\.pool/ });
    const cases: Malformed[] = [...imageInputCases(image), ...[{ pool: 'yes' }, { pool: 1 }, { pool: null }, { pool: [true] }].map(withParams)];
    expect(cases.length).toBeGreaterThanOrEqual(30);
    await expectRefused(url, cases);
  });
});
