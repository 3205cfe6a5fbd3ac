/**
 * The HF task routes: `/models/{id}` (and its `/pipeline/{task}` and `/v1/...` forms), `/hf-inference/models/{id}`,
 * `/{provider}/models/{id}` and `/pipeline/{task}/{id}`. The calls themselves are in handlers/tasks.ts.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ModelhostError } from '../../core/errors.ts';
import { isTaskId } from '../../core/tasks/index.ts';
import type { ServerDeps } from '../deps.ts';
import { taskHandlers } from '../handlers/tasks.ts';

export function inferenceRoutes(deps: ServerDeps) {
  const { run, byPath } = taskHandlers(deps);
  return async function routes(app: FastifyInstance) {
    app.post('/models/*', (request: FastifyRequest<{ Params: { '*': string } }>, reply) => byPath(request, reply));
    // The JS client's default provider: local models answer here; others go to a configured hf-inference provider.
    app.post('/hf-inference/models/*', (request: FastifyRequest<{ Params: { '*': string } }>, reply) => {
      const id = request.params['*'].split('/').filter(Boolean).slice(0, 2).join('/');
      const hosted = !deps.repository.get(id) && deps.router?.adapters.has('hf-inference');
      return byPath(request, reply, hosted ? 'hf-inference' : undefined);
    });
    app.post('/:provider/models/*', (request: FastifyRequest<{ Params: { provider: string; '*': string } }>, reply) =>
      byPath(request, reply, request.params.provider),
    );
    app.post<{ Params: { task: string; '*': string } }>('/pipeline/:task/*', async (request, reply) => {
      const { task } = request.params;
      if (!isTaskId(task)) throw new ModelhostError('task_not_supported', 400, `Unknown task ${task}`);
      return run(request, reply, request.params['*'], task);
    });
  };
}
