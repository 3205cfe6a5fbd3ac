import { InputError } from '../core/errors.ts';
import { decodeMp3, decodeOgg, decodeWebm } from './audio/compressed.ts';

/**
 * Audio decoding for audio tasks: request bytes → mono float32 at the rate the model wants.
 * The format is sniffed from the bytes because clients often send no (or a generic) Content-Type;
 * only headerless raw PCM needs the Content-Type, since nothing else can tell its rate and layout.
 */
export interface AudioInput {
  data: Uint8Array;
  contentType?: string;
}

export interface DecodedAudio {
  /** Mono samples in [-1, 1] at `sampleRate`. */
  samples: Float32Array;
  sampleRate: number;
  durationSeconds: number;
}

export const ACCEPTED_AUDIO_FORMATS =
  'WAV (PCM 8/16/24/32-bit or float32), FLAC, MP3, Ogg (Vorbis or Opus), WebM/Opus, or raw 16-bit little-endian PCM sent with ' +
  'Content-Type audio/L16;rate=16000;channels=1 (or audio/pcm, or audio/x-raw-float32 for float32)';

const MIN_RATE = 1000;
const MAX_RATE = 384_000;
const MAX_CHANNELS = 32;

/** Decodes WAV, FLAC, MP3, Ogg, WebM or raw PCM to mono float32 resampled to `targetRate`. Throws InputError for anything else. */
export async function decodeAudio(input: AudioInput, targetRate = 16000): Promise<DecodedAudio> {
  const data = input?.data;
  if (!(data instanceof Uint8Array)) throw new InputError(`Expected audio bytes: send ${ACCEPTED_AUDIO_FORMATS}.`);
  if (data.length === 0) throw new InputError(`The audio is empty: send ${ACCEPTED_AUDIO_FORMATS}.`);

  let pcm: { channels: Float32Array[]; sampleRate: number };
  if (startsWith(data, 'RIFF') || startsWith(data, 'RIFX') || startsWith(data, 'RF64')) pcm = decodeWav(data);
  else if (startsWith(data, 'fLaC')) pcm = await decodeFlac(data);
  else if (startsWith(data, 'OggS')) pcm = await decodeOgg(data, HINT);
  else if (startsWith(data, '\x1a\x45\xdf\xa3')) pcm = await decodeWebm(data, HINT);
  else if (isMp3(data)) pcm = await decodeMp3(data, HINT);
  else {
    const raw = rawPcmLayout(input.contentType);
    if (!raw) {
      const known = sniffUnsupported(data);
      throw new InputError(
        `${known ? `${known} audio is not supported` : 'Unrecognised audio format'}: send ${ACCEPTED_AUDIO_FORMATS}.`,
      );
    }
    pcm = decodeRawPcm(data, raw);
  }

  const mono = mixToMono(pcm.channels);
  if (mono.length === 0) throw new InputError(`The audio contains no samples: send ${ACCEPTED_AUDIO_FORMATS}.`);
  return {
    samples: resample(mono, pcm.sampleRate, targetRate),
    sampleRate: targetRate,
    durationSeconds: mono.length / pcm.sampleRate,
  };
}

const HINT = `Send ${ACCEPTED_AUDIO_FORMATS}.`;

/** An ID3 tag, or an MPEG audio frame sync (11 set bits) with layer bits other than 00 (00 is AAC's ADTS). */
function isMp3(data: Uint8Array): boolean {
  if (startsWith(data, 'ID3')) return true;
  return data.length >= 4 && data[0] === 0xff && (data[1]! & 0xe0) === 0xe0 && (data[1]! & 0x06) !== 0;
}

function startsWith(data: Uint8Array, ascii: string, offset = 0): boolean {
  if (data.length < offset + ascii.length) return false;
  for (let i = 0; i < ascii.length; i++) if (data[offset + i] !== ascii.charCodeAt(i)) return false;
  return true;
}

/** Names common formats we do not decode, so the error can say what was received. */
function sniffUnsupported(data: Uint8Array): string | undefined {
  if (data.length >= 2 && data[0] === 0xff && (data[1]! & 0xf6) === 0xf0) return 'AAC (ADTS)';
  if (startsWith(data, 'ftyp', 4)) return 'MP4/M4A';
  return undefined;
}

// ---------------------------------------------------------------- WAV

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

function decodeWav(data: Uint8Array): { channels: Float32Array[]; sampleRate: number } {
  const bad = (why: string) => new InputError(`Invalid WAV file: ${why}. Send ${ACCEPTED_AUDIO_FORMATS}.`);
  if (!startsWith(data, 'RIFF')) throw bad('only little-endian RIFF WAV is supported (not RIFX or RF64)');
  if (data.length < 12 || !startsWith(data, 'WAVE', 8)) throw bad('the RIFF header does not say WAVE');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);

  let fmt: { format: number; channels: number; sampleRate: number; blockAlign: number; bits: number } | undefined;
  let body: Uint8Array | undefined;
  // Walk the chunk list; chunks are word-aligned. Unknown chunks (LIST, fact, cue...) are skipped.
  for (let pos = 12; pos + 8 <= data.length; ) {
    const size = view.getUint32(pos + 4, true);
    const start = pos + 8;
    if (startsWith(data, 'fmt ', pos)) {
      if (size < 16 || start + 16 > data.length) throw bad('the fmt chunk is truncated');
      let format = view.getUint16(start, true);
      // WAVE_FORMAT_EXTENSIBLE keeps the real format in the first two bytes of its sub-format GUID.
      if (format === WAVE_FORMAT_EXTENSIBLE) {
        if (size < 40 || start + 26 > data.length) throw bad('the extensible fmt chunk is truncated');
        format = view.getUint16(start + 24, true);
      }
      fmt = {
        format,
        channels: view.getUint16(start + 2, true),
        sampleRate: view.getUint32(start + 4, true),
        blockAlign: view.getUint16(start + 12, true),
        bits: view.getUint16(start + 14, true),
      };
    } else if (startsWith(data, 'data', pos)) {
      // Streaming writers leave the size at 0 or 0xFFFFFFFF; take what is actually there. Any other size that
      // runs past the end means the upload was cut short: answering on part of it would be a silent failure.
      const unknownSize = size === 0 || size === 0xffffffff;
      if (!unknownSize && start + size > data.length) {
        throw bad(`the data chunk is truncated (${size} bytes declared, ${data.length - start} present)`);
      }
      const end = unknownSize ? data.length : start + size;
      body = data.subarray(start, end);
      if (fmt) break;
    }
    pos = start + size + (size & 1);
  }
  if (!fmt) throw bad('no fmt chunk (the header is missing or truncated)');
  if (!body) throw bad('no data chunk (the file is truncated)');

  const { format, channels, sampleRate, blockAlign } = fmt;
  if (channels < 1 || channels > MAX_CHANNELS) throw bad(`${channels} channels`);
  if (sampleRate < MIN_RATE || sampleRate > MAX_RATE) throw bad(`sample rate ${sampleRate} Hz`);
  // The container width (blockAlign / channels) decides how to read; e.g. 20-bit audio sits in 24-bit slots.
  const width = blockAlign / channels;
  let read: (offset: number) => number;
  if (format === WAVE_FORMAT_PCM && width === 1) read = (o) => (view.getUint8(o) - 128) / 128;
  else if (format === WAVE_FORMAT_PCM && width === 2) read = (o) => view.getInt16(o, true) / 32768;
  else if (format === WAVE_FORMAT_PCM && width === 3)
    read = (o) => ((view.getInt8(o + 2) << 16) | (view.getUint8(o + 1) << 8) | view.getUint8(o)) / 8388608;
  else if (format === WAVE_FORMAT_PCM && width === 4) read = (o) => view.getInt32(o, true) / 2147483648;
  else if (format === WAVE_FORMAT_IEEE_FLOAT && width === 4) read = (o) => view.getFloat32(o, true);
  else if (format === WAVE_FORMAT_IEEE_FLOAT && width === 8) read = (o) => view.getFloat64(o, true);
  else throw bad(`unsupported encoding (format tag ${format}, ${fmt.bits} bits)`);

  const frames = Math.floor(body.length / blockAlign);
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  const base = body.byteOffset - data.byteOffset;
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < channels; c++) out[c]![f] = read(base + f * blockAlign + c * width);
  }
  return { channels: out, sampleRate };
}

// ---------------------------------------------------------------- FLAC

// codec-parser (inside the FLAC decoder) drops a final frame shorter than a frame header, which is what
// a trailing block of silence compresses to. Zero bytes after the stream let it read that frame; they
// also keep the frame's CRC-16 valid, since the CRC of a frame plus its checksum plus zeros stays 0.
const FLAC_TAIL_PADDING = 16;

async function decodeFlac(data: Uint8Array): Promise<{ channels: Float32Array[]; sampleRate: number }> {
  const padded = new Uint8Array(data.length + FLAC_TAIL_PADDING);
  padded.set(data);
  // Imported on first use: the WebAssembly decoders cost every process (replicas too) start-up time otherwise.
  const { FLACDecoder } = await import('@wasm-audio-decoders/flac');
  const decoder = new FLACDecoder();
  try {
    await decoder.ready;
    const decoded = await decoder.decodeFile(padded);
    if (decoded.samplesDecoded === 0 || decoded.channelData.length === 0) {
      const why = decoded.errors[0]?.message ?? 'no audio frames';
      throw new InputError(`Invalid FLAC file (${why}). Send ${ACCEPTED_AUDIO_FORMATS}.`);
    }
    // The decoder skips frames it cannot read and stops where the bytes stop; STREAMINFO's sample count (0 when
    // the encoder did not know it) tells a whole file from a cut or damaged one.
    const declared = flacTotalSamples(data);
    if (declared > 0 && decoded.samplesDecoded < declared) {
      throw new InputError(
        `Invalid FLAC file: it holds ${decoded.samplesDecoded} of the ${declared} samples its header declares (truncated or corrupt). Send ${ACCEPTED_AUDIO_FORMATS}.`,
      );
    }
    return { channels: decoded.channelData, sampleRate: decoded.sampleRate };
  } finally {
    decoder.free();
  }
}

/** STREAMINFO's total samples per channel (36 bits after rate, channels and depth), or 0 when unknown or absent. */
function flacTotalSamples(data: Uint8Array): number {
  if (data.length < 26 || (data[4]! & 0x7f) !== 0) return 0;
  return (data[21]! & 0x0f) * 2 ** 32 + new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(22);
}

// ---------------------------------------------------------------- raw PCM

interface RawLayout {
  encoding: 's16le' | 'f32le';
  sampleRate: number;
  channels: number;
}

/**
 * Raw PCM layout from a Content-Type such as `audio/L16; rate=16000; channels=1`, or undefined when the
 * type is not a raw PCM type. audio/L16 is little-endian here, as the clients that send it produce.
 */
function rawPcmLayout(contentType: string | undefined): RawLayout | undefined {
  if (!contentType) return undefined;
  const [type = '', ...paramParts] = contentType.split(';').map((s) => s.trim());
  const mediaType = type.toLowerCase();
  let encoding: RawLayout['encoding'];
  if (mediaType === 'audio/l16' || mediaType === 'audio/pcm') encoding = 's16le';
  else if (mediaType === 'audio/x-raw-float32') encoding = 'f32le';
  else return undefined;

  const params = new Map<string, string>();
  for (const part of paramParts) {
    const eq = part.indexOf('=');
    if (eq > 0) params.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim().replace(/^"|"$/g, ''));
  }
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = params.get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max) {
      throw new InputError(`Content-Type parameter ${name}=${raw} is invalid: use an integer from ${min} to ${max}.`);
    }
    return n;
  };
  return {
    encoding,
    sampleRate: int('rate', 16000, MIN_RATE, MAX_RATE),
    channels: int('channels', 1, 1, MAX_CHANNELS),
  };
}

function decodeRawPcm(data: Uint8Array, layout: RawLayout): { channels: Float32Array[]; sampleRate: number } {
  const width = layout.encoding === 's16le' ? 2 : 4;
  const frameBytes = width * layout.channels;
  if (data.length % frameBytes !== 0) {
    throw new InputError(
      `Raw PCM length ${data.length} bytes is not a whole number of ${layout.channels}-channel ` +
        `${width * 8}-bit frames: check the Content-Type's channels= parameter, or send WAV or FLAC.`,
    );
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const frames = data.length / frameBytes;
  const out = Array.from({ length: layout.channels }, () => new Float32Array(frames));
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < layout.channels; c++) {
      const o = f * frameBytes + c * width;
      out[c]![f] = width === 2 ? view.getInt16(o, true) / 32768 : view.getFloat32(o, true);
    }
  }
  return { channels: out, sampleRate: layout.sampleRate };
}

// ---------------------------------------------------------------- mixing and resampling

function mixToMono(channels: Float32Array[]): Float32Array {
  const first = channels[0];
  if (!first) return new Float32Array(0);
  if (channels.length === 1) return first;
  const out = new Float32Array(first.length);
  for (const ch of channels) for (let i = 0; i < out.length; i++) out[i]! += ch[i] ?? 0;
  for (let i = 0; i < out.length; i++) out[i]! /= channels.length;
  return out;
}

// Windowed-sinc kernel, tabulated: 16 zero crossings each side, Hann window. Its cutoff is lowered to
// the output Nyquist when downsampling so 44.1 kHz audio does not alias into the 16 kHz band.
const ZERO_CROSSINGS = 16;
const TABLE_STEPS = 256; // table entries per zero crossing
const KERNEL = (() => {
  const table = new Float32Array(ZERO_CROSSINGS * TABLE_STEPS + 2);
  for (let i = 0; i < table.length; i++) {
    const x = i / TABLE_STEPS;
    const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    const window = x >= ZERO_CROSSINGS ? 0 : 0.5 + 0.5 * Math.cos((Math.PI * x) / ZERO_CROSSINGS);
    table[i] = sinc * window;
  }
  return table;
})();

/** Band-limited resampling of mono audio; returns the input itself when the rates match. */
export function resample(input: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (fromRate === toRate || input.length === 0) return input;
  const step = fromRate / toRate; // input samples per output sample
  const cutoff = Math.min(1, toRate / fromRate); // fraction of the input Nyquist kept
  const reach = ZERO_CROSSINGS / cutoff; // kernel half-width in input samples
  const out = new Float32Array(Math.max(1, Math.round(input.length / step)));
  for (let i = 0; i < out.length; i++) {
    const center = i * step;
    const lo = Math.max(0, Math.ceil(center - reach));
    const hi = Math.min(input.length - 1, Math.floor(center + reach));
    let sum = 0;
    let weights = 0;
    for (let j = lo; j <= hi; j++) {
      const w = KERNEL[Math.round(Math.abs(j - center) * cutoff * TABLE_STEPS)] ?? 0;
      sum += input[j]! * w;
      weights += w;
    }
    // Dividing by the summed weights keeps unit gain, also at the edges where the kernel is cut off.
    out[i] = weights !== 0 ? sum / weights : 0;
  }
  return out;
}
