/**
 * Shared by the text-to-speech tests: the transformers.js pipeline's waveform for a text, and the answers decoded
 * with libraries other than the ones that encoded them (wavefile, @wasm-audio-decoders/flac, mpg123-decoder).
 */
import { FLACDecoder } from '@wasm-audio-decoders/flac';
import { MPEGDecoder } from 'mpg123-decoder';
import wavefile from 'wavefile';
import { reference } from '../helpers/reference.ts';

export const TTS_MODEL = 'tiny/vits';

/** Texts of different lengths, cases and characters (some the model cannot read, which its tokenizer drops). */
export const TEXTS = ['Hello there, how are you?', 'A', 'The quick brown fox jumps over the lazy dog 123 times.', "It's a naïve café — isn't it?", 'MiXeD CaSe wOrDs'];

export interface Waveform {
  samples: Float32Array;
  rate: number;
}

/** transformers.js's text-to-speech pipeline on the same text. */
export async function pipelineSpeech(text: string): Promise<Waveform> {
  const pipe = await reference('text-to-speech', TTS_MODEL);
  const out = (await pipe(text)) as { audio: Float32Array; sampling_rate: number };
  return { samples: out.audio, rate: out.sampling_rate };
}

export function decodeWav(bytes: Uint8Array): Waveform & { bitDepth: string } {
  const file = new wavefile.WaveFile(bytes);
  const fmt = file.fmt as { sampleRate: number; numChannels: number };
  if (fmt.numChannels !== 1) throw new Error(`expected mono, got ${fmt.numChannels} channels`);
  return { samples: Float32Array.from(file.getSamples(false, Float64Array) as unknown as ArrayLike<number>), rate: fmt.sampleRate, bitDepth: file.bitDepth };
}

export async function decodeFlac(bytes: Uint8Array): Promise<Waveform> {
  const decoder = new FLACDecoder();
  await decoder.ready;
  try {
    const out = await decoder.decodeFile(bytes);
    return { samples: out.channelData[0]!, rate: out.sampleRate };
  } finally {
    decoder.free();
  }
}

export async function decodeMp3(bytes: Uint8Array): Promise<Waveform> {
  const decoder = new MPEGDecoder();
  await decoder.ready;
  try {
    const out = decoder.decode(bytes);
    return { samples: out.channelData[0]!, rate: out.sampleRate };
  } finally {
    decoder.free();
  }
}

export function rms(samples: Float32Array): number {
  let sum = 0;
  for (const x of samples) sum += x * x;
  return Math.sqrt(sum / Math.max(1, samples.length));
}

/** Largest absolute difference between two equally long signals (Infinity when the lengths differ). */
export function maxDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** The 16-bit value an integer format stores for a sample: clipped, scaled by 32767 and rounded. */
export const int16 = (x: number): number => Math.round(Math.max(-1, Math.min(1, x)) * 32767);

export async function postSpeech(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, text: () => Buffer.from(bytes).toString('utf8') };
}
