/**
 * OpenAI's audio routes: `POST /v1/audio/transcriptions` and `/v1/audio/translations` (multipart uploads, read by
 * @fastify/multipart, which is registered in this plugin only: every other route keeps its raw-bytes body).
 * The calls themselves are in handlers/audio-*.ts.
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../deps.ts';
import { readAudioForm } from '../handlers/audio-form.ts';
import { handleAudioText } from '../handlers/audio-transcription.ts';

export function audioRoutes(deps: ServerDeps) {
  return async function routes(app: FastifyInstance) {
    // One file and a few short fields; the file may be as large as any request body.
    await app.register(multipart, { limits: { files: 4, fields: 20, fieldSize: 64 * 1024, fileSize: deps.config.bodyLimitBytes } });
    app.post('/v1/audio/transcriptions', { preValidation: readAudioForm }, (request, reply) => handleAudioText(deps, request, reply, 'transcribe'));
    app.post('/v1/audio/translations', { preValidation: readAudioForm }, (request, reply) => handleAudioText(deps, request, reply, 'translate'));
  };
}
