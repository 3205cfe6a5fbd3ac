import { InferenceClient } from '@huggingface/inference';
import { RawImage } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { b64, expectRefused, imageFiles, imageInputCases, png, postBytes, type Bytes, type ImageFile, type Malformed } from './vision-helpers.ts';

const MODEL = 'tiny/vit-gpt2';

/**
 * transformers.js's image-to-text pipeline on the same bytes: its caption, and the token ids behind it (the same
 * model's generate on the pipeline's pixel values), checked to decode to that caption.
 */
async function expected(bytes: Bytes, maxNewTokens?: number): Promise<{ text: string; ids: number[] }> {
  const pipe = await reference('image-to-text', MODEL);
  const options = maxNewTokens === undefined ? {} : { max_new_tokens: maxNewTokens };
  const [out] = (await pipe(new Blob([bytes]), options)) as { generated_text: string }[];
  // The ids, from the same model's generate on the pipeline's own pixel values (the text is their decoding).
  const { pixel_values } = await (pipe as unknown as { processor: (image: RawImage) => Promise<{ pixel_values: unknown }> }).processor(await RawImage.fromBlob(new Blob([bytes])));
  const ids = ((await pipe.model.generate({ inputs: pixel_values, ...options })).tolist() as bigint[][])[0]!.map(Number);
  expect(pipe.tokenizer.decode(ids, { skip_special_tokens: true }).trim()).toBe(out!.generated_text);
  return { text: out!.generated_text, ids };
}

describe('image-to-text', () => {
  let server: TestServer;
  let url: string;
  let files: ImageFile[];

  beforeAll(async () => {
    server = await startServer({ batchWaitMs: 10 });
    url = `${server.url}/models/${MODEL}`;
    files = await imageFiles();
  });
  afterAll(() => server.close());

  it('gives the pipeline\'s caption, text and tokens exactly, as {generated_text}', async () => {
    const captions = new Set<string>();
    for (const file of files) {
      for (const maxNewTokens of [undefined, 5, 30]) {
        const want = await expected(file.bytes, maxNewTokens);
        captions.add(want.text);
        // The start token, then the generated ones: 19 by default (generation_config max_length 20) or as asked.
        expect(want.ids.length - 1).toBe(maxNewTokens ?? 19);
        const parameters = maxNewTokens === undefined ? {} : { max_new_tokens: maxNewTokens };
        const answers = [
          ...(maxNewTokens === undefined ? [await postBytes(url, file.bytes, file.type), await postBytes(url, file.bytes)] : []),
          await postJson(url, { inputs: b64(file.bytes), parameters }),
          await postJson(url, { inputs: { image: b64(file.bytes) }, parameters: maxNewTokens === undefined ? {} : { generation_parameters: { max_new_tokens: maxNewTokens } } }),
        ];
        for (const [i, res] of answers.entries()) {
          expect(res.status, `${file.name} n=${maxNewTokens} #${i}: ${res.text}`).toBe(200);
          expect(res.json).toEqual({ generated_text: want.text });
        }
      }
    }
    expect(captions.size).toBe(files.length * 3);
  });

  it('max_length counts the start token; generation_parameters wins over the top level', async () => {
    const file = files[1]!;
    const want = await expected(file.bytes, 7);
    for (const parameters of [{ generation_parameters: { max_length: 8 } }, { max_new_tokens: 20, generation_parameters: { max_new_tokens: 7 } }]) {
      const res = await postJson(url, { inputs: b64(file.bytes), parameters });
      expect(res.json, JSON.stringify(parameters)).toEqual({ generated_text: want.text });
    }
  });

  it('answers concurrent requests as it answers them one by one, sharing generation passes', async () => {
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
    expect(after.batches - before.batches).toBeLessThan(all.length);
    for (const [i, bytes] of all.entries()) expect(sequential[i]).toEqual({ generated_text: (await expected(bytes)).text });
  });

  it('@huggingface/inference imageToText', async () => {
    const client = new InferenceClient('hf_test', { endpointUrl: url });
    for (const file of [files[0]!, files[3]!, files[4]!]) {
      const out = await client.imageToText({ data: new Blob([file.bytes], { type: file.type }) });
      expect(out).toEqual({ generated_text: (await expected(file.bytes)).text });
    }
    await expect(client.imageToText({ data: new Blob([files[0]!.bytes.slice(0, 100)]) })).rejects.toThrow(/could not be decoded/);
  });

  it('refuses malformed requests with a 4xx naming the problem', async () => {
    const image = files[0]!.bytes;
    const withParams = (parameters: unknown, error: RegExp): Malformed => ({ json: { inputs: b64(image), parameters }, error });
    const cases: Malformed[] = [
      ...imageInputCases(image),
      withParams({ max_new_tokens: 0 }, /parameters\.max_new_tokens/),
      withParams({ max_new_tokens: 1000 }, /parameters\.max_new_tokens/),
      withParams({ max_new_tokens: 2.5 }, /parameters\.max_new_tokens/),
      withParams({ max_new_tokens: '5' }, /parameters\.max_new_tokens/),
      withParams({ generation_parameters: 'greedy' }, /parameters\.generation_parameters/),
      withParams({ generation_parameters: { max_length: 1 } }, /parameters\.generation_parameters\.max_length/),
      withParams({ generation_parameters: { do_sample: true } }, /do_sample: sampling is not available/),
      withParams({ generation_parameters: { num_beams: 4 } }, /num_beams: beam search is not available/),
    ];
    expect(cases.length).toBeGreaterThanOrEqual(30);
    await expectRefused(url, cases);
  });
});
