/**
 * text-to-speech (VITS-style single-graph models): one text in, audio bytes out. Unlike every other task the answer is
 * not JSON: the Hugging Face route sends the file itself, in the format its `Accept` header asks for (WAV by
 * default; src/server/handlers/speech-format.ts negotiates), and OpenAI's `/v1/audio/speech` in its
 * `response_format`. The engine encodes (src/engine/audio/encode.ts), so the response cache keeps finished files.
 *
 * Parameters: `speed` (0.25–4, as OpenAI takes it; the engine resamples, see src/engine/audio/encode.ts) and
 * @huggingface/tasks' `generation_parameters`, accepted and unused: a single-pass model has nothing to sample.
 */
import { z } from 'zod';
import { InputError } from '../errors.ts';
import { throwItemErrors } from './item-error.ts';
import { validate, type TaskSpec } from './spec.ts';

/** The formats the engine encodes, with the media type each is sent as. */
export const SPEECH_FORMATS = {
  wav: 'audio/wav',
  flac: 'audio/flac',
  mp3: 'audio/mpeg',
  // OpenAI's `pcm`: headerless 16-bit little-endian samples at 24 kHz (the rate is not in the bytes, so it is fixed).
  pcm: 'audio/pcm',
} as const;

export type SpeechFormat = keyof typeof SPEECH_FORMATS;

/** OpenAI's `pcm` rate: a headerless stream's reader assumes it. */
export const PCM_SAMPLING_RATE = 24000;

/** Longest text read in one call (OpenAI's limit for `/v1/audio/speech`, applied to both routes). */
export const MAX_SPEECH_CHARACTERS = 4096;

export const speed = z.number().min(0.25, 'must be at least 0.25').max(4, 'must be at most 4');

const params = z
  .object({
    speed: speed.optional(),
    generation_parameters: z.record(z.string(), z.unknown(), { error: 'must be a JSON object' }).optional(),
  })
  .strict();

/** What the engine is asked: the file format and the speed (pcm is always at PCM_SAMPLING_RATE, the rest at the model's). */
export interface SpeechParams {
  format: SpeechFormat;
  speed: number;
}

/** One encoded answer. */
export interface SpeechOutput {
  audio: Uint8Array;
  format: SpeechFormat;
  sampling_rate: number;
  /** Samples in the file (after speed and resampling): its duration is samples / sampling_rate. */
  samples: number;
}

/** The text of a request: one non-empty string of at most MAX_SPEECH_CHARACTERS. */
export function speechText(value: unknown, where: string): string {
  if (value === undefined) throw new InputError(`${where}: required: the text to speak, as one string`);
  if (typeof value !== 'string') {
    throw new InputError(`${where}: expected the text to speak as one string${Array.isArray(value) ? ' (one text per request, not a list)' : ''}`);
  }
  if (value.trim().length === 0) throw new InputError(`${where}: must be a non-empty string (the text to speak)`);
  if (value.length > MAX_SPEECH_CHARACTERS) {
    throw new InputError(`${where}: ${value.length} characters; at most ${MAX_SPEECH_CHARACTERS} per request (split longer texts)`);
  }
  return value;
}

export const textToSpeech: TaskSpec = {
  id: 'text-to-speech',
  modality: 'text',
  // Each text runs alone: a padded batch would lengthen the shorter texts' audio.
  batchable: false,
  parse(req) {
    const text = speechText(req.inputs, 'inputs');
    const p = validate(params, req.parameters, 'parameters');
    const engine: SpeechParams = { format: 'wav', speed: p.speed ?? 1 };
    return { items: [text], single: true, params: engine as unknown as Record<string, unknown> };
  },
  respond(outputs) {
    throwItemErrors(outputs);
    return outputs[0];
  },
};
