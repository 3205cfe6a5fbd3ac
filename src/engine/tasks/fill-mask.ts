import { InputError } from '../../core/errors.ts';
import { itemError, type ItemError } from '../../core/tasks/item-error.ts';
import { softmax } from './math.ts';
import type { TaskHandler, Tokenizer } from './types.ts';

/**
 * Vocabulary ids of `targets`, as transformers resolves them: an exact vocabulary entry (`##ing` included), else
 * the first token of the tokenized target. A target that only tokenizes to [UNK] (or to nothing, or to another
 * special token) is not in the vocabulary: that is the caller's mistake, not a prediction to score.
 */
function targetIds(tokenizer: Tokenizer, targets: string[]): number[] {
  const vocab = tokenizer.get_vocab();
  const special = new Set(tokenizer.all_special_ids);
  return targets.map((t) => {
    const exact = vocab instanceof Map ? vocab.get(t) : Object.hasOwn(vocab, t) ? vocab[t] : undefined;
    const id = exact ?? Number((tokenizer(t, { add_special_tokens: false }).input_ids.tolist() as bigint[][])[0]?.[0] ?? -1);
    if (id < 0 || special.has(id)) throw new InputError(`parameters.targets: "${t}" is not in the model's vocabulary`);
    return id;
  });
}

export const fillMask: TaskHandler = async ({ pipe }, inputs, params) => {
  const { tokenizer, model } = pipe;
  const texts = inputs as string[];
  const maskId = tokenizer.mask_token_id;
  if (maskId === undefined) throw new InputError('this model has no mask token');
  const candidates = params.targets ? targetIds(tokenizer, params.targets as string[]) : null;
  const encoded = tokenizer(texts, { padding: true, truncation: true });
  const allIds = encoded.input_ids.tolist() as bigint[][];
  const lengths = (encoded.attention_mask.tolist() as bigint[][]).map((m) => m.filter((x) => x === 1n).length);
  const { logits } = await model(encoded);
  const [, seqLen = 0, vocab = 0] = logits!.dims;
  const data = logits!.data as Float32Array;
  const topK = params.top_k as number;

  // Items of concurrent requests share this batch: a text without the mask fails its own request, not the batch.
  return allIds.map((ids, i): ItemError | object[] => {
    const positions = ids.flatMap((id, k) => (Number(id) === maskId ? [k] : []));
    if (positions.length === 0) {
      const cut = texts[i]!.includes(tokenizer.mask_token ?? '\u0000');
      return itemError(
        cut
          ? `inputs: the mask token ${tokenizer.mask_token} lies past the model's ${tokenizer.model_max_length} tokens; shorten the text`
          : `inputs: each text must contain the mask token ${tokenizer.mask_token}`,
      );
    }
    const single = positions.length === 1;
    const perMask = positions.map((position) => {
      const base = (i * seqLen + position) * vocab;
      const probs = softmax(data.subarray(base, base + vocab));
      const pool = candidates ?? probs.map((_, k) => k);
      const best = [...new Set(pool)].sort((a, b) => probs[b]! - probs[a]! || a - b).slice(0, topK);
      return best.map((token) => {
        // Padding is right of the text: the sequence ends where the attention mask does.
        const filled = ids.slice(0, lengths[i]);
        filled[position] = BigInt(token);
        return {
          score: probs[token]!,
          token,
          token_str: tokenizer.decode([token]),
          // As the Python pipeline: with several masks, each sequence fills one of them and keeps the special tokens
          // (the other masks stay visible).
          sequence: tokenizer.decode(filled, { skip_special_tokens: single }),
        };
      });
    });
    // One mask: its list; several: one list per mask, in text order (the Python pipeline's shape).
    return single ? perMask[0]! : perMask;
  });
};
