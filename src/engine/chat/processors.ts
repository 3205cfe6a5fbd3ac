/**
 * The sampling functions (sampling.ts) as transformers.js logits processors, so `generate` runs them on every step:
 * `RecordLogprobs` first (the model's own distribution), then `ShapeLogits`, then `ChooseToken`, which leaves only
 * the chosen token finite, so that `generate`'s greedy step takes exactly that token. Each handles row 0 of a
 * batch of one (a chat choice is generated alone).
 */
import { LogitsProcessor } from '@huggingface/transformers';
import type { TensorLike } from '../tasks/types.ts';
import { argmax, logSoftmax, sampleToken, shapeLogits, type Rng, type SamplingSettings } from './sampling.ts';

function firstRow(logits: TensorLike): Float32Array {
  const data = logits.data as Float32Array;
  const width = logits.dims[logits.dims.length - 1] ?? data.length;
  return data.subarray(0, width);
}

/** Keeps the log-probabilities of the model's raw logits at the last step. */
export class RecordLogprobs extends LogitsProcessor {
  last: Float64Array = new Float64Array();
  override _call(_ids: bigint[][], logits: TensorLike): TensorLike {
    this.last = logSoftmax(firstRow(logits));
    return logits;
  }
}

/** Bias, penalties, temperature and top_p (sampling.ts `shapeLogits`). */
export class ShapeLogits extends LogitsProcessor {
  constructor(
    private readonly promptLength: number,
    private readonly settings: SamplingSettings,
  ) {
    super();
  }
  override _call(ids: bigint[][], logits: TensorLike): TensorLike {
    shapeLogits(firstRow(logits), (ids[0] ?? []).slice(this.promptLength), this.settings);
    return logits;
  }
}

/** Picks the token (arg-max without a generator, else a seeded draw) and masks every other one. */
export class ChooseToken extends LogitsProcessor {
  constructor(private readonly rng: Rng | null) {
    super();
  }
  override _call(_ids: bigint[][], logits: TensorLike): TensorLike {
    const row = firstRow(logits);
    const chosen = this.rng ? sampleToken(row, this.rng) : argmax(row);
    const value = row[chosen]!;
    row.fill(-Infinity);
    row[chosen] = Number.isFinite(value) ? value : 0;
    return logits;
  }
}
