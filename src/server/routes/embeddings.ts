/** `POST /v1/embeddings`: local or routed (handlers/openai.ts). */
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../deps.ts';
import { openAiCall } from '../handlers/openai.ts';

export function embeddingsRoutes(deps: ServerDeps) {
  return async function routes(app: FastifyInstance) {
    app.post('/v1/embeddings', (request, reply) => openAiCall(deps, 'embeddings', request, reply));
  };
}
