/**
 * Download speed over a sliding window: what the progress bar shows and what the pull-on-first-call service
 * divides the bytes left by for `estimated_time`.
 */
export class Meter {
  /** Running totals; the oldest one kept is the base the rate is measured from (the first is the first chunk's arrival). */
  private samples: { at: number; bytes: number }[] = [];
  private total = 0;

  constructor(private readonly windowMs = 3000) {}

  add(bytes: number, now = performance.now()): void {
    // Measuring starts with the first bytes, not before: time spent on metadata is not transfer time.
    if (this.samples.length === 0) this.samples.push({ at: now, bytes: 0 });
    this.total += bytes;
    this.samples.push({ at: now, bytes: this.total });
    // Keep one sample older than the window as the base.
    while (this.samples.length > 2 && now - this.samples[1]!.at > this.windowMs) this.samples.shift();
  }

  get bytes(): number {
    return this.total;
  }

  /** How long bytes have been arriving, in ms (0 before the first). */
  span(now = performance.now()): number {
    const first = this.samples[0];
    return first ? now - first.at : 0;
  }

  /** Bytes per second over the window, or undefined before 100 ms of measuring. */
  rate(now = performance.now()): number | undefined {
    const base = this.samples[0];
    if (!base || now - base.at < 100) return undefined;
    return ((this.total - base.bytes) / (now - base.at)) * 1000;
  }
}
