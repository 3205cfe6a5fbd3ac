/**
 * OpenAI's `POST /v1/audio/transcriptions` and `/v1/audio/translations` on a local Whisper model: the form read by
 * ./audio-form.ts becomes one automatic-speech-recognition call, always in 30-second windows with 5-second strides
 * (so any length works, and the text and timestamps equal the HF route's and the transformers.js pipeline's with
 * that chunking), and the answer is written in the `response_format` asked for.
 *
 * Decoding is greedy: `temperature` is accepted (0–1, as OpenAI takes it) and `prompt` is accepted, but neither
 * changes the output here (README: OpenAI audio). verbose_json segments carry what Whisper's timestamps give
 * (`id`, `start`, `end`, `text`); OpenAI's log-probability statistics are not computed and not sent.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { InputError } from '../../core/errors.ts';
import { parseAsrParams, type AsrOutput } from '../../core/tasks/automatic-speech-recognition.ts';
import { validate } from '../../core/tasks/index.ts';
import { audioSeconds } from '../../auth/media-length.ts';
import { withHeaderOptions } from '../body.ts';
import type { ServerDeps } from '../deps.ts';
import { infer, resolveModel } from '../inference.ts';
import { noteUsage } from '../access.ts';
import { isAudioForm } from './audio-form.ts';
import { toSrt, toVtt, type Cue } from './audio-subtitles.ts';

export type AudioTextTask = 'transcribe' | 'translate';

/** The windows every OpenAI call is cut into: Whisper's own 30 s, overlapping 5 s on each side. */
export const OPENAI_CHUNKING = { chunk_length_s: 30, stride_length_s: 5 } as const;

const formats = ['json', 'text', 'srt', 'vtt', 'verbose_json'] as const;
type ResponseFormat = (typeof formats)[number];

const number = (name: string, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+(\.\d+)?$/, `${name}: expected a number`)
    .transform(Number)
    .pipe(z.number().min(min, `${name}: must be at least ${min}`).max(max, `${name}: must be at most ${max}`));

const common = {
  model: z.string({ error: 'required: the id of a local speech-recognition model (see GET /v1/models)' }).trim().min(1, 'required: a model id'),
  prompt: z.string().max(4000).optional(),
  temperature: number('temperature', 0, 1).optional(),
  response_format: z.enum(formats, { error: `expected one of ${formats.join(', ')}` }).default('json'),
};

const granularities = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]))
  .pipe(z.array(z.enum(['word', 'segment'], { error: 'each must be "word" or "segment"' })));

const transcriptionForm = z
  .object({
    ...common,
    language: z.string().trim().min(2, 'expected an ISO-639-1 code such as "en"').max(40).optional(),
    'timestamp_granularities[]': granularities.optional(),
    stream: z.enum(['false'], { error: 'streamed transcription is not available for Whisper models: leave stream out (or false)' }).optional(),
  })
  .strict();

// OpenAI's translations take no language (the output is always English) and no timestamp granularities.
const translationForm = z.object({ ...common }).strict();

interface Segment {
  id: number;
  seek: number;
  start: number;
  end: number;
  text: string;
  temperature: number;
}

/** The language's English name, lower case, as OpenAI's verbose_json states it ("en" → "english"). */
function languageName(language: string | undefined): string {
  if (!language) return 'english';
  try {
    const name = new Intl.DisplayNames(['en'], { type: 'language' }).of(language.replace(/^<\|(.+)\|>$/, '$1'));
    return (name ?? language).toLowerCase();
  } catch {
    return language.toLowerCase();
  }
}

/** Whisper chunks as cues; an open-ended last chunk (no end timestamp) ends with the audio. */
function cues(chunks: AsrOutput['chunks'], duration: number): Cue[] {
  return (chunks ?? []).map((c) => ({ start: c.timestamp[0], end: c.timestamp[1] ?? Math.max(duration, c.timestamp[0]), text: c.text }));
}

export async function handleAudioText(deps: ServerDeps, request: FastifyRequest, reply: FastifyReply, task: AudioTextTask) {
  if (!isAudioForm(request.body)) throw new InputError('Send multipart/form-data with the audio in a part named "file"');
  const { file, fields } = request.body;
  const form = validate(task === 'transcribe' ? transcriptionForm : translationForm, fields, 'body') as z.infer<typeof transcriptionForm>;
  if (!file) throw new InputError('body.file: required: the audio file, as a multipart part named "file"');
  const wanted = new Set(form['timestamp_granularities[]'] ?? []);
  const format: ResponseFormat = form.response_format;
  if (wanted.size > 0 && format !== 'verbose_json') {
    throw new InputError('body.timestamp_granularities[]: needs response_format verbose_json (the other formats carry no word timestamps)');
  }
  const { model, spec } = resolveModel(deps, form.model, 'automatic-speech-recognition');
  const options = withHeaderOptions({}, request.headers);
  const item = { data: file.data, contentType: file.contentType };
  const run = async (return_timestamps: boolean | 'word') => {
    const params = parseAsrParams({
      ...OPENAI_CHUNKING,
      return_timestamps,
      generate_kwargs: { task, ...(form.language ? { language: form.language } : {}) },
    }) as Record<string, unknown>;
    const result = await infer(deps, model, spec, { items: [item], params, single: true }, options, request.headers);
    return { output: result.body as AsrOutput, computeMs: result.computeMs };
  };

  const timed = format === 'srt' || format === 'vtt' || (format === 'verbose_json' && (wanted.size === 0 || wanted.has('segment')));
  const main = await run(timed);
  const words = format === 'verbose_json' && wanted.has('word') ? await run('word') : undefined;
  const computeMs = main.computeMs + (words?.computeMs ?? 0);
  const lastEnd = Math.max(0, ...(main.output.chunks ?? []).map((c) => c.timestamp[1] ?? c.timestamp[0]));
  const duration = audioSeconds(file.data, file.contentType) ?? lastEnd;
  const localPrice = deps.router?.file.routing.localPricePerSecond ?? 0;
  noteUsage(request, { provider: 'local', model: model.id, task: spec.id, costUsd: (computeMs / 1000) * localPrice, computeMs });
  reply.header('x-modelhost-provider', 'local').header('x-compute-time', (computeMs / 1000).toFixed(3));

  const text = main.output.text.trim();
  const segmentCues = cues(main.output.chunks, duration);
  if (format === 'text') return reply.type('text/plain; charset=utf-8').send(`${text}\n`);
  if (format === 'srt') return reply.type('application/x-subrip; charset=utf-8').send(toSrt(segmentCues));
  if (format === 'vtt') return reply.type('text/vtt; charset=utf-8').send(toVtt(segmentCues));
  const usage = { type: 'duration', seconds: Math.ceil(duration) };
  if (format === 'json') return reply.type('application/json; charset=utf-8').send({ text, usage });
  const temperature = form.temperature ?? 0;
  const body: Record<string, unknown> = {
    task: task === 'transcribe' ? 'transcribe' : 'translate',
    language: task === 'translate' ? 'english' : languageName(form.language),
    duration,
    text,
  };
  if (timed) {
    body.segments = segmentCues.map((c, id): Segment => ({ id, seek: 0, start: c.start, end: c.end, text: c.text, temperature }));
  }
  if (words) body.words = cues(words.output.chunks, duration).map((c) => ({ word: c.text.trim(), start: c.start, end: c.end }));
  body.usage = usage;
  return reply.type('application/json; charset=utf-8').send(body);
}
