/**
 * The KV cache of a batch of sequences, as the decoder graph takes it: per layer, keys and values of shape
 * [rows, heads, length, headDim], float32. Sequences of different lengths share it left-padded: row r's first
 * `pads[r]` positions are padding (masked out by the attention mask), its real positions come after.
 *
 * Why one padded batch cache rather than a cache per sequence concatenated every step: the graph's `present`
 * outputs can be fed straight back as the next step's past, and the batch is repacked only when a sequence joins or
 * leaves; concatenating per-sequence caches copies the whole cache once more every step, on top of the copy
 * onnxruntime makes. Measured on onnxruntime CPU (scheduler option `repackEveryStep`, the bench's "KV layout" line),
 * 16 sequences of 256 new tokens on the bench decoder (hidden 512 × 6 layers): 64.5 vs 43.0 and 54.7 vs 28.6
 * tokens/s in two rounds; at 64 new tokens the two are within noise (94 vs 93), the copy growing with the context.
 */

export interface LayerCache {
  key: Float32Array;
  value: Float32Array;
}

export interface PackedCache {
  rows: number;
  /** Positions per row, padding included. */
  length: number;
  pads: number[];
  layers: LayerCache[];
}

export interface CacheShape {
  layers: number;
  heads: number;
  headDim: number;
}

/** A cache with no positions yet (the first prefill chunk). */
export function emptyCache(shape: CacheShape, rows: number): PackedCache {
  const layers = Array.from({ length: shape.layers }, () => ({ key: new Float32Array(0), value: new Float32Array(0) }));
  return { rows, length: 0, pads: new Array<number>(rows).fill(0), layers };
}

/** One row of some packed cache. */
export interface CacheRow {
  cache: PackedCache;
  row: number;
}

/** Real positions of a row. */
export const rowLength = (r: CacheRow): number => r.cache.length - r.cache.pads[r.row]!;

/**
 * Packs rows of other caches into one, left-padded to the longest row (padding that every row had is dropped).
 * Returns the source unchanged when it is already exactly these rows in this order, unless `alwaysCopy`.
 */
export function repack(sources: readonly CacheRow[], shape: CacheShape, alwaysCopy = false): PackedCache {
  const first = sources[0];
  if (!alwaysCopy && first && first.cache.rows === sources.length && sources.every((s, i) => s.cache === first.cache && s.row === i)) {
    const minPad = Math.min(...first.cache.pads);
    if (minPad === 0) return first.cache;
  }
  const length = Math.max(0, ...sources.map(rowLength));
  const rows = sources.length;
  const { heads, headDim } = shape;
  const layers = Array.from({ length: shape.layers }, (_, l) => {
    const key = new Float32Array(rows * heads * length * headDim);
    const value = new Float32Array(rows * heads * length * headDim);
    sources.forEach((s, to) => {
      const n = rowLength(s);
      const from = s.cache;
      const src = from.layers[l]!;
      for (let h = 0; h < heads; h++) {
        const at = ((s.row * heads + h) * from.length + from.pads[s.row]!) * headDim;
        const dest = ((to * heads + h) * length + (length - n)) * headDim;
        key.set(src.key.subarray(at, at + n * headDim), dest);
        value.set(src.value.subarray(at, at + n * headDim), dest);
      }
    });
    return { key, value };
  });
  return { rows, length, pads: sources.map((s) => length - rowLength(s)), layers };
}

/** Bytes of KV cache one position of one sequence takes. */
export const bytesPerPosition = (shape: CacheShape): number => shape.layers * 2 * shape.heads * shape.headDim * 4;
