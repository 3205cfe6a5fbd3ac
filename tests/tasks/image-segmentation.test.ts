import { InferenceClient } from '@huggingface/inference';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { b64, expectRefused, imageFiles, imageInputCases, png, postBytes, type Bytes, type ImageFile, type Malformed } from './vision-helpers.ts';

const MODEL = 'tiny/segformer';
const LABELS = ['background', 'person', 'car', 'road', 'sky', 'tree'];

interface Segment {
  label: string;
  score?: number | null;
  mask: string;
}

/** A segment as compared: its label and its mask's size and pixels. */
interface Plain {
  label: string;
  width: number;
  height: number;
  pixels: number[];
}

/** transformers.js's image-segmentation pipeline on the same bytes, masks as plain pixel lists. */
async function expected(bytes: Bytes): Promise<Plain[]> {
  const pipe = await reference('image-segmentation', MODEL);
  const out = (await pipe(new Blob([bytes]))) as { label: string; score: null; mask: { width: number; height: number; channels: number; data: Uint8ClampedArray } }[];
  return out.map((s) => {
    expect(s.score).toBeNull();
    expect(s.mask.channels).toBe(1);
    return { label: s.label, width: s.mask.width, height: s.mask.height, pixels: Array.from(s.mask.data) };
  });
}

/** The answer's segments with their PNG masks decoded (pngjs gives RGBA; a grey PNG has R = G = B). */
function decode(answer: unknown): Plain[] {
  return (answer as Segment[]).map((s) => {
    expect(Object.keys(s).sort()).toEqual(['label', 'mask']);
    const image = PNG.sync.read(Buffer.from(s.mask, 'base64'));
    const pixels = Array.from({ length: image.width * image.height }, (_, i) => image.data[i * 4]!);
    return { label: s.label, width: image.width, height: image.height, pixels };
  });
}

async function expectSame(answer: unknown, bytes: Bytes): Promise<void> {
  expect(decode(answer)).toEqual(await expected(bytes));
}

describe('image-segmentation', () => {
  let server: TestServer;
  let url: string;
  let files: ImageFile[];

  beforeAll(async () => {
    server = await startServer({ batchWaitMs: 10 });
    url = `${server.url}/models/${MODEL}`;
    files = await imageFiles();
  });
  afterAll(() => server.close());

  it('gives the pipeline\'s segments: same labels, the same masks pixel for pixel, at the image\'s size', async () => {
    const distinct = new Set<string>();
    for (const file of files) {
      const want = await expected(file.bytes);
      // Several labels win somewhere, every pixel belongs to exactly one segment, and masks are 0 or 255.
      expect(want.length, file.name).toBeGreaterThan(1);
      for (const s of want) expect(LABELS).toContain(s.label);
      const covered = want.reduce((n, s) => n + s.pixels.filter((p) => p === 255).length, 0);
      expect(covered).toBe(want[0]!.width * want[0]!.height);
      expect(want.every((s) => s.pixels.every((p) => p === 0 || p === 255))).toBe(true);
      distinct.add(JSON.stringify(want.map((s) => s.pixels.slice(0, 40))));
      const answers = [
        await postBytes(url, file.bytes, file.type),
        await postBytes(url, file.bytes),
        await postJson(url, { inputs: b64(file.bytes) }),
        await postJson(url, { inputs: { image: b64(file.bytes) }, parameters: { subtask: 'semantic', threshold: 0.2 } }),
      ];
      for (const res of answers) {
        expect(res.status, `${file.name}: ${res.text.slice(0, 200)}`).toBe(200);
        await expectSame(res.json, file.bytes);
      }
    }
    expect(distinct.size).toBe(files.length);
  });

  it('answers the same on the /pipeline and hf-inference routes', async () => {
    for (const route of [`/pipeline/image-segmentation/${MODEL}`, `/hf-inference/models/${MODEL}`]) {
      const res = await postBytes(`${server.url}${route}`, files[3]!.bytes, files[3]!.type);
      expect(res.status, route).toBe(200);
      await expectSame(res.json, files[3]!.bytes);
    }
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
      expect(res.json).toEqual(sequential[i]);
    });
    expect(after.items - before.items).toBe(all.length);
    expect(after.batches - before.batches).toBeLessThan(all.length);
    for (const [i, bytes] of all.entries()) await expectSame(sequential[i], bytes);
  });

  it('@huggingface/inference imageSegmentation', async () => {
    const client = new InferenceClient('hf_test', { endpointUrl: url });
    for (const file of [files[0]!, files[1]!, files[4]!]) {
      const out = await client.imageSegmentation({ inputs: new Blob([file.bytes], { type: file.type }) });
      await expectSame(out, file.bytes);
    }
    await expect(client.imageSegmentation({ inputs: new Blob([files[0]!.bytes.slice(0, 100)]) })).rejects.toThrow(/could not be decoded/);
  });

  it('refuses malformed requests with a 4xx naming the problem', async () => {
    const image = files[0]!.bytes;
    const withParams = (parameters: unknown, error: RegExp): Malformed => ({ json: { inputs: b64(image), parameters }, error });
    const cases: Malformed[] = [
      ...imageInputCases(image),
      withParams({ subtask: 'instance' }, /subtask.*semantic segmentation only.*"instance"/),
      withParams({ subtask: 'panoptic' }, /subtask.*"panoptic"/),
      withParams({ subtask: 'depth' }, /parameters\.subtask/),
      withParams({ subtask: 3 }, /parameters\.subtask/),
      withParams({ threshold: 1.5 }, /parameters\.threshold/),
      withParams({ threshold: '0.5' }, /parameters\.threshold/),
      withParams({ mask_threshold: -1 }, /parameters\.mask_threshold/),
      withParams({ overlap_mask_area_threshold: null }, /parameters\.overlap_mask_area_threshold/),
    ];
    expect(cases.length).toBeGreaterThanOrEqual(30);
    await expectRefused(url, cases);
  });
});
