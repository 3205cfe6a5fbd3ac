import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { b64, expectRefused, imageFiles, imageInputCases, type Bytes, type ImageFile, type Malformed } from './vision-helpers.ts';

const MODEL = 'tiny/clip';
const LABELS = ['cat', 'dog', 'a red car parked outside', 'bird'];

interface Label {
  label: string;
  score: number;
}

/** transformers.js's zero-shot-image-classification pipeline on the same bytes and labels. */
async function expected(bytes: Bytes, labels: string[], template?: string): Promise<Label[]> {
  const pipe = await reference('zero-shot-image-classification', MODEL);
  return pipe(new Blob([bytes]), labels, template === undefined ? {} : { hypothesis_template: template });
}

describe('zero-shot-image-classification', () => {
  let server: TestServer;
  let url: string;
  let files: ImageFile[];

  beforeAll(async () => {
    server = await startServer({ batchWaitMs: 10 });
    url = `${server.url}/models/${MODEL}`;
    files = await imageFiles();
  });
  afterAll(() => server.close());

  it('scores every candidate label as the pipeline does, with the default and a given template', async () => {
    const distinct = new Set<string>();
    for (const file of files) {
      for (const template of [undefined, 'a picture showing {}, taken outdoors']) {
        const want = await expected(file.bytes, LABELS, template);
        expect(want.map((l) => l.label).sort()).toEqual([...LABELS].sort());
        distinct.add(JSON.stringify(want));
        const parameters = { candidate_labels: LABELS, ...(template ? { hypothesis_template: template } : {}) };
        for (const inputs of [b64(file.bytes), { image: b64(file.bytes) }, `data:${file.type};base64,${b64(file.bytes)}`]) {
          const res = await postJson(url, { inputs, parameters });
          expect(res.status, `${file.name}: ${res.text}`).toBe(200);
          expectClose(res.json, want);
        }
      }
    }
    expect(distinct.size).toBe(files.length * 2);
  });

  it('takes the labels as one comma-separated string (the Hub widget\'s form)', async () => {
    const res = await postJson(url, { inputs: b64(files[1]!.bytes), parameters: { candidate_labels: 'cat, dog,bird' } });
    expect(res.status).toBe(200);
    expectClose(res.json, await expected(files[1]!.bytes, ['cat', 'dog', 'bird']));
  });

  it('answers concurrent requests as it answers them one by one, sharing forward passes per label set', async () => {
    const sets = [LABELS, ['sun', 'moon']];
    const calls = [...files, ...files, ...files].map((f, i) => ({ bytes: f.bytes, labels: sets[i % 2]! }));
    const noCache = { 'x-use-cache': 'false' };
    const post = (c: { bytes: Bytes; labels: string[] }) => postJson(url, { inputs: b64(c.bytes), parameters: { candidate_labels: c.labels } }, noCache);
    const sequential: unknown[] = [];
    for (const c of calls) sequential.push((await post(c)).json);
    const before = { ...server.composed.deps.engine.counters };
    const concurrent = await Promise.all(calls.map(post));
    const after = server.composed.deps.engine.counters;
    concurrent.forEach((res, i) => {
      expect(res.status).toBe(200);
      expectClose(res.json, sequential[i]);
    });
    expect(after.batches - before.batches).toBeLessThan(calls.length);
    for (const [i, c] of calls.entries()) expectClose(sequential[i], await expected(c.bytes, c.labels));
  });

  it('@huggingface/inference zeroShotImageClassification', async () => {
    const client = new InferenceClient('hf_test', { endpointUrl: url });
    for (const file of [files[0]!, files[3]!]) {
      const out = await client.zeroShotImageClassification({ inputs: { image: new Blob([file.bytes], { type: file.type }) }, parameters: { candidate_labels: LABELS } });
      expectClose(out, await expected(file.bytes, LABELS));
    }
    await expect(client.zeroShotImageClassification({ inputs: { image: new Blob([files[0]!.bytes]) }, parameters: { candidate_labels: [] } })).rejects.toThrow(/candidate_labels/);
  });

  it('refuses malformed requests with a 4xx naming the problem', async () => {
    const image = files[0]!.bytes;
    const withParams = (parameters: unknown, error: RegExp): Malformed => ({ json: { inputs: b64(image), parameters }, error });
    const cases: Malformed[] = [
      ...imageInputCases(image, { parameters: { candidate_labels: LABELS }, rawError: /candidate_labels/ }),
      withParams({}, /parameters\.candidate_labels.*required/),
      withParams({ candidate_labels: [] }, /parameters\.candidate_labels.*between 1 and 100/),
      withParams({ candidate_labels: '' }, /parameters\.candidate_labels/),
      withParams({ candidate_labels: ' , ,' }, /parameters\.candidate_labels/),
      withParams({ candidate_labels: ['cat', ''] }, /parameters\.candidate_labels\.1/),
      withParams({ candidate_labels: ['cat', 3] }, /parameters\.candidate_labels/),
      withParams({ candidate_labels: 7 }, /parameters\.candidate_labels/),
      withParams({ candidate_labels: Array.from({ length: 101 }, (_, i) => `l${i}`) }, /between 1 and 100/),
      withParams({ candidate_labels: LABELS, hypothesis_template: 'no placeholder' }, /parameters\.hypothesis_template.*\{\}/),
      withParams({ candidate_labels: LABELS, hypothesis_template: 5 }, /parameters\.hypothesis_template/),
    ];
    // The raw-body form cannot carry labels: it is refused, naming them.
    cases.push({ raw: image, type: 'image/png', status: 400, error: /candidate_labels/ });
    expect(cases.length).toBeGreaterThanOrEqual(30);
    await expectRefused(url, cases);
  });
});
