import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { b64, expectRefused, imageFiles, imageInputCases, png, postBytes, type Bytes, type ImageFile, type Malformed } from './vision-helpers.ts';

const MODEL = 'tiny/dpt';

interface Depth {
  predicted_depth: number[][];
  depth: string;
}

/** transformers.js's depth-estimation pipeline on the same bytes: the depth as lists and the grey image's pixels. */
async function expected(bytes: Bytes): Promise<{ predicted: number[][]; width: number; height: number; pixels: number[] }> {
  const pipe = await reference('depth-estimation', MODEL);
  const out = await pipe(new Blob([bytes]));
  return { predicted: out.predicted_depth.tolist(), width: out.depth.width, height: out.depth.height, pixels: Array.from(out.depth.data as Uint8Array) };
}

/** The answer's PNG decoded: its size and grey values (one channel of the RGBA pngjs gives). */
function decodeDepth(answer: Depth): { width: number; height: number; pixels: number[] } {
  const image = PNG.sync.read(Buffer.from(answer.depth, 'base64'));
  const pixels = Array.from({ length: image.width * image.height }, (_, i) => image.data[i * 4]!);
  return { width: image.width, height: image.height, pixels };
}

async function expectSame(answer: unknown, bytes: Bytes): Promise<void> {
  const want = await expected(bytes);
  const got = answer as Depth;
  expectClose(got.predicted_depth, want.predicted);
  const image = decodeDepth(got);
  expect([image.width, image.height]).toEqual([want.width, want.height]);
  // The PNG is scaled from the same floats: exact, but a value at a rounding edge may differ by one step.
  const off = image.pixels.filter((p, i) => Math.abs(p - want.pixels[i]!) > 1).length;
  expect(off).toBe(0);
}

describe('depth-estimation', () => {
  let server: TestServer;
  let url: string;
  let files: ImageFile[];

  beforeAll(async () => {
    server = await startServer({ batchWaitMs: 10 });
    url = `${server.url}/models/${MODEL}`;
    files = await imageFiles();
  });
  afterAll(() => server.close());

  it('gives the pipeline\'s predicted_depth at the image\'s size and its depth map as a PNG', async () => {
    const distinct = new Set<string>();
    for (const file of files) {
      const want = await expected(file.bytes);
      expect(want.predicted.length).toBe(want.height);
      expect(want.predicted[0]!.length).toBe(want.width);
      distinct.add(JSON.stringify(want.predicted[0]!.slice(0, 4)));
      const answers = [await postBytes(url, file.bytes, file.type), await postBytes(url, file.bytes), await postJson(url, { inputs: b64(file.bytes) }), await postJson(url, { inputs: { image: b64(file.bytes) } })];
      for (const res of answers) {
        expect(res.status, `${file.name}: ${res.text.slice(0, 200)}`).toBe(200);
        await expectSame(res.json, file.bytes);
      }
      // The map spans 0..255 (scaled between its own minimum and maximum; uint8 conversion truncates 254.99).
      const pixels = decodeDepth(answers[0]!.json as Depth).pixels;
      expect(Math.min(...pixels)).toBe(0);
      expect(Math.max(...pixels)).toBeGreaterThanOrEqual(254);
    }
    expect(distinct.size).toBe(files.length);
  });

  it('answers the same on the /pipeline route', async () => {
    const res = await postBytes(`${server.url}/pipeline/depth-estimation/${MODEL}`, files[2]!.bytes);
    expect(res.status).toBe(200);
    await expectSame(res.json, files[2]!.bytes);
  });

  it('answers concurrent requests as it answers them one by one, sharing forward passes', async () => {
    const extra = await Promise.all([6, 7, 8].map((s) => png(24 + s * 5, 20 + s, s)));
    const all = [...files.map((f) => f.bytes), ...extra, ...files.map((f) => f.bytes)];
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
    expect(after.batches - before.batches).toBeLessThan(all.length);
    for (const [i, bytes] of all.entries()) await expectSame(sequential[i], bytes);
  });

  it('refuses malformed requests with a 4xx naming the problem', async () => {
    const cases: Malformed[] = imageInputCases(files[0]!.bytes);
    expect(cases.length).toBeGreaterThanOrEqual(30);
    await expectRefused(url, cases);
  });
});
