/**
 * How `src_lang` / `tgt_lang` pick a translation direction, for the two conventions of encoder-decoders that
 * translate into several languages:
 *
 * - Marian multi-target models (opus-mt-en-ROMANCE): a `>>xx<<` token at the start of the source text names the
 *   target language; `tgt_lang: "fr"` adds `>>fr<<`. A text that already starts with a code keeps it.
 * - T5: `config.task_specific_params.translation_<src>_to_<tgt>.prefix` ("translate English to French: ").
 *
 * A model that translates in one fixed direction ignores the two parameters, as the Python pipeline does.
 */
import { InputError } from '../../core/errors.ts';
import type { Seq2SeqParams } from '../../core/tasks/text2text-generation.ts';
import type { Tokenizer } from './types.ts';

const CODE = /^>>(\w+)<<$/;
const PAIR = /^translation_(\w+)_to_(\w+)$/;

function languageCodes(tokenizer: Tokenizer): string[] {
  const vocab = tokenizer.get_vocab();
  const tokens = vocab instanceof Map ? [...vocab.keys()] : Object.keys(vocab);
  return tokens.flatMap((t) => CODE.exec(t)?.[1] ?? []);
}

function marian(tokenizer: Tokenizer, codes: string[], text: string, p: Seq2SeqParams): string {
  const source = (tokenizer as unknown as { config?: { source_lang?: unknown } }).config?.source_lang;
  if (p.src_lang !== undefined && typeof source === 'string' && p.src_lang !== source) {
    throw new InputError(`parameters.src_lang: this model translates from "${source}" only`);
  }
  if (p.tgt_lang !== undefined) {
    if (!codes.includes(p.tgt_lang)) throw new InputError(`parameters.tgt_lang: "${p.tgt_lang}" is not a target language of this model; it knows: ${codes.join(', ')}`);
    return `>>${p.tgt_lang}<< ${text.replace(/^>>\w+<<\s*/, '')}`;
  }
  if (/^>>\w+<</.test(text.trim())) return text;
  throw new InputError(`parameters.tgt_lang: this model translates into several languages; name one (${codes.join(', ')})`);
}

function t5(pairs: [string, string, string][], text: string, p: Seq2SeqParams): string {
  const matching = pairs.filter(([src, tgt]) => (p.src_lang ?? src) === src && (p.tgt_lang ?? tgt) === tgt);
  const known = pairs.map(([src, tgt]) => `${src}→${tgt}`).join(', ');
  if (matching.length === 0) throw new InputError(`parameters: no translation ${p.src_lang ?? '*'}→${p.tgt_lang ?? '*'} in this model; it knows: ${known}`);
  if (matching.length > 1) throw new InputError(`parameters: name both src_lang and tgt_lang; this model knows: ${known}`);
  return matching[0]![2] + text;
}

/**
 * The text with the chosen direction applied, or undefined when the model has no choice to make (the caller then
 * gets the pipeline's plain translation).
 */
export function chooseLanguage(
  config: { task_specific_params?: Record<string, { prefix?: string }> },
  tokenizer: Tokenizer,
  text: string,
  p: Seq2SeqParams,
): string | undefined {
  const codes = languageCodes(tokenizer);
  if (codes.length > 1) return marian(tokenizer, codes, text, p);
  if (p.src_lang === undefined && p.tgt_lang === undefined) return undefined;
  const pairs = Object.entries(config.task_specific_params ?? {}).flatMap(([name, value]): [string, string, string][] => {
    const m = PAIR.exec(name);
    return m ? [[m[1]!, m[2]!, value.prefix ?? '']] : [];
  });
  return pairs.length > 0 ? t5(pairs, text, p) : undefined;
}
