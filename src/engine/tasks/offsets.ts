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

/**
 * Character offsets [start, end) of each token in `text`, or null for special tokens. transformers.js has no
 * offset mapping, so tokens are aligned to the text: each token's surface form is searched from where the last
 * one ended, comparing case- and accent-folded text (the normalisation BERT tokenizers apply).
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
  const out: ([number, number] | null)[] = [];
  let cursor = 0;
  for (const id of ids) {
    if (special.has(id)) {
      out.push(null);
      continue;
    }
    const raw = tokenString(tokenizer, id).replace(/^##/, '').replace(/^[\u0120\u2581]/, '');
    const surface = fold(raw === '' ? tokenizer.decode([id]) : raw).trim();
    let at = surface ? folded.indexOf(surface, cursor) : -1;
    // A token that is not found right here (an [UNK], say) covers the next word.
    if (at < 0 || folded.slice(cursor, at).trim() !== '') {
      const m = /\S+?(?=\s|$|[^\p{L}\p{N}])|\S/u.exec(folded.slice(cursor));
      if (!m) {
        out.push(null);
        continue;
      }
      at = cursor + m.index;
      const endFolded = at + m[0].length;
      out.push([origin[at]!, (origin[endFolded - 1] ?? at) + 1]);
      cursor = endFolded;
      continue;
    }
    const endFolded = at + surface.length;
    out.push([origin[at]!, origin[endFolded - 1]! + 1]);
    cursor = endFolded;
  }
  return out;
}
