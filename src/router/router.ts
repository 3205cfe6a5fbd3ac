/**
 * The router: picks providers for a call by policy, retries with backoff that honours Retry-After, fails
 * over to the next provider, keeps a circuit breaker and rolling statistics per provider, hedges when asked.
 * A stream is handed back only once its first event arrived, so a provider that fails before that is
 * failed over invisibly; after that, a failure reaches the caller as an error, never as a clean end.
 */
import { ModelhostError } from '../core/errors.ts';
import { CallAbort, UpstreamError, type CallApi, type ProviderAdapter, type ProviderCall, type ProviderResult, type Usage, type CallSignal } from '../core/providers.ts';
import { delay } from '../providers/_base/adapter.ts';
import type { Timeouts } from '../providers/_base/http.ts';
import { CircuitBreaker, type Breaker } from './breaker.ts';
import { timeoutsFor, type PolicyName, type Price, type RouterFile } from './config.ts';
import { costOf } from './cost.ts';
import { orderCandidates, type Candidate } from './policy.ts';
import { ProviderStats } from './stats.ts';
import { AttemptAbort } from './attempt-abort.ts';
import { asFailure, callersFault, failureKind, reachable, redacted } from './failures.ts';

export interface RouteRequest {
  api: CallApi;
  model: string;
  task: string;
  body: Record<string, unknown>;
  stream: boolean;
  /** A provider the caller named (`x-provider`, `/{provider}/...`, `model:provider`). */
  provider?: string;
  /** A policy the caller named (`model:fastest`); else the providers file's. */
  policy?: PolicyName;
  requestId: string;
  waitForModelMs?: number;
  /** Aborts when the caller goes away. */
  signal: CallSignal;
  /** Filled as the call goes: time spent waiting on providers and backoff (kept on failures too). */
  timing?: { upstreamMs: number };
}

export interface AttemptRecord {
  provider: string;
  ms: number;
  /** What went wrong; absent for the attempt that answered. */
  error?: string;
  failure?: string;
}

export type RoutedResult =
  | Exclude<ProviderResult, { kind: 'stream' }>
  | { kind: 'stream'; first: unknown; rest: AsyncIterable<unknown>; usage: Usage };

export interface RouteOutcome {
  provider: string;
  result: RoutedResult;
  attempts: AttemptRecord[];
  /** Time spent waiting on providers and backoff, ms: the rest of the request's time is modelhost's own. */
  upstreamMs: number;
  /** Cost of the answer (for streams: known when the stream ends; see `onStreamEnd`). */
  cost: number;
  /** Resolves with the final cost when a stream ends (at once for other answers). */
  settled: Promise<{ ok: boolean; cost: number }>;
}

export interface RouterEvents {
  onAttempt?(provider: string, outcome: 'ok' | 'error', ms: number, failure?: string): void;
  onFailover?(from: string, to: string): void;
  /** Provider keys: never let one reach a caller, even if a provider echoes it in an error. */
  secrets?: string[];
  /** Breakers shared with other processes (src/cluster); else each provider gets its own CircuitBreaker. */
  breaker?(provider: string, failures: number, cooldownMs: number): Breaker;
}


export class Router {
  readonly stats: ProviderStats;
  readonly breakers = new Map<string, Breaker>();
  private readonly secrets: string[];
  /** Candidates per api, task and mapped model, before the policy orders them. */
  private readonly mapped = new Map<string, Candidate[]>();
  /** Failovers by "from→to" since start. */
  readonly failovers = new Map<string, number>();
  private readonly timeouts = new Map<string, Timeouts>();

  constructor(
    readonly file: RouterFile,
    readonly adapters: Map<string, ProviderAdapter>,
    private readonly events: RouterEvents = {},
    now: () => number = Date.now,
  ) {
    this.stats = new ProviderStats(300_000, 2048, now);
    // Short strings could match ordinary text; real keys are long.
    this.secrets = (events.secrets ?? []).filter((k) => k.length >= 8);
    const { failures, cooldownMs } = file.routing.breaker;
    for (const name of adapters.keys()) {
      this.breakers.set(name, events.breaker?.(name, failures, cooldownMs) ?? new CircuitBreaker(failures, cooldownMs, now));
      this.timeouts.set(name, timeoutsFor(file, file.providers.find((p) => p.name === name)));
    }
  }

  /** Whether the providers file maps this model to hosted providers. */
  isRouted(model: string): boolean {
    return this.file.models.some((m) => m.id === model);
  }

  modelEntry(model: string) {
    return this.file.models.find((m) => m.id === model);
  }

  /** Providers that may serve the call, in the order the policy gives. */
  candidates(req: Pick<RouteRequest, 'api' | 'task' | 'model' | 'body' | 'provider' | 'policy'>): Candidate[] {
    const fits = (name: string) => {
      const a = this.adapters.get(name);
      return !!a && a.supports(req.api, req.task) && (a.serves?.(req.model, req.api, req.task) ?? true);
    };
    if (req.provider) {
      if (!this.adapters.has(req.provider)) {
        throw new ModelhostError(
          'provider_not_found',
          404,
          `Provider "${req.provider}" is not configured here. Configured: ${[...this.adapters.keys()].join(', ')}.`,
        );
      }
      if (!fits(req.provider)) {
        throw new ModelhostError(
          'task_not_supported',
          400,
          `Provider ${req.provider} cannot serve ${req.model} for ${req.api === 'task' ? req.task : req.api}.`,
        );
      }
      const mapped = this.modelEntry(req.model)?.providers.find((p) => p.provider === req.provider);
      return [{ provider: req.provider, providerModel: mapped?.id ?? req.model, price: this.priceOf(req.provider, mapped?.price) }];
    }
    const key = `${req.api}\u0000${req.task}\u0000${req.model}`;
    let list = this.mapped.get(key);
    if (!list) {
      const entry = this.modelEntry(req.model);
      list = (entry?.providers ?? [])
        .filter((p) => fits(p.provider))
        .map((p) => ({ provider: p.provider, providerModel: p.id ?? req.model, price: this.priceOf(p.provider, p.price) }));
      // The local engine serves what it has: as the only provider of unmapped models, else as the last resort.
      if (!list.some((c) => c.provider === 'local') && fits('local') && this.adapters.has('local')) {
        list.push({ provider: 'local', providerModel: req.model, price: this.priceOf('local') });
      }
      // The mapping is fixed for the router's life; the local catalogue may change, so unmapped models are not kept.
      if (entry) this.mapped.set(key, list);
    }
    return orderCandidates(req.policy ?? this.file.routing.policy, list, req, this.stats);
  }

  private priceOf(provider: string, price?: Price): Price {
    if (provider === 'local' && !price?.perComputeSecond) return { ...price, perComputeSecond: this.file.routing.localPricePerSecond };
    return price ?? {};
  }

  breaker(provider: string): Breaker {
    return this.breakers.get(provider)!;
  }

  async execute(req: RouteRequest): Promise<RouteOutcome> {
    const candidates = this.candidates(req);
    if (candidates.length === 0) {
      throw new ModelhostError('model_not_found', 404, `No provider serves ${req.model} for ${req.api === 'task' ? req.task : req.api}.`);
    }
    const attempts: AttemptRecord[] = [];
    const routing = this.file.routing;
    const timing = (req.timing ??= { upstreamMs: 0 });
    let last: Candidate | undefined;
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i]!;
      if (last && last.provider !== c.provider) {
        const key = `${last.provider}\u2192${c.provider}`;
        this.failovers.set(key, (this.failovers.get(key) ?? 0) + 1);
        this.events.onFailover?.(last.provider, c.provider);
      }
      last = c;
      for (let retry = 0; retry <= routing.retries; retry++) {
        if (req.signal.aborted) throw req.signal.reason;
        const breaker = this.breaker(c.provider);
        const allowed = breaker.tryAcquire();
        if (allowed instanceof Promise ? !(await allowed) : !allowed) {
          attempts.push({ provider: c.provider, ms: 0, error: 'circuit open', failure: 'circuit_open' });
          break;
        }
        const hedge = retry === 0 && i === 0 && routing.hedge.enabled && !req.stream ? candidates[1] : undefined;
        const started = performance.now();
        try {
          const won = hedge ? await this.hedged(c, hedge, req, attempts) : await this.attempt(c, req);
          timing.upstreamMs += won.ms;
          attempts.push({ provider: won.candidate.provider, ms: won.ms });
          return this.outcome(req, won.candidate, won.result, won.ms, attempts, timing.upstreamMs, won.abort);
        } catch (e) {
          const spent = performance.now() - started;
          timing.upstreamMs += spent;
          if (req.signal.aborted) {
            breaker.release();
            throw req.signal.reason;
          }
          const failure = asFailure(c.provider, e);
          if (callersFault(failure)) {
            breaker.success();
            throw redacted(failure, this.secrets);
          }
          if (hedge) {
            // Both were tried and recorded by hedged(); carry on after the second.
            i++;
            break;
          }
          this.recordFailure(c.provider, req.model, spent, failure);
          attempts.push({ provider: c.provider, ms: Math.round(spent), error: redacted(failure, this.secrets).message, failure: failureKind(failure) });
          const retrySame = failure instanceof UpstreamError ? failure.retrySame : false;
          if (!retrySame || retry === routing.retries) break;
          const after = failure instanceof UpstreamError ? failure.retryAfterMs : undefined;
          const wait = after ?? routing.backoffMs * 2 ** retry * (0.8 + Math.random() * 0.4);
          if (wait > routing.maxRetryAfterMs) break; // waiting that long is worse than asking another provider
          const slept = performance.now();
          await delay(wait, req.signal);
          timing.upstreamMs += performance.now() - slept;
        }
      }
    }
    throw this.allFailed(req, attempts);
  }

  private allFailed(req: RouteRequest, attempts: AttemptRecord[]): ModelhostError {
    const tried = attempts.map((a) => ({ provider: a.provider, error: a.error ?? 'failed' }));
    const summary = attempts.map((a) => `${a.provider}: ${a.error}`).join('; ');
    const allOpen = attempts.every((a) => a.failure === 'circuit_open');
    const allLimited = attempts.every((a) => a.failure === 'rate_limited');
    const what = req.provider ? `Provider ${req.provider}` : `None of the ${new Set(attempts.map((a) => a.provider)).size} providers`;
    if (allLimited) {
      return new ModelhostError('overloaded', 429, `${what} accepted the call for ${req.model} (rate limited): ${summary}`, { tried });
    }
    return new ModelhostError(
      'all_providers_failed',
      allOpen ? 503 : 502,
      `${what} could answer ${req.model}${allOpen ? ' (all circuits open; retry shortly)' : ''}. Tried: ${summary}`,
      { tried },
    );
  }

  private recordFailure(provider: string, model: string, ms: number, failure: UpstreamError | ModelhostError) {
    this.breaker(provider).failure();
    this.stats.record(provider, model, { ms, ok: false, reachable: reachable(failure), cost: 0 });
    this.events.onAttempt?.(provider, 'error', ms, failureKind(failure));
  }

  private recordSuccess(provider: string, model: string, ms: number, cost: number) {
    this.breaker(provider).success();
    this.stats.record(provider, model, { ms, ok: true, reachable: true, cost });
    this.events.onAttempt?.(provider, 'ok', ms);
  }

  /** One call to one provider under its total and first-token deadlines. */
  private async attempt(c: Candidate, req: RouteRequest, hedgeSignal?: CallSignal): Promise<Attempted> {
    const adapter = this.adapters.get(c.provider)!;
    const t = this.timeouts.get(c.provider)!;
    const ctrl = new AttemptAbort(req.signal, hedgeSignal);
    const total = setTimeout(() => ctrl.abort(new UpstreamError(c.provider, 'timeout', `${c.provider}: no complete answer within ${t.totalMs} ms`)), t.totalMs);
    const cleanup = ctrl.cleanup.bind(ctrl, total);
    const call: ProviderCall = {
      api: req.api,
      model: req.model,
      providerModel: c.providerModel,
      task: req.task,
      body: req.body,
      stream: req.stream,
      signal: ctrl,
      requestId: req.requestId,
      waitForModelMs: req.waitForModelMs,
    };
    const started = performance.now();
    // For a stream the first-token deadline runs from the request, whether the adapter waits for the first
    // event inside call() or inside its iterator.
    const firstToken = req.stream
      ? setTimeout(() => ctrl.abort(new UpstreamError(c.provider, 'timeout', `${c.provider}: no first token within ${t.firstByteMs} ms`)), t.firstByteMs)
      : undefined;
    try {
      const result = await adapter.call(call);
      if (result.kind !== 'stream') {
        clearTimeout(firstToken);
        cleanup();
        return { candidate: c, result, ms: performance.now() - started, abort: cleanup };
      }
      const iterator = result.events[Symbol.asyncIterator]();
      let first: IteratorResult<unknown>;
      try {
        first = await iterator.next();
      } finally {
        clearTimeout(firstToken);
      }
      if (first.done) throw new UpstreamError(c.provider, 'stream_cut', `${c.provider}: the stream ended before its first event`);
      const rest: AsyncIterable<unknown> = { [Symbol.asyncIterator]: () => iterator };
      return {
        candidate: c,
        result: { kind: 'stream', first: first.value, rest, usage: result.usage },
        ms: performance.now() - started,
        abort: () => {
          cleanup();
          if (!ctrl.aborted) ctrl.abort(new Error('stream closed'));
        },
      };
    } catch (e) {
      clearTimeout(firstToken);
      cleanup();
      throw ctrl.aborted && ctrl.reason instanceof UpstreamError ? ctrl.reason : e;
    }
  }

  /**
   * Sends the call to `primary`; if it has not answered after its P95 (or the configured floor), sends it to
   * `secondary` as well. The first answer wins and the other is cancelled. Both count in the statistics.
   */
  private async hedged(primary: Candidate, secondary: Candidate, req: RouteRequest, attempts: AttemptRecord[]): Promise<Attempted> {
    const p95 = this.stats.snapshot(primary.provider, req.model).p95Ms;
    const wait = Math.max(this.file.routing.hedge.minDelayMs, p95 ?? 0);
    const cancel = new CallAbort();
    const run = (c: Candidate) => {
      const started = performance.now();
      return this.attempt(c, req, cancel).catch((e: unknown) => {
        const failure = asFailure(c.provider, e);
        // The twin answered first: no verdict on this provider, but a probe slot it held is freed.
        if (cancel.aborted) this.breaker(c.provider).release();
        else if (!callersFault(failure)) {
          const ms = performance.now() - started;
          this.recordFailure(c.provider, req.model, ms, failure);
          attempts.push({ provider: c.provider, ms: Math.round(ms), error: redacted(failure, this.secrets).message, failure: failureKind(failure) });
        }
        throw failure;
      });
    };
    const first = run(primary);
    const second = new Promise<Attempted>((resolve, reject) => {
      let sent = false;
      const send = () => {
        if (sent) return;
        sent = true;
        clearTimeout(timer);
        const go = (allowed: boolean) => {
          if (!allowed) {
            attempts.push({ provider: secondary.provider, ms: 0, error: 'circuit open', failure: 'circuit_open' });
            return reject(new UpstreamError(secondary.provider, 'server', `${secondary.provider}: circuit open`));
          }
          run(secondary).then(resolve, reject);
        };
        const allowed = this.breaker(secondary.provider).tryAcquire();
        if (allowed instanceof Promise) allowed.then(go, reject);
        else go(allowed);
      };
      const timer = setTimeout(send, wait);
      // An answer from the primary makes the hedge unnecessary; a failure sends it at once.
      first.then(() => clearTimeout(timer), send);
    });
    try {
      const won = await Promise.any([first, second]);
      cancel.abort(new Error('hedged twin answered first'));
      return won;
    } catch (e) {
      const errors = (e as AggregateError).errors ?? [e];
      throw errors.find((x) => x instanceof ModelhostError && callersFault(x)) ?? errors[0];
    }
  }

  private outcome(
    req: RouteRequest,
    c: Candidate,
    result: RoutedResult,
    ms: number,
    attempts: AttemptRecord[],
    upstreamMs: number,
    abort: () => void,
  ): RouteOutcome {
    const model = req.model;
    if (result.kind !== 'stream') {
      const cost = costOf(c.price, result.usage);
      this.recordSuccess(c.provider, model, ms, cost);
      return { provider: c.provider, result, attempts, upstreamMs, cost, settled: Promise.resolve({ ok: true, cost }) };
    }
    // A stream counts as a success only when it completes; a cut after the first event is a failure.
    let settle!: (v: { ok: boolean; cost: number }) => void;
    const settled = new Promise<{ ok: boolean; cost: number }>((r) => (settle = r));
    const started = performance.now() - ms;
    const usage = result.usage;
    const inner = result.rest;
    const onFailure = (e: unknown) => this.recordFailure(c.provider, model, performance.now() - started, asFailure(c.provider, e));
    const onSuccess = (cost: number) => this.recordSuccess(c.provider, model, performance.now() - started, cost);
    // The caller left mid-stream: no verdict on the provider, but a probe slot it held must be freed.
    const onAbandon = () => this.breaker(c.provider).release();
    const redactError = (e: ModelhostError) => redacted(e, this.secrets);
    const rest: AsyncIterable<unknown> = {
      async *[Symbol.asyncIterator]() {
        let ok = false;
        let failed = false;
        try {
          yield* inner;
          ok = true;
        } catch (e) {
          if (req.signal.aborted) throw e; // the caller left: not the provider's failure
          failed = true;
          onFailure(e);
          throw redactError(asFailure(c.provider, e));
        } finally {
          abort();
          const cost = costOf(c.price, usage);
          if (ok) onSuccess(cost);
          else if (!failed) onAbandon();
          settle({ ok, cost: ok ? cost : 0 });
        }
      },
    };
    return { provider: c.provider, result: { ...result, rest }, attempts, upstreamMs, cost: 0, settled };
  }

  async close(): Promise<void> {
    await Promise.all([...this.adapters.values()].map((a) => a.close?.()));
  }
}

interface Attempted {
  candidate: Candidate;
  result: RoutedResult;
  ms: number;
  /** Releases the attempt's timers (and, for a stream, cancels the upstream when the caller is done). */
  abort: () => void;
}
