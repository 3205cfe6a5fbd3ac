/**
 * Audio encoding for text-to-speech answers, in-process and in the engine's worker (an MP3 of two minutes takes a
 * while; the HTTP thread never waits on it): mono float32 samples → WAV, FLAC, MP3 or headerless PCM bytes.
 *
 * - WAV: 32-bit float (format 3), the samples exactly as the model gave them (transformers.js's own
 *   `RawAudio.toWav` writes the same kind of file); the tests read it back with `wavefile`.
 * - FLAC: 16-bit through `libflacjs` (libFLAC compiled to JavaScript; its asm.js build, because the WebAssembly one
 *   fetches its .wasm by URL, which Node cannot do from a path). Lossless for the 16-bit samples it is given.
 * - MP3: `@breezystack/lamejs`, mono at 64 kbit/s; MP3 knows only nine sample rates, so any other is resampled up
 *   to the next one.
 * - PCM: OpenAI's `pcm`, 16-bit little-endian at 24 kHz with no header (a reader cannot learn the rate, so the rate
 *   is the one OpenAI's clients assume).
 *
 * Integer formats clip to [−1, 1] and scale by 32767, the scale the FLAC and MP3 decoders divide by.
 */
import { Mp3Encoder } from '@breezystack/lamejs';
import flacFactory from 'libflacjs';
import { Encoder as FlacEncoder } from 'libflacjs/lib/encoder.js';
import { exportFlacData } from 'libflacjs/lib/utils/flac-utils.js';
import { PCM_SAMPLING_RATE, type SpeechFormat, type SpeechOutput, type SpeechParams } from '../../core/tasks/text-to-speech.ts';
import { resample } from '../audio.ts';

const MP3_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];
const MP3_KBPS = 64;
/** lamejs encodes in frames of 1152 samples; whole frames per call keep its buffers small. */
const MP3_CHUNK = 1152 * 64;

type Flac = ReturnType<typeof flacFactory>;
let flac: Promise<Flac> | undefined;

/** libflacjs, loaded once (its asm.js build is ready at once or shortly after; `ready` says when). */
function loadFlac(): Promise<Flac> {
  flac ??= new Promise<Flac>((resolve) => {
    const lib = flacFactory();
    if (lib.isReady()) resolve(lib);
    else lib.on('ready', () => resolve(lib));
  });
  return flac;
}

function toInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = Math.round(Math.max(-1, Math.min(1, samples[i]!)) * 32767);
  return out;
}

/**
 * A 44-byte RIFF header (format 3, IEEE float, mono) and the samples little-endian. Written here rather than with
 * wavefile's `fromScratch`, which packs sample by sample through generic code: 3 s for two minutes of audio, against
 * about 20 ms here.
 */
function wav(samples: Float32Array, rate: number): Uint8Array {
  const out = new Uint8Array(44 + samples.length * 4);
  const view = new DataView(out.buffer);
  const ascii = (at: number, text: string) => [...text].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + samples.length * 4, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true); // fmt chunk size
  view.setUint16(20, 3, true); // IEEE float
  view.setUint16(22, 1, true); // channels
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 4, true); // bytes per second
  view.setUint16(32, 4, true); // block align
  view.setUint16(34, 32, true); // bits per sample
  ascii(36, 'data');
  view.setUint32(40, samples.length * 4, true);
  for (let i = 0; i < samples.length; i++) view.setFloat32(44 + i * 4, samples[i]!, true);
  return out;
}

async function flacBytes(samples: Float32Array, rate: number): Promise<Uint8Array> {
  const encoder = new FlacEncoder(await loadFlac(), { sampleRate: rate, channels: 1, bitsPerSample: 16, compression: 5, verify: false });
  try {
    const ints = Int32Array.from(toInt16(samples));
    if (ints.length > 0 && !encoder.encode(ints)) throw new Error(`FLAC encoding failed (state ${encoder.getState()})`);
    if (!encoder.encode()) throw new Error(`FLAC encoding could not finish (state ${encoder.getState()})`);
    const metadata = encoder.metadata;
    if (!metadata) throw new Error('FLAC encoding gave no stream metadata');
    return await exportFlacData(encoder.rawData, metadata, false);
  } finally {
    encoder.destroy();
  }
}

function mp3(samples: Float32Array, rate: number): { bytes: Uint8Array; rate: number; samples: number } {
  const target = MP3_RATES.find((r) => r >= rate) ?? MP3_RATES[MP3_RATES.length - 1]!;
  const pcm = toInt16(resample(samples, rate, target));
  const encoder = new Mp3Encoder(1, target, MP3_KBPS);
  // lamejs hands back Int8Arrays (its typings say Uint8Array): the same bytes, viewed as unsigned.
  const parts: Uint8Array[] = [];
  const keep = (chunk: ArrayBufferView) => parts.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  for (let at = 0; at < pcm.length; at += MP3_CHUNK) keep(encoder.encodeBuffer(pcm.subarray(at, at + MP3_CHUNK)));
  keep(encoder.flush());
  return { bytes: Buffer.concat(parts), rate: target, samples: pcm.length };
}

function pcm16(samples: Float32Array): Uint8Array {
  const ints = toInt16(samples);
  const out = Buffer.alloc(ints.length * 2);
  for (let i = 0; i < ints.length; i++) out.writeInt16LE(ints[i]!, i * 2);
  return out;
}

/**
 * `speed` as a change of rate: the samples are resampled to rate / speed and played at the rate, so the audio is
 * `speed` times shorter and its pitch `speed` times higher (a tape played faster), with the band-limited resampler
 * the audio decoders use (src/engine/audio.ts), which filters before it drops samples.
 */
export function atSpeed(samples: Float32Array, rate: number, speed: number): Float32Array {
  return speed === 1 ? samples : resample(samples, rate, rate / speed);
}

/** One waveform as the file a speech answer sends. */
export async function encodeSpeech(waveform: Float32Array, modelRate: number, params: SpeechParams): Promise<SpeechOutput> {
  const sped = atSpeed(waveform, modelRate, params.speed);
  const format: SpeechFormat = params.format;
  if (format === 'pcm') {
    const samples = resample(sped, modelRate, PCM_SAMPLING_RATE);
    return { audio: pcm16(samples), format, sampling_rate: PCM_SAMPLING_RATE, samples: samples.length };
  }
  const n = sped.length;
  if (format === 'wav') return { audio: wav(sped, modelRate), format, sampling_rate: modelRate, samples: n };
  if (format === 'flac') return { audio: await flacBytes(sped, modelRate), format, sampling_rate: modelRate, samples: n };
  const encoded = mp3(sped, modelRate);
  return { audio: encoded.bytes, format, sampling_rate: encoded.rate, samples: encoded.samples };
}
