import type { Tokenizer } from './types.ts';

/**
 * How a tokenizer wraps a (question, context) pair in special tokens, learned by encoding a known pair: the ids
 * before the question, between the two, and after the context, with each part's token type. Windows over a long
 * context are then built from token ids, exactly as the tokenizer would have built each one from text.
 */
export interface PairTemplate {
  prefix: number[];
  middle: number[];
  suffix: number[];
  /** token_type_ids of the first segment (prefix, question, middle) and of the second (context, suffix); null when the tokenizer gives none. */
  types: [number, number] | null;
}

const cache = new WeakMap<Tokenizer, PairTemplate>();

const idsOf = (tokenizer: Tokenizer, text: string): number[] =>
  (tokenizer(text, { add_special_tokens: false }).input_ids.tolist() as bigint[][])[0]!.map(Number);

export function pairTemplate(tokenizer: Tokenizer): PairTemplate {
  const known = cache.get(tokenizer);
  if (known) return known;
  const a = idsOf(tokenizer, 'a');
  const b = idsOf(tokenizer, 'b');
  const encoded = tokenizer('a', { text_pair: 'b' });
  const full = (encoded.input_ids.tolist() as bigint[][])[0]!.map(Number);
  const types = encoded.token_type_ids ? (encoded.token_type_ids.tolist() as bigint[][])[0]!.map(Number) : null;
  const i = full.findIndex((_, k) => a.every((id, n) => full[k + n] === id));
  const j = full.findIndex((_, k) => k >= i + a.length && b.every((id, n) => full[k + n] === id));
  if (i < 0 || j < 0) throw new Error('cannot find how this tokenizer joins a text pair');
  const template: PairTemplate = {
    prefix: full.slice(0, i),
    middle: full.slice(i + a.length, j),
    suffix: full.slice(j + b.length),
    types: types ? [types[i]!, types[j]!] : null,
  };
  cache.set(tokenizer, template);
  return template;
}

/** Token ids of a text without special tokens. */
export function plainIds(tokenizer: Tokenizer, text: string): number[] {
  return idsOf(tokenizer, text);
}

/** The special tokens a tokenizer puts around one text ([CLS] … [SEP] for BERT), learned the same way. */
export function singleTemplate(tokenizer: Tokenizer): { prefix: number[]; suffix: number[] } {
  const a = idsOf(tokenizer, 'a');
  const full = (tokenizer('a').input_ids.tolist() as bigint[][])[0]!.map(Number);
  const i = full.findIndex((_, k) => a.every((id, n) => full[k + n] === id));
  if (i < 0) throw new Error('cannot find how this tokenizer wraps a text');
  return { prefix: full.slice(0, i), suffix: full.slice(i + a.length) };
}
