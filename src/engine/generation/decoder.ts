/**
 * One forward pass of a decoder graph over a batch: the onnxruntime session transformers.js loaded for the model,
 * run directly with our own feeds so that rows of different lengths share it (left padding, one attention mask and
 * position ids per row).
 *
 * Drives graphs shaped like transformers.js's decoder exports: inputs `input_ids`, `attention_mask`, optional
 * `position_ids`, `use_cache_branch` and `num_logits_to_keep`, and `past_key_values.{i}.key/value` (float32);
 * outputs `logits` and `present.{i}.key/value`. `decoderFor` returns undefined for anything else, and the task
 * falls back to transformers.js `generate`.
 */
import ort from 'onnxruntime-node';
import type { CacheShape, PackedCache } from './kv.ts';

interface InputMeta {
  name: string;
  type?: string;
  shape?: (string | number)[];
}

/** The slice of onnxruntime's InferenceSession used here. */
export interface DecoderSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  inputMetadata?: readonly InputMeta[];
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>>;
}

const KNOWN = new Set(['input_ids', 'attention_mask', 'position_ids', 'use_cache_branch', 'num_logits_to_keep']);
const PAST = /^past_key_values\.(\d+)\.(key|value)$/;

export interface StepInput {
  /** New tokens per row, left-padded to the same count (pad positions hold any id; they are masked). */
  ids: BigInt64Array;
  /** New positions per row (the same for every row). */
  width: number;
  /** The cache before these tokens; the attention mask comes from its pads and `newPads`. */
  past: PackedCache;
  /** Leading pad positions among the new tokens, per row (prefill of rows of different lengths). */
  newPads: number[];
  /** Position id of each row's first real new token (its real cache length). */
  starts: number[];
}

export interface StepOutput {
  /** Logits of each row's last position, [rows × vocab]. */
  logits: Float32Array;
  vocab: number;
  present: PackedCache;
}

export class Decoder {
  readonly hasPositions: boolean;

  constructor(
    private readonly session: DecoderSession,
    readonly shape: CacheShape,
  ) {
    this.hasPositions = session.inputNames.includes('position_ids');
  }

  async step(input: StepInput): Promise<StepOutput> {
    const { past, width, newPads, starts } = input;
    const rows = past.rows;
    const total = past.length + width;
    const mask = new BigInt64Array(rows * total);
    const positions = new BigInt64Array(rows * width);
    for (let r = 0; r < rows; r++) {
      const pastPad = past.pads[r]!;
      const newPad = newPads[r]!;
      for (let t = pastPad; t < past.length; t++) mask[r * total + t] = 1n;
      for (let t = newPad; t < width; t++) {
        mask[r * total + past.length + t] = 1n;
        positions[r * width + t] = BigInt(starts[r]! + t - newPad);
      }
    }
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', input.ids, [rows, width]),
      attention_mask: new ort.Tensor('int64', mask, [rows, total]),
    };
    const names = this.session.inputNames;
    if (this.hasPositions) feeds.position_ids = new ort.Tensor('int64', positions, [rows, width]);
    if (names.includes('use_cache_branch')) feeds.use_cache_branch = new ort.Tensor('bool', Uint8Array.of(past.length > 0 ? 1 : 0), [1]);
    if (names.includes('num_logits_to_keep')) feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.of(1n), []);
    const { heads, headDim } = this.shape;
    past.layers.forEach((layer, l) => {
      feeds[`past_key_values.${l}.key`] = new ort.Tensor('float32', layer.key, [rows, heads, past.length, headDim]);
      feeds[`past_key_values.${l}.value`] = new ort.Tensor('float32', layer.value, [rows, heads, past.length, headDim]);
    });
    const out = await this.session.run(feeds);
    const logitsTensor = out.logits!;
    const vocab = logitsTensor.dims[logitsTensor.dims.length - 1]!;
    const positionsOut = logitsTensor.dims[1]!;
    const all = logitsTensor.data as Float32Array;
    // Only the last position of each row picks a token.
    const logits = new Float32Array(rows * vocab);
    for (let r = 0; r < rows; r++) logits.set(all.subarray(((r + 1) * positionsOut - 1) * vocab, (r + 1) * positionsOut * vocab), r * vocab);
    const layers = past.layers.map((_, l) => ({
      key: out[`present.${l}.key`]!.data as Float32Array,
      value: out[`present.${l}.value`]!.data as Float32Array,
    }));
    const pads = past.pads.map((p, r) => (past.length === 0 ? newPads[r]! : p));
    return { logits, vocab, present: { rows, length: total, pads, layers } };
  }
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

/**
 * A Decoder for this session, or undefined when the graph is not one it can drive. Heads and head size come from
 * the graph's declared past shapes, else from the model config (grouped-query attention: num_key_value_heads).
 */
export function decoderFor(session: DecoderSession, config: Record<string, unknown>): Decoder | undefined {
  const pasts = session.inputNames.map((n) => PAST.exec(n)).filter((m) => m !== null);
  if (pasts.length === 0 || !session.inputNames.includes('input_ids') || !session.inputNames.includes('attention_mask')) return undefined;
  if (session.inputNames.some((n) => !KNOWN.has(n) && !PAST.test(n))) return undefined;
  const layers = Math.max(...pasts.map((m) => Number(m[1]))) + 1;
  if (pasts.length !== layers * 2 || !session.outputNames.includes('logits')) return undefined;
  for (let l = 0; l < layers; l++) if (!session.outputNames.includes(`present.${l}.key`) || !session.outputNames.includes(`present.${l}.value`)) return undefined;
  const meta = session.inputMetadata?.find((m) => m.name === 'past_key_values.0.key');
  if (meta?.type !== undefined && meta.type !== 'float32') return undefined;
  const attentionHeads = positiveInt(config.num_attention_heads) ?? positiveInt(config.n_head);
  const heads = positiveInt(meta?.shape?.[1]) ?? positiveInt(config.num_key_value_heads) ?? attentionHeads;
  const hidden = positiveInt(config.hidden_size) ?? positiveInt(config.n_embd);
  const headDim = positiveInt(meta?.shape?.[3]) ?? positiveInt(config.head_dim) ?? (hidden && attentionHeads ? hidden / attentionHeads : undefined);
  if (!heads || !headDim || !Number.isInteger(headDim)) return undefined;
  return new Decoder(session, { layers, heads, headDim });
}
