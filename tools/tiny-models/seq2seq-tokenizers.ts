/**
 * Tokenizers of the encoder-decoder models, in Hugging Face `tokenizers` format:
 *
 * - SentencePiece Unigram (T5 and Marian): Metaspace pre-tokenizer ("▁" marks a word start), a Unigram model
 *   whose scores make whole words win over letters, and a post-processor that appends `</s>`.
 * - Byte-level BPE with BART's special tokens (`<s>` 0, `<pad>` 1, `</s>` 2, `<unk>` 3, `<mask>` last) and
 *   RobertaProcessing (`<s> … </s>`), from the same merges the GPT-2 model learns.
 *
 * Unigram scores stand for log-probabilities: a word costs one piece (about -8), a letter about -12, so
 * Viterbi segmentation prefers whole words, then word + suffix, and falls back to letters.
 */
import { EOS_TOKEN, type JsonFiles, trainByteBpe } from './tokenizer.ts';
import { wordList } from './words.ts';

const SPACE = '\u2581';
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const ACCENTED = 'àâäçéèêëîïôöùûüÿœæ';
const DIGITS = '0123456789';
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const SUFFIXES = ['s', 'es', 'ed', 'ing', 'ly', 'er', 'ers', 'est', 'tion', 'ment', 'ness', 'able', 'ful', 'less', 'ous', 'ent', 'eur', 'euse', 'ette', 'ique'];

/** SentencePiece pieces with scores, most useful first: `▁word`, then suffixes, then single characters. */
export function unigramPieces(): [string, number][] {
  const pieces: [string, number][] = [];
  const seen = new Set<string>();
  const push = (piece: string, score: number): void => {
    if (seen.has(piece)) return;
    seen.add(piece);
    pieces.push([piece, score]);
  };
  push(SPACE, -3);
  wordList().forEach((w, rank) => push(SPACE + w, -8 - rank / 1000));
  SUFFIXES.forEach((s, rank) => push(s, -10 - rank / 1000));
  const chars = [...LETTERS, ...LETTERS.toUpperCase(), ...ACCENTED, ...ACCENTED.toUpperCase(), ...DIGITS, ...PUNCTUATION];
  for (const c of chars) push(SPACE + c, -11);
  for (const c of chars) push(c, -12);
  return pieces;
}

interface SpecialToken {
  id: number;
  content: string;
}

function addedToken({ id, content }: SpecialToken) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** `added_tokens_decoder` of tokenizer_config.json: the added tokens keyed by id. */
function addedTokensDecoder(specials: SpecialToken[]) {
  return Object.fromEntries(specials.map((s) => [String(s.id), (({ id: _id, ...rest }) => rest)(addedToken(s))]));
}

export interface UnigramOptions {
  /** Every vocabulary entry in id order, [piece, score]; special tokens get score 0. */
  vocab: [string, number][];
  /** Special tokens (also listed in `vocab`). */
  specials: SpecialToken[];
  unkId: number;
  eosToken: string;
  /** tokenizer_config.json fields (tokenizer_class, special token names, ...). */
  config: Record<string, unknown>;
}

/** tokenizer.json, tokenizer_config.json and special_tokens_map.json for a SentencePiece Unigram tokenizer. */
export function unigramFiles(o: UnigramOptions): JsonFiles {
  const eosId = o.vocab.findIndex(([p]) => p === o.eosToken);
  const eos = { SpecialToken: { id: o.eosToken, type_id: 0 } };
  const seq = (id: 'A' | 'B') => ({ Sequence: { id, type_id: 0 } });
  const metaspace = { type: 'Metaspace', replacement: SPACE, prepend_scheme: 'always', split: true };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: o.specials.map(addedToken),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, metaspace] },
    post_processor: {
      type: 'TemplateProcessing',
      single: [seq('A'), eos],
      pair: [seq('A'), eos, seq('B'), eos],
      special_tokens: { [o.eosToken]: { id: o.eosToken, ids: [eosId], tokens: [o.eosToken] } },
    },
    decoder: metaspace,
    model: { type: 'Unigram', unk_id: o.unkId, vocab: o.vocab, byte_fallback: false },
  };
  const specialsMap = Object.fromEntries(Object.entries(o.config).filter(([k]) => k.endsWith('_token')));
  return {
    'tokenizer.json': tokenizer,
    'tokenizer_config.json': { added_tokens_decoder: addedTokensDecoder(o.specials), clean_up_tokenization_spaces: true, ...o.config },
    'special_tokens_map.json': specialsMap,
  };
}

export const BART_SPECIAL = ['<s>', '<pad>', '</s>', '<unk>'] as const;
export const BART_MASK = '<mask>';

/** BART's vocabulary: its four specials, the byte-level pieces and merges of the tiny GPT-2, and `<mask>` last. */
export function bartVocab(numMerges: number): { vocab: string[]; merges: [string, string][] } {
  const { vocab, merges } = trainByteBpe(numMerges);
  return { vocab: [...BART_SPECIAL, ...vocab.filter((t) => t !== EOS_TOKEN), BART_MASK], merges };
}

/** tokenizer.json, tokenizer_config.json and special_tokens_map.json for a BART (RoBERTa-style) tokenizer. */
export function bartFiles(vocab: string[], merges: [string, string][], maxLength: number): JsonFiles {
  const specials = [...BART_SPECIAL, BART_MASK].map((content) => ({ id: vocab.indexOf(content), content }));
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map(addedToken),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', ...byteLevel },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: false },
    decoder: { type: 'ByteLevel', ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
      merges,
    },
  };
  const specialsMap = { bos_token: '<s>', cls_token: '<s>', eos_token: '</s>', sep_token: '</s>', unk_token: '<unk>', pad_token: '<pad>', mask_token: BART_MASK };
  return {
    'tokenizer.json': tokenizer,
    'tokenizer_config.json': {
      add_prefix_space: false,
      added_tokens_decoder: addedTokensDecoder(specials),
      clean_up_tokenization_spaces: true,
      errors: 'replace',
      model_max_length: maxLength,
      tokenizer_class: 'BartTokenizer',
      trim_offsets: true,
      ...specialsMap,
    },
    'special_tokens_map.json': specialsMap,
  };
}
