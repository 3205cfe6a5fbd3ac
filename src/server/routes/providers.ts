/**
 * Routes that reach hosted providers: OpenAI chat (`model`, `model:provider`, `model:fastest`,
 * `model:cheapest`), router-style `/{provider}/v1/...` and `/{provider}/models/{id}`, the model list with
 * each model's providers, and `GET /api/providers` (circuit state and rolling statistics).
 */
import type { FastifyInstance } from 'fastify';
import { providerView, type ServerDeps } from '../deps.ts';
import { openAiCall } from '../handlers/openai.ts';

export function providerRoutes(deps: ServerDeps) {
  return async function routes(app: FastifyInstance) {
    app.post('/v1/chat/completions', (request, reply) => openAiCall(deps, 'chat', request, reply));
    for (const [path, api] of [
      ['chat/completions', 'chat'],
      ['completions', 'completions'],
      ['embeddings', 'embeddings'],
    ] as const) {
      app.post<{ Params: { provider: string } }>(`/:provider/v1/${path}`, (request, reply) => openAiCall(deps, api, request, reply, request.params.provider));
    }

    app.get('/v1/models', async () => {
      const router = deps.router;
      const routed = router?.file.models ?? [];
      const local = deps.repository.list().filter((m) => !routed.some((r) => r.id === m.id));
      const live = (provider: string) => (router?.breaker(provider)?.state === 'open' ? 'error' : 'live');
      return {
        object: 'list',
        data: [
          ...local.map((m) => ({
            id: m.id,
            object: 'model',
            created: 0,
            owned_by: m.id.split('/')[0],
            task: m.pipelineTag,
            providers: [{ provider: 'local', status: 'live' }],
          })),
          ...routed.map((m) => ({
            id: m.id,
            object: 'model',
            created: 0,
            owned_by: m.id.split('/')[0],
            task: m.task,
            providers: m.providers.map((p) => ({
              provider: p.provider,
              status: live(p.provider),
              ...(p.price.inputPerMTokens !== undefined || p.price.outputPerMTokens !== undefined
                ? { pricing: { input: p.price.inputPerMTokens ?? 0, output: p.price.outputPerMTokens ?? 0 } }
                : {}),
            })),
          })),
        ],
      };
    });

    app.get('/api/providers', async () => {
      const router = deps.router;
      const view = await providerView(deps);
      if (!router || !view) return { providers: [] };
      const stats = view.stats;
      return {
        windowSeconds: stats.windowMs / 1000,
        providers: [...router.adapters.values()].map((a) => {
          const breaker = router.breaker(a.name);
          const entry = router.file.providers.find((p) => p.name === a.name);
          return {
            name: a.name,
            type: a.type,
            baseUrl: entry?.baseUrl ?? null,
            circuit: { state: breaker.state, opens: breaker.opens, probes: breaker.probes },
            ...stats.snapshot(a.name),
            models: stats.models(a.name).map((model) => ({ model, ...stats.snapshot(a.name, model) })),
          };
        }),
      };
    });
  };
}
