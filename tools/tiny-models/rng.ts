/**
 * Seeded pseudo-random numbers for model weights.
 *
 * Why not Math.random: the factory must write the same bytes on every run and every machine, so all
 * randomness comes from a 32-bit integer generator (mulberry32) that uses only integer arithmetic
 * and one division. Weights are drawn from a uniform distribution (no log/cos, so nothing depends on
 * the platform's libm).
 *
 * Every tensor gets its own stream, seeded from (model seed, tensor name). Adding or reordering
 * tensors therefore never changes the values of the others.
 */

/** FNV-1a hash of a string, used to derive per-tensor seeds from names. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A stream for one named tensor of one model. */
  static forTensor(modelSeed: number, tensorName: string): Rng {
    return new Rng((hashString(tensorName) ^ Math.imul(modelSeed >>> 0, 0x9e3779b1)) >>> 0);
  }

  /** Next uniform number in [0, 1) (mulberry32). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /**
   * `count` values uniform in [-a, a] with a = std * sqrt(3), i.e. zero mean and standard deviation `std`.
   * A uniform distribution is enough for a test model and keeps the generator platform-independent.
   */
  uniformArray(count: number, std: number): Float32Array {
    const a = std * Math.sqrt(3);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = (this.next() * 2 - 1) * a;
    return out;
  }
}
