import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { expectError, NO_CACHE, sequentialAndConcurrent, softmax } from './text-task-helpers.ts';

const MODEL = 'tiny/bert-mlm';

interface Fill {
  score: number;
  token: number;
  token_str: string;
  sequence: string;
}

/** Masked texts of different lengths (so a batch of them needs padding), the mask anywhere in the sentence. */
const MASKED = [
  'The [MASK] is near the river.',
  '[MASK] walked to school every morning while their father was working in the field.',
  'I love [MASK].',
  'My brother lives in Paris and his friend works in [MASK].',
  'What a great day for a [MASK] in the sea!',
  'The old man told a long story about the mountain, the forest and the [MASK] that live there.',
  'She found an answer to the [MASK] in the book.',
  'Cold rain [MASK] today',
  '[MASK]',
  'Music is the best [MASK] in the world, and the best thing in life.',
];

describe('fill-mask', () => {
  let server: TestServer;
  let url: string;
  const ref = () => reference('fill-mask', MODEL);
  const post = (body: Record<string, unknown>) => postJson(url, { options: NO_CACHE, ...body });

  /** Every token's probability at the mask, and the input ids, from transformers.js's model. */
  async function maskProbabilities(text: string): Promise<{ probs: number[]; ids: number[]; position: number }> {
    const pipe = await ref();
    const encoded = pipe.tokenizer(text);
    const ids = (encoded.input_ids.tolist() as bigint[][])[0]!.map(Number);
    const position = ids.indexOf(pipe.tokenizer.mask_token_id as number);
    const { logits } = await pipe.model(encoded);
    const vocab = logits.dims[2] as number;
    return { probs: softmax((logits.data as Float32Array).subarray(position * vocab, (position + 1) * vocab)), ids, position };
  }

  /** What fill-mask must answer for these candidate token ids, best first. */
  async function expectedFor(text: string, tokens: number[], topK: number): Promise<Fill[]> {
    const pipe = await ref();
    const { probs, ids, position } = await maskProbabilities(text);
    return [...new Set(tokens)]
      .map((token) => {
        const filled = ids.slice();
        filled[position] = token;
        return {
          score: probs[token]!,
          token,
          token_str: pipe.tokenizer.decode([token]) as string,
          sequence: pipe.tokenizer.decode(filled, { skip_special_tokens: true }) as string,
        };
      })
      .sort((a, b) => b.score - a.score)
      .slice(0, topK);
  }

  async function vocabId(token: string): Promise<number> {
    const vocab = (await ref()).tokenizer.get_vocab() as Map<string, number> | Record<string, number>;
    const id = vocab instanceof Map ? vocab.get(token) : vocab[token];
    expect(id, token).toBeTypeOf('number');
    return id!;
  }

  beforeAll(async () => {
    server = await startServer();
    url = `${server.url}/models/${MODEL}`;
  });
  afterAll(() => server.close());

  describe('parity with transformers.js', () => {
    it('matches transformers.js with the default top_k (5)', async () => {
      const pipe = await ref();
      for (const text of MASKED.slice(0, 4)) {
        const res = await post({ inputs: text });
        expect(res.status, res.text).toBe(200);
        expect(res.json).toHaveLength(5);
        expectClose(res.json, await pipe(text), 1e-4);
      }
    });

    it('matches transformers.js for other top_k values', async () => {
      const pipe = await ref();
      for (const top_k of [1, 3, 12, 40]) {
        const res = await post({ inputs: MASKED[4], parameters: { top_k } });
        expect(res.json).toHaveLength(top_k);
        expectClose(res.json, await pipe(MASKED[4], { top_k }), 1e-4);
      }
    });

    it('answers a list of inputs with one list per input, each as the single answer', async () => {
      const pipe = await ref();
      const texts = MASKED.slice(0, 5);
      const res = await post({ inputs: texts, parameters: { top_k: 3 } });
      expect(res.status).toBe(200);
      expect(res.json).toHaveLength(texts.length);
      for (const [i, text] of texts.entries()) expectClose(res.json[i], await pipe(text, { top_k: 3 }), 1e-4);
    });

    it('gives the same answers to concurrent requests (batched, padded) as one at a time', async () => {
      const pipe = await ref();
      const send = (i: number) => post({ inputs: MASKED[i], parameters: { top_k: 4 } });
      const { one, all, batches } = await sequentialAndConcurrent(server, send, MASKED.length);
      expect(batches).toBeLessThan(MASKED.length);
      for (const [i, text] of MASKED.entries()) {
        expect(all[i]!.status).toBe(200);
        expectClose(all[i]!.json, one[i]!.json, 1e-5);
        expectClose(all[i]!.json, await pipe(text, { top_k: 4 }), 1e-4);
      }
    });

    it('does not fail concurrent requests because one of them lacks the mask', async () => {
      const pipe = await ref();
      const texts = [...MASKED.slice(0, 5), 'There is no mask in this one.', ...MASKED.slice(5)];
      const answers = await Promise.all(texts.map((inputs) => post({ inputs, parameters: { top_k: 2 } })));
      for (const [i, text] of texts.entries()) {
        if (!text.includes('[MASK]')) {
          expectError(answers[i]!, /\[MASK\]/);
          continue;
        }
        expect(answers[i]!.status, `${text}: ${answers[i]!.text}`).toBe(200);
        expectClose(answers[i]!.json, await pipe(text, { top_k: 2 }), 1e-4);
      }
    });
  });

  describe('several masks and long texts (the Python pipeline\'s behaviour; transformers.js fills the first mask only)', () => {
    /** Probabilities at every mask of a text, from transformers.js's model, and the input ids. */
    async function allMasks(text: string): Promise<{ ids: number[]; positions: number[]; probs: number[][] }> {
      const pipe = await ref();
      const encoded = pipe.tokenizer(text);
      const ids = (encoded.input_ids.tolist() as bigint[][])[0]!.map(Number);
      const positions = ids.flatMap((id, k) => (id === pipe.tokenizer.mask_token_id ? [k] : []));
      const { logits } = await pipe.model(encoded);
      const vocab = logits.dims[2] as number;
      const probs = positions.map((p) => softmax((logits.data as Float32Array).subarray(p * vocab, (p + 1) * vocab)));
      return { ids, positions, probs };
    }

    it('answers every [MASK]: one list per mask, each sequence filling that mask with the special tokens kept', async () => {
      const pipe = await ref();
      for (const text of ['The [MASK] walked to the [MASK] near the house.', '[MASK] [MASK] [MASK] is here.', 'I love [MASK], and she loves [MASK] too.']) {
        const res = await post({ inputs: text, parameters: { top_k: 3 } });
        expect(res.status, res.text).toBe(200);
        const { ids, positions, probs } = await allMasks(text);
        const expected = positions.map((position, m) =>
          probs[m]!
            .map((score, token) => ({ score, token }))
            .sort((a, b) => b.score - a.score || a.token - b.token)
            .slice(0, 3)
            .map(({ score, token }) => {
              const filled = ids.slice();
              filled[position] = token;
              return { score, token, token_str: pipe.tokenizer.decode([token]) as string, sequence: pipe.tokenizer.decode(filled) as string };
            }),
        );
        expect(res.json).toHaveLength(positions.length);
        expectClose(res.json, expected, 1e-4);
        expect(res.json[0][0].sequence).toMatch(/^\[CLS\] .*\[MASK\].*\[SEP\]$/);
      }
      // The first mask's list is what transformers.js (which fills only the first) answers, up to the sequence text.
      const text = 'The [MASK] walked to the [MASK] near the house.';
      const res = await post({ inputs: text, parameters: { top_k: 4 } });
      const first = (await pipe(text, { top_k: 4 })) as Fill[];
      expectClose((res.json[0] as Fill[]).map(({ score, token }) => ({ score, token })), first.map(({ score, token }) => ({ score, token })), 1e-4);
    });

    it('several masks work with targets, in a list of inputs and in concurrent requests', async () => {
      const texts = ['The [MASK] is near the [MASK].', MASKED[0]!, 'I love [MASK] and [MASK].'];
      const together = await post({ inputs: texts, parameters: { top_k: 2, targets: ['river', 'house', 'music'] } });
      expect(together.status, together.text).toBe(200);
      const alone = await Promise.all(texts.map((inputs) => post({ inputs, parameters: { top_k: 2, targets: ['river', 'house', 'music'] } })));
      texts.forEach((_, i) => expectClose(together.json[i], alone[i]!.json, 1e-5));
      expect(together.json[0]).toHaveLength(2);
      expect(together.json[0][1].map((f: Fill) => f.token_str).sort()).toEqual(expect.arrayContaining([expect.stringMatching(/river|house|music/)]));
    });

    it('a text three times the model\'s length: masks within its 512 tokens are answered, a mask past them is a clear 400', async () => {
      const pipe = await ref();
      const filler = Array.from({ length: 130 }, (_, i) => `On day ${i} the old man walked to the river.`).join(' ');
      expect((pipe.tokenizer(filler).input_ids.dims as number[])[1]).toBeGreaterThan(3 * 512);
      const early = `The [MASK] is near the river. ${filler}`;
      const res = await post({ inputs: early, parameters: { top_k: 2 } });
      expect(res.status, res.text).toBe(200);
      expectClose(res.json, await pipe(early, { top_k: 2 }), 1e-4);
      expectError(await post({ inputs: `${filler} The [MASK] is near the river.` }), /mask token \[MASK\] lies past the model's 512 tokens/);
    });
  });

  describe('targets', () => {
    it('scores only the target tokens, with the probabilities the model gives them', async () => {
      const words = ['river', 'house', 'walk', 'music'];
      const ids = await Promise.all(words.map(vocabId));
      for (const text of [MASKED[0]!, MASKED[2]!]) {
        const res = await post({ inputs: text, parameters: { targets: words } });
        expect(res.status, res.text).toBe(200);
        expectClose(res.json, await expectedFor(text, ids, 5), 1e-4);
        // top_k still limits the answer.
        const two = await post({ inputs: text, parameters: { targets: words, top_k: 2 } });
        expectClose(two.json, await expectedFor(text, ids, 2), 1e-4);
      }
    });

    it('takes one target as a string, folds case, merges duplicates and accepts a sub-word vocabulary entry', async () => {
      const text = MASKED[3]!;
      const single = await post({ inputs: text, parameters: { targets: 'river' } });
      expectClose(single.json, await expectedFor(text, [await vocabId('river')], 5), 1e-4);
      const folded = await post({ inputs: text, parameters: { targets: ['River', 'RIVER', 'house'] } });
      expectClose(folded.json, await expectedFor(text, [await vocabId('river'), await vocabId('house')], 5), 1e-4);
      const subword = await post({ inputs: text, parameters: { targets: ['##ing'] } });
      expect(subword.status, subword.text).toBe(200);
      expectClose(subword.json, await expectedFor(text, [await vocabId('##ing')], 5), 1e-4);
    });

    it('uses the first token of a target the vocabulary splits (as transformers does)', async () => {
      const pipe = await ref();
      const text = MASKED[0]!;
      const word = 'xylophonist';
      const pieces = (pipe.tokenizer(word, { add_special_tokens: false }).input_ids.tolist() as bigint[][])[0]!.map(Number);
      expect(pieces.length).toBeGreaterThan(1);
      const res = await post({ inputs: text, parameters: { targets: [word] } });
      expect(res.status, res.text).toBe(200);
      expectClose(res.json, await expectedFor(text, [pieces[0]!], 5), 1e-4);
    });

    it('refuses targets the vocabulary cannot spell', async () => {
      for (const targets of [['🙂'], ['river', '東京'], '€']) {
        expectError(await post({ inputs: MASKED[0], parameters: { targets } }), /parameters\.targets.*vocabulary/);
      }
    });
  });

  describe('real @huggingface/inference client', () => {
    const client = new InferenceClient('hf_test');

    it('fillMask returns what the server answers', async () => {
      for (const parameters of [undefined, { top_k: 2 }, { targets: ['river', 'house'] }]) {
        const raw = await post({ inputs: MASKED[6], parameters });
        expect(raw.status).toBe(200);
        const out = await client.fillMask({ endpointUrl: url, inputs: MASKED[6]!, parameters });
        expect(out).toEqual(raw.json);
      }
    });
  });

  describe('bad inputs', () => {
    it('refuses missing or mistyped inputs, and text without the mask token', async () => {
      const cases: [unknown, RegExp][] = [
        [{}, /Missing "inputs"/],
        [{ inputs: 1 }, /inputs/],
        [{ inputs: { text: 'The [MASK].' } }, /inputs/],
        [{ inputs: '' }, /inputs.*non-empty/],
        [{ inputs: [] }, /inputs.*empty list/],
        [{ inputs: 'No mask here.' }, /inputs.*mask token \[MASK\]/],
        [{ inputs: 'A lower-case [mask] is not the mask.' }, /inputs.*mask token \[MASK\]/],
        [{ inputs: ['The [MASK] is here.', 'But not here.'] }, /inputs.*mask token \[MASK\]/],
      ];
      for (const [body, message] of cases) expectError(await postJson(url, body), message);
    });

    it('refuses bad top_k and targets values', async () => {
      const cases: [unknown, RegExp][] = [
        [{ top_k: 0 }, /parameters\.top_k/],
        [{ top_k: 'x' }, /parameters\.top_k/],
        [{ top_k: 2.5 }, /parameters\.top_k/],
        [{ top_k: 1001 }, /parameters\.top_k/],
        [{ targets: [] }, /parameters\.targets/],
        [{ targets: '' }, /parameters\.targets/],
        [{ targets: [1] }, /parameters\.targets/],
        [{ targets: { river: 1 } }, /parameters\.targets/],
      ];
      for (const [parameters, message] of cases) expectError(await postJson(url, { inputs: MASKED[0], parameters }), message);
    });
  });
});
