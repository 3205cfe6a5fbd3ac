import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { expectError, NO_CACHE, sequentialAndConcurrent, softmax, TEXTS } from './text-task-helpers.ts';

const MODEL = 'tiny/bert-sentiment';
const LID = 'facebook/fasttext-lid-176';

interface Label {
  label: string;
  score: number;
}

describe('text-classification', () => {
  let server: TestServer;
  let url: string;
  let numLabels: number;
  const ref = () => reference('text-classification', MODEL);
  const post = (body: Record<string, unknown>) => postJson(url, { options: NO_CACHE, ...body });

  /** transformers.js's logits for one text. */
  async function logits(text: string): Promise<number[]> {
    const pipe = await ref();
    const out = await pipe.model(pipe.tokenizer(text));
    return Array.from(out.logits.data as Float32Array);
  }

  beforeAll(async () => {
    server = await startServer();
    url = `${server.url}/models/${MODEL}`;
    numLabels = Object.keys((await ref()).model.config.id2label).length;
  });
  afterAll(() => server.close());

  describe('parity with transformers.js', () => {
    it('scores every label as transformers.js does (top_k = number of labels)', async () => {
      expect(numLabels).toBeGreaterThan(1);
      const pipe = await ref();
      for (const text of TEXTS.slice(0, 4)) {
        const res = await post({ inputs: text, parameters: { top_k: numLabels } });
        expect(res.status, res.text).toBe(200);
        // The wire shape is nested: one inner list per input.
        expect(res.json).toHaveLength(1);
        expectClose(res.json[0], await pipe(text, { top_k: numLabels }), 1e-4);
      }
    });

    it('returns every label, best first, when top_k is not given', async () => {
      const pipe = await ref();
      const res = await post({ inputs: TEXTS[0] });
      expectClose(res.json, [await pipe(TEXTS[0], { top_k: numLabels })], 1e-4);
      const scores = (res.json[0] as Label[]).map((l) => l.score);
      expect(scores.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    });

    it('keeps the best top_k labels', async () => {
      const pipe = await ref();
      const res = await post({ inputs: TEXTS[2], parameters: { top_k: 1 } });
      const best = (await pipe(TEXTS[2], { top_k: 1 })) as Label[];
      expectClose(res.json, [best], 1e-4);
      // top_k above the number of labels gives them all.
      const many = await post({ inputs: TEXTS[2], parameters: { top_k: numLabels + 5 } });
      expect(many.json[0]).toHaveLength(numLabels);
    });

    it('answers a list of inputs with one list per input, each as the single answer', async () => {
      const pipe = await ref();
      const texts = TEXTS.slice(0, 5);
      const res = await post({ inputs: texts, parameters: { top_k: numLabels } });
      expect(res.status).toBe(200);
      expect(res.json).toHaveLength(texts.length);
      for (const [i, text] of texts.entries()) expectClose(res.json[i], await pipe(text, { top_k: numLabels }), 1e-4);
    });

    it('gives the same answers to concurrent requests (batched, padded) as one at a time', async () => {
      const pipe = await ref();
      const send = (i: number) => post({ inputs: TEXTS[i], parameters: { top_k: numLabels } });
      const { one, all, batches } = await sequentialAndConcurrent(server, send, TEXTS.length);
      // The concurrent ones shared forward passes (otherwise this test would not test padding).
      expect(batches).toBeLessThan(TEXTS.length);
      for (const [i, text] of TEXTS.entries()) {
        expect(all[i]!.status).toBe(200);
        expectClose(all[i]!.json, one[i]!.json, 1e-5);
        expectClose(all[i]!.json[0], await pipe(text, { top_k: numLabels }), 1e-4);
      }
    });
  });

  describe('function_to_apply', () => {
    const expected = (raw: number[], fn: (row: number[]) => number[], labels: Record<string, string>) =>
      fn(raw)
        .map((score, i) => ({ label: labels[String(i)]!, score }))
        .sort((a, b) => b.score - a.score);

    it('applies softmax, sigmoid or nothing to the logits', async () => {
      const labels = (await ref()).model.config.id2label as Record<string, string>;
      for (const text of [TEXTS[0]!, TEXTS[4]!]) {
        const raw = await logits(text);
        const cases: [string, (row: number[]) => number[]][] = [
          ['softmax', softmax],
          ['sigmoid', (row) => row.map((x) => 1 / (1 + Math.exp(-x)))],
          ['none', (row) => row],
        ];
        const answers: Label[][] = [];
        for (const [fn, math] of cases) {
          const res = await post({ inputs: text, parameters: { function_to_apply: fn } });
          expect(res.status, res.text).toBe(200);
          expectClose(res.json[0], expected(raw, math, labels), 1e-4);
          answers.push(res.json[0]);
        }
        // The three really differ (so none of them is silently ignored).
        expect(answers[0]![0]!.score).not.toBeCloseTo(answers[1]![0]!.score, 3);
        expect(answers[1]![0]!.score).not.toBeCloseTo(answers[2]![0]!.score, 3);
      }
    });

    it('combines function_to_apply with top_k', async () => {
      const labels = (await ref()).model.config.id2label as Record<string, string>;
      const raw = await logits(TEXTS[3]!);
      const res = await post({ inputs: TEXTS[3], parameters: { function_to_apply: 'none', top_k: 1 } });
      expectClose(res.json, [expected(raw, (row) => row, labels).slice(0, 1)], 1e-4);
    });
  });

  describe('real @huggingface/inference client', () => {
    const client = new InferenceClient('hf_test');

    it('textClassification returns what the server answers', async () => {
      for (const parameters of [{ top_k: numLabels }, { top_k: 1, function_to_apply: 'sigmoid' as const }, undefined]) {
        const raw = await post({ inputs: TEXTS[1], parameters });
        const out = await client.textClassification({ endpointUrl: url, inputs: TEXTS[1]!, parameters });
        expect(out).toEqual(raw.json[0]);
      }
    });

    it('identifies languages with fastText through textClassification', async () => {
      const cases = {
        en: 'The children are playing in the garden while their parents cook dinner.',
        fr: 'Les enfants jouent dans le jardin pendant que leurs parents préparent le dîner.',
        de: 'Die Kinder spielen im Garten, während ihre Eltern das Abendessen kochen.',
        es: 'Los niños juegan en el jardín mientras sus padres preparan la cena.',
      };
      const endpointUrl = `${server.url}/models/${LID}`;
      for (const [lang, inputs] of Object.entries(cases)) {
        const out = await client.textClassification({ endpointUrl, inputs, parameters: { top_k: 3 } });
        expect(out).toHaveLength(3);
        expect(out[0]!.label).toBe(lang);
        expect(out[0]!.score).toBeGreaterThan(0.5);
        expect(out[0]!.score).toBeGreaterThanOrEqual(out[1]!.score);
      }
    });

    it('surfaces a refusal as an error that carries the server message', async () => {
      const error = await client
        .textClassification({ endpointUrl: url, inputs: 'hello', parameters: { top_k: 0 } })
        .then(() => undefined, (e: unknown) => e as Error);
      expect(error?.message).toMatch(/top_k/);
    });
  });

  describe('bad inputs', () => {
    it('refuses missing or mistyped inputs with a message naming them', async () => {
      const cases: [unknown, RegExp][] = [
        [{ parameters: { top_k: 1 } }, /Missing "inputs"/],
        [{ inputs: null }, /inputs/],
        [{ inputs: 42 }, /inputs/],
        [{ inputs: { text: 'hello' } }, /inputs/],
        [{ inputs: '' }, /inputs.*non-empty/],
        [{ inputs: '   ' }, /inputs.*non-empty/],
        [{ inputs: [] }, /inputs.*empty list/],
        [{ inputs: ['fine', 3] }, /inputs\.1: .*expected string/],
        [{ inputs: ['fine', ''] }, /inputs.*non-empty/],
      ];
      for (const [body, message] of cases) expectError(await postJson(url, body), message);
    });

    it('refuses bad parameters with a message naming the parameter', async () => {
      const cases: [unknown, RegExp][] = [
        [{ top_k: 0 }, /parameters\.top_k/],
        [{ top_k: -1 }, /parameters\.top_k/],
        [{ top_k: 'x' }, /parameters\.top_k/],
        [{ top_k: 1.5 }, /parameters\.top_k/],
        [{ function_to_apply: 'relu' }, /parameters\.function_to_apply/],
        [{ function_to_apply: 1 }, /parameters\.function_to_apply/],
      ];
      for (const [parameters, message] of cases) expectError(await postJson(url, { inputs: 'hello', parameters }), message);
      expectError(await postJson(url, { inputs: 'hello', parameters: 'top_k=1' }), /parameters/);
    });

    it('refuses bad inputs and parameters for the fastText model too', async () => {
      const lid = `${server.url}/models/${LID}`;
      expectError(await postJson(lid, { inputs: '' }), /inputs/);
      expectError(await postJson(lid, { inputs: [1] }), /inputs/);
      expectError(await postJson(lid, { inputs: 'hello', parameters: { top_k: 0 } }), /top_k/);
    });
  });
});
