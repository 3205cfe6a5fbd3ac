/**
 * `modelhost serve --processes N`: the primary of a node:cluster. It serves no HTTP itself: it forks N workers
 * that share the listening port (the kernel hands each new connection to one of them), restarts a worker that
 * dies, and holds the state that must be one across the processes: the rate limiter (unless Redis holds it),
 * the circuit breakers, the provider statistics and failover counts, and where the dedicated endpoints are
 * managed. See `worker.ts` for the workers' side.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { createLimiter, LimitExceededError, type Admission, type Expected } from '../auth/limits.ts';
import type { Tier } from '../auth/tiers.ts';
import { CircuitBreaker, type BreakerSnapshot } from '../router/breaker.ts';
import { ProviderStats, reportOf } from '../router/stats.ts';
import { isMessage, type Cast, type Reply, type ToPrimary } from './channel.ts';
import { WORKER_ENV, type AdmitReply, type WireSample } from './worker.ts';

export interface PrimaryOptions {
  processes: number;
  /** With Redis the workers share limits through it; the primary hosts none. */
  redis?: string;
  reservationTtlSeconds: number;
  log: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Called once every worker is listening. */
  onListening?: (address: string) => void;
}

/** What workers send; each operation reads its own fields (see worker.ts). */
interface Args {
  subject: string;
  tier: Tier;
  expected: Expected;
  id: string;
  actual: { units: number; costUsd: number };
  provider: string;
  failures: number;
  cooldownMs: number;
  samples: WireSample[];
  failovers: [string, number][];
  providers: string[];
  url: string;
  kind: string;
  value: unknown;
}

interface Held {
  admission: Admission;
  worker: number;
  units: number;
}

export async function runPrimary(opts: PrimaryOptions): Promise<void> {
  const limiter = opts.redis ? undefined : createLimiter({ keyPrefix: 'modelhost:limits', reservationTtlMs: opts.reservationTtlSeconds * 1000 });
  const admissions = new Map<string, Held>();
  let nextAdmission = 1;
  const breakers = new Map<string, CircuitBreaker>();
  const probeHolder = new Map<string, number>();
  const lastCast = new Map<string, string>();
  // The same window and capacity as each worker's router keeps.
  const stats = new ProviderStats(300_000, 2048);
  const failovers = new Map<string, number>();
  let endpoints: { url: string; worker: number } | undefined;
  const gathering = new Map<number, { values: unknown[]; waiting: Set<number>; done(): void }>();
  let nextGather = 1;
  // Asks every worker for its registry and sums them by each metric's aggregator (prom-client).
  const metrics = new AggregatorRegistry();
  let stopping = false;
  let listening = 0;
  let everListened = false;
  let startFailures = 0;
  const slots = new Map<number, Worker>();
  const started = new Map<number, number>();
  const backoff = new Map<number, number>();

  const cast = (op: string, args: unknown) => {
    const m: Cast = { mh: 'cast', op, args };
    for (const w of slots.values()) if (w.isConnected()) w.send(m);
  };

  const breakerOf = (a: { provider: string; failures: number; cooldownMs: number }) => {
    let b = breakers.get(a.provider);
    if (!b) breakers.set(a.provider, (b = new CircuitBreaker(a.failures, a.cooldownMs)));
    return b;
  };
  const castBreaker = (provider: string) => {
    const snapshot = breakers.get(provider)!.snapshot();
    const key = JSON.stringify(snapshot);
    if (lastCast.get(provider) === key) return;
    lastCast.set(provider, key);
    cast('breaker', { provider, snapshot });
  };

  async function handle(worker: number, op: string, args: Args): Promise<unknown> {
    switch (op) {
      case 'hello':
        return { endpointsAt: endpoints?.url, breakers: [...breakers].map(([p, b]) => [p, b.snapshot()] as [string, BreakerSnapshot]) };
      case 'limits.admit': {
        if (!limiter) throw new Error('limits are kept in Redis in this cluster');
        const { subject, tier, expected } = args;
        try {
          const admission = await limiter.admit(subject, tier, expected);
          const id = String(nextAdmission++);
          admissions.set(id, { admission, worker, units: expected.units });
          return { id, rate: admission.rate } satisfies AdmitReply;
        } catch (e) {
          if (!(e instanceof LimitExceededError)) throw e;
          return { refused: { which: e.which, tier: e.tier, limit: e.limit, retryAfterMs: e.retryAfterMs, rate: e.rate } } satisfies AdmitReply;
        }
      }
      case 'limits.settle': {
        const held = admissions.get(args.id);
        if (!held) return undefined;
        admissions.delete(args.id);
        await held.admission.settle(args.actual);
        return undefined;
      }
      case 'limits.budget':
        if (!limiter) throw new Error('limits are kept in Redis in this cluster');
        return limiter.budget(args.subject);
      case 'breaker.acquire': {
        const granted = breakerOf(args).tryAcquire();
        if (granted) probeHolder.set(args.provider, worker);
        castBreaker(args.provider);
        return granted;
      }
      case 'breaker.success':
      case 'breaker.failure':
      case 'breaker.release': {
        const b = breakerOf(args);
        if (op === 'breaker.success') b.success();
        else if (op === 'breaker.failure') b.failure();
        else b.release();
        if (probeHolder.get(args.provider) === worker) probeHolder.delete(args.provider);
        castBreaker(args.provider);
        return undefined;
      }
      case 'stats.samples': {
        for (const [provider, model, at, ms, ok, reachable, cost] of args.samples) stats.record(provider, model, { at, ms, ok, reachable, cost });
        for (const [key, n] of args.failovers) failovers.set(key, (failovers.get(key) ?? 0) + n);
        return undefined;
      }
      case 'stats.report':
        return { report: reportOf(stats, args.providers), failovers: [...failovers] };
      case 'collect':
        return gather(args.kind);
      case 'collected': {
        const g = gathering.get(Number(args.id));
        if (g) {
          g.values.push(args.value);
          g.waiting.delete(worker);
          if (g.waiting.size === 0) g.done();
        }
        return undefined;
      }
      case 'metrics':
        return metrics.clusterMetrics();
      case 'endpoints.at':
        endpoints = { url: args.url, worker };
        cast('endpoints.at', { url: args.url });
        return undefined;
      default:
        throw new Error(`unknown cluster operation ${op}`);
    }
  }

  /** Asks every live worker for its `kind` figures; a worker that does not answer within 3 s is left out. */
  function gather(kind: string): Promise<unknown[]> {
    const id = nextGather++;
    const live = [...slots.values()].filter((w) => w.isConnected());
    return new Promise((resolve) => {
      const values: unknown[] = [];
      const done = () => {
        clearTimeout(timer);
        gathering.delete(id);
        resolve(values);
      };
      const timer = setTimeout(done, 3000);
      gathering.set(id, { values, waiting: new Set(live.map((w) => w.id)), done });
      for (const w of live) w.send({ mh: 'cast', op: 'collect', args: { id, kind } } satisfies Cast);
      if (live.length === 0) done();
    });
  }

  /** What a dead worker held is given back: its admissions (slots, reservations), its probe, its endpoints. */
  function cleanUp(worker: number) {
    for (const [id, held] of admissions) {
      if (held.worker !== worker) continue;
      admissions.delete(id);
      void held.admission.settle({ units: held.units, costUsd: 0 }).catch(() => undefined);
    }
    for (const [provider, holder] of probeHolder) {
      if (holder !== worker) continue;
      probeHolder.delete(provider);
      breakers.get(provider)?.release();
      castBreaker(provider);
    }
    for (const g of gathering.values()) {
      if (g.waiting.delete(worker) && g.waiting.size === 0) g.done();
    }
    if (endpoints?.worker === worker) {
      endpoints = undefined;
      cast('endpoints.at', { url: undefined });
    }
  }

  function fork(slot: number) {
    const w = cluster.fork({ [WORKER_ENV]: String(slot) });
    slots.set(slot, w);
    started.set(slot, Date.now());
    w.on('message', (m: unknown) => {
      if (!isMessage<ToPrimary>(m)) return;
      const done = handle(w.id, m.op, m.args as Args);
      if (m.mh !== 'req') {
        done.catch((e: Error) => opts.log('error', `cluster: ${m.op} from worker ${slot} failed: ${e.message}`));
        return;
      }
      done.then(
        (value) => w.isConnected() && w.send({ mh: 'res', id: m.id, value } satisfies Reply),
        (e: Error) => w.isConnected() && w.send({ mh: 'res', id: m.id, error: e.message } satisfies Reply),
      );
    });
    w.on('listening', (address: { address?: string; port?: number }) => {
      everListened = true;
      listening++;
      if (listening === opts.processes) opts.onListening?.(`http://${address.address ?? '127.0.0.1'}:${address.port ?? 0}`);
    });
    w.on('exit', (code, signal) => {
      cleanUp(w.id);
      if (slots.get(slot) === w) slots.delete(slot);
      if (stopping) return;
      if (!everListened && ++startFailures >= opts.processes) {
        opts.log('error', `cluster: every worker exited before serving (last exit code ${code ?? signal}); see the lines above`);
        process.exit(1);
      }
      // A worker that keeps dying right after start is restarted ever more slowly (up to 30 s).
      const lived = Date.now() - (started.get(slot) ?? 0);
      const wait = lived > 10_000 ? 500 : Math.min(30_000, (backoff.get(slot) ?? 250) * 2);
      backoff.set(slot, wait);
      opts.log('warn', `cluster: worker ${slot} (pid ${w.process.pid}) exited (${signal ?? `code ${code}`}); starting a new one in ${wait} ms`);
      setTimeout(() => !stopping && fork(slot), wait);
    });
  }

  for (let slot = 1; slot <= opts.processes; slot++) fork(slot);

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const exits = [...slots.values()].map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))));
    for (const w of slots.values()) w.process.kill('SIGTERM');
    const force = setTimeout(() => {
      for (const w of slots.values()) if (!w.isDead()) w.process.kill('SIGKILL');
    }, 15_000);
    await Promise.all(exits);
    clearTimeout(force);
    await limiter?.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
