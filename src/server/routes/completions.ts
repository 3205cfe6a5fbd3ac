/** `POST /v1/completions` (and the doubled `/v1/v1/completions` old clients build): local or routed (handlers/openai.ts). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerDeps } from '../deps.ts';
import { openAiCall } from '../handlers/openai.ts';

export function completionsRoutes(deps: ServerDeps) {
  return async function routes(app: FastifyInstance) {
    const handler = (request: FastifyRequest, reply: FastifyReply) => openAiCall(deps, 'completions', request, reply);
    app.post('/v1/completions', handler);
    app.post('/v1/v1/completions', handler);
  };
}
