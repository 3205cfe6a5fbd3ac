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

/** What the routes read: a process's own statistics, or the sum over a cluster's processes (src/cluster). */
export type StatsReader = Pick<ProviderStats, 'windowMs' | 'snapshot' | 'models' | 'totals'>;

/** Every figure a reader gives for some providers, to send to another process. */
export interface StatsReport {
  windowMs: number;
  providers: { provider: string; snapshot: StatsSnapshot; totals?: { requests: number; errors: number; costUsd: number }; models: { model: string; snapshot: StatsSnapshot }[] }[];
}

export function reportOf(stats: StatsReader, providers: string[]): StatsReport {
  return {
    windowMs: stats.windowMs,
    providers: providers.map((provider) => ({
      provider,
      snapshot: stats.snapshot(provider),
      totals: stats.totals.get(provider),
      models: stats.models(provider).map((model) => ({ model, snapshot: stats.snapshot(provider, model) })),
    })),
  };
}

/** A report read back as statistics. */
export function readerOf(report: StatsReport): StatsReader {
  const byProvider = new Map(report.providers.map((p) => [p.provider, p]));
  const empty: StatsSnapshot = { requests: 0, errors: 0, errorRate: 0, availability: 1, p50Ms: null, p95Ms: null, p99Ms: null, costUsd: 0 };
  const totals = new Map<string, { requests: number; errors: number; costUsd: number }>();
  for (const p of report.providers) if (p.totals) totals.set(p.provider, p.totals);
  return {
    windowMs: report.windowMs,
    totals,
    snapshot: (provider, model) => {
      const p = byProvider.get(provider);
      return (model ? p?.models.find((m) => m.model === model)?.snapshot : p?.snapshot) ?? empty;
    },
    models: (provider) => byProvider.get(provider)?.models.map((m) => m.model) ?? [],
  };
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

  /** Sees every sample as it is recorded (a cluster worker sends them on to the primary). */
  onRecord?: (provider: string, model: string, sample: Sample) => void;

  record(provider: string, model: string, sample: Omit<Sample, 'at'> & { at?: number }) {
    const s = sample as Sample;
    s.at ??= this.now();
    this.onRecord?.(provider, model, s);
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
