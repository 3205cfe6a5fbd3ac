import { Tensor } from '@huggingface/transformers';
import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { argmax, expectError, expectSpan, fold, NO_CACHE, sequentialAndConcurrent, softmax, TEXTS } from './text-task-helpers.ts';

const MODEL = 'tiny/bert-ner';

interface Entity {
  entity?: string;
  entity_group: string;
  score: number;
  word: string;
  start: number;
  end: number;
  index?: number;
}

/** Texts with sub-words, capitals, accents, punctuation, an unknown character and odd spacing. */
const SAMPLES = [
  'My friend Walking lives in Paris, near the big river.',
  'Émile Zola visited São Paulo with ÉMILE in the summer.',
  'I ❤ Paris   and\n\nBerlin!',
  "Don't stop: the U.S.A. is far-away (really).",
  'Xylophonist Qwerty plays music at 10 o\'clock.',
  'Tokyo 東京 costs €100 more than naïve Paris.',
];
/** What the tiny vocabulary cannot spell (whole words that become [UNK], which no answer covers). */
const UNKNOWN: Record<string, string> = { [SAMPLES[2]!]: '❤', [SAMPLES[5]!]: '東京€100' };
/** Plain ASCII texts, where words are easy to find independently of the server (for word-level checks). */
const WORD_SAMPLES = [SAMPLES[0]!, SAMPLES[3]!, SAMPLES[4]!, TEXTS[2]!, TEXTS[6]!];
/** How a BERT pre-tokenizer splits a text into words: runs of letters and digits, and single punctuation marks. */
const WORD = /[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu;

/** BIOES tag of a label: `B-PER` → ['B', 'PER']; a bare label counts as inside its own tag. */
function splitTag(entity: string): [string, string] {
  const p = entity[0];
  return entity[1] === '-' && (p === 'B' || p === 'I' || p === 'E' || p === 'S') ? [p, entity.slice(2)] : ['I', entity];
}

interface WordGuess {
  entity: string;
  score: number;
  start: number;
  end: number;
}

/** transformers' SIMPLE grouping (the one transformers.js implements), applied to word-level guesses. */
function groupWords(words: WordGuess[]) {
  const groups: WordGuess[][] = [];
  let open: string | null = null;
  for (const w of words) {
    const [prefix, tag] = splitTag(w.entity);
    if (open === tag && prefix !== 'B' && prefix !== 'S') {
      groups[groups.length - 1]!.push(w);
      if (prefix === 'E') open = null;
    } else {
      groups.push([w]);
      open = prefix === 'S' ? null : tag;
    }
  }
  return groups.map((g) => ({
    entity_group: splitTag(g[0]!.entity)[1],
    score: g.reduce((s, w) => s + w.score, 0) / g.length,
    start: g[0]!.start,
    end: g[g.length - 1]!.end,
  }));
}

describe('token-classification', () => {
  let server: TestServer;
  let url: string;
  const ref = () => reference('token-classification', MODEL);
  const post = (body: Record<string, unknown>) => postJson(url, { options: NO_CACHE, ...body });

  /**
   * Per-word label guesses computed from transformers.js's logits, as transformers' FIRST/AVERAGE/MAX strategies
   * define them; word character spans come from splitting the text, not from the server.
   */
  async function wordGuesses(text: string, strategy: 'first' | 'average' | 'max'): Promise<WordGuess[]> {
    const pipe = await ref();
    const encoded = pipe.tokenizer(text);
    const ids = (encoded.input_ids.tolist() as bigint[][])[0]!.map(Number);
    const { logits } = await pipe.model(encoded);
    const numLabels = logits.dims[2] as number;
    const data = logits.data as Float32Array;
    const special = new Set<number>(pipe.tokenizer.all_special_ids);
    const words: { probs: number[] }[][] = [];
    ids.forEach((id, j) => {
      if (special.has(id)) return;
      const token = { probs: softmax(data.subarray(j * numLabels, (j + 1) * numLabels)) };
      if (words.length > 0 && pipe.tokenizer.decode([id]).startsWith('##')) words[words.length - 1]!.push(token);
      else words.push([token]);
    });
    const spans = [...text.matchAll(WORD)];
    expect(spans.length, `words of ${text}`).toBe(words.length);
    const labels = pipe.model.config.id2label as Record<string, string>;
    return words.map((tokens, i) => {
      let probs: number[];
      if (strategy === 'first') probs = tokens[0]!.probs;
      else if (strategy === 'average') probs = tokens[0]!.probs.map((_, k) => tokens.reduce((s, t) => s + t.probs[k]!, 0) / tokens.length);
      else probs = tokens.reduce((best, t) => (Math.max(...t.probs) > Math.max(...best.probs) ? t : best)).probs;
      const best = argmax(probs);
      const span = spans[i]!;
      return { entity: labels[String(best)]!, score: probs[best]!, start: span.index, end: span.index + span[0].length };
    });
  }

  beforeAll(async () => {
    server = await startServer();
    url = `${server.url}/models/${MODEL}`;
  });
  afterAll(() => server.close());

  describe('parity with transformers.js', () => {
    it('matches transformers.js token by token (aggregation_strategy none)', async () => {
      const pipe = await ref();
      for (const text of SAMPLES) {
        for (const ignore_labels of [[], ['O']]) {
          const res = await post({ inputs: text, parameters: { aggregation_strategy: 'none', ignore_labels } });
          expect(res.status, res.text).toBe(200);
          const expected = (await pipe(text, { aggregation_strategy: 'none', ignore_labels })) as Entity[];
          expect(expected.length).toBeGreaterThan(0);
          expectClose(
            (res.json as Entity[]).map(({ entity, score, word, index }) => ({ entity, score, word, index })),
            expected.map(({ entity, score, word, index }) => ({ entity, score, word, index })),
            1e-4,
          );
          for (const item of res.json as Entity[]) {
            // The JS client needs entity_group on every item, so the ungrouped answer carries it too.
            expect(item.entity_group).toBe(item.entity);
            expectSpan(text, item, item.word);
          }
        }
      }
    });

    it('matches transformers.js entity groups (aggregation_strategy simple)', async () => {
      const pipe = await ref();
      for (const text of SAMPLES) {
        for (const ignore_labels of [[], ['O']]) {
          const res = await post({ inputs: text, parameters: { aggregation_strategy: 'simple', ignore_labels } });
          expect(res.status, res.text).toBe(200);
          const expected = (await pipe(text, { aggregation_strategy: 'simple', ignore_labels })) as Entity[];
          expectClose(
            (res.json as Entity[]).map(({ entity_group, score, word }) => ({ entity_group, score, word })),
            expected.map(({ entity_group, score, word }) => ({ entity_group, score, word })),
            1e-4,
          );
          for (const item of res.json as Entity[]) expectSpan(text, item, item.word);
        }
      }
    });

    it('gives token offsets that follow the text in order', async () => {
      for (const text of SAMPLES) {
        const res = await post({ inputs: text, parameters: { aggregation_strategy: 'none', ignore_labels: [] } });
        const items = res.json as Entity[];
        for (let i = 1; i < items.length; i++) expect(items[i]!.start).toBeGreaterThanOrEqual(items[i - 1]!.end);
        // Every non-space character outside the skipped unknown words is covered by a token.
        const covered = new Set(items.flatMap((t) => Array.from({ length: t.end - t.start }, (_, k) => t.start + k)));
        const missed = [...text].map((c, i) => (covered.has(i) || /\s/.test(c) ? '' : c)).join('');
        expect(missed).toBe(UNKNOWN[text] ?? '');
      }
    });

    it('uses simple aggregation and ignores O by default', async () => {
      const pipe = await ref();
      const res = await post({ inputs: SAMPLES[0] });
      const expected = (await pipe(SAMPLES[0], { aggregation_strategy: 'simple', ignore_labels: ['O'] })) as Entity[];
      expectClose(
        (res.json as Entity[]).map(({ entity_group, score, word }) => ({ entity_group, score, word })),
        expected.map(({ entity_group, score, word }) => ({ entity_group, score, word })),
        1e-4,
      );
      expect((res.json as Entity[]).every((e) => e.entity === undefined)).toBe(true);
    });

    it('drops the labels named in ignore_labels', async () => {
      const pipe = await ref();
      const text = SAMPLES[0]!;
      const all = (await pipe(text, { ignore_labels: [] })) as Entity[];
      // Ignore the most frequent label, so the parameter has something to remove.
      const counts = new Map<string, number>();
      for (const t of all) counts.set(t.entity!, (counts.get(t.entity!) ?? 0) + 1);
      const frequent = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
      const ignore_labels = [frequent, 'O'];
      for (const aggregation_strategy of ['none', 'simple']) {
        const res = await post({ inputs: text, parameters: { aggregation_strategy, ignore_labels } });
        const expected = (await pipe(text, { aggregation_strategy, ignore_labels })) as Entity[];
        // Tokens carry `entity`, groups `entity_group`.
        const shape = (e: Entity) => ({ label: e.entity ?? e.entity_group, score: e.score, word: e.word });
        expectClose((res.json as Entity[]).map(shape), expected.map(shape), 1e-4);
      }
      const none = await post({ inputs: text, parameters: { aggregation_strategy: 'none', ignore_labels } });
      expect((none.json as Entity[]).some((e) => ignore_labels.includes(e.entity!))).toBe(false);
      expect(none.json.length).toBe(all.length - all.filter((t) => ignore_labels.includes(t.entity!)).length);
    });

    it('answers a list of inputs with one list per input, each as the single answer', async () => {
      const texts = SAMPLES.slice(0, 4);
      const res = await post({ inputs: texts, parameters: { aggregation_strategy: 'none', ignore_labels: [] } });
      expect(res.status).toBe(200);
      expect(res.json).toHaveLength(texts.length);
      for (const [i, text] of texts.entries()) {
        const single = await post({ inputs: text, parameters: { aggregation_strategy: 'none', ignore_labels: [] } });
        expectClose(res.json[i], single.json, 1e-5);
      }
    });

    it('gives the same answers to concurrent requests (batched, padded) as one at a time', async () => {
      const pipe = await ref();
      for (const aggregation_strategy of ['none', 'simple', 'first']) {
        const send = (i: number) => post({ inputs: TEXTS[i], parameters: { aggregation_strategy, ignore_labels: [] } });
        const { one, all, batches } = await sequentialAndConcurrent(server, send, TEXTS.length);
        expect(batches).toBeLessThan(TEXTS.length);
        for (const [i, text] of TEXTS.entries()) {
          expect(all[i]!.status).toBe(200);
          expectClose(all[i]!.json, one[i]!.json, 1e-5);
          if (aggregation_strategy === 'first') continue;
          const expected = (await pipe(text, { aggregation_strategy, ignore_labels: [] })) as Entity[];
          expectClose(
            (all[i]!.json as Entity[]).map(({ score, word }) => ({ score, word })),
            expected.map(({ score, word }) => ({ score, word })),
            1e-4,
          );
        }
      }
    });
  });

  describe('word-level aggregation (first, average, max)', () => {
    for (const strategy of ['first', 'average', 'max'] as const) {
      it(`labels whole words as transformers' ${strategy.toUpperCase()} strategy does`, async () => {
        for (const text of WORD_SAMPLES) {
          const expected = groupWords(await wordGuesses(text, strategy));
          const res = await post({ inputs: text, parameters: { aggregation_strategy: strategy, ignore_labels: [] } });
          expect(res.status, res.text).toBe(200);
          const got = res.json as Entity[];
          expectClose(
            got.map(({ entity_group, score, start, end }) => ({ entity_group, score, start, end })),
            expected,
            1e-4,
          );
          for (const item of got) expectSpan(text, item, item.word);
        }
      });
    }

    it('never splits a word and puts every word in exactly one entity', async () => {
      for (const strategy of ['first', 'average', 'max']) {
        for (const text of WORD_SAMPLES) {
          const res = await post({ inputs: text, parameters: { aggregation_strategy: strategy, ignore_labels: [] } });
          const words = [...text.matchAll(WORD)].map((m) => [m.index, m.index + m[0].length] as const);
          const starts = new Set(words.map((w) => w[0]));
          const ends = new Set(words.map((w) => w[1]));
          const owners = words.map(() => 0);
          for (const item of res.json as Entity[]) {
            expect(starts.has(item.start), `${strategy}: ${JSON.stringify(item)} starts inside a word of ${text}`).toBe(true);
            expect(ends.has(item.end), `${strategy}: ${JSON.stringify(item)} ends inside a word of ${text}`).toBe(true);
            words.forEach(([s, e], k) => {
              if (s >= item.start && e <= item.end) owners[k]!++;
            });
          }
          expect(owners.every((n) => n === 1), `${strategy}: ${text}`).toBe(true);
        }
      }
    });

    it('differs from token-level grouping where a word has sub-words', async () => {
      // "Walking" is walk + ##ing, "lives" is live + ##s: SIMPLE may split them, FIRST never does.
      const text = SAMPLES[0]!;
      const simple = await post({ inputs: text, parameters: { aggregation_strategy: 'simple', ignore_labels: [] } });
      const first = await post({ inputs: text, parameters: { aggregation_strategy: 'first', ignore_labels: [] } });
      const words = (r: typeof first) => (r.json as Entity[]).map((e) => fold(e.word));
      expect(words(first).join('')).toBe(words(simple).join(''));
      expect(words(first).some((w) => w.includes('walking'))).toBe(true);
    });
  });

  describe('stride: long texts in overlapping windows (the Python pipeline\'s behaviour)', () => {
    /** Three times the model's 512 positions. */
    const LONG = Array.from({ length: 150 }, () => 'Sarah went from Paris to Berlin with John and Mary.').join(' ');

    /**
     * The Python pipeline's documented stride handling, on transformers.js's model: windows of the model's length
     * ([CLS] + 510 tokens + [SEP]) overlapping by `stride` tokens, SIMPLE groups per window, then overlapping
     * entities merged in start order (the longer wins, then the better score).
     */
    async function windowed(text: string, stride: number) {
      const pipe = await ref();
      const ids = (pipe.tokenizer(text, { add_special_tokens: false }).input_ids.tolist() as bigint[][])[0]!.map(Number);
      const [cls, sep] = [(pipe.tokenizer('a').input_ids.tolist() as bigint[][])[0]![0]!, BigInt(pipe.tokenizer.sep_token_id as number)];
      // Word spans of the whole text, token by token (every token of LONG is a whole vocabulary word or a period).
      const spans = [...text.matchAll(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu)].map((m) => [m.index, m.index + m[0].length] as const);
      expect(spans.length, 'LONG has one token per word').toBe(ids.length);
      const labels = pipe.model.config.id2label as Record<string, string>;
      const room = 510;
      const all: ReturnType<typeof groupWords> = [];
      let windows = 0;
      for (let from = 0; ; from += room - stride) {
        const slice = ids.slice(from, from + room);
        const input = [cls, ...slice.map(BigInt), sep];
        const n = input.length;
        const { logits } = await pipe.model({
          input_ids: new Tensor('int64', BigInt64Array.from(input), [1, n]),
          attention_mask: new Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
          token_type_ids: new Tensor('int64', new BigInt64Array(n), [1, n]),
        });
        const numLabels = logits.dims[2] as number;
        const guesses = slice.map((_, k) => {
          const probs = softmax((logits.data as Float32Array).subarray((k + 1) * numLabels, (k + 2) * numLabels));
          const best = argmax(probs);
          const [start, end] = spans[from + k]!;
          return { entity: labels[String(best)]!, score: probs[best]!, start, end };
        });
        all.push(...groupWords(guesses.filter((g) => g.entity !== 'O')));
        windows++;
        if (from + room >= ids.length) break;
      }
      const sorted = [...all].sort((a, b) => a.start - b.start);
      const merged: typeof all = [];
      let previous = sorted[0]!;
      for (const e of sorted) {
        if (previous.start <= e.start && e.start < previous.end) {
          const [length, before] = [e.end - e.start, previous.end - previous.start];
          if (length > before || (length === before && e.score > previous.score)) previous = e;
        } else {
          merged.push(previous);
          previous = e;
        }
      }
      merged.push(previous);
      return { entities: merged, windows, tokens: ids.length };
    }

    it('labels a text three times the model\'s length to its end, window entities merged', async () => {
      for (const stride of [128, 16]) {
        const expected = await windowed(LONG, stride);
        expect(expected.tokens).toBeGreaterThan(3 * 512);
        expect(expected.windows).toBeGreaterThan(3);
        const res = await post({ inputs: LONG, parameters: { stride, aggregation_strategy: 'simple' } });
        expect(res.status, res.text).toBe(200);
        expectClose((res.json as Entity[]).map(({ entity_group, score, start, end }) => ({ entity_group, score, start, end })), expected.entities, 1e-4);
        // Past the first 512 tokens too: without stride the text is cut there.
        const cut = await post({ inputs: LONG, parameters: { aggregation_strategy: 'simple' } });
        const last = (r: typeof cut) => Math.max(...(r.json as Entity[]).map((e) => e.end));
        expect(last(res)).toBeGreaterThan(last(cut));
      }
    });

    it('a text that fits gives the same entities with or without stride', async () => {
      for (const aggregation_strategy of ['simple', 'first', 'max']) {
        const plain = await post({ inputs: SAMPLES[0], parameters: { aggregation_strategy, ignore_labels: [] } });
        const windowedRes = await post({ inputs: SAMPLES[0], parameters: { aggregation_strategy, ignore_labels: [], stride: 32 } });
        expectClose(windowedRes.json, plain.json, 1e-6);
      }
    });

    it('refuses stride with aggregation "none" and a stride as long as the window', async () => {
      expectError(await post({ inputs: LONG, parameters: { stride: 16, aggregation_strategy: 'none' } }), /parameters\.stride.*aggregation_strategy/);
      expectError(await post({ inputs: LONG, parameters: { stride: 510 } }), /parameters\.stride: 510 must be smaller than the 510 tokens/);
    });
  });

  describe('real @huggingface/inference client', () => {
    const client = new InferenceClient('hf_test');

    it('tokenClassification returns what the server answers, for every aggregation strategy', async () => {
      for (const aggregation_strategy of ['none', 'simple', 'first', 'average', 'max'] as const) {
        const parameters = { aggregation_strategy, ignore_labels: [] };
        const raw = await post({ inputs: SAMPLES[1], parameters });
        expect(raw.status).toBe(200);
        const out = await client.tokenClassification({ endpointUrl: url, inputs: SAMPLES[1]!, parameters });
        expect(out).toEqual(raw.json);
        expect(out.length).toBeGreaterThan(0);
      }
      const plain = await client.tokenClassification({ endpointUrl: url, inputs: SAMPLES[0]! });
      expect(plain).toEqual((await post({ inputs: SAMPLES[0] })).json);
    });
  });

  describe('bad inputs', () => {
    it('refuses missing or mistyped inputs', async () => {
      const cases: [unknown, RegExp][] = [
        [{ parameters: {} }, /Missing "inputs"/],
        [{ inputs: 42 }, /inputs/],
        [{ inputs: { text: 'Paris' } }, /inputs/],
        [{ inputs: '' }, /inputs.*non-empty/],
        [{ inputs: [] }, /inputs.*empty list/],
        [{ inputs: [['nested']] }, /inputs/],
      ];
      for (const [body, message] of cases) expectError(await postJson(url, body), message);
    });

    it('refuses bad parameters with a message naming the parameter', async () => {
      const cases: [unknown, RegExp][] = [
        [{ aggregation_strategy: 'bogus' }, /parameters\.aggregation_strategy/],
        [{ aggregation_strategy: 'SIMPLE ' }, /parameters\.aggregation_strategy/],
        [{ aggregation_strategy: 1 }, /parameters\.aggregation_strategy/],
        [{ ignore_labels: 'O' }, /parameters\.ignore_labels/],
        [{ ignore_labels: [1] }, /parameters\.ignore_labels/],
        [{ stride: -1 }, /parameters\.stride/],
        [{ stride: 'x' }, /parameters\.stride/],
      ];
      for (const [parameters, message] of cases) expectError(await postJson(url, { inputs: 'Paris', parameters }), message);
    });
  });
});
