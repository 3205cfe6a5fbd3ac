import { argmax, labelOf, softmax } from './math.ts';
import { isSubword, tokenOffsets } from './offsets.ts';
import type { TaskHandler, Tokenizer } from './types.ts';

type Strategy = 'none' | 'simple' | 'first' | 'average' | 'max';

interface Piece {
  entity: string;
  score: number;
  ids: number[];
  index: number;
  start: number;
  end: number;
}

/** `B-PER` → ['B', 'PER']; a label without a BIOES prefix counts as inside its own tag (as transformers.js does). */
function splitTag(entity: string): [string, string] {
  const p = entity[0];
  return entity[1] === '-' && (p === 'B' || p === 'I' || p === 'E' || p === 'S') ? [p, entity.slice(2)] : ['I', entity];
}

/** Merges adjacent pieces of the same tag into entity groups (transformers' SIMPLE strategy). */
function group(pieces: Piece[], tokenizer: Tokenizer) {
  const groups: Piece[][] = [];
  let open: string | null = null;
  for (const piece of pieces) {
    const [prefix, tag] = splitTag(piece.entity);
    if (open === tag && prefix !== 'B' && prefix !== 'S') {
      groups[groups.length - 1]!.push(piece);
      if (prefix === 'E') open = null;
    } else {
      groups.push([piece]);
      open = prefix === 'S' ? null : tag;
    }
  }
  return groups.map((g) => ({
    entity_group: splitTag(g[0]!.entity)[1],
    score: g.reduce((s, p) => s + p.score, 0) / g.length,
    word: tokenizer.decode(g.flatMap((p) => p.ids), { skip_special_tokens: true }),
    start: g[0]!.start,
    end: g[g.length - 1]!.end,
  }));
}

export const tokenClassification: TaskHandler = async ({ pipe }, inputs, params) => {
  const { tokenizer, model } = pipe;
  const texts = inputs as string[];
  const strategy = params.aggregation_strategy as Strategy;
  const ignore = new Set(params.ignore_labels as string[]);
  const encoded = tokenizer(texts, { padding: true, truncation: true });
  const { logits } = await model(encoded);
  const [, seqLen = 0, numLabels = 0] = logits!.dims;
  const data = logits!.data as Float32Array;
  const allIds = encoded.input_ids.tolist() as bigint[][];
  const masks = encoded.attention_mask.tolist() as bigint[][];

  return texts.map((text, i) => {
    const length = masks[i]!.filter((m) => m === 1n).length;
    const ids = allIds[i]!.slice(0, length).map(Number);
    const offsets = tokenOffsets(tokenizer, text, ids);
    // One entry per real (non-special) token, with its label distribution.
    const tokens = ids.flatMap((id, j) => {
      const span = offsets[j];
      if (!span) return [];
      const base = (i * seqLen + j) * numLabels;
      return [{ id, index: j, probs: softmax(data.subarray(base, base + numLabels)), start: span[0], end: span[1] }];
    });

    const toPiece = (t: (typeof tokens)[number], probs: number[], ids: number[], end: number): Piece => {
      const best = argmax(probs);
      return { entity: labelOf(model.config, best), score: probs[best]!, ids, index: t.index, start: t.start, end };
    };

    if (strategy === 'none' || strategy === 'simple') {
      const pieces = tokens.map((t) => toPiece(t, t.probs, [t.id], t.end)).filter((p) => !ignore.has(p.entity));
      if (strategy === 'simple') return group(pieces, tokenizer);
      return pieces.map((p) => ({
        entity: p.entity,
        // The JS client requires entity_group on every item, so the ungrouped answer carries it too.
        entity_group: p.entity,
        score: p.score,
        index: p.index,
        word: tokenizer.decode(p.ids, { skip_special_tokens: true }),
        start: p.start,
        end: p.end,
      }));
    }

    // Word-level strategies: sub-word tokens join the word they continue, then one label per word.
    const words: (typeof tokens)[] = [];
    for (const t of tokens) {
      if (words.length > 0 && isSubword(tokenizer, t.id)) words[words.length - 1]!.push(t);
      else words.push([t]);
    }
    const pieces = words.map((w) => {
      let probs: number[];
      if (strategy === 'first') probs = w[0]!.probs;
      else if (strategy === 'max') probs = w.reduce((a, b) => (Math.max(...b.probs) > Math.max(...a.probs) ? b : a)).probs;
      else probs = w[0]!.probs.map((_, k) => w.reduce((s, t) => s + t.probs[k]!, 0) / w.length);
      return toPiece(w[0]!, probs, w.map((t) => t.id), w[w.length - 1]!.end);
    });
    return group(pieces.filter((p) => !ignore.has(p.entity)), tokenizer);
  });
};
