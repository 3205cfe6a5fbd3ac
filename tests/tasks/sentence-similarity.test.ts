import { cos_sim } from '@huggingface/transformers';
import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';

const MODEL = 'tiny/minilm-embed';
const SOURCE = 'A man is playing a guitar.';
const SENTENCES = [
  'A man is playing a guitar.',
  'Someone plays an instrument on stage.',
  'The stock market fell sharply today.',
  'Héllo wörld — naïve café!',
  'cats',
];
const LONG = Array.from({ length: 700 }, (_, i) => `word${i % 37}`).join(' ');

/** Cosine similarity of transformers.js's mean-pooled embeddings of the source and each sentence. */
async function expected(source: string, sentences: string[]): Promise<number[]> {
  const pipe = await reference('feature-extraction', MODEL);
  const vectors = (await pipe([source, ...sentences], { pooling: 'mean', normalize: false })).tolist() as number[][];
  return vectors.slice(1).map((v) => cos_sim(vectors[0]!, v));
}

describe('sentence-similarity', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  describe('parity with transformers.js', () => {
    it('scores each sentence by the cosine of mean-pooled embeddings, on every route', async () => {
      const want = await expected(SOURCE, SENTENCES);
      const body = { inputs: { source_sentence: SOURCE, sentences: SENTENCES } };
      const routes = [
        `/models/${MODEL}`,
        `/models/${MODEL}/pipeline/sentence-similarity`,
        `/pipeline/sentence-similarity/${MODEL}`,
        `/hf-inference/models/${MODEL}/pipeline/sentence-similarity`,
      ];
      for (const route of routes) {
        const res = await postJson(`${server.url}${route}`, body);
        expect(res.status, route).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(res.json).toHaveLength(SENTENCES.length);
        expect(res.json.every((x: unknown) => typeof x === 'number')).toBe(true);
        expectClose(res.json, want);
      }
      // The identical sentence scores 1; the scores are not all the same.
      expect(want[0]).toBeCloseTo(1, 5);
      expect(new Set(want.map((x) => x.toFixed(4))).size).toBeGreaterThan(1);
    });

    it('handles one sentence, many sentences and sentences longer than the model takes', async () => {
      const many = Array.from({ length: 40 }, (_, i) => `sentence number ${i} about ${['cats', 'dogs', 'rain', 'music'][i % 4]}`);
      for (const [source, sentences] of [
        ['cats', ['dogs']],
        [SOURCE, many],
        [LONG, [LONG, SOURCE, `${LONG} more`]],
      ] as [string, string[]][]) {
        const res = await postJson(`${server.url}/models/${MODEL}`, { inputs: { source_sentence: source, sentences } });
        expect(res.status).toBe(200);
        expectClose(res.json, await expected(source, sentences));
      }
    });

    it('is not changed by feature-extraction options such as normalize or pooling', async () => {
      const res = await postJson(`${server.url}/models/${MODEL}`, {
        inputs: { source_sentence: SOURCE, sentences: SENTENCES },
        normalize: false,
        parameters: { pooling: 'cls' },
      });
      expect(res.status).toBe(200);
      expectClose(res.json, await expected(SOURCE, SENTENCES));
    });
  });

  describe('batching', () => {
    it('answers concurrent requests as it answers them one by one', async () => {
      const bodies = Array.from({ length: 10 }, (_, i) => ({
        inputs: { source_sentence: `${SOURCE} ${i}`, sentences: SENTENCES.slice(0, 1 + (i % SENTENCES.length)) },
      }));
      const noCache = { 'x-use-cache': 'false' };
      const sequential = [];
      for (const body of bodies) sequential.push((await postJson(`${server.url}/models/${MODEL}`, body, noCache)).json);
      const concurrent = await Promise.all(bodies.map((body) => postJson(`${server.url}/models/${MODEL}`, body, noCache)));
      for (const [i, res] of concurrent.entries()) {
        expect(res.status).toBe(200);
        expectClose(res.json, sequential[i]);
        expectClose(res.json, await expected(bodies[i]!.inputs.source_sentence, bodies[i]!.inputs.sentences));
      }
    });
  });

  describe('@huggingface/inference client', () => {
    it('sentenceSimilarity with endpointUrl', async () => {
      const client = new InferenceClient('hf_test', { endpointUrl: `${server.url}/models/${MODEL}` });
      const scores = await client.sentenceSimilarity({ inputs: { source_sentence: SOURCE, sentences: SENTENCES } });
      expectClose(scores, await expected(SOURCE, SENTENCES));
      await expect(client.sentenceSimilarity({ inputs: { source_sentence: SOURCE, sentences: [] } })).rejects.toThrow(/sentences/);
    });
  });

  describe('bad inputs', () => {
    it('answers 400 with a JSON {"error"} that names the problem', async () => {
      const similarity = `${server.url}/models/${MODEL}/pipeline/sentence-similarity`;
      const byShape = `${server.url}/models/${MODEL}`;
      const cases: [string, unknown, RegExp][] = [
        [byShape, { inputs: { source_sentence: SOURCE } }, /sentences/],
        [byShape, { inputs: { source_sentence: SOURCE, sentences: [] } }, /sentences.*at least one/],
        [byShape, { inputs: { source_sentence: SOURCE, sentences: 'one sentence' } }, /sentences/],
        [byShape, { inputs: { source_sentence: SOURCE, sentences: ['ok', ''] } }, /sentences\.1/],
        [byShape, { inputs: { source_sentence: SOURCE, sentences: ['ok', 7] } }, /sentences\.1/],
        [byShape, { inputs: { source_sentence: '', sentences: ['ok'] } }, /source_sentence/],
        [byShape, { inputs: { source_sentence: 3, sentences: ['ok'] } }, /source_sentence/],
        [byShape, { inputs: { source_sentence: SOURCE, sentences: Array.from({ length: 257 }, () => 'x') } }, /sentences/],
        [byShape, { inputs: { source_sentence: SOURCE, sentences: ['ok'] }, stream: true }, /stream.*text-generation/],
        [similarity, { inputs: SOURCE }, /source_sentence/],
        [similarity, { inputs: { sentences: ['ok'] } }, /source_sentence/],
        [similarity, { inputs: [SOURCE, 'ok'] }, /source_sentence/],
        [similarity, {}, /Missing "inputs"/],
        [`${server.url}/models/tiny/gpt2/pipeline/sentence-similarity`, { inputs: { source_sentence: 'a', sentences: ['b'] } }, /does not support task sentence-similarity/],
      ];
      for (const [url, body, message] of cases) {
        const res = await postJson(url, body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(typeof res.json.error).toBe('string');
        expect(res.json.error, JSON.stringify(body)).toMatch(message);
      }
      const empty = await fetch(similarity, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '' });
      expect(empty.status).toBe(400);
      expect(((await empty.json()) as { error: string }).error).toMatch(/empty/);
    });
  });
});
