/**
 * Picks a sequence's next token from its row of logits. It follows transformers.js 4.3 `generate` step for step
 * (repetition penalty, temperature, then greedy argmax or top-k multinomial sampling over a float32 softmax), so a
 * sequence gives the tokens transformers.js gives; the differences are that each sequence owns its PRNG (a
 * Mersenne Twister seeded with the sequence's seed, the same generator transformers.js uses globally) and that
 * top_p and OpenAI's presence/frequency penalties are applied (transformers.js ignores top_p).
 */
import { random } from '@huggingface/transformers';
import type { GenerationSettings } from './settings.ts';

export interface Pick {
  id: number;
  /** Log-probability of the token under the processed logits (after penalties and temperature). */
  logprob: number;
  /** The most likely tokens and their log-probabilities, when asked for (settings.topLogprobs). */
  top?: { id: number; logprob: number }[];
}

interface Prng {
  random(): number;
}

/**
 * Chooses each next token of one sequence from its logits row (vocabulary wide; the chooser may modify it). The
 * scheduler makes a `Sampler` from the settings unless the caller brings its own (chat's OpenAI sampling).
 */
export interface TokenChooser {
  next(logits: Float32Array): Pick;
}

export class Sampler implements TokenChooser {
  private readonly rng: Prng | undefined;
  /** Occurrences of each generated token (presence/frequency penalties). */
  private readonly counts = new Map<number, number>();
  /** Tokens seen so far, prompt included (repetition penalty). */
  private readonly seen: Set<number>;

  constructor(
    private readonly settings: GenerationSettings,
    promptIds: readonly number[],
  ) {
    this.rng = settings.doSample ? new random.Random(settings.seed) : undefined;
    this.seen = new Set(promptIds);
  }

  /** Chooses from `logits` (one row, vocabulary wide; modified in place) and records the choice. */
  next(logits: Float32Array): Pick {
    this.process(logits);
    const id = this.rng ? this.sample(logits, this.rng) : argmax(logits);
    const logZ = logSumExp(logits);
    const pick: Pick = { id, logprob: logits[id]! - logZ };
    if (this.settings.topLogprobs > 0) {
      pick.top = topK(logits, this.settings.topLogprobs).map((i) => ({ id: i, logprob: logits[i]! - logZ }));
    }
    this.seen.add(id);
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    return pick;
  }

  /** Penalties and temperature, in transformers.js's order; float32 arithmetic, as its processors do. */
  private process(logits: Float32Array): void {
    const s = this.settings;
    if (s.repetitionPenalty !== 1) {
      for (const id of this.seen) {
        const x = logits[id];
        if (x !== undefined) logits[id] = x < 0 ? x * s.repetitionPenalty : x / s.repetitionPenalty;
      }
    }
    if (s.presencePenalty !== 0 || s.frequencyPenalty !== 0) {
      for (const [id, n] of this.counts) logits[id] = logits[id]! - s.presencePenalty - s.frequencyPenalty * n;
    }
    if (s.doSample && s.temperature !== 1) for (let i = 0; i < logits.length; i++) logits[i] = logits[i]! / s.temperature;
  }

  /** transformers.js's MultinomialSampler: softmax over the top k (float32), then a weighted pick; top_p cuts the tail first. */
  private sample(logits: Float32Array, rng: Prng): number {
    const k = this.settings.topK > 0 ? Math.min(this.settings.topK, logits.length) : logits.length;
    let ids = topK(logits, k);
    let probs = softmax32(Float32Array.from(ids, (i) => logits[i]!));
    if (this.settings.topP < 1) {
      let kept = 0;
      let cumulative = 0;
      while (kept < probs.length && cumulative < this.settings.topP) cumulative += probs[kept++]!;
      ids = ids.slice(0, Math.max(1, kept));
      probs = softmax32(Float32Array.from(ids, (i) => logits[i]!));
    }
    let sum = 0;
    for (const p of probs) sum += p;
    let x = rng.random() * sum;
    for (let i = 0; i < probs.length; i++) {
      x -= probs[i]!;
      if (x < 0) return ids[i]!;
    }
    return ids[ids.length - 1]!;
  }
}

/** First index of the largest value (transformers.js's greedy choice). */
export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Indices of the k largest values, largest first, ties to the lower index (as onnxruntime's TopK). */
export function topK(values: Float32Array, k: number): number[] {
  if (k >= values.length) return Array.from(values.keys()).sort((a, b) => values[b]! - values[a]! || a - b);
  // Insertion into a short sorted list: most values are below the current k-th and are rejected with one compare.
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (best.length === k && v <= values[best[k - 1]!]!) continue;
    let at = best.length;
    while (at > 0 && values[best[at - 1]!]! < v) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

/** Softmax kept in float32 at each stage, as transformers.js computes it on a Float32Array. */
function softmax32(values: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of values) max = Math.max(max, v);
  const exps = values.map((v) => Math.exp(v - max));
  let sum = 0;
  for (const e of exps) sum += e;
  return exps.map((e) => e / sum);
}

function logSumExp(values: Float32Array): number {
  let max = -Infinity;
  for (const v of values) max = Math.max(max, v);
  let sum = 0;
  for (const v of values) sum += Math.exp(v - max);
  return max + Math.log(sum);
}
