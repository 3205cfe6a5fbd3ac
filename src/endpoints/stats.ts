/**
 * One endpoint's figures since modelhost started: requests by status, a latency histogram (the buckets of the
 * Prometheus histogram, so JSON and /metrics agree), cold starts and their durations, replica crashes and
 * replica-seconds (what an hourly price is billed on).
 */
export const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
export const COLD_START_BUCKETS_S = [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];

export class Histogram {
  readonly counts: number[];
  count = 0;
  sum = 0;
  constructor(readonly buckets: number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.count++;
    this.sum += v;
    const i = this.buckets.findIndex((b) => v <= b);
    if (i >= 0) this.counts[i]!++;
  }
  /** Upper bound of the bucket holding quantile q (null when empty; Infinity past the last bucket). */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = q * this.count;
    let seen = 0;
    for (const [i, c] of this.counts.entries()) {
      seen += c;
      if (seen >= rank) return this.buckets[i]!;
    }
    return Infinity;
  }
}

export class EndpointStats {
  readonly byStatus = new Map<number, number>();
  readonly latency = new Histogram(LATENCY_BUCKETS_S);
  readonly coldStarts = new Histogram(COLD_START_BUCKETS_S);
  /** The last cold starts, seconds, exact (the histogram rounds up to a bucket). */
  readonly recentColdStarts: number[] = [];
  crashes = 0;
  replicaSeconds = 0;

  request(status: number, seconds: number): void {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
    this.latency.observe(seconds);
  }

  coldStart(seconds: number): void {
    this.coldStarts.observe(seconds);
    this.recentColdStarts.push(seconds);
    if (this.recentColdStarts.length > 20) this.recentColdStarts.shift();
  }

  coldStartEstimate(): number | undefined {
    const r = this.recentColdStarts;
    return r.length ? r.reduce((a, b) => a + b, 0) / r.length : undefined;
  }

  crash(): void {
    this.crashes++;
  }

  sampleReplicaSeconds(replicas: number, seconds: number): void {
    this.replicaSeconds += replicas * seconds;
  }
}
