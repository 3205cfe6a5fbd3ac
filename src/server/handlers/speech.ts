/**
 * Text-to-speech calls answer audio bytes, not JSON: the Hugging Face route (`POST /models/{id}` on a
 * text-to-speech model, format by `Accept`) and OpenAI's `POST /v1/audio/speech` (format by `response_format`,
 * ./speech-openai.ts) both end here. The engine encodes; the response cache keeps the finished file per format.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ModelInfo } from '../../core/model.ts';
import type { EngineRequest, TaskSpec } from '../../core/tasks/index.ts';
import { SPEECH_FORMATS, type SpeechOutput, type SpeechParams } from '../../core/tasks/text-to-speech.ts';
import { noteUsage } from '../access.ts';
import type { RequestOptions } from '../body.ts';
import type { ServerDeps } from '../deps.ts';
import { infer } from '../inference.ts';
import { callerSignal } from '../routed.ts';
import { negotiateSpeechFormat } from './speech-format.ts';

export interface SpeechCall {
  model: ModelInfo;
  spec: TaskSpec;
  text: string;
  params: SpeechParams;
  options: RequestOptions;
  /** The media type to send (the HF route answers in the alias the caller asked for). */
  contentType?: string;
}

/** Runs one speech call and sends the file, with the compute headers every local call carries. */
export async function sendSpeech(deps: ServerDeps, request: FastifyRequest, reply: FastifyReply, call: SpeechCall) {
  const req: EngineRequest = { items: [call.text], single: true, params: call.params as unknown as Record<string, unknown> };
  const result = await infer(deps, call.model, call.spec, req, call.options, request.headers, callerSignal(reply));
  const output = result.body as SpeechOutput;
  (request as { upstreamMs?: number }).upstreamMs = result.computeMs;
  const localPrice = deps.router?.file.routing.localPricePerSecond ?? 0;
  noteUsage(request, { provider: 'local', model: call.model.id, task: call.spec.id, costUsd: (result.computeMs / 1000) * localPrice, computeMs: result.computeMs });
  reply.header('x-modelhost-provider', 'local');
  reply.header('x-cache', result.cached ? 'HIT' : 'MISS');
  if (!result.cached) reply.header('x-compute-time', (result.computeMs / 1000).toFixed(3));
  reply.header('x-compute-characters', String(call.text.length));
  reply.header('x-audio-sampling-rate', String(output.sampling_rate));
  reply.header('x-audio-seconds', (output.samples / output.sampling_rate).toFixed(3));
  const bytes = Buffer.from(output.audio.buffer, output.audio.byteOffset, output.audio.byteLength);
  return reply.type(call.contentType ?? SPEECH_FORMATS[output.format]).send(bytes);
}

/** The HF route's answer for a parsed text-to-speech request: the format from `Accept`, then the file. */
export function answerSpeech(deps: ServerDeps, request: FastifyRequest, reply: FastifyReply, model: ModelInfo, spec: TaskSpec, req: EngineRequest, options: RequestOptions) {
  const { format, contentType } = negotiateSpeechFormat(request.headers.accept);
  const params: SpeechParams = { ...(req.params as unknown as SpeechParams), format };
  return sendSpeech(deps, request, reply, { model, spec, text: req.items[0] as string, params, options, contentType });
}
