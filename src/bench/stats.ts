/**
 * Latency statistics from HDR histograms (hdr-histogram-js): values are recorded in microseconds with 3
 * significant digits, so every percentile is within 0.1 % of the recorded value, whatever the spread.
 */
import * as hdr from 'hdr-histogram-js';
import type { Distribution } from './result.ts';

/** Microsecond histogram; one per figure per target. */
export class LatencyHistogram {
  private readonly h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, autoResize: true });

  record(ms: number): void {
    this.h.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  get count(): number {
    return this.h.totalCount;
  }

  /** Percentile in ms (p in 0–100). */
  percentile(p: number): number {
    return this.h.getValueAtPercentile(p) / 1000;
  }

  summary(): Distribution | null {
    if (this.h.totalCount === 0) return null;
    const at = (p: number) => round3(this.h.getValueAtPercentile(p) / 1000);
    return {
      count: this.h.totalCount,
      mean: round3(this.h.mean / 1000),
      stddev: round3(this.h.stdDeviation / 1000),
      min: round3(this.h.minNonZeroValue / 1000),
      max: round3(this.h.maxValue / 1000),
      p50: at(50),
      p90: at(90),
      p95: at(95),
      p99: at(99),
      p999: at(99.9),
    };
  }

  destroy(): void {
    this.h.destroy();
  }
}

export const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Summary of a list of ms values through a histogram (for samples read back from a result). */
export function distributionOf(values: number[]): Distribution | null {
  const h = new LatencyHistogram();
  for (const v of values) h.record(v);
  const s = h.summary();
  h.destroy();
  return s;
}

/**
 * Buckets for a latency chart shared by every target of a run (so bars line up): `count` equal-width buckets from
 * the smallest to the largest value, widened to a round step.
 */
export function sharedBounds(values: number[], count = 24): number[] {
  if (values.length === 0) return [];
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const raw = Math.max((hi - lo) / count, 0.001);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const start = Math.floor(lo / step) * step;
  const bounds: number[] = [];
  for (let b = start + step; bounds.length < count * 2 + 2; b += step) {
    bounds.push(round3(b));
    if (b >= hi) break;
  }
  return bounds;
}

export function bucketCounts(values: number[], bounds: number[]): number[] {
  const counts = bounds.map(() => 0);
  for (const v of values) {
    let i = bounds.findIndex((b) => v <= b);
    if (i < 0) i = bounds.length - 1;
    if (i >= 0) counts[i]!++;
  }
  return counts;
}
