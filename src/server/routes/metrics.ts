import type { FastifyInstance } from 'fastify';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EndpointManager } from '../../endpoints/manager.ts';
import { COLD_START_BUCKETS_S, LATENCY_BUCKETS_S } from '../../endpoints/stats.ts';
import type { Router } from '../../router/router.ts';
import type { SchedulerStats } from '../../engine/generation/index.ts';
import { providerView, type ProviderView, type ServerDeps } from '../deps.ts';

const circuitValue = { closed: 0, 'half-open': 1, open: 2 } as const;

/**
 * Provider statistics as Prometheus metrics, read when scraped (no work on the hot path): from `view()`, the
 * figures of every process of a cluster or this router's own.
 */
function routerMetrics(router: Router, registry: Registry, view: () => Promise<ProviderView>) {
  const providers = () => [...router.adapters.keys()];
  const total = (name: string, help: string, pick: (t: { requests: number; errors: number; costUsd: number }) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['provider'],
      registers: [registry],
      // Every process reports the primary's figures: one copy is the total.
      aggregator: 'first',
      async collect() {
        this.reset();
        const { stats } = await view();
        for (const p of providers()) {
          const t = stats.totals.get(p);
          if (t) this.inc({ provider: p }, pick(t));
        }
      },
    });
  total('modelhost_provider_attempts_total', 'Calls sent to each provider (retries and failovers included)', (t) => t.requests);
  total('modelhost_provider_errors_total', 'Calls to each provider that failed', (t) => t.errors);
  total('modelhost_provider_cost_usd_total', 'Cost of answered calls by provider, USD', (t) => t.costUsd);
  new Gauge({
    name: 'modelhost_provider_latency_ms',
    help: 'Rolling latency percentiles of successful calls (last 5 minutes)',
    labelNames: ['provider', 'quantile'],
    registers: [registry],
    aggregator: 'first',
    async collect() {
      this.reset();
      const { stats } = await view();
      for (const p of providers()) {
        const s = stats.snapshot(p);
        for (const [q, v] of [['0.5', s.p50Ms], ['0.95', s.p95Ms], ['0.99', s.p99Ms]] as const) if (v !== null) this.set({ provider: p, quantile: q }, v);
      }
    },
  });
  new Gauge({
    name: 'modelhost_provider_error_rate',
    help: 'Share of failed calls per provider (last 5 minutes)',
    labelNames: ['provider'],
    registers: [registry],
    aggregator: 'first',
    async collect() {
      this.reset();
      const { stats } = await view();
      for (const p of providers()) this.set({ provider: p }, stats.snapshot(p).errorRate);
    },
  });
  new Gauge({
    name: 'modelhost_provider_availability',
    help: 'Share of calls the provider answered at all, even with an error (last 5 minutes)',
    labelNames: ['provider'],
    registers: [registry],
    aggregator: 'first',
    async collect() {
      this.reset();
      const { stats } = await view();
      for (const p of providers()) this.set({ provider: p }, stats.snapshot(p).availability);
    },
  });
  new Gauge({
    name: 'modelhost_provider_circuit_state',
    help: 'Circuit breaker per provider: 0 closed, 1 half-open, 2 open',
    labelNames: ['provider'],
    registers: [registry],
    aggregator: 'first',
    collect() {
      this.reset();
      for (const p of providers()) this.set({ provider: p }, circuitValue[router.breaker(p).state]);
    },
  });
  new Counter({
    name: 'modelhost_failovers_total',
    help: 'Calls moved from one provider to the next',
    labelNames: ['from', 'to'],
    registers: [registry],
    aggregator: 'first',
    async collect() {
      this.reset();
      for (const [key, n] of (await view()).failovers) {
        const [from, to] = key.split('\u2192');
        this.inc({ from: from!, to: to! }, n);
      }
    },
  });
}

/** Dedicated endpoints: requests and latency observed as they happen, the rest read from the manager when scraped. */
function endpointMetrics(manager: EndpointManager, registry: Registry) {
  const requests = new Counter({ name: 'modelhost_endpoint_requests_total', help: 'Requests answered by each dedicated endpoint, by status', labelNames: ['endpoint', 'status'], registers: [registry] });
  const latency = new Histogram({
    name: 'modelhost_endpoint_request_duration_seconds',
    help: 'Time to answer a request on a dedicated endpoint',
    labelNames: ['endpoint'],
    buckets: LATENCY_BUCKETS_S,
    registers: [registry],
  });
  const coldStarts = new Histogram({
    name: 'modelhost_endpoint_cold_start_seconds',
    help: 'Time from an endpoint starting, resuming or waking to its first ready replica',
    labelNames: ['endpoint'],
    buckets: COLD_START_BUCKETS_S,
    registers: [registry],
  });
  manager.onColdStart((name, seconds) => coldStarts.observe({ endpoint: name }, seconds));
  manager.onRequest((name, status, seconds) => {
    requests.inc({ endpoint: name, status: String(status) });
    latency.observe({ endpoint: name }, seconds);
  });
  const perEndpoint = (name: string, help: string, labelNames: string[], fill: (g: Gauge, endpoint: string, d: ReturnType<EndpointManager['all']>[number]['deployment']) => void) =>
    new Gauge({
      name,
      help,
      labelNames: ['endpoint', ...labelNames],
      registers: [registry],
      collect() {
        this.reset();
        for (const e of manager.all()) fill(this, e.name, e.deployment);
      },
    });
  perEndpoint('modelhost_endpoint_queue_depth', 'Requests held for a replica (waking, replacing one)', [], (g, endpoint, d) => g.set({ endpoint }, d.queued));
  perEndpoint('modelhost_endpoint_in_flight', 'Requests in flight or held on each endpoint (the autoscaling signal)', [], (g, endpoint, d) => g.set({ endpoint }, d.pending));
  perEndpoint('modelhost_endpoint_replicas', 'Replicas of each endpoint by state', ['state'], (g, endpoint, d) => {
    for (const state of ['starting', 'ready', 'draining']) g.set({ endpoint, state }, d.replicas.filter((r) => r.state === state).length);
  });
  perEndpoint('modelhost_endpoint_up', 'Endpoint lifecycle state (1 for the current state)', ['state'], (g, endpoint, d) => g.set({ endpoint, state: d.lifecycle }, 1));
  perEndpoint('modelhost_endpoint_cold_starts_total', 'Starts from no ready replica (creation, resume, wake from zero)', [], (g, endpoint, d) => g.set({ endpoint }, d.stats.coldStarts.count));
  perEndpoint('modelhost_endpoint_replica_crashes_total', 'Replicas that stopped without being asked to', [], (g, endpoint, d) => g.set({ endpoint }, d.stats.crashes));
  perEndpoint('modelhost_endpoint_replica_seconds_total', 'Replica-seconds run (what an hourly price is billed on)', [], (g, endpoint, d) => g.set({ endpoint }, d.stats.replicaSeconds));
}

/** Decoder steps hold at most this many sequences by default (--max-batch-size 64); the buckets go one beyond. */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128];

/**
 * Continuous batching of local generation (src/engine/generation), per model: what its scheduler said after its last
 * step, read when scraped; the batch size of every step is observed as it happens.
 */
function generationMetrics(engine: ServerDeps['engine'], registry: Registry) {
  if (!engine.generationStats || !engine.onGenerationStep) return;
  const stats = engine.generationStats.bind(engine);
  const perModel = (name: string, help: string, pick: (s: SchedulerStats) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['model'],
      registers: [registry],
      collect() {
        this.reset();
        for (const { model, stats: s } of stats()) this.set({ model }, pick(s));
      },
    });
  perModel('modelhost_generation_active_sequences', 'Generations in the running batch (prefilling or decoding)', (s) => s.active);
  perModel('modelhost_generation_queued_sequences', 'Generations waiting for room in the batch (sequences, tokens or KV bytes)', (s) => s.queued);
  perModel('modelhost_generation_tokens_per_second', 'Tokens generated per second over the last 5 seconds', (s) => s.tokensPerSecond);
  const total = (name: string, help: string, pick: (s: SchedulerStats) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['model'],
      registers: [registry],
      collect() {
        this.reset();
        for (const { model, stats: s } of stats()) this.inc({ model }, pick(s));
      },
    });
  total('modelhost_generation_tokens_total', 'Tokens generated (rate() gives tokens/s)', (s) => s.tokens);
  total('modelhost_generation_prompt_tokens_total', 'Prompt tokens prefilled', (s) => s.promptTokens);
  total('modelhost_generation_steps_total', 'Scheduler steps run', (s) => s.steps);
  const batch = new Histogram({
    name: 'modelhost_generation_batch_size',
    help: 'Sequences in each decoder step',
    labelNames: ['model'],
    buckets: BATCH_BUCKETS,
    registers: [registry],
  });
  engine.onGenerationStep((model, s) => {
    if (s.batch > 0) batch.observe({ model }, s.batch);
  });
}

const registries = new WeakMap<ServerDeps, Registry>();

/**
 * One registry per server (the apps of endpoint ports share it): Node's defaults (event-loop lag at 1 ms
 * precision, so that a blocked loop shows), the engine's batching counters, the router's and the endpoints'.
 */
function registryFor(deps: ServerDeps): Registry {
  let registry = registries.get(deps);
  if (registry) return registry;
  registry = new Registry();
  registries.set(deps, registry);
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 1 });
  const counters = deps.engine.counters;
  new Counter({
    name: 'modelhost_engine_batches_total',
    help: 'Forward passes run by the engine',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(counters.batches);
    },
  });
  new Counter({
    name: 'modelhost_engine_items_total',
    help: 'Inputs run by the engine (items / batches = mean batch size)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(counters.items);
    },
  });
  new Counter({
    name: 'modelhost_engine_cancelled_total',
    help: 'Inputs whose callers left before their answer: dropped from the queue, or stopped mid-run (generations)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(counters.cancelled);
    },
  });
  new Gauge({
    name: 'modelhost_models_loaded',
    help: 'Models loaded in the engine',
    registers: [registry],
    collect() {
      this.set(deps.engine.loadedModels().filter((m) => m.state === 'ready').length);
    },
  });
  new Gauge({
    name: 'modelhost_queued_inputs',
    help: 'Inputs waiting for their model',
    registers: [registry],
    collect() {
      this.set(deps.engine.loadedModels().reduce((n, m) => n + m.queued, 0));
    },
  });
  generationMetrics(deps.engine, registry);
  if (deps.router) {
    // Read once per scrape and shared by the collectors (in a cluster it is asked of the primary).
    let cached: { at: number; view: Promise<ProviderView | undefined> } | undefined;
    const view = () => {
      const now = Date.now();
      if (!cached || now - cached.at > 100) cached = { at: now, view: providerView(deps) };
      return cached.view as Promise<ProviderView>;
    };
    routerMetrics(deps.router, registry, view);
  }
  if (deps.endpoints) endpointMetrics(deps.endpoints, registry);
  return registry;
}

/** `GET /metrics`: this process's figures, or in a cluster (`--processes`) the sum over its processes. */
export function metricsRoutes(deps: ServerDeps) {
  return async function routes(app: FastifyInstance) {
    const registry = registryFor(deps);
    if (deps.clusterMetrics) {
      AggregatorRegistry.setRegistries([registry]);
      // Constructing one is what makes prom-client answer the primary's requests for this process's metrics.
      new AggregatorRegistry();
    }
    const metrics = deps.clusterMetrics ?? (() => registry.metrics());
    app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await metrics()));
  };
}
