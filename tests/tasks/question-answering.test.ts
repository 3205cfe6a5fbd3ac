import { Tensor } from '@huggingface/transformers';
import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { expectError, expectSpan, NO_CACHE, sequentialAndConcurrent, softmax } from './text-task-helpers.ts';

const MODEL = 'tiny/bert-qa';
/** Long enough that the server's answer-length limit never cuts a span transformers.js considers. */
const NO_LIMIT = 512;

interface Answer {
  answer: string;
  score: number;
  start: number;
  end: number;
}

/** Questions and contexts with sub-words, capitals, accents, punctuation, an unknown character and odd spacing. */
const PAIRS = [
  { question: 'Where does he live?', context: 'He lives in a small house near the river.' },
  { question: 'Who visited São Paulo?', context: 'Émile Zola visited São Paulo in the Summer of 1890, with his Brother.' },
  { question: 'What does she love?', context: 'She ❤ music   and\n\ndancing, but not COLD rain!' },
  { question: 'When?', context: "Don't stop: the U.S.A. is far-away (really), and it's 10 o'clock." },
  { question: 'What did the children do?', context: 'The children walked to school every morning while their father was working in the field.' },
  { question: 'Which city?', context: 'My brother lives in Paris and his friend works in Berlin.' },
  { question: 'What is the best thing?', context: 'Music is the best thing in the world.' },
  { question: 'What did she find?', context: 'She found an answer to the question in the book.' },
  { question: 'What is the weather?', context: 'Cold rain again today' },
  { question: 'What story did he tell?', context: 'The old man told a long story about the mountain, the forest and the animals that live there.' },
];
/** Characters the tiny vocabulary cannot spell: an answer (decoded tokens) skips them, its context span does not. */
const UNKNOWN = /❤/g;
/** A context of whole vocabulary words only, so an answer's token count is the count of its words. */
const WHOLE_WORDS = { question: 'what did the old man see?', context: 'the old man saw a small house near the river and a big tree on the hill.' };

describe('question-answering', () => {
  let server: TestServer;
  let url: string;
  const ref = () => reference('question-answering', MODEL);
  const post = (body: Record<string, unknown>) => postJson(url, { options: NO_CACHE, ...body });
  const pick = ({ answer, score }: Answer) => ({ answer, score });

  /** transformers.js's answers, all of them (its pipeline has no length limit), best first. */
  async function allAnswers(pair: { question: string; context: string }): Promise<Answer[]> {
    return (await (await ref())(pair.question, pair.context, { top_k: 100_000 })) as Answer[];
  }

  /** The "no answer" score: [CLS] start × [CLS] end probabilities, with the softmax transformers.js takes. */
  async function nullScore(pair: { question: string; context: string }): Promise<number> {
    const pipe = await ref();
    const encoded = pipe.tokenizer(pair.question, { text_pair: pair.context });
    const ids = (encoded.input_ids.tolist() as bigint[][])[0]!.map(Number);
    const { start_logits, end_logits } = await pipe.model(encoded);
    const sep = ids.indexOf(pipe.tokenizer.sep_token_id as number);
    const special = new Set<number>(pipe.tokenizer.all_special_ids);
    const masked = (data: Float32Array) => Array.from(data, (x, i) => (i > 0 && (i <= sep || special.has(ids[i]!)) ? -Infinity : x));
    return softmax(masked(start_logits.data as Float32Array))[0]! * softmax(masked(end_logits.data as Float32Array))[0]!;
  }

  /**
   * The score of the span that `start`/`end` point at, recomputed from transformers.js's logits: the tokens of
   * the context before `start` and up to `end` say where the span sits. Equal to the answer's score only when the
   * offsets name the span that was scored (not just the same words elsewhere in the context).
   */
  async function scoreAt(pair: { question: string; context: string }, answer: Answer): Promise<number> {
    const pipe = await ref();
    const count = (text: string) => (text.trim() === '' ? 0 : (pipe.tokenizer(text, { add_special_tokens: false }).input_ids.dims as number[])[1]!);
    const encoded = pipe.tokenizer(pair.question, { text_pair: pair.context, truncation: true });
    const ids = (encoded.input_ids.tolist() as bigint[][])[0]!.map(Number);
    const { start_logits, end_logits } = await pipe.model(encoded);
    const sep = ids.indexOf(pipe.tokenizer.sep_token_id as number);
    const special = new Set<number>(pipe.tokenizer.all_special_ids);
    const masked = (data: Float32Array) => Array.from(data, (x, i) => (i > 0 && (i <= sep || special.has(ids[i]!)) ? -Infinity : x));
    const first = sep + 1 + count(pair.context.slice(0, answer.start));
    const last = sep + count(pair.context.slice(0, answer.end));
    return softmax(masked(start_logits.data as Float32Array))[first]! * softmax(masked(end_logits.data as Float32Array))[last]!;
  }

  beforeAll(async () => {
    server = await startServer();
    url = `${server.url}/models/${MODEL}`;
  });
  afterAll(() => server.close());

  describe('parity with transformers.js', () => {
    it('gives transformers.js best answer, as one object', async () => {
      const pipe = await ref();
      for (const pair of PAIRS.slice(0, 5)) {
        const res = await post({ inputs: pair, parameters: { max_answer_len: NO_LIMIT } });
        expect(res.status, res.text).toBe(200);
        expect(Array.isArray(res.json)).toBe(false);
        expectClose(pick(res.json), await pipe(pair.question, pair.context), 1e-4);
        expectSpan(pair.context, res.json, res.json.answer, UNKNOWN);
      }
    });

    it('gives transformers.js top_k answers, with character offsets into the context', async () => {
      const pipe = await ref();
      for (const pair of PAIRS.slice(0, 5)) {
        for (const top_k of [3, 10]) {
          const res = await post({ inputs: pair, parameters: { top_k, max_answer_len: NO_LIMIT } });
          expect(res.status, res.text).toBe(200);
          expect(res.json).toHaveLength(top_k);
          expectClose((res.json as Answer[]).map(pick), await pipe(pair.question, pair.context, { top_k }), 1e-4);
          for (const answer of res.json as Answer[]) {
            expectSpan(pair.context, answer, answer.answer, UNKNOWN);
            expect(Math.abs((await scoreAt(pair, answer)) - answer.score), JSON.stringify(answer)).toBeLessThan(1e-4);
          }
        }
      }
    });

    it('answers a list of pairs with one answer per pair, each as the single answer', async () => {
      const pairs = PAIRS.slice(0, 6);
      for (const top_k of [1, 2]) {
        const res = await post({ inputs: pairs, parameters: { top_k, max_answer_len: NO_LIMIT } });
        expect(res.status, res.text).toBe(200);
        expect(res.json).toHaveLength(pairs.length);
        for (const [i, pair] of pairs.entries()) {
          const single = await post({ inputs: pair, parameters: { top_k, max_answer_len: NO_LIMIT } });
          expectClose(res.json[i], single.json, 1e-5);
        }
      }
    });

    it('gives the same answers to concurrent requests (batched, padded) as one at a time', async () => {
      const pipe = await ref();
      const send = (i: number) => post({ inputs: PAIRS[i], parameters: { top_k: 3, max_answer_len: NO_LIMIT } });
      const { one, all, batches } = await sequentialAndConcurrent(server, send, PAIRS.length);
      expect(batches).toBeLessThan(PAIRS.length);
      for (const [i, pair] of PAIRS.entries()) {
        expect(all[i]!.status).toBe(200);
        expectClose(all[i]!.json, one[i]!.json, 1e-5);
        expectClose((all[i]!.json as Answer[]).map(pick), await pipe(pair.question, pair.context, { top_k: 3 }), 1e-4);
        for (const answer of all[i]!.json as Answer[]) expectSpan(pair.context, answer, answer.answer, UNKNOWN);
      }
    });
  });

  describe('long contexts: windows as the Python pipeline cuts them (max_seq_len, doc_stride, max_question_len)', () => {
    /** Three times the model's 512 positions. */
    const LONG = Array.from({ length: 130 }, (_, i) => `On day ${i} the old man walked to the river near the house.`).join(' ');

    /**
     * The Python pipeline's documented windowing, run on transformers.js's model: the question (cut to
     * max_question_len tokens) with successive context slices that fill max_seq_len and overlap by doc_stride
     * tokens; each window scored as transformers.js scores one input; answers of all windows ranked together
     * (a span found by two overlapping windows once, with its best score); "no answer" is the lowest over windows.
     */
    async function windowed(pair: { question: string; context: string }, o: { maxSeqLen: number; stride: number; maxQuestion: number; topK: number }) {
      const pipe = await ref();
      const ids = (text: string) => (pipe.tokenizer(text, { add_special_tokens: false }).input_ids.tolist() as bigint[][])[0]!.map(Number);
      const [cls, sep] = [(pipe.tokenizer('a').input_ids.tolist() as bigint[][])[0]![0]!, BigInt(pipe.tokenizer.sep_token_id as number)];
      const question = ids(pair.question).slice(0, o.maxQuestion);
      const context = ids(pair.context);
      const room = o.maxSeqLen - question.length - 3;
      const special = new Set<number>(pipe.tokenizer.all_special_ids);
      const spans = new Map<string, { answer: string; score: number }>();
      let nullScore = Infinity;
      let windows = 0;
      for (let from = 0; ; from += room - o.stride) {
        const slice = context.slice(from, from + room);
        const input = [cls, ...question.map(BigInt), sep, ...slice.map(BigInt), sep];
        const types = input.map((_, k) => (k > question.length + 1 ? 1n : 0n));
        const n = input.length;
        const { start_logits, end_logits } = await pipe.model({
          input_ids: new Tensor('int64', BigInt64Array.from(input), [1, n]),
          attention_mask: new Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
          token_type_ids: new Tensor('int64', BigInt64Array.from(types), [1, n]),
        });
        windows++;
        const first = question.length + 2;
        const usable = (k: number) => k >= first && k < first + slice.length && !special.has(Number(input[k]));
        const masked = (data: Float32Array) => Array.from(data, (x, k) => (k === 0 || usable(k) ? x : -Infinity));
        const starts = softmax(masked(start_logits.data as Float32Array));
        const ends = softmax(masked(end_logits.data as Float32Array));
        nullScore = Math.min(nullScore, starts[0]! * ends[0]!);
        for (let a = first; a < first + slice.length; a++) {
          for (let b = a; b < Math.min(first + slice.length, a + 15); b++) {
            if (!usable(a) || !usable(b)) continue;
            const key = `${from + a - first}:${from + b - first}`;
            const score = starts[a]! * ends[b]!;
            if ((spans.get(key)?.score ?? -1) < score) spans.set(key, { answer: pipe.tokenizer.decode(input.slice(a, b + 1), { skip_special_tokens: true }) as string, score });
          }
        }
        if (from + room >= context.length) break;
      }
      return { answers: [...spans.values()].sort((x, y) => y.score - x.score).slice(0, o.topK), nullScore, windows, contextTokens: context.length };
    }

    it('answers from every window of a context three times the model\'s length (defaults 384 / 128 / 64)', async () => {
      const pair = { question: 'Where did he walk?', context: LONG };
      const expected = await windowed(pair, { maxSeqLen: 384, stride: 128, maxQuestion: 64, topK: 5 });
      expect(expected.contextTokens).toBeGreaterThan(3 * 512);
      expect(expected.windows).toBeGreaterThan(5);
      const res = await post({ inputs: pair, parameters: { top_k: 5 } });
      expect(res.status, res.text).toBe(200);
      expectClose((res.json as Answer[]).map(pick), expected.answers, 1e-4);
      for (const answer of res.json as Answer[]) expectSpan(LONG, answer, answer.answer);
      // "No answer" scores as its lowest over the windows (the pipeline's min_null_score).
      const impossible = await post({ inputs: pair, parameters: { top_k: 5, handle_impossible_answer: true } });
      const ranked = [...expected.answers, { answer: '', score: expected.nullScore }].sort((x, y) => y.score - x.score).slice(0, 5);
      expectClose((impossible.json as Answer[]).map(pick), ranked, 1e-4);
    });

    it('follows max_seq_len, doc_stride and max_question_len', async () => {
      const context = LONG.slice(0, 900);
      const question = 'What did the old man do on the day when he walked to the river near the house and the tree?';
      for (const o of [
        { maxSeqLen: 64, stride: 16, maxQuestion: 64 },
        { maxSeqLen: 100, stride: 40, maxQuestion: 8 },
        { maxSeqLen: 512, stride: 128, maxQuestion: 64 },
      ]) {
        const expected = await windowed({ question, context }, { ...o, topK: 4 });
        const res = await post({ inputs: { question, context }, parameters: { top_k: 4, max_seq_len: o.maxSeqLen, doc_stride: o.stride, max_question_len: o.maxQuestion } });
        expect(res.status, res.text).toBe(200);
        expectClose((res.json as Answer[]).map(pick), expected.answers, 1e-4);
        for (const answer of res.json as Answer[]) expectSpan(context, answer, answer.answer);
      }
    });

    it('refuses a window with no room for the context, naming the parameter', async () => {
      const question = 'What did the old man do on the day when he walked to the river near the house?';
      expectError(await post({ inputs: { question, context: LONG }, parameters: { max_seq_len: 16 } }), /max_question_len|max_seq_len/);
      expectError(await post({ inputs: { question: 'Where?', context: LONG }, parameters: { max_seq_len: 64, doc_stride: 60 } }), /parameters\.doc_stride/);
    });
  });

  describe('parameters', () => {
    it('limits answers to max_answer_len tokens (15 by default)', async () => {
      const pipe = await ref();
      const tokens = (text: string) => (pipe.tokenizer(text, { add_special_tokens: false }).input_ids.tolist() as bigint[][])[0]!.length;
      // The premise: every context token is a whole word, so decoded answers re-tokenize to their own span.
      const ids = (pipe.tokenizer(WHOLE_WORDS.context, { add_special_tokens: false }).input_ids.tolist() as bigint[][])[0]!;
      expect(ids.every((id) => !(pipe.tokenizer.decode([id]) as string).startsWith('##'))).toBe(true);
      expect(tokens(WHOLE_WORDS.context)).toBeGreaterThan(15);
      const everything = await allAnswers(WHOLE_WORDS);
      for (const [max_answer_len, top_k] of [[1, 5], [3, 10], [15, 50]] as const) {
        const parameters = max_answer_len === 15 ? { top_k } : { top_k, max_answer_len };
        const res = await post({ inputs: WHOLE_WORDS, parameters });
        const expected = everything.filter((a) => a.score > 0 && tokens(a.answer) <= max_answer_len).slice(0, top_k);
        expectClose((res.json as Answer[]).map(pick), expected.map(pick), 1e-4);
        // The short limits really removed answers transformers.js ranks higher.
        if (max_answer_len < 15) expect(everything.slice(0, top_k).some((a) => tokens(a.answer) > max_answer_len)).toBe(true);
      }
    });

    it('ranks the empty "no answer" among the answers with handle_impossible_answer', async () => {
      const branches = new Set<boolean>();
      // Short contexts leave few spans, so "no answer" (the [CLS] span) has a chance to win.
      const short = [
        { question: 'What is the weather?', context: 'No' },
        { question: 'Why?', context: 'Paris' },
        { question: 'When?', context: 'Good night' },
      ];
      for (const pair of [...PAIRS, WHOLE_WORDS, ...short]) {
        const empty = { answer: '', score: await nullScore(pair), start: 0, end: 0 };
        // (transformers.js pads its list with impossible zero-score spans once real ones run out; the server does not.)
        const spans = (await allAnswers(pair)).filter((a) => a.score > 0);
        // top_k large: the empty answer appears at its rank.
        const res = await post({ inputs: pair, parameters: { top_k: 20, max_answer_len: NO_LIMIT, handle_impossible_answer: true } });
        expect(res.status, res.text).toBe(200);
        const expected = [...spans.slice(0, 20), empty].sort((a, b) => b.score - a.score).slice(0, 20);
        expectClose((res.json as Answer[]).map(pick), expected.map(pick), 1e-4);
        const empties = (res.json as Answer[]).filter((a) => a.answer === '');
        expect(empties).toHaveLength(expected.includes(empty) ? 1 : 0);
        for (const e of empties) expect(e).toMatchObject({ start: 0, end: 0 });
        // top_k 1: the empty answer exactly when it beats the best span.
        const best = await post({ inputs: pair, parameters: { max_answer_len: NO_LIMIT, handle_impossible_answer: true } });
        const impossible = empty.score > spans[0]!.score;
        branches.add(impossible);
        expectClose(pick(best.json), pick(impossible ? empty : spans[0]!), 1e-4);
        if (impossible) expect(best.json).toMatchObject({ start: 0, end: 0 });
        // Off (the default), the empty answer never appears.
        const off = await post({ inputs: pair, parameters: { top_k: 20, max_answer_len: NO_LIMIT } });
        expect((off.json as Answer[]).some((a) => a.answer === '')).toBe(false);
      }
      // The pairs above exercise both outcomes (if the tiny model changes, pick other pairs).
      expect(branches.size, 'handle_impossible_answer: both outcomes seen').toBe(2);
    });
  });

  describe('real @huggingface/inference client', () => {
    const client = new InferenceClient('hf_test');

    it('questionAnswering returns what the server answers (the first answer when there are several)', async () => {
      const pair = PAIRS[1]!;
      const raw = await post({ inputs: pair });
      expect(raw.status).toBe(200);
      expect(await client.questionAnswering({ endpointUrl: url, inputs: pair })).toEqual(raw.json);
      const parameters = { top_k: 3, max_answer_len: 30 };
      const many = await post({ inputs: pair, parameters });
      expect(many.json).toHaveLength(3);
      expect(await client.questionAnswering({ endpointUrl: url, inputs: pair, parameters })).toEqual(many.json[0]);
    });
  });

  describe('bad inputs', () => {
    it('refuses missing or mistyped inputs with a message naming what to send', async () => {
      const cases: [unknown, RegExp][] = [
        [{ parameters: {} }, /Missing "inputs"/],
        [{ inputs: 'Where does he live?' }, /inputs.*"question".*"context"/],
        [{ inputs: 3 }, /inputs.*"question".*"context"/],
        [{ inputs: { question: 'Where?' } }, /inputs.*"context"/],
        [{ inputs: { context: 'Here.' } }, /inputs.*"question"/],
        [{ inputs: { question: '', context: 'Here.' } }, /inputs/],
        [{ inputs: { question: 'Where?', context: 42 } }, /inputs/],
        [{ inputs: [] }, /inputs/],
        [{ inputs: [{ question: 'Where?', context: 'Here.' }, { question: 'Where?' }] }, /inputs/],
      ];
      for (const [body, message] of cases) expectError(await postJson(url, body), message);
    });

    it('refuses bad parameter values with a message naming the parameter', async () => {
      const cases: [unknown, RegExp][] = [
        [{ top_k: 0 }, /parameters\.top_k/],
        [{ top_k: 'x' }, /parameters\.top_k/],
        [{ top_k: 51 }, /parameters\.top_k/],
        [{ max_answer_len: 0 }, /parameters\.max_answer_len/],
        [{ max_answer_len: '15' }, /parameters\.max_answer_len/],
        [{ handle_impossible_answer: 'yes' }, /parameters\.handle_impossible_answer/],
        [{ doc_stride: 0 }, /parameters\.doc_stride/],
        [{ max_seq_len: 4 }, /parameters\.max_seq_len/],
        [{ max_question_len: -1 }, /parameters\.max_question_len/],
        [{ align_to_words: 'no' }, /parameters\.align_to_words/],
      ];
      for (const [parameters, message] of cases) expectError(await postJson(url, { inputs: PAIRS[0], parameters }), message);
    });
  });
});
