import { argmax, labelOf, softmax } from './math.ts';
import { isSubword, tokenOffsets } from './offsets.ts';
import { Tensor } from '@huggingface/transformers';
import { InputError } from '../../core/errors.ts';
import { plainIds, singleTemplate } from './pair-template.ts';
import type { Model, Pipe, TaskHandler, Tokenizer } from './types.ts';

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

interface Token {
  id: number;
  index: number;
  probs: number[];
  start: number;
  end: number;
}

type Entity = ReturnType<typeof group>[number] | { entity: string; entity_group: string; score: number; index: number; word: string; start: number; end: number };

/** Entities of one model input's tokens under the aggregation strategy, without the ignored labels. */
function entitiesOf(tokens: Token[], strategy: Strategy, ignore: Set<string>, model: Model, tokenizer: Tokenizer): Entity[] {
  const toPiece = (t: Token, probs: number[], ids: number[], end: number): Piece => {
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
  const words: Token[][] = [];
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
}

/**
 * Entities found by overlapping windows, merged as transformers' `aggregate_overlapping_entities` does: in start
 * order, of two entities that overlap the longer stays (the better score when equally long).
 */
function mergeOverlapping(entities: Entity[]): Entity[] {
  if (entities.length === 0) return entities;
  const sorted = [...entities].sort((x, y) => x.start - y.start);
  const out: Entity[] = [];
  let previous = sorted[0]!;
  for (const e of sorted) {
    if (previous.start <= e.start && e.start < previous.end) {
      const length = e.end - e.start;
      const previousLength = previous.end - previous.start;
      if (length > previousLength || (length === previousLength && e.score > previous.score)) previous = e;
    } else {
      out.push(previous);
      previous = e;
    }
  }
  out.push(previous);
  return out;
}

/** Token label distributions of a batch of id rows (right-padded), with each row's content tokens located in the text. */
async function label(pipe: Pipe, rows: { ids: number[]; content: { at: number; index: number; span: [number, number] | null }[] }[]): Promise<Token[][]> {
  const width = Math.max(...rows.map((r) => r.ids.length));
  const ids = new BigInt64Array(rows.length * width).fill(BigInt(pipe.tokenizer.pad_token_id ?? 0));
  const mask = new BigInt64Array(rows.length * width);
  rows.forEach((r, i) => r.ids.forEach((id, k) => ((ids[i * width + k] = BigInt(id)), (mask[i * width + k] = 1n))));
  const dims = [rows.length, width];
  const { logits } = await pipe.model({ input_ids: new Tensor('int64', ids, dims), attention_mask: new Tensor('int64', mask, dims), token_type_ids: new Tensor('int64', new BigInt64Array(ids.length), dims) });
  const numLabels = logits!.dims[2] ?? 0;
  const data = logits!.data as Float32Array;
  return rows.map((r, i) =>
    r.content.flatMap(({ at, index, span }) => {
      if (!span) return [];
      const base = (i * width + at) * numLabels;
      return [{ id: r.ids[at]!, index, probs: softmax(data.subarray(base, base + numLabels)), start: span[0], end: span[1] }];
    }),
  );
}

/**
 * With `stride`, a text longer than the model is read in windows of the model's length that overlap by `stride`
 * tokens, as the Python pipeline does; each window's entities are found alone, then merged (mergeOverlapping).
 */
async function strided(pipe: Pipe, texts: string[], stride: number, strategy: Strategy, ignore: Set<string>): Promise<Entity[][]> {
  const { tokenizer, model } = pipe;
  const { prefix, suffix } = singleTemplate(tokenizer);
  const room = tokenizer.model_max_length - prefix.length - suffix.length;
  if (stride >= room) throw new InputError(`parameters.stride: ${stride} must be smaller than the ${room} tokens a window of this model holds`);
  const rows: { text: number; ids: number[]; content: { at: number; index: number; span: [number, number] | null }[] }[] = [];
  texts.forEach((text, t) => {
    const content = plainIds(tokenizer, text);
    const spans = tokenOffsets(tokenizer, text, content);
    for (let from = 0; ; from += room - stride) {
      const slice = content.slice(from, from + room);
      rows.push({
        text: t,
        ids: [...prefix, ...slice, ...suffix],
        content: slice.map((_, k) => ({ at: prefix.length + k, index: prefix.length + k, span: spans[from + k] ?? null })),
      });
      if (from + room >= content.length) break;
    }
  });
  const tokens = await label(pipe, rows);
  const perText: Entity[][] = texts.map(() => []);
  const windows = texts.map(() => 0);
  rows.forEach((r, i) => {
    perText[r.text]!.push(...entitiesOf(tokens[i]!, strategy, ignore, model, tokenizer));
    windows[r.text]!++;
  });
  return perText.map((entities, t) => (windows[t]! > 1 ? mergeOverlapping(entities) : entities));
}

export const tokenClassification: TaskHandler = async ({ pipe }, inputs, params) => {
  const { tokenizer, model } = pipe;
  const texts = inputs as string[];
  const strategy = params.aggregation_strategy as Strategy;
  const ignore = new Set(params.ignore_labels as string[]);
  if (typeof params.stride === 'number') return strided(pipe, texts, params.stride, strategy, ignore);
  const encoded = tokenizer(texts, { padding: true, truncation: true });
  const allIds = encoded.input_ids.tolist() as bigint[][];
  const masks = encoded.attention_mask.tolist() as bigint[][];
  const rows = texts.map((text, i) => {
    const length = masks[i]!.filter((m) => m === 1n).length;
    const ids = allIds[i]!.slice(0, length).map(Number);
    const offsets = tokenOffsets(tokenizer, text, ids);
    return { ids, content: ids.map((_, j) => ({ at: j, index: j, span: offsets[j] ?? null })) };
  });
  const tokens = await label(pipe, rows);
  return tokens.map((t) => entitiesOf(t, strategy, ignore, model, tokenizer));
};
