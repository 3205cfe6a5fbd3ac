/**
 * How the next token is chosen from a row of logits, as plain functions of that row, so that any decoding loop
 * (transformers.js `generate` today, a batched step loop tomorrow) makes the same choice for the same request.
 *
 * Order, as OpenAI defines the settings: logit_bias is added; presence and frequency penalties are subtracted
 * (`logit[j] -= count[j] * frequency_penalty + (count[j] > 0) * presence_penalty`, counts over the tokens this
 * choice generated so far, not the prompt); temperature 0 takes the arg-max (the first one on ties, as
 * transformers.js); otherwise logits are divided by the temperature, top_p keeps the smallest set of most likely
 * tokens whose probability reaches top_p, and one token is drawn.
 *
 * The draw is transformers.js's multinomial sampler made per request: tokens sorted by logit (descending, lower id
 * first on ties, as ONNX TopK sorts), softmax (transformers.js's own), then `Random.choices` on a Mersenne
 * Twister (transformers.js's `random.Random`) seeded by the request. With the same processed logits and seed it
 * picks what `generate({do_sample: true, top_k: 0})` picks after `random.seed(seed)`, without the library's global
 * generator, so concurrent requests cannot disturb each other's draws.
 */
import { random, softmax } from '@huggingface/transformers';

export type Rng = InstanceType<typeof random.Random>;

export interface SamplingSettings {
  /** 0: greedy. */
  temperature: number;
  top_p: number;
  presence_penalty: number;
  frequency_penalty: number;
  /** Token id -> bias added to its logit. */
  logit_bias: Map<number, number>;
}

export function newRng(seed: number): Rng {
  return new random.Random(seed >>> 0);
}

/** Applies bias, penalties, temperature and top_p to `row` in place. `generated`: the ids this choice has produced. */
export function shapeLogits(row: Float32Array, generated: ArrayLike<number | bigint>, s: SamplingSettings): void {
  for (const [id, bias] of s.logit_bias) if (id < row.length) row[id] = row[id]! + bias;
  if (s.presence_penalty !== 0 || s.frequency_penalty !== 0) {
    const counts = new Map<number, number>();
    for (let i = 0; i < generated.length; i++) {
      const id = Number(generated[i]);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const [id, count] of counts) {
      if (id < row.length) row[id] = row[id]! - (count * s.frequency_penalty + s.presence_penalty);
    }
  }
  if (s.temperature === 0) return;
  if (s.temperature !== 1) for (let i = 0; i < row.length; i++) row[i] = row[i]! / s.temperature;
  if (s.top_p < 1) keepTopP(row, s.top_p);
}

/** Ids by logit, highest first; equal logits in id order (ONNX TopK's order). */
function byLogit(row: Float32Array): number[] {
  const ids: number[] = [];
  for (let i = 0; i < row.length; i++) if (row[i] !== -Infinity) ids.push(i);
  return ids.sort((a, b) => row[b]! - row[a]! || a - b);
}

/** Sets to -Infinity every token outside the smallest most-likely set whose probability reaches `p`. */
function keepTopP(row: Float32Array, p: number): void {
  const order = byLogit(row);
  const probs = softmax(Float32Array.from(order, (i) => row[i]!)) as Float32Array;
  let cumulative = 0;
  let kept = 0;
  while (kept < order.length && (kept === 0 || cumulative < p)) cumulative += probs[kept++]!;
  for (let k = kept; k < order.length; k++) row[order[k]!] = -Infinity;
}

/** The first index of the largest value (transformers.js's greedy choice). */
export function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** Draws a token from shaped logits (see the module comment). */
export function sampleToken(row: Float32Array, rng: Rng): number {
  const order = byLogit(row);
  const probs = softmax(Float32Array.from(order, (i) => row[i]!)) as Float32Array;
  return rng.choices(order, Array.from(probs)) as number;
}

/** log-softmax of a row (float64 sums). */
export function logSoftmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const x of row) if (x > max) max = x;
  let sum = 0;
  for (const x of row) sum += Math.exp(x - max);
  const logZ = max + Math.log(sum);
  return Float64Array.from(row, (x) => x - logZ);
}
