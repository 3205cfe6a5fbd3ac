/**
 * Transformer building blocks shared by the encoder (BERT), decoder (GPT-2) and ViT graphs.
 *
 * Shapes in comments: B batch, S query length, T key length, H hidden, nh heads, hd head size.
 */
import { BOOL, type GraphBuilder, int, ints } from './graph.ts';

export interface AttentionDims {
  hidden: number;
  heads: number;
}

/**
 * Added to the attention scores of keys that must not be seen. exp(-1e9 - max) is exactly 0 in
 * float32, so masked keys (padding) contribute nothing and padded inputs give the same outputs
 * as unpadded ones (up to float summation order).
 */
export const MASKED = -1e9;

/** [B, S, H] -> [B, nh, S, hd] (or [B, nh, hd, S] with keyLayout, ready for Q·Kᵀ). */
export function splitHeads(g: GraphBuilder, x: string, d: AttentionDims, perm: number[]): string {
  const shape = g.i64([0, 0, d.heads, d.hidden / d.heads]); // 0 = copy B and S from the input
  return g.op('Transpose', [g.op('Reshape', [x, shape])], { perm: ints(perm) });
}

/** [B, nh, S, hd] -> [B, S, H]. */
export function mergeHeads(g: GraphBuilder, x: string, d: AttentionDims): string {
  const t = g.op('Transpose', [x], { perm: ints([0, 2, 1, 3]) });
  return g.op('Reshape', [t, g.i64([0, 0, d.hidden])]);
}

/** softmax(Q·Kᵀ/√hd + bias)·V for q [B,nh,S,hd], kT [B,nh,hd,T], v [B,nh,T,hd]; bias broadcasts to [B,nh,S,T]. */
export function attend(g: GraphBuilder, q: string, kT: string, v: string, d: AttentionDims, bias: string | null): string {
  let scores = g.mul(g.matmul(q, kT), g.f32(1 / Math.sqrt(d.hidden / d.heads)));
  if (bias) scores = g.add(scores, bias);
  const probs = g.op('Softmax', [scores], { axis: int(-1) });
  return g.matmul(probs, v);
}

/** Bidirectional self-attention (encoder / ViT). `bias` is the [B,1,1,S] padding mask or null. */
export function selfAttention(g: GraphBuilder, x: string, prefix: string, d: AttentionDims, bias: string | null): string {
  const q = splitHeads(g, g.linear(x, `${prefix}.query`, d.hidden, d.hidden), d, [0, 2, 1, 3]);
  const kT = splitHeads(g, g.linear(x, `${prefix}.key`, d.hidden, d.hidden), d, [0, 2, 3, 1]);
  const v = splitHeads(g, g.linear(x, `${prefix}.value`, d.hidden, d.hidden), d, [0, 2, 1, 3]);
  const ctx = mergeHeads(g, attend(g, q, kT, v, d, bias), d);
  return g.linear(ctx, `${prefix}.output`, d.hidden, d.hidden);
}

/** Position-wise feed-forward: W2·gelu(W1·x). */
export function feedForward(g: GraphBuilder, x: string, prefix: string, hidden: number, intermediate: number): string {
  const h = g.gelu(g.linear(x, `${prefix}.intermediate`, hidden, intermediate));
  return g.linear(h, `${prefix}.output`, intermediate, hidden);
}

/**
 * Padding mask from an int64 attention_mask [B, T]: 0 where attended, MASKED elsewhere,
 * shaped [B, 1, 1, T] to broadcast over heads and queries.
 */
export function paddingBias(g: GraphBuilder, attentionMask: string): string {
  const keep = g.op('Cast', [g.op('Unsqueeze', [attentionMask, g.i64([1, 2])])], { to: int(BOOL) });
  return g.op('Where', [keep, g.f32(0), g.f32(MASKED)]);
}
