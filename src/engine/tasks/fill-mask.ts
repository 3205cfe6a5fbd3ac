import { InputError } from '../../core/errors.ts';
import { softmax } from './math.ts';
import type { TaskHandler, Tokenizer } from './types.ts';

/** Vocabulary ids of `targets` (their first token, as transformers does for multi-token targets). */
function targetIds(tokenizer: Tokenizer, targets: string[]): number[] {
  return targets.map((t) => {
    const ids = (tokenizer(t, { add_special_tokens: false }).input_ids.tolist() as bigint[][])[0] ?? [];
    if (ids.length === 0) throw new InputError(`parameters.targets: "${t}" is not in the model's vocabulary`);
    return Number(ids[0]);
  });
}

export const fillMask: TaskHandler = async ({ pipe }, inputs, params) => {
  const { tokenizer, model } = pipe;
  const texts = inputs as string[];
  const maskId = tokenizer.mask_token_id;
  if (maskId === undefined) throw new InputError('this model has no mask token');
  const encoded = tokenizer(texts, { padding: true, truncation: true });
  const allIds = encoded.input_ids.tolist() as bigint[][];
  allIds.forEach((ids) => {
    if (!ids.some((id) => Number(id) === maskId)) {
      throw new InputError(`inputs: each text must contain the mask token ${tokenizer.mask_token}`);
    }
  });
  const { logits } = await model(encoded);
  const [, seqLen = 0, vocab = 0] = logits!.dims;
  const data = logits!.data as Float32Array;
  const candidates = params.targets ? targetIds(tokenizer, params.targets as string[]) : null;
  const topK = params.top_k as number;

  return allIds.map((ids, i) => {
    const position = ids.findIndex((id) => Number(id) === maskId);
    const base = (i * seqLen + position) * vocab;
    const probs = softmax(data.subarray(base, base + vocab));
    const pool = candidates ?? probs.map((_, k) => k);
    const best = [...new Set(pool)].sort((a, b) => probs[b]! - probs[a]! || a - b).slice(0, topK);
    return best.map((token) => {
      const filled = ids.slice();
      filled[position] = BigInt(token);
      return {
        score: probs[token]!,
        token,
        token_str: tokenizer.decode([token]),
        sequence: tokenizer.decode(filled, { skip_special_tokens: true }),
      };
    });
  });
};
