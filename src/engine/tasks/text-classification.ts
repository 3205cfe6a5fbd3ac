import { Tensor } from '@huggingface/transformers';
import { applyFunction, defaultFunction, labelOf, row, topIndices } from './math.ts';
import type { Encoded, Pipe, TaskHandler } from './types.ts';

/**
 * What one forward pass costs beyond its tokens, in padded tokens: measured on CPU with a BERT encoder, a pass takes
 * about as long as its padded tokens plus 25–30 more. Splitting a batch only pays when it saves more padding than that.
 */
export const PASS_OVERHEAD_TOKENS = 32;

/**
 * Splits a batch into groups of similar length so that short inputs are not padded to the longest one: items sorted by
 * length, cut where a separate forward pass costs less than the padding it saves (cost of a group = overhead + size ×
 * longest). Returns groups of indices into `lengths`, each in ascending length; one group when splitting does not pay.
 */
export function lengthGroups(lengths: readonly number[], overheadTokens = PASS_OVERHEAD_TOKENS): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const n = order.length;
  // best[j]: cheapest cost of the first j sorted items; cut[j]: where its last group starts.
  const best = new Float64Array(n + 1).fill(Infinity);
  const cut = new Int32Array(n + 1);
  best[0] = 0;
  for (let j = 1; j <= n; j++) {
    const longest = lengths[order[j - 1]!]!;
    for (let i = 0; i < j; i++) {
      const cost = best[i]! + overheadTokens + (j - i) * longest;
      if (cost < best[j]!) {
        best[j] = cost;
        cut[j] = i;
      }
    }
  }
  const groups: number[][] = [];
  for (let j = n; j > 0; j = cut[j]!) groups.unshift(order.slice(cut[j]!, j));
  return groups;
}

/** Rows `rows` of every [batch, length] tensor in `encoded`, cut to `length` tokens on the padded side's far end. */
function sliceRows(encoded: Encoded, rows: number[], length: number, leftPadded: boolean): Encoded {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(encoded) as [string, Tensor][]) {
    const [, width = 0] = t.dims;
    const data = t.data as BigInt64Array;
    const sliced = new BigInt64Array(rows.length * length);
    const from = leftPadded ? width - length : 0;
    rows.forEach((r, k) => sliced.set(data.subarray(r * width + from, r * width + from + length), k * length));
    out[name] = new Tensor(t.type, sliced, [rows.length, length]);
  }
  return out as unknown as Encoded;
}

/**
 * Logits [batch, labels] for a tokenized batch, run as length-grouped forward passes when that saves padding (the
 * attention mask makes each row's result independent of padding, so the scores are the same).
 */
async function classify(pipe: Pipe, encoded: Encoded): Promise<{ data: Float32Array; batch: number; numLabels: number }> {
  const [batch = 0, width = 0] = encoded.attention_mask.dims;
  const mask = encoded.attention_mask.data as BigInt64Array;
  const lengths = Array.from({ length: batch }, (_, i) => {
    let n = 0;
    for (let j = 0; j < width; j++) n += Number(mask[i * width + j]);
    return n;
  });
  // Only plain [batch, length] int64 inputs are cut, and never around an empty row (its padding is all it attends to).
  const splittable =
    lengths.every((n) => n > 0) &&
    Object.values(encoded).every((t) => t.dims.length === 2 && t.dims[0] === batch && t.dims[1] === width && t.data instanceof BigInt64Array);
  const groups = splittable ? lengthGroups(lengths) : [];
  if (groups.length <= 1) {
    const { logits } = await pipe.model(encoded);
    const [rows = 0, numLabels = 0] = logits!.dims;
    return { data: logits!.data as Float32Array, batch: rows, numLabels };
  }
  const leftPadded = (pipe.tokenizer as { padding_side?: string }).padding_side === 'left';
  let data = new Float32Array(0);
  let numLabels = 0;
  for (const rows of groups) {
    const { logits } = await pipe.model(sliceRows(encoded, rows, lengths[rows.at(-1)!]!, leftPadded));
    if (numLabels === 0) {
      numLabels = logits!.dims[1] ?? 0;
      data = new Float32Array(batch * numLabels);
    }
    const part = logits!.data as Float32Array;
    rows.forEach((r, k) => data.set(part.subarray(k * numLabels, (k + 1) * numLabels), r * numLabels));
  }
  return { data, batch, numLabels };
}

/** Scores every label (or `top_k`), with `function_to_apply` as in transformers' pipeline. */
export const textClassification: TaskHandler = async ({ pipe }, inputs, params) => {
  const encoded = pipe.tokenizer(inputs as string[], { padding: true, truncation: true });
  const { data, batch, numLabels } = await classify(pipe, encoded);
  const fn = (params.function_to_apply as 'softmax' | 'sigmoid' | 'none' | undefined) ?? defaultFunction(pipe.model.config, numLabels);
  return Array.from({ length: batch }, (_, i) => {
    const scores = applyFunction(row(data, i, numLabels), fn);
    return topIndices(scores, params.top_k as number | null | undefined).map((j) => ({
      label: labelOf(pipe.model.config, j),
      score: scores[j]!,
    }));
  });
};
