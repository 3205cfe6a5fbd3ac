/**
 * Rolling statistics per provider and per provider+model: latency percentiles of successful calls, error
 * rate, availability and cost over the last `windowMs`. Samples live in bounded rings, so memory stays flat
 * and a percentile costs one sort of at most `capacity` numbers when asked for.
 */
export interface Sample {
  at: number;
  ms: number;
  ok: boolean;
  /** The provider answered at all (an HTTP answer, even an error), as opposed to unreachable or silent. */
  reachable: boolean;
  cost: number;
}

export interface StatsSnapshot {
  requests: number;
  errors: number;
  errorRate: number;
  availability: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  costUsd: number;
}

class Ring {
  private items: Sample[] = [];
  private next = 0;
  constructor(private readonly capacity: number) {}

  push(s: Sample) {
    if (this.items.length < this.capacity) this.items.push(s);
    else this.items[this.next] = s;
    this.next = (this.next + 1) % this.capacity;
  }

  since(t: number): Sample[] {
    return this.items.filter((s) => s.at >= t);
  }
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export class ProviderStats {
  private rings = new Map<string, Ring>();
  /** Rings per provider, then per model: found without building a key on every call. */
  private byModel = new Map<string, Map<string, Ring>>();
  /** Lifetime totals (the window forgets; these feed Prometheus counters' totals). */
  totals = new Map<string, { requests: number; errors: number; costUsd: number }>();

  constructor(
    readonly windowMs = 300_000,
    readonly capacity = 2048,
    private readonly now: () => number = Date.now,
  ) {}

  private ring(key: string): Ring {
    let r = this.rings.get(key);
    if (!r) this.rings.set(key, (r = new Ring(this.capacity)));
    return r;
  }

  private modelRing(provider: string, model: string): Ring {
    let models = this.byModel.get(provider);
    if (!models) this.byModel.set(provider, (models = new Map()));
    let r = models.get(model);
    if (!r) models.set(model, (r = this.ring(`${provider}\u0000${model}`)));
    return r;
  }

  record(provider: string, model: string, sample: Omit<Sample, 'at'>) {
    const s = sample as Sample;
    s.at = this.now();
    this.ring(provider).push(s);
    this.modelRing(provider, model).push(s);
    let t = this.totals.get(provider);
    if (!t) this.totals.set(provider, (t = { requests: 0, errors: 0, costUsd: 0 }));
    t.requests++;
    if (!s.ok) t.errors++;
    t.costUsd += s.cost;
  }

  snapshot(provider: string, model?: string): StatsSnapshot {
    const samples = this.ring(model ? `${provider}\u0000${model}` : provider).since(this.now() - this.windowMs);
    const ok = samples.filter((s) => s.ok).map((s) => s.ms).sort((a, b) => a - b);
    const errors = samples.length - ok.length;
    return {
      requests: samples.length,
      errors,
      errorRate: samples.length ? errors / samples.length : 0,
      availability: samples.length ? samples.filter((s) => s.reachable).length / samples.length : 1,
      p50Ms: percentile(ok, 50),
      p95Ms: percentile(ok, 95),
      p99Ms: percentile(ok, 99),
      costUsd: samples.reduce((n, s) => n + s.cost, 0),
    };
  }

  /** Models seen for a provider within the window. */
  models(provider: string): string[] {
    const prefix = `${provider}\u0000`;
    return [...this.rings.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  }
}
