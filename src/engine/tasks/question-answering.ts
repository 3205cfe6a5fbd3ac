import { Tensor } from '@huggingface/transformers';
import { itemError, type ItemError } from '../../core/tasks/item-error.ts';
import { softmax } from './math.ts';
import { tokenOffsets } from './offsets.ts';
import { pairTemplate, plainIds } from './pair-template.ts';
import type { Encoded, TaskHandler, Tokenizer } from './types.ts';

interface Pair {
  question: string;
  context: string;
}

interface Answer {
  answer: string;
  score: number;
  start: number;
  end: number;
}

/** One model input: the question with a slice of the context, `from` being the slice's first context token. */
interface Window {
  pair: number;
  ids: number[];
  types: number[];
  /** Index in `ids` of the first context token, and how many context tokens follow. */
  offset: number;
  length: number;
  from: number;
}

/** The Python pipeline's defaults (transformers QuestionAnsweringPipeline). */
const MAX_SEQ_LEN = 384;
const DOC_STRIDE = 128;
const MAX_QUESTION_LEN = 64;

/**
 * Windows over the context, as the Python pipeline cuts them (tokenizer overflow with `stride`): each holds the
 * question (cut to `max_question_len` tokens) and as much context as `max_seq_len` leaves, and consecutive windows
 * share `doc_stride` context tokens. A context that fits gives one window, the same input transformers.js builds.
 */
function windows(tokenizer: Tokenizer, pair: Pair, index: number, p: { maxSeqLen: number; stride: number; maxQuestion: number }, context: number[]): Window[] | string {
  const t = pairTemplate(tokenizer);
  const question = plainIds(tokenizer, pair.question).slice(0, p.maxQuestion);
  const head = [...t.prefix, ...question, ...t.middle];
  const room = p.maxSeqLen - head.length - t.suffix.length;
  if (room <= 0) return `inputs: the question takes all of max_seq_len (${p.maxSeqLen} tokens); lower max_question_len or raise max_seq_len`;
  if (context.length > room && p.stride >= room) {
    return `parameters.doc_stride: ${p.stride} must be smaller than the ${room} context tokens a window holds (max_seq_len minus the question)`;
  }
  const out: Window[] = [];
  for (let from = 0; ; from += room - p.stride) {
    const slice = context.slice(from, from + room);
    const [first, second] = t.types ?? [0, 0];
    out.push({
      pair: index,
      ids: [...head, ...slice, ...t.suffix],
      types: [...head.map(() => first), ...slice.map(() => second), ...t.suffix.map(() => second)],
      offset: head.length,
      length: slice.length,
      from,
    });
    if (from + room >= context.length) return out;
  }
}

/** The windows as one right-padded batch, with the inputs a BERT-style model takes. */
function batch(tokenizer: Tokenizer, all: Window[]): Encoded {
  const width = Math.max(...all.map((w) => w.ids.length));
  const ids = new BigInt64Array(all.length * width).fill(BigInt(tokenizer.pad_token_id ?? 0));
  const mask = new BigInt64Array(all.length * width);
  const types = new BigInt64Array(all.length * width);
  all.forEach((w, r) => {
    w.ids.forEach((id, k) => {
      ids[r * width + k] = BigInt(id);
      mask[r * width + k] = 1n;
      types[r * width + k] = BigInt(w.types[k]!);
    });
  });
  const dims = [all.length, width];
  return { input_ids: new Tensor('int64', ids, dims), attention_mask: new Tensor('int64', mask, dims), token_type_ids: new Tensor('int64', types, dims) } as unknown as Encoded;
}

/**
 * Extractive QA as transformers.js scores it (softmax over start and end logits restricted to the context, best
 * start×end products), over windows of a long context as the Python pipeline cuts them (`max_seq_len`,
 * `doc_stride`, `max_question_len`), plus what transformers.js lacks: character `start`/`end` in the context,
 * `max_answer_len` and `handle_impossible_answer`. Answers of all windows are ranked together; a span two
 * overlapping windows both found is listed once, with its better score.
 */
export const questionAnswering: TaskHandler = async ({ pipe }, inputs, params) => {
  const { tokenizer, model } = pipe;
  const pairs = inputs as Pair[];
  const topK = params.top_k as number;
  const maxLen = params.max_answer_len as number;
  const maxSeqLen = Math.min((params.max_seq_len as number | undefined) ?? MAX_SEQ_LEN, tokenizer.model_max_length);
  const cut = { maxSeqLen, stride: (params.doc_stride as number | undefined) ?? Math.min(DOC_STRIDE, Math.floor(maxSeqLen / 2)), maxQuestion: (params.max_question_len as number | undefined) ?? MAX_QUESTION_LEN };

  const contexts = pairs.map((pair) => plainIds(tokenizer, pair.context));
  const perPair = pairs.map((pair, i) => windows(tokenizer, pair, i, cut, contexts[i]!));
  const all = perPair.flatMap((w) => (typeof w === 'string' ? [] : w));
  if (all.length === 0) return perPair.map((w) => itemError(w as string));
  const out = await model(batch(tokenizer, all));
  const seqLen = out.start_logits!.dims[1] ?? 0;
  const startData = out.start_logits!.data as Float32Array;
  const endData = out.end_logits!.data as Float32Array;

  interface Candidate {
    row: number;
    s: number;
    e: number;
    score: number;
    start: number;
    end: number;
  }
  const candidates: Candidate[][] = pairs.map(() => []);
  const nullScores: number[] = pairs.map(() => Infinity);
  const offsets = pairs.map((pair, i) => tokenOffsets(tokenizer, pair.context, contexts[i]!));
  const special = new Set(tokenizer.all_special_ids);
  all.forEach((w, r) => {
    // Only context tokens can start or end an answer ([UNK] included among the special tokens, as transformers.js
    // has it); [CLS] stays for the "no answer" score.
    const inContext = (k: number) => k >= w.offset && k < w.offset + w.length && !special.has(w.ids[k]!);
    const row = (data: Float32Array) => Array.from(data.subarray(r * seqLen, r * seqLen + w.ids.length), (x, k) => (k === 0 || inContext(k) ? x : -Infinity));
    const startScores = softmax(row(startData));
    const endScores = softmax(row(endData));
    // As transformers: the "no answer" score of a long context is its lowest over the windows.
    nullScores[w.pair] = Math.min(nullScores[w.pair]!, startScores[0]! * endScores[0]!);
    const pairOffsets = offsets[w.pair]!;
    for (let s = w.offset; s < w.offset + w.length; s++) {
      if (!inContext(s)) continue;
      for (let e = s; e < Math.min(w.offset + w.length, s + maxLen); e++) {
        if (!inContext(e)) continue;
        const first = pairOffsets[w.from + s - w.offset];
        const last = pairOffsets[w.from + e - w.offset];
        candidates[w.pair]!.push({ row: r, s, e, score: startScores[s]! * endScores[e]!, start: first?.[0] ?? 0, end: last?.[1] ?? 0 });
      }
    }
  });

  return pairs.map((_, i): Answer[] | ItemError => {
    if (typeof perPair[i] === 'string') return itemError(perPair[i]);
    const ranked: Answer[] = [];
    const seen = new Set<string>();
    for (const c of candidates[i]!.sort((x, y) => y.score - x.score)) {
      if (ranked.length >= topK) break;
      const key = `${c.start}:${c.end}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const answer = tokenizer.decode(all[c.row]!.ids.slice(c.s, c.e + 1), { skip_special_tokens: true });
      ranked.push({ answer, score: c.score, start: c.start, end: c.end });
    }
    // As transformers does: the empty answer is ranked with the others by its score, then the top k are kept.
    if (params.handle_impossible_answer) {
      ranked.push({ answer: '', score: nullScores[i]!, start: 0, end: 0 });
      ranked.sort((x, y) => y.score - x.score);
      ranked.length = Math.min(ranked.length, topK);
    }
    return ranked;
  });
};
