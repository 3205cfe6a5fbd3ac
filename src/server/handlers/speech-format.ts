/**
 * The Hugging Face speech route's `Accept` negotiation: which audio format to encode (q-values and wildcards read by
 * `negotiator`, the library Express uses). No Accept, `*∕*` or `audio/*` give WAV, as the Hugging Face API answers
 * by default; `application/octet-stream` (a client asking for bytes of any kind) gets WAV too. An Accept that names
 * only what cannot be made is a 406 that lists what can.
 */
import Negotiator from 'negotiator';
import { ModelhostError } from '../../core/errors.ts';
import { SPEECH_FORMATS, type SpeechFormat } from '../../core/tasks/text-to-speech.ts';

/** Media types the HF route answers, preferred first, with their format. Aliases are the names players also use. */
const OFFERED: readonly (readonly [string, Exclude<SpeechFormat, 'pcm'>])[] = [
  ['audio/wav', 'wav'],
  ['audio/x-wav', 'wav'],
  ['audio/wave', 'wav'],
  ['audio/vnd.wave', 'wav'],
  ['audio/flac', 'flac'],
  ['audio/x-flac', 'flac'],
  ['audio/mpeg', 'mp3'],
  ['audio/mp3', 'mp3'],
  ['application/octet-stream', 'wav'],
];

/** The format to encode for this Accept header; throws a 406 naming the offered types when none is acceptable. */
export function negotiateSpeechFormat(accept: string | string[] | undefined): { format: SpeechFormat; contentType: string } {
  const header = Array.isArray(accept) ? accept.join(', ') : accept;
  if (header === undefined || header.trim() === '') return { format: 'wav', contentType: SPEECH_FORMATS.wav };
  const chosen = new Negotiator({ headers: { accept: header } }).mediaType(OFFERED.map(([type]) => type));
  const format = OFFERED.find(([type]) => type === chosen)?.[1];
  if (!format) {
    throw new ModelhostError(
      'not_acceptable',
      406,
      `Accept: ${header.slice(0, 200)} names no format this model answers in. Text-to-speech answers audio/wav (default), audio/flac or audio/mpeg.`,
    );
  }
  return { format, contentType: SPEECH_FORMATS[format] };
}
