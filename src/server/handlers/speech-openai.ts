/**
 * OpenAI's `POST /v1/audio/speech` on a local text-to-speech model: `{model, input, voice, response_format, speed,
 * instructions}` in, the audio file out (./speech.ts sends it).
 *
 * - `response_format`: mp3 (OpenAI's default), flac, wav, pcm (16-bit, 24 kHz, no header). opus and aac are OpenAI
 *   formats no well-kept in-process encoder makes here: a 400 naming the ones that work.
 * - `voice` is required as OpenAI requires it (a name, or `{id}` for a custom voice) and checked for shape only: the
 *   VITS models served have one speaker, so every voice sounds the same.
 * - `speed` (0.25–4) resamples the audio: shorter and higher-pitched above 1 (src/engine/audio/encode.ts).
 * - `instructions` is accepted and unused: a VITS model takes no prompt. `stream_format` may be `audio` (the file as
 *   one body, as always); `sse` is refused.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { validate } from '../../core/tasks/index.ts';
import { MAX_SPEECH_CHARACTERS, speed, speechText, type SpeechFormat } from '../../core/tasks/text-to-speech.ts';
import { parseJsonObject, withHeaderOptions } from '../body.ts';
import type { ServerDeps } from '../deps.ts';
import { resolveModel } from '../inference.ts';
import { sendSpeech } from './speech.ts';

const SUPPORTED = ['mp3', 'flac', 'wav', 'pcm'] as const;
const OPENAI_FORMATS = ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'] as const;

const responseFormat = z
  .enum(OPENAI_FORMATS, { error: `expected one of ${SUPPORTED.join(', ')}` })
  .refine((f) => (SUPPORTED as readonly string[]).includes(f), {
    error: (issue) => `${String(issue.input)} is not encoded here; use one of ${SUPPORTED.join(', ')}`,
  });

const voice = z.union([z.string().trim().min(1).max(64), z.object({ id: z.string().trim().min(1).max(128) }).strict()], {
  error: 'required: a voice name such as "alloy" or {"id": "..."} (the local model has one speaker and ignores it)',
});

const speechBody = z
  .object({
    model: z.string({ error: 'required: the id of a local text-to-speech model (see GET /v1/models)' }).trim().min(1, 'required: a model id'),
    input: z.unknown().optional(),
    voice,
    response_format: responseFormat.default('mp3'),
    speed: z.number({ error: 'expected a number from 0.25 to 4' }).pipe(speed).default(1),
    instructions: z.string({ error: 'expected a string' }).max(MAX_SPEECH_CHARACTERS, `at most ${MAX_SPEECH_CHARACTERS} characters`).optional(),
    stream_format: z.enum(['audio'], { error: 'only "audio" (the whole file in one body); "sse" streaming is not available' }).optional(),
  })
  .strict();

export async function handleSpeech(deps: ServerDeps, request: FastifyRequest, reply: FastifyReply) {
  const body = validate(speechBody, parseJsonObject(request.body as Buffer | undefined), 'body');
  const text = speechText(body.input, 'body.input');
  const { model, spec } = resolveModel(deps, body.model, 'text-to-speech');
  const format = body.response_format as SpeechFormat;
  const options = withHeaderOptions({}, request.headers);
  return sendSpeech(deps, request, reply, { model, spec, text, params: { format, speed: body.speed }, options });
}
