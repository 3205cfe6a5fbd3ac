/**
 * Encoder-decoder graphs as transformers.js 4.3.1 loads them for T5, BART and Marian (its Seq2Seq model type):
 *
 * onnx/encoder_model.onnx
 *   inputs  input_ids, attention_mask          int64 [batch_size, encoder_sequence_length]
 *   output  last_hidden_state                  float [batch_size, encoder_sequence_length, d_model]
 * onnx/decoder_model_merged.onnx (one graph for the first step and the cached steps)
 *   inputs  encoder_attention_mask             int64 [batch_size, encoder_sequence_length]
 *           input_ids                          int64 [batch_size, decoder_sequence_length]
 *           encoder_hidden_states              float [batch_size, encoder_sequence_length, d_model]
 *           past_key_values.{i}.decoder.key/value  float [batch_size, heads, past_decoder_sequence_length, head_dim]
 *           past_key_values.{i}.encoder.key/value  float [batch_size, heads, encoder_sequence_length_out, head_dim]
 *   outputs logits                             float [batch_size, decoder_sequence_length, vocab]
 *           present.{i}.decoder.key/value      (past + new self-attention keys/values)
 *           present.{i}.encoder.key/value      (cross-attention keys/values of the encoder states)
 *
 * transformers.js starts with empty caches shaped from the declared input shapes (symbolic dims other than
 * `batch_size` become 0, so heads and head_dim are fixed numbers), and from the second step on feeds the first
 * step's encoder keys/values back as past_key_values.{i}.encoder.*. This graph recomputes them from
 * encoder_hidden_states at every step instead (a few tiny matmuls), so the encoder past inputs are declared but
 * unused and no `use_cache_branch` If-node is needed; the outputs are the same.
 *
 * The architecture differences that matter for parity and for the tokenizers live in `Seq2SeqArch`:
 * T5 (pre-RMSNorm, bucketed relative position bias shared by the layers, unscaled attention, gated GELU, no
 * biases), BART (post-LayerNorm, learned positions offset by 2, LayerNorm on embeddings, GELU, tied LM head plus
 * final_logits_bias) and Marian (post-LayerNorm, sinusoidal positions, embeddings scaled by √d_model, SiLU).
 */
import { FLOAT, GraphBuilder, INT64, int, ints } from './graph.ts';
import { MASKED, paddingBias, splitHeads, mergeHeads } from './transformer.ts';

export interface Seq2SeqDims {
  d: number;
  layers: number;
  heads: number;
  ffn: number;
}

export interface Seq2SeqArch {
  dims: Seq2SeqDims;
  vocab: number;
  seed: number;
  norm: 'rms-pre' | 'layer-post';
  positions: { kind: 'relative'; buckets: number; maxDistance: number } | { kind: 'learned'; max: number; offset: number } | { kind: 'sinusoidal'; max: number };
  /** Multiplier of the token embeddings (√d_model for Marian, 1 otherwise). */
  embedScale: number;
  /** Standard deviation of the shared embedding table. */
  embedStd: number;
  layernormEmbedding: boolean;
  activation: 'gated-gelu' | 'gelu' | 'silu';
  /** Whether projections have biases (BART, Marian) or not (T5). */
  bias: boolean;
  /** Divide attention scores by √head_dim (BART, Marian); T5 does not. */
  scaleScores: boolean;
  /** `tied`: logits = x·sharedᵀ + final_logits_bias; `untied`: a separate lm_head (T5 v1.1 / FLAN-T5). */
  lmHead: { kind: 'tied'; finalLogitsBias: Float32Array } | { kind: 'untied' };
  eps: number;
}

interface Ctx {
  g: GraphBuilder;
  a: Seq2SeqArch;
}

function headDim(a: Seq2SeqArch): number {
  return a.dims.d / a.dims.heads;
}

function proj(c: Ctx, x: string, name: string, inDim: number, outDim: number): string {
  if (c.a.bias) return c.g.linear(x, name, inDim, outDim);
  return c.g.matmul(x, c.g.weight(`${name}.weight`, [inDim, outDim], 1 / Math.sqrt(inDim)));
}

/** T5LayerNorm: x / √(mean(x²) + eps) · w (no mean subtraction, no bias). */
function rmsNorm(c: Ctx, x: string, name: string): string {
  const { g } = c;
  const meanSquare = g.op('ReduceMean', [g.mul(x, x), g.i64([-1])], { keepdims: int(1) });
  const inv = g.op('Reciprocal', [g.op('Sqrt', [g.add(meanSquare, g.f32(c.a.eps))])]);
  return g.mul(g.mul(x, inv), g.add(g.weight(`${name}.weight`, [c.a.dims.d], 0.1), g.f32(1)));
}

function norm(c: Ctx, x: string, name: string): string {
  return c.a.norm === 'rms-pre' ? rmsNorm(c, x, name) : c.g.layerNorm(x, name, c.a.dims.d, c.a.eps);
}

/** A sub-layer with its residual: pre-norm x + f(norm(x)) (T5) or post-norm norm(x + f(x)) (BART, Marian). */
function residual(c: Ctx, x: string, name: string, f: (h: string) => string): string {
  if (c.a.norm === 'rms-pre') return c.g.add(x, f(norm(c, x, name)));
  return norm(c, c.g.add(x, f(x)), name);
}

/** softmax(q·kᵀ (/√hd) + bias)·v, merged back to [B, S, d] and projected. */
function attention(c: Ctx, q: string, k: string, v: string, bias: string, name: string): string {
  const { g, a } = c;
  let scores = g.matmul(q, g.op('Transpose', [k], { perm: ints([0, 1, 3, 2]) }));
  if (a.scaleScores) scores = g.mul(scores, g.f32(1 / Math.sqrt(headDim(a))));
  const probs = g.op('Softmax', [g.add(scores, bias)], { axis: int(-1) });
  const att = { hidden: a.dims.d, heads: a.dims.heads };
  return proj(c, mergeHeads(g, g.matmul(probs, v), att), `${name}.o`, a.dims.d, a.dims.d);
}

function heads(c: Ctx, x: string, name: string): string {
  const att = { hidden: c.a.dims.d, heads: c.a.dims.heads };
  return splitHeads(c.g, proj(c, x, name, c.a.dims.d, c.a.dims.d), att, [0, 2, 1, 3]);
}

function feedForward(c: Ctx, x: string, name: string): string {
  const { g, a } = c;
  const { d, ffn } = a.dims;
  if (a.activation === 'gated-gelu') {
    const gate = g.gelu(proj(c, x, `${name}.wi_0`, d, ffn));
    return proj(c, g.mul(gate, proj(c, x, `${name}.wi_1`, d, ffn)), `${name}.wo`, ffn, d);
  }
  const h = proj(c, x, `${name}.fc1`, d, ffn);
  const act = a.activation === 'gelu' ? g.gelu(h) : g.mul(h, g.op('Sigmoid', [h]));
  return proj(c, act, `${name}.fc2`, ffn, d);
}

/**
 * T5's relative position bucket of (key position - query position), as transformers' `_relative_position_bucket`:
 * exact buckets for small distances, logarithmic ones up to `maxDistance`, the last bucket beyond.
 */
export function relativeBucket(relative: number, bidirectional: boolean, buckets: number, maxDistance: number): number {
  let n = buckets;
  let bucket = 0;
  let distance: number;
  if (bidirectional) {
    n = Math.floor(n / 2);
    if (relative > 0) bucket += n;
    distance = Math.abs(relative);
  } else {
    distance = -Math.min(relative, 0);
  }
  const maxExact = Math.floor(n / 2);
  if (distance < maxExact) return bucket + distance;
  const large = maxExact + Math.trunc((Math.log(distance / maxExact) / Math.log(maxDistance / maxExact)) * (n - maxExact));
  return bucket + Math.min(large, n - 1);
}

/**
 * Relative position bias [1, heads, S, T] for queries at `queryFrom`..`queryFrom+S-1` and keys at 0..T-1: the
 * bucket of each distance is looked up in a table over [-maxDistance, maxDistance] (buckets saturate beyond it).
 */
function relativeBias(c: Ctx, queryFrom: string, queryTo: string, keyTo: string, bidirectional: boolean, name: string): string {
  const { g, a } = c;
  if (a.positions.kind !== 'relative') throw new Error('relative bias on a model without relative positions');
  const { buckets, maxDistance } = a.positions;
  const table = Array.from({ length: 2 * maxDistance + 1 }, (_, i) => relativeBucket(i - maxDistance, bidirectional, buckets, maxDistance));
  const bucketTable = g.i64(table);
  const one = g.i64([1], []);
  const queries = g.op('Unsqueeze', [g.op('Range', [queryFrom, queryTo, one]), g.i64([1])]); // [S,1]
  const keys = g.op('Range', [g.i64([0], []), keyTo, one]); // [T]
  const relative = g.op('Sub', [keys, queries]); // [S,T]
  const clipped = g.op('Max', [g.op('Min', [relative, g.i64([maxDistance], [])]), g.i64([-maxDistance], [])]);
  const bucket = g.op('Gather', [bucketTable, g.op('Add', [clipped, g.i64([maxDistance], [])])], { axis: int(0) }); // [S,T]
  const embedding = g.weight(`${name}.relative_attention_bias.weight`, [buckets, a.dims.heads], 1.0);
  const perHead = g.op('Transpose', [g.op('Gather', [embedding, bucket], { axis: int(0) })], { perm: ints([2, 0, 1]) }); // [nh,S,T]
  return g.op('Unsqueeze', [perHead, g.i64([0])]);
}

/** Sinusoidal position table (Marian): sin in the first half of the features, cos in the second. */
function sinusoids(max: number, d: number): Float32Array {
  const out = new Float32Array(max * d);
  const half = d / 2;
  for (let p = 0; p < max; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p / 10000 ** ((2 * i) / d);
      out[p * d + i] = Math.sin(angle);
      out[p * d + half + i] = Math.cos(angle);
    }
  }
  return out;
}

/** Token embeddings (scaled) plus absolute positions from..to (none for T5), LayerNorm'd where the model does. */
function embed(c: Ctx, ids: string, from: string, to: string, side: 'encoder' | 'decoder'): string {
  const { g, a } = c;
  const shared = g.weight('shared.weight', [a.vocab, a.dims.d], a.embedStd);
  let x = g.op('Gather', [shared, ids]);
  if (a.embedScale !== 1) x = g.mul(x, g.f32(a.embedScale));
  const p = a.positions;
  if (p.kind !== 'relative') {
    let positions = g.op('Range', [from, to, g.i64([1], [])]);
    const table =
      p.kind === 'learned'
        ? g.weight(`${side}.embed_positions.weight`, [p.max + p.offset, a.dims.d], 1.0)
        : g.tensor(`${side}.embed_positions.weight`, [p.max, a.dims.d], sinusoids(p.max, a.dims.d));
    if (p.kind === 'learned') positions = g.add(positions, g.i64([p.offset], []));
    x = g.add(x, g.op('Gather', [table, positions]));
  }
  return a.layernormEmbedding ? g.layerNorm(x, `${side}.layernorm_embedding`, a.dims.d, a.eps) : x;
}

export function encoderGraph(a: Seq2SeqArch): Uint8Array {
  const g = new GraphBuilder(a.seed);
  const c: Ctx = { g, a };
  const ids = g.input('input_ids', INT64, ['batch_size', 'encoder_sequence_length']);
  const mask = g.input('attention_mask', INT64, ['batch_size', 'encoder_sequence_length']);
  const length = g.dim(ids, 1);
  const zero = g.i64([0], []);
  let x = embed(c, ids, zero, length, 'encoder');
  let bias = paddingBias(g, mask); // [B,1,1,S]
  if (a.positions.kind === 'relative') bias = g.add(bias, relativeBias(c, zero, length, length, true, 'encoder.block.0.layer.0.SelfAttention'));
  for (let l = 0; l < a.dims.layers; l++) {
    const p = `encoder.layers.${l}`;
    x = residual(c, x, `${p}.self_attn_layer_norm`, (h) => attention(c, heads(c, h, `${p}.self_attn.q`), heads(c, h, `${p}.self_attn.k`), heads(c, h, `${p}.self_attn.v`), bias, `${p}.self_attn`));
    x = residual(c, x, `${p}.final_layer_norm`, (h) => feedForward(c, h, `${p}.ffn`));
  }
  if (a.norm === 'rms-pre') x = rmsNorm(c, x, 'encoder.final_layer_norm');
  g.output(x, 'last_hidden_state', FLOAT, ['batch_size', 'encoder_sequence_length', a.dims.d]);
  return g.toBytes('encoder', 'tiny encoder-decoder: encoder');
}

/** Causal mask [S,T] for queries at past..past+S-1 over keys 0..T-1. */
function causalBias(c: Ctx, past: string, total: string): string {
  const { g } = c;
  const one = g.i64([1], []);
  const queries = g.op('Unsqueeze', [g.op('Range', [past, total, one]), g.i64([1])]);
  const keys = g.op('Range', [g.i64([0], []), total, one]);
  return g.op('Where', [g.op('LessOrEqual', [keys, queries]), g.f32(0), g.f32(MASKED)]);
}

export function decoderGraph(a: Seq2SeqArch): Uint8Array {
  const g = new GraphBuilder(a.seed);
  const c: Ctx = { g, a };
  const hd = headDim(a);
  const encoderMask = g.input('encoder_attention_mask', INT64, ['batch_size', 'encoder_sequence_length']);
  const ids = g.input('input_ids', INT64, ['batch_size', 'decoder_sequence_length']);
  const encoderStates = g.input('encoder_hidden_states', FLOAT, ['batch_size', 'encoder_sequence_length', a.dims.d]);
  const past: { key: string; value: string }[] = [];
  for (let l = 0; l < a.dims.layers; l++) {
    const selfShape = ['batch_size', a.dims.heads, 'past_decoder_sequence_length', hd];
    const crossShape = ['batch_size', a.dims.heads, 'encoder_sequence_length_out', hd];
    past.push({
      key: g.input(`past_key_values.${l}.decoder.key`, FLOAT, selfShape),
      value: g.input(`past_key_values.${l}.decoder.value`, FLOAT, selfShape),
    });
    g.input(`past_key_values.${l}.encoder.key`, FLOAT, crossShape);
    g.input(`past_key_values.${l}.encoder.value`, FLOAT, crossShape);
  }
  const pastLength = g.dim(past[0]!.key, 2);
  const total = g.add(pastLength, g.dim(ids, 1));
  let x = embed(c, ids, pastLength, total, 'decoder');
  let selfBias = causalBias(c, pastLength, total);
  if (a.positions.kind === 'relative') selfBias = g.add(selfBias, relativeBias(c, pastLength, total, total, false, 'decoder.block.0.layer.0.SelfAttention'));
  const crossBias = paddingBias(g, encoderMask);
  const presents: string[][] = [];
  for (let l = 0; l < a.dims.layers; l++) {
    const p = `decoder.layers.${l}`;
    const layerPast = past[l]!;
    const kv: string[] = [];
    x = residual(c, x, `${p}.self_attn_layer_norm`, (h) => {
      const k = g.op('Concat', [layerPast.key, heads(c, h, `${p}.self_attn.k`)], { axis: int(2) });
      const v = g.op('Concat', [layerPast.value, heads(c, h, `${p}.self_attn.v`)], { axis: int(2) });
      kv.push(k, v);
      return attention(c, heads(c, h, `${p}.self_attn.q`), k, v, selfBias, `${p}.self_attn`);
    });
    x = residual(c, x, `${p}.encoder_attn_layer_norm`, (h) => {
      const k = heads(c, encoderStates, `${p}.encoder_attn.k`);
      const v = heads(c, encoderStates, `${p}.encoder_attn.v`);
      kv.push(k, v);
      return attention(c, heads(c, h, `${p}.encoder_attn.q`), k, v, crossBias, `${p}.encoder_attn`);
    });
    x = residual(c, x, `${p}.final_layer_norm`, (h) => feedForward(c, h, `${p}.ffn`));
    presents.push(kv);
  }
  if (a.norm === 'rms-pre') x = rmsNorm(c, x, 'decoder.final_layer_norm');
  let logits: string;
  if (a.lmHead.kind === 'tied') {
    const shared = g.weight('shared.weight', [a.vocab, a.dims.d], a.embedStd);
    logits = g.add(g.matmul(x, g.op('Transpose', [shared], { perm: ints([1, 0]) })), g.tensor('final_logits_bias', [a.vocab], a.lmHead.finalLogitsBias));
  } else {
    logits = g.matmul(x, g.weight('lm_head.weight', [a.dims.d, a.vocab], 1 / Math.sqrt(a.dims.d)));
  }
  g.output(logits, 'logits', FLOAT, ['batch_size', 'decoder_sequence_length', a.vocab]);
  const selfOut = ['batch_size', a.dims.heads, 'total_decoder_sequence_length', hd];
  const crossOut = ['batch_size', a.dims.heads, 'encoder_sequence_length_out', hd];
  presents.forEach(([k, v, ek, ev], l) => {
    g.output(k!, `present.${l}.decoder.key`, FLOAT, selfOut);
    g.output(v!, `present.${l}.decoder.value`, FLOAT, selfOut);
    g.output(ek!, `present.${l}.encoder.key`, FLOAT, crossOut);
    g.output(ev!, `present.${l}.encoder.value`, FLOAT, crossOut);
  });
  return g.toBytes('decoder', 'tiny encoder-decoder: merged decoder with KV cache');
}
