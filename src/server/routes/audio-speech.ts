/**
 * OpenAI's `POST /v1/audio/speech`: JSON in, the audio file out. The call itself is in handlers/speech-openai.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../deps.ts';
import { handleSpeech } from '../handlers/speech-openai.ts';

export function audioSpeechRoutes(deps: ServerDeps) {
  return async function routes(app: FastifyInstance) {
    app.post('/v1/audio/speech', (request, reply) => handleSpeech(deps, request, reply));
  };
}
