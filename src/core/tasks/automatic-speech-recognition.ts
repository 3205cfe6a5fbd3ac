/**
 * automatic-speech-recognition (Whisper): audio in, `{text}` out, plus `chunks` with `timestamp` [start, end] when
 * `return_timestamps` is `true` (segments) or `"word"` (words). Parameters are the transformers.js pipeline's:
 * `chunk_length_s` / `stride_length_s` for audio longer than the model's 30-second window, and `language` / `task`
 * (transcribe or translate) / `max_new_tokens` in `generate_kwargs`; @huggingface/tasks' `generation_parameters`
 * is taken as another name for `generate_kwargs`.
 */
import { z } from 'zod';
import { InputError } from '../errors.ts';
import { throwItemErrors } from './item-error.ts';
import { binaryItem, validate, type TaskSpec } from './spec.ts';

const generateKwargs = z
  .object({
    language: z.string().trim().min(1, 'must name a language (e.g. "en", "english" or "<|en|>")').max(40).optional(),
    task: z.enum(['transcribe', 'translate']).optional(),
    max_new_tokens: z.number().int().min(1).max(440).optional(),
  })
  .strict();

const params = z
  .object({
    return_timestamps: z.union([z.boolean(), z.literal('word')]).default(false),
    // Whisper reads 30-second windows; longer chunks would be cut by its feature extractor.
    chunk_length_s: z.number().gt(0).max(30).optional(),
    stride_length_s: z.number().min(0).max(15).optional(),
    generate_kwargs: generateKwargs.optional(),
    generation_parameters: generateKwargs.optional(),
  })
  .strict();

export type AsrParams = {
  return_timestamps: boolean | 'word';
  chunk_length_s?: number;
  stride_length_s?: number;
} & z.infer<typeof generateKwargs>;

export interface AsrOutput {
  text: string;
  chunks?: { text: string; timestamp: [number, number | null] }[];
}

/** The request's parameters, flattened the way the engine handler passes them to the pipeline. */
export function parseAsrParams(raw: unknown): AsrParams {
  const p = validate(params, raw ?? {}, 'parameters');
  const { generate_kwargs, generation_parameters, ...rest } = p;
  if (rest.stride_length_s !== undefined && rest.chunk_length_s === undefined) {
    throw new InputError('parameters.stride_length_s needs parameters.chunk_length_s (the window it overlaps)');
  }
  if (rest.stride_length_s !== undefined && rest.chunk_length_s !== undefined && rest.chunk_length_s <= 2 * rest.stride_length_s) {
    throw new InputError('parameters.stride_length_s must be less than half of parameters.chunk_length_s (each window advances by chunk − 2 × stride)');
  }
  const out: AsrParams = { ...rest, ...generation_parameters, ...generate_kwargs };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as AsrParams;
}

export const automaticSpeechRecognition: TaskSpec = {
  id: 'automatic-speech-recognition',
  modality: 'audio',
  // Encoder passes are shared by the concurrent requests with the same parameters.
  batchable: true,
  parse(req) {
    return { items: [binaryItem(req.inputs, 'audio')], single: true, params: parseAsrParams(req.parameters) as Record<string, unknown> };
  },
  respond(outputs) {
    throwItemErrors(outputs);
    return outputs[0];
  },
};
