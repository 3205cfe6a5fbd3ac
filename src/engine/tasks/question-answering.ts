import { softmax } from './math.ts';
import { tokenOffsets } from './offsets.ts';
import type { TaskHandler } from './types.ts';

interface Pair {
  question: string;
  context: string;
}

/**
 * Extractive QA as transformers.js scores it (softmax over start and end logits restricted to the context,
 * best start×end products), plus what its pipeline lacks: character `start`/`end` in the context,
 * `max_answer_len` and `handle_impossible_answer`.
 */
export const questionAnswering: TaskHandler = async ({ pipe }, inputs, params) => {
  const { tokenizer, model } = pipe;
  const pairs = inputs as Pair[];
  const encoded = tokenizer(
    pairs.map((p) => p.question),
    { text_pair: pairs.map((p) => p.context), padding: true, truncation: true },
  );
  const out = await model(encoded);
  const startLogits = out.start_logits!;
  const endLogits = out.end_logits!;
  const seqLen = startLogits.dims[1] ?? 0;
  const allIds = encoded.input_ids.tolist() as bigint[][];
  const masks = encoded.attention_mask.tolist() as bigint[][];
  const special = new Set(tokenizer.all_special_ids);
  const topK = params.top_k as number;
  const maxLen = params.max_answer_len as number;

  return pairs.map((pair, b) => {
    const ids = allIds[b]!.map(Number);
    const sep = ids.indexOf(tokenizer.sep_token_id ?? -1);
    const start = Array.from(startLogits.data.subarray(b * seqLen, (b + 1) * seqLen) as Float32Array);
    const end = Array.from(endLogits.data.subarray(b * seqLen, (b + 1) * seqLen) as Float32Array);
    for (let i = 1; i < seqLen; i++) {
      if (masks[b]![i] === 0n || i <= sep || special.has(ids[i]!)) {
        start[i] = -Infinity;
        end[i] = -Infinity;
      }
    }
    const startScores = softmax(start);
    const endScores = softmax(end);
    const nullScore = startScores[0]! * endScores[0]!;
    startScores[0] = 0;
    endScores[0] = 0;

    // Context tokens sit after the first [SEP]; align them to the context text for character offsets.
    const contextFrom = sep + 1;
    const contextIds = ids.slice(contextFrom).filter((_, k) => masks[b]![contextFrom + k] === 1n);
    const offsets = tokenOffsets(tokenizer, pair.context, contextIds);

    const spans: [number, number, number][] = [];
    for (let s = 0; s < seqLen; s++) {
      if (startScores[s] === 0) continue;
      for (let e = s; e < Math.min(seqLen, s + maxLen); e++) {
        if (endScores[e] === 0) continue;
        spans.push([s, e, startScores[s]! * endScores[e]!]);
      }
    }
    spans.sort((x, y) => y[2] - x[2]);
    const answers = spans.slice(0, topK).map(([s, e, score]) => {
      const first = offsets[s - contextFrom];
      const last = offsets[e - contextFrom];
      return {
        answer: tokenizer.decode(ids.slice(s, e + 1), { skip_special_tokens: true }),
        score,
        start: first?.[0] ?? 0,
        end: last?.[1] ?? 0,
      };
    });
    // As transformers does: the empty answer is ranked with the others by its score, then the top k are kept.
    if (params.handle_impossible_answer) {
      answers.push({ answer: '', score: nullScore, start: 0, end: 0 });
      answers.sort((x, y) => y.score - x.score);
      answers.length = Math.min(answers.length, topK);
    }
    return answers;
  });
};
