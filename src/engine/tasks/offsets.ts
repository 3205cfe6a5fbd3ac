import type { Tokenizer } from './types.ts';

const reverseVocabs = new WeakMap<Tokenizer, Map<number, string>>();

/** The vocabulary entry of a token id (e.g. `##ing`). */
export function tokenString(tokenizer: Tokenizer, id: number): string {
  let reverse = reverseVocabs.get(tokenizer);
  if (!reverse) {
    const vocab = tokenizer.get_vocab();
    const entries = vocab instanceof Map ? [...vocab.entries()] : Object.entries(vocab);
    reverse = new Map(entries.map(([token, tid]) => [tid, token]));
    reverseVocabs.set(tokenizer, reverse);
  }
  return reverse.get(id) ?? '';
}

/** Whether a token continues the previous word (WordPiece `##x`). */
export function isSubword(tokenizer: Tokenizer, id: number): boolean {
  return tokenString(tokenizer, id).startsWith('##');
}

function fold(s: string): string {
  return s.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '');
}

/** BERT's notion of punctuation: ASCII non-alphanumerics and Unicode P* (each one is a word of its own). */
function isPunctuation(c: string): boolean {
  return /[!-/:-@[-`{-~]/.test(c) || /\p{P}/u.test(c);
}

/** CJK ideographs: BERT tokenizers split them into one word each. */
function isCjk(c: string): boolean {
  return /[\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF]/.test(c);
}

/**
 * The next word as BERT's pre-tokenizer cuts it (a run between spaces and punctuation, or one punctuation mark
 * or CJK character), from `from` on; null when only spaces are left.
 */
function nextWord(s: string, from: number): [number, number] | null {
  let i = from;
  while (i < s.length && /\s/.test(s[i]!)) i++;
  if (i >= s.length) return null;
  if (isPunctuation(s[i]!) || isCjk(s[i]!)) return [i, i + 1];
  let j = i;
  while (j < s.length && !/\s/.test(s[j]!) && !isPunctuation(s[j]!) && !isCjk(s[j]!)) j++;
  return [i, j];
}

/**
 * Character offsets [start, end) of each token in `text`, or null for special tokens. transformers.js has no
 * offset mapping, so tokens are aligned to the text: each token's surface form is searched from where the last
 * one ended, comparing case- and accent-folded text (the normalisation BERT tokenizers apply). An unknown token
 * ([UNK]) stands for a whole word that the vocabulary cannot spell: it gets null like the other special tokens,
 * but the alignment moves past that word, so the tokens after it still land on their own text.
 */
export function tokenOffsets(tokenizer: Tokenizer, text: string, ids: number[]): ([number, number] | null)[] {
  // Folded text with a map from each folded char back to its index in `text`.
  let folded = '';
  const origin: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const f = fold(text[i]!);
    folded += f;
    for (let k = 0; k < f.length; k++) origin.push(i);
  }
  const special = new Set(tokenizer.all_special_ids);
  const unknown = (tokenizer as Tokenizer & { unk_token_id?: number }).unk_token_id;
  const out: ([number, number] | null)[] = [];
  let cursor = 0;
  for (const id of ids) {
    if (special.has(id)) {
      if (id === unknown) cursor = nextWord(folded, cursor)?.[1] ?? cursor;
      out.push(null);
      continue;
    }
    const raw = tokenString(tokenizer, id).replace(/^##/, '').replace(/^[\u0120\u2581]/, '');
    const surface = fold(raw === '' ? tokenizer.decode([id]) : raw).trim();
    const at = surface ? folded.indexOf(surface, cursor) : -1;
    // A token that is not found right here covers the next word.
    if (at < 0 || folded.slice(cursor, at).trim() !== '') {
      const word = nextWord(folded, cursor);
      if (!word) {
        out.push(null);
        continue;
      }
      out.push([origin[word[0]]!, (origin[word[1] - 1] ?? word[0]) + 1]);
      cursor = word[1];
      continue;
    }
    const endFolded = at + surface.length;
    out.push([origin[at]!, origin[endFolded - 1]! + 1]);
    cursor = endFolded;
  }
  return out;
}
