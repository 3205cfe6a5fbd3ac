/**
 * Tokenizer files in Hugging Face `tokenizers` format, built from the embedded word list.
 *
 * - WordPiece (BERT-style, uncased) for the encoders: special tokens, every single character we
 *   expect (a–z, 0–9, ASCII punctuation) plus its `##` form so any such text tokenizes without
 *   [UNK], then whole words.
 * - Byte-level BPE (GPT-2-style) for the decoder: the 256 byte symbols, merges learned from the
 *   word list by a tiny deterministic BPE trainer, and `<|endoftext|>`.
 */
import { wordList } from './words.ts';

export type JsonFiles = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// WordPiece
// ---------------------------------------------------------------------------------------------

export const BERT_SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
/** Common English and French word endings, so inflected words split into a few pieces, not letters. */
const SUFFIXES = `s es ed ing ly er ers est tion tions ment ments ness able ible ful less al ity ive ous ize ise ist ism
  ant ent ence ance ic ical y ry ie ies d n e t r l en on an ent ait ais aient ez ons eur euse ette ique isme iste`;

/** Lowercase and strip accents, like BertNormalizer(lowercase: true) does to input text. */
function normalizeWord(word: string): string {
  return word.normalize('NFD').replace(/\p{Mn}/gu, '').toLowerCase();
}

/** Token strings in id order: [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4, characters, ## characters, words. */
export function wordPieceVocab(): string[] {
  const tokens: string[] = [...BERT_SPECIAL];
  const seen = new Set<string>(tokens);
  const push = (t: string): void => {
    if (!seen.has(t)) {
      seen.add(t);
      tokens.push(t);
    }
  };
  const chars = [...LETTERS, ...DIGITS, ...PUNCTUATION];
  for (const c of chars) push(c);
  for (const c of chars) push(`##${c}`);
  for (const suffix of SUFFIXES.split(/\s+/)) if (suffix) push(`##${suffix}`);
  for (const w of wordList()) {
    const n = normalizeWord(w);
    // Words are split on punctuation by BertPreTokenizer, so only purely alphanumeric entries are useful.
    if (/^[a-z0-9]+$/.test(n)) push(n);
  }
  return tokens;
}

function bertAddedToken(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** tokenizer.json, tokenizer_config.json and special_tokens_map.json for a BERT-style tokenizer. */
export function wordPieceFiles(vocab: string[]): JsonFiles {
  const id = (t: string): number => {
    const i = vocab.indexOf(t);
    if (i < 0) throw new Error(`token ${t} missing from vocab`);
    return i;
  };
  const special = (t: string, typeId: number) => ({ SpecialToken: { id: t, type_id: typeId } });
  const seq = (s: 'A' | 'B', typeId: number) => ({ Sequence: { id: s, type_id: typeId } });

  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: BERT_SPECIAL.map((t) => bertAddedToken(id(t), t)),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]', 0), seq('A', 0), special('[SEP]', 0)],
      pair: [special('[CLS]', 0), seq('A', 0), special('[SEP]', 0), seq('B', 1), special('[SEP]', 1)],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
  };

  const specialsMap = {
    cls_token: '[CLS]',
    mask_token: '[MASK]',
    pad_token: '[PAD]',
    sep_token: '[SEP]',
    unk_token: '[UNK]',
  };

  const tokenizerConfig = {
    added_tokens_decoder: Object.fromEntries(
      BERT_SPECIAL.map((t) => {
        const { id: tid, ...rest } = bertAddedToken(id(t), t);
        return [String(tid), rest];
      }),
    ),
    clean_up_tokenization_spaces: true,
    do_basic_tokenize: true,
    do_lower_case: true,
    model_max_length: 512,
    never_split: null,
    strip_accents: null,
    tokenize_chinese_chars: true,
    tokenizer_class: 'BertTokenizer',
    ...specialsMap,
  };

  return {
    'tokenizer.json': tokenizer,
    'tokenizer_config.json': tokenizerConfig,
    'special_tokens_map.json': specialsMap,
  };
}

// ---------------------------------------------------------------------------------------------
// Byte-level BPE
// ---------------------------------------------------------------------------------------------

export const EOS_TOKEN = '<|endoftext|>';

/** GPT-2's reversible map from bytes to printable unicode characters (space becomes 'Ġ'). */
export function bytesToUnicode(): string[] {
  const printable = new Set<number>();
  for (let b = 33; b <= 126; b++) printable.add(b);
  for (let b = 161; b <= 172; b++) printable.add(b);
  for (let b = 174; b <= 255; b++) printable.add(b);
  const out: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    out[b] = printable.has(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  }
  return out;
}

/** Whether a byte-level token decodes to printable ASCII only (space included, no control or UTF-8 bytes). */
export function isPrintableAsciiToken(token: string): boolean {
  const byteOf = new Map(bytesToUnicode().map((c, b) => [c, b]));
  return [...token].every((c) => {
    const b = byteOf.get(c);
    return b !== undefined && b >= 32 && b <= 126;
  });
}

/**
 * Learns `numMerges` BPE merges from the word list (each word seen both sentence-initially and
 * after a space, as GPT-2's pre-tokenizer produces "Ġword"). Ties go to the lexicographically
 * smallest pair so the result never depends on Map iteration details.
 */
export function trainByteBpe(numMerges: number): { vocab: string[]; merges: [string, string][] } {
  const byteChars = bytesToUnicode();
  const encoder = new TextEncoder();
  const toSymbols = (text: string): string[] => [...encoder.encode(text)].map((b) => byteChars[b] ?? '');

  let words: string[][] = [];
  for (const w of wordList()) {
    words.push(toSymbols(w));
    words.push(toSymbols(` ${w}`));
  }

  const vocab = [...byteChars];
  const merges: [string, string][] = [];
  for (let m = 0; m < numMerges; m++) {
    const counts = new Map<string, number>();
    for (const w of words) {
      for (let i = 0; i + 1 < w.length; i++) {
        const key = `${w[i]} ${w[i + 1]}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    let best: string | null = null;
    let bestCount = 1; // a pair must occur at least twice to be worth a merge
    for (const [key, count] of counts) {
      if (count > bestCount || (count === bestCount && best !== null && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    if (best === null) break;
    const [a = '', b = ''] = best.split(' ');
    merges.push([a, b]);
    vocab.push(a + b);
    words = words.map((w) => {
      const out: string[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          out.push(a + b);
          i++;
        } else {
          out.push(w[i] ?? '');
        }
      }
      return out;
    });
  }
  vocab.push(EOS_TOKEN);
  return { vocab, merges };
}

/** Llama 3's pre-tokenizer split (its `(?i:'s|...)` group written out, since JavaScript regexes lack inline flags). */
export const LLAMA3_SPLIT =
  "'s|'t|'re|'ve|'m|'ll|'d|'S|'T|'RE|'VE|'M|'LL|'D|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** What a chat model's byte-level tokenizer adds to GPT-2's: more special tokens, a template, Llama 3's split. */
export interface ByteBpeOptions {
  /** Special tokens (already in `vocab`) besides `<|endoftext|>`-style eos; each becomes an added token. */
  special?: string[];
  eos?: string;
  /** Prepended to every encoded text by the post-processor (Llama 3's `<|begin_of_text|>`). */
  bos?: string;
  pad?: string;
  chatTemplate?: string;
  /** Llama 3's pre-tokenizer: a regex Split, then the byte mapping without GPT-2's own regex. */
  llama3Split?: boolean;
  tokenizerClass?: string;
}

/** tokenizer.json, tokenizer_config.json and special_tokens_map.json for a GPT-2-style tokenizer. */
export function byteBpeFiles(vocab: string[], merges: [string, string][], opts: ByteBpeOptions = {}): JsonFiles {
  const eos = opts.eos ?? EOS_TOKEN;
  const specials = [...new Set([...(vocab.includes(EOS_TOKEN) ? [EOS_TOKEN] : []), eos, ...(opts.bos ? [opts.bos] : []), ...(opts.special ?? [])])];
  const idOf = (t: string): number => {
    const i = vocab.indexOf(t);
    if (i < 0) throw new Error(`special token ${t} missing from vocab`);
    return i;
  };
  // Same fields as tokenizer.json's added_tokens entry, minus the id (the key of added_tokens_decoder).
  const addedRest = (content: string) => ({ content, single_word: false, lstrip: false, rstrip: false, normalized: content === EOS_TOKEN, special: true });
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  const preTokenizer = opts.llama3Split
    ? {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: LLAMA3_SPLIT }, behavior: 'Isolated', invert: false },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      }
    : { type: 'ByteLevel', ...byteLevel };
  const bos = opts.bos;
  const postProcessor = bos
    ? {
        type: 'Sequence',
        processors: [
          { type: 'ByteLevel', ...byteLevel },
          {
            type: 'TemplateProcessing',
            single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
            pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
            special_tokens: { [bos]: { id: bos, ids: [idOf(bos)], tokens: [bos] } },
          },
        ],
      }
    : { type: 'ByteLevel', ...byteLevel };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((t) => ({ id: idOf(t), ...addedRest(t) })).sort((a, b) => a.id - b.id),
    normalizer: null,
    pre_tokenizer: preTokenizer,
    post_processor: postProcessor,
    decoder: { type: 'ByteLevel', ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: opts.llama3Split ?? false,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
      merges,
    },
  };
  const pad = opts.pad ?? eos;
  const specialsMap = opts.chatTemplate
    ? { ...(bos ? { bos_token: bos } : {}), eos_token: eos, pad_token: pad }
    : { bos_token: EOS_TOKEN, eos_token: EOS_TOKEN, unk_token: EOS_TOKEN, pad_token: EOS_TOKEN };
  const tokenizerConfig = {
    add_bos_token: bos !== undefined,
    add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries(specials.map((t) => [String(idOf(t)), addedRest(t)])),
    clean_up_tokenization_spaces: false,
    model_max_length: 512,
    // GPT-2 has no pad token; reusing eos lets the server pad batched prompts (on the left).
    tokenizer_class: opts.tokenizerClass ?? 'GPT2Tokenizer',
    ...specialsMap,
    ...(opts.chatTemplate ? { chat_template: opts.chatTemplate } : {}),
  };
  return {
    'tokenizer.json': tokenizer,
    'tokenizer_config.json': tokenizerConfig,
    'special_tokens_map.json': specialsMap,
  };
}
