/**
 * A cluster worker's shared state (`modelhost serve --processes N`): what must hold across the processes lives
 * in the primary, and the worker's pieces forward to it.
 *
 * - Limits: every admission is asked of the primary's limiter and every settlement told to it (one IPC round trip
 *   per call of a tier with limits; tiers without limits never ask). With `--redis` the workers use Redis directly.
 * - Circuit breakers: the primary's breaker decides. Each worker mirrors its state, so a closed circuit costs no
 *   message; failures are reported at once, successes only while failures are counted, and the probe of a
 *   half-open circuit is granted by the primary, so one probe goes out per cool-down across all workers.
 * - Statistics: every sample is also sent to the primary in batches (every 100 ms); reads (`/api/providers`,
 *   `/metrics`, the console) ask the primary for the figures over every worker.
 * - Dedicated endpoints: the worker that manages them says where its internal listener is; the others forward
 *   endpoint calls there.
 */
import cluster from 'node:cluster';
import type { Admission, Expected, Limiter, RateState } from '../auth/limits.ts';
import { assertFits, LimitExceededError, type LimitKind } from '../auth/limits.ts';
import type { Tier } from '../auth/tiers.ts';
import type { Breaker, BreakerSnapshot, CircuitState } from '../router/breaker.ts';
import { readerOf, type Sample, type StatsReader, type StatsReport } from '../router/stats.ts';
import type { Router, RouterEvents } from '../router/router.ts';
import { WorkerChannel } from './channel.ts';

/** Env var the primary sets on its workers. */
export const WORKER_ENV = 'MODELHOST_CLUSTER_WORKER';

export function isClusterWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_ENV] !== undefined;
}

export interface AdmitReply {
  id?: string;
  rate?: RateState;
  refused?: { which: LimitKind; tier: string; limit: string; retryAfterMs: number; rate?: RateState };
}

/** The primary's limiter, asked over IPC. */
export class ClusterLimiter implements Limiter {
  constructor(private readonly channel: WorkerChannel) {}

  async admit(subject: string, tier: Tier, expected: Expected): Promise<Admission> {
    // Checked here: a request too large for its tier is refused without a round trip to the primary.
    assertFits(tier, expected);
    const r = await this.channel.request<AdmitReply>('limits.admit', { subject, tier, expected });
    if (r.refused) throw new LimitExceededError(r.refused.which, r.refused.tier, r.refused.limit, r.refused.retryAfterMs, r.refused.rate);
    let settled = false;
    return {
      ...(r.rate ? { rate: r.rate } : {}),
      // Told, not asked: nothing waits on a settlement, and a round trip per call would cost every call.
      settle: async (actual) => {
        if (settled) return;
        settled = true;
        this.channel.note('limits.settle', { id: r.id, actual });
      },
    };
  }

  budget(subject: string): Promise<{ spentUsd: number; reservedUsd: number }> {
    return this.channel.request('limits.budget', { subject });
  }

  async close(): Promise<void> {}
}

/** A mirror of the primary's breaker for one provider. */
export class ClusterBreaker implements Breaker {
  private mirror: BreakerSnapshot = { opened: false, openedAt: 0, dirty: false, opens: 0, probes: 0 };
  /** This worker holds the half-open probe. */
  private probing = false;

  constructor(
    private readonly channel: WorkerChannel,
    readonly provider: string,
    private readonly failures: number,
    private readonly cooldownMs: number,
  ) {}

  update(s: BreakerSnapshot): void {
    this.mirror = s;
  }

  get state(): CircuitState {
    if (!this.mirror.opened) return 'closed';
    return Date.now() - this.mirror.openedAt >= this.cooldownMs ? 'half-open' : 'open';
  }

  get opens(): number {
    return this.mirror.opens;
  }

  get probes(): number {
    return this.mirror.probes;
  }

  tryAcquire(): boolean | Promise<boolean> {
    if (!this.mirror.opened) return true;
    // Open and still cooling down: no need to ask.
    if (Date.now() - this.mirror.openedAt < this.cooldownMs) return false;
    return this.ask('breaker.acquire').then((granted) => {
      if (granted) this.probing = true;
      return granted === true;
    });
  }

  success(): void {
    // The hot path: a closed circuit with nothing counted has nothing to reset.
    if (!this.mirror.dirty && !this.probing) return;
    this.probing = false;
    this.tell('breaker.success');
  }

  failure(): void {
    this.probing = false;
    // Counted here too, so that this worker reports its next success even before the primary's state arrives.
    this.mirror = { ...this.mirror, dirty: true };
    this.tell('breaker.failure');
  }

  release(): void {
    if (!this.probing) return;
    this.probing = false;
    this.tell('breaker.release');
  }

  private args() {
    return { provider: this.provider, failures: this.failures, cooldownMs: this.cooldownMs };
  }

  private ask(op: string): Promise<unknown> {
    return this.channel.request(op, this.args()).catch(() => false);
  }

  private tell(op: string): void {
    this.channel.note(op, this.args());
  }
}

/** A sample as sent: [provider, model, at, ms, ok, reachable, cost]. */
export type WireSample = [string, string, number, number, boolean, boolean, number];

export interface ClusterWorker {
  limiter: Limiter;
  /** For buildRouter: breakers mirrored from the primary, failovers counted there. */
  routerEvents: Pick<RouterEvents, 'breaker' | 'onFailover'>;
  /** Sends this router's samples to the primary. */
  attach(router: Router): void;
  /** `/metrics` text summed over every worker. */
  metrics(): Promise<string>;
  /** Statistics over every worker. */
  stats(providers: string[]): Promise<{ stats: StatsReader; failovers: Map<string, number> }>;
  /** What this worker answers when the figures of every worker are gathered (`collect`). */
  onCollect(kind: string, fn: () => unknown): void;
  /** The answers of every live worker (this one included) for `kind`. */
  collect(kind: string): Promise<unknown[]>;
  /** Says this worker manages the dedicated endpoints, at this internal URL. */
  announceEndpoints(url: string): void;
  /** Where the worker that manages the dedicated endpoints listens, once known. */
  endpointsAt(): string | undefined;
  close(): void;
}

export function connectWorker(channel = new WorkerChannel()): ClusterWorker {
  const breakers = new Map<string, ClusterBreaker>();
  // The last state heard per provider, for breakers made after it arrived.
  const known = new Map<string, BreakerSnapshot>();
  const heard = (provider: string, snapshot: BreakerSnapshot) => {
    known.set(provider, snapshot);
    breakers.get(provider)?.update(snapshot);
  };
  let samples: WireSample[] = [];
  let failovers = new Map<string, number>();
  let endpointsUrl: string | undefined;
  channel.on('breaker', (args) => {
    const { provider, snapshot } = args as { provider: string; snapshot: BreakerSnapshot };
    heard(provider, snapshot);
  });
  const collectors = new Map<string, () => unknown>();
  channel.on('collect', (args) => {
    const { id, kind } = args as { id: number; kind: string };
    const fn = collectors.get(kind);
    channel.note('collected', { id, value: fn ? fn() : null });
  });
  channel.on('endpoints.at', (args) => {
    endpointsUrl = (args as { url?: string }).url;
  });
  const flush = () => {
    if (samples.length === 0 && failovers.size === 0) return;
    channel.note('stats.samples', { samples, failovers: [...failovers] });
    samples = [];
    failovers = new Map();
  };
  const timer = setInterval(flush, 100);
  timer.unref();
  // Ask once for what the primary already knows (endpoints location, open circuits) after a restart.
  void channel
    .request<{ endpointsAt?: string; breakers: [string, BreakerSnapshot][] }>('hello', { pid: process.pid })
    .then((r) => {
      endpointsUrl ??= r.endpointsAt;
      for (const [provider, snapshot] of r.breakers) heard(provider, snapshot);
    })
    .catch(() => undefined);

  return {
    limiter: new ClusterLimiter(channel),
    routerEvents: {
      breaker(provider, failures, cooldownMs) {
        const b = new ClusterBreaker(channel, provider, failures, cooldownMs);
        const last = known.get(provider);
        if (last) b.update(last);
        breakers.set(provider, b);
        return b;
      },
      onFailover(from, to) {
        const key = `${from}\u2192${to}`;
        failovers.set(key, (failovers.get(key) ?? 0) + 1);
      },
    },
    attach(router) {
      router.stats.onRecord = (provider: string, model: string, s: Sample) => {
        samples.push([provider, model, s.at, s.ms, s.ok, s.reachable, s.cost]);
      };
    },
    metrics() {
      return channel.request<string>('metrics', null);
    },
    async stats(providers) {
      flush();
      const r = await channel.request<{ report: StatsReport; failovers: [string, number][] }>('stats.report', { providers });
      return { stats: readerOf(r.report), failovers: new Map(r.failovers) };
    },
    onCollect(kind, fn) {
      collectors.set(kind, fn);
    },
    collect(kind) {
      return channel.request<unknown[]>('collect', { kind });
    },
    announceEndpoints(url) {
      endpointsUrl = url;
      channel.note('endpoints.at', { url });
    },
    endpointsAt: () => endpointsUrl,
    close() {
      flush();
      clearInterval(timer);
    },
  };
}
