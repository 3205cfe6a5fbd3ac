import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServerDeps } from '../deps.ts';

/**
 * Prometheus metrics: Node's defaults (event-loop lag at 1 ms precision, so that a blocked loop shows) and the
 * engine's batching counters.
 */
export function metricsRoutes(deps: ServerDeps) {
  return async function routes(app: FastifyInstance) {
    const registry = new Registry();
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
    app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  };
}
