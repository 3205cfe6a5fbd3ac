import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../deps.ts';

export function healthRoutes(deps: ServerDeps) {
  return async function routes(app: FastifyInstance) {
    // Liveness: the process answers (with --processes, the pid says which one).
    app.get('/health', async () => ({ status: 'ok', pid: process.pid }));
    // Readiness: preloading has finished, so traffic can be sent here.
    app.get('/ready', async (_request, reply) => {
      const ready = deps.isReady();
      return reply.code(ready ? 200 : 503).send({
        status: ready ? 'ready' : 'starting',
        models: deps.repository.list().length,
        loaded: deps.engine.loadedModels().map((m) => ({ id: m.id, state: m.state, queued: m.queued, ...(m.instances !== undefined ? { instances: m.instances } : {}) })),
      });
    });
  };
}
