import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { expectError, NO_CACHE, sequentialAndConcurrent, softmax, TEXTS } from './text-task-helpers.ts';

const MODEL = 'tiny/bert-nli';
const LABELS = ['music', 'sport', 'food', 'politics'];

interface ZeroShot {
  sequence: string;
  labels: string[];
  scores: number[];
}

describe('zero-shot-classification', () => {
  let server: TestServer;
  let url: string;
  const ref = () => reference('zero-shot-classification', MODEL);
  const post = (body: Record<string, unknown>) => postJson(url, { options: NO_CACHE, ...body });

  beforeAll(async () => {
    server = await startServer();
    url = `${server.url}/models/${MODEL}`;
  });
  afterAll(() => server.close());

  describe('parity with transformers.js', () => {
    it('matches transformers.js for single- and multi-label scoring and custom templates', async () => {
      const pipe = await ref();
      const variants: Record<string, unknown>[] = [
        {},
        { multi_label: false },
        { multi_label: true },
        { hypothesis_template: 'The topic of this text is {}.' },
        { hypothesis_template: '{} is what it is about', multi_label: true },
      ];
      for (const text of [TEXTS[0]!, TEXTS[2]!]) {
        for (const extra of variants) {
          const res = await post({ inputs: text, parameters: { candidate_labels: LABELS, ...extra } });
          expect(res.status, res.text).toBe(200);
          const expected = (await pipe(text, LABELS, extra)) as ZeroShot;
          expectClose(res.json, expected, 1e-4);
        }
      }
    });

    it('normalises scores over the labels unless multi_label is set', async () => {
      const single = await post({ inputs: TEXTS[4], parameters: { candidate_labels: LABELS } });
      const multi = await post({ inputs: TEXTS[4], parameters: { candidate_labels: LABELS, multi_label: true } });
      const sum = (r: typeof single) => (r.json as ZeroShot).scores.reduce((a, b) => a + b, 0);
      expect(sum(single)).toBeCloseTo(1, 5);
      expect(Math.abs(sum(multi) - 1)).toBeGreaterThan(1e-3);
      for (const r of [single, multi]) {
        const { labels, scores } = r.json as ZeroShot;
        expect([...labels].sort()).toEqual([...LABELS].sort());
        expect(scores).toEqual([...scores].sort((a, b) => b - a));
      }
    });

    it('scores each label against contradiction with multi_label (from the model logits)', async () => {
      const pipe = await ref();
      const config = pipe.model.config.label2id as Record<string, number>;
      const text = TEXTS[7]!;
      const expected = new Map<string, number>();
      for (const label of LABELS) {
        const { logits } = await pipe.model(pipe.tokenizer(text, { text_pair: `This example is ${label}.` }));
        const data = logits.data as Float32Array;
        expected.set(label, softmax([data[config.contradiction!]!, data[config.entailment!]!])[1]!);
      }
      const res = await post({ inputs: text, parameters: { candidate_labels: LABELS, multi_label: true } });
      const { labels, scores } = res.json as ZeroShot;
      labels.forEach((label, i) => expect(Math.abs(scores[i]! - expected.get(label)!)).toBeLessThan(1e-4));
    });

    it('takes candidate_labels as one comma-separated string (as the Hub widget sends them)', async () => {
      const pipe = await ref();
      const res = await post({ inputs: TEXTS[1], parameters: { candidate_labels: ' music, sport ,food,politics ' } });
      expect(res.status, res.text).toBe(200);
      expectClose(res.json, await pipe(TEXTS[1], LABELS), 1e-4);
    });

    it('uses a softmax over entailment vs contradiction for a single label', async () => {
      const pipe = await ref();
      const res = await post({ inputs: TEXTS[3], parameters: { candidate_labels: ['sport'] } });
      const expected = (await pipe(TEXTS[3], ['sport'])) as ZeroShot;
      expectClose(res.json, expected, 1e-4);
      expect(expected.scores[0]).toBeLessThan(1);
    });

    it('answers a list of inputs with one answer per input, each as the single answer', async () => {
      const pipe = await ref();
      const texts = TEXTS.slice(0, 3);
      const res = await post({ inputs: texts, parameters: { candidate_labels: LABELS } });
      expect(res.status).toBe(200);
      expect(res.json).toHaveLength(texts.length);
      for (const [i, text] of texts.entries()) expectClose(res.json[i], await pipe(text, LABELS), 1e-4);
    });

    it('gives the same answers to concurrent requests as one at a time', async () => {
      const pipe = await ref();
      const send = (i: number) => post({ inputs: TEXTS[i], parameters: { candidate_labels: LABELS } });
      const { one, all } = await sequentialAndConcurrent(server, send, TEXTS.length);
      for (const [i, text] of TEXTS.entries()) {
        expect(all[i]!.status).toBe(200);
        expectClose(all[i]!.json, one[i]!.json, 1e-5);
        expectClose(all[i]!.json, await pipe(text, LABELS), 1e-4);
      }
    });
  });

  describe('real @huggingface/inference client', () => {
    const client = new InferenceClient('hf_test');

    it('zeroShotClassification turns the answer into {label, score} pairs', async () => {
      for (const parameters of [{ candidate_labels: LABELS }, { candidate_labels: LABELS, multi_label: true, hypothesis_template: 'It is about {}.' }]) {
        const raw = await post({ inputs: TEXTS[5], parameters });
        expect(raw.status).toBe(200);
        const out = await client.zeroShotClassification({ endpointUrl: url, inputs: TEXTS[5]!, parameters });
        const { labels, scores } = raw.json as ZeroShot;
        expect(out).toEqual(labels.map((label, i) => ({ label, score: scores[i] })));
      }
    });
  });

  describe('bad inputs', () => {
    it('refuses missing or mistyped inputs', async () => {
      const parameters = { candidate_labels: LABELS };
      const cases: [unknown, RegExp][] = [
        [{ parameters }, /Missing "inputs"/],
        [{ inputs: 7, parameters }, /inputs/],
        [{ inputs: { text: 'x' }, parameters }, /inputs/],
        [{ inputs: '', parameters }, /inputs.*non-empty/],
        [{ inputs: [], parameters }, /inputs.*empty list/],
      ];
      for (const [body, message] of cases) expectError(await postJson(url, body), message);
    });

    it('refuses missing, empty or mistyped candidate_labels', async () => {
      const cases: [unknown, RegExp][] = [
        [undefined, /candidate_labels.*required/],
        [{}, /parameters\.candidate_labels.*required/],
        [{ candidate_labels: [] }, /parameters\.candidate_labels.*between 1 and 100/],
        [{ candidate_labels: '' }, /parameters\.candidate_labels.*between 1 and 100/],
        [{ candidate_labels: ' , ,' }, /parameters\.candidate_labels.*between 1 and 100/],
        [{ candidate_labels: [1, 2] }, /parameters\.candidate_labels/],
        [{ candidate_labels: ['ok', ''] }, /parameters\.candidate_labels/],
        [{ candidate_labels: 5 }, /parameters\.candidate_labels/],
        [{ candidate_labels: Array.from({ length: 101 }, (_, i) => `label ${i}`) }, /parameters\.candidate_labels.*between 1 and 100/],
      ];
      for (const [parameters, message] of cases) expectError(await postJson(url, { inputs: 'hello', parameters }), message);
    });

    it('refuses a hypothesis_template without {} and a non-boolean multi_label', async () => {
      const cases: [unknown, RegExp][] = [
        [{ hypothesis_template: 'This example is about' }, /parameters\.hypothesis_template.*\{\}/],
        [{ hypothesis_template: 3 }, /parameters\.hypothesis_template/],
        [{ multi_label: 'yes' }, /parameters\.multi_label/],
        [{ multi_label: 1 }, /parameters\.multi_label/],
      ];
      for (const [extra, message] of cases) {
        expectError(await postJson(url, { inputs: 'hello', parameters: { candidate_labels: LABELS, ...(extra as object) } }), message);
      }
    });
  });
});
