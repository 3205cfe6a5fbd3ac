import { Tensor } from '@huggingface/transformers';
import { plainIds, singleTemplate } from './pair-template.ts';
import type { Encoded, Tokenizer } from './types.ts';

/**
 * A right-padded batch in which each text too long for the model keeps its last tokens, as a tokenizer with
 * `truncation_side="left"` gives it (TEI's `truncation_direction: Left`): the special tokens stay, the start of the
 * text goes. transformers.js's tokenizer only cuts from the right, so the batch is built from token ids.
 */
export function truncatedLeft(tokenizer: Tokenizer, texts: string[]): Encoded {
  const { prefix, suffix } = singleTemplate(tokenizer);
  const room = tokenizer.model_max_length - prefix.length - suffix.length;
  const rows = texts.map((t) => {
    const ids = plainIds(tokenizer, t);
    return [...prefix, ...ids.slice(Math.max(0, ids.length - room)), ...suffix];
  });
  const width = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(rows.length * width).fill(BigInt(tokenizer.pad_token_id ?? 0));
  const mask = new BigInt64Array(rows.length * width);
  rows.forEach((r, i) => r.forEach((id, k) => ((ids[i * width + k] = BigInt(id)), (mask[i * width + k] = 1n))));
  const dims = [rows.length, width];
  return {
    input_ids: new Tensor('int64', ids, dims),
    attention_mask: new Tensor('int64', mask, dims),
    token_type_ids: new Tensor('int64', new BigInt64Array(ids.length), dims),
  } as unknown as Encoded;
}
