/**
 * Compressed formats, decoded in-process by the @wasm-audio-decoders family (WebAssembly builds of libmpg123,
 * libvorbis and libopus): MP3, Ogg Vorbis, Ogg Opus, and WebM/Opus (demuxed by ./webm.ts). A file that yields no
 * audio, or stops with a decoder error, is a 400 naming the format. Each decoder is imported on first use, so that
 * processes which never see that format (replicas, the CLI) do not pay its WebAssembly start-up.
 */
import { InputError } from '../../core/errors.ts';
import { mp3Truncation } from './mp3-frames.ts';
import { demuxWebm } from './webm.ts';

export interface Pcm {
  channels: Float32Array[];
  sampleRate: number;
}

interface Decoded {
  channelData: Float32Array[];
  samplesDecoded: number;
  sampleRate: number;
  errors: { message: string }[];
}

function checked(format: string, decoded: Decoded, hint: string): Pcm {
  if (decoded.samplesDecoded === 0 || decoded.channelData.length === 0) {
    throw new InputError(`Invalid ${format} file (${decoded.errors[0]?.message ?? 'no audio frames'}). ${hint}`);
  }
  // A frame that fails mid-file means corruption; a decoder error on the last frame only means a cut-off tail.
  if (decoded.errors.length > 1) throw new InputError(`Invalid ${format} file: ${decoded.errors.length} frames failed to decode (${decoded.errors[0]!.message}). ${hint}`);
  return { channels: decoded.channelData.map((c) => c.subarray(0, decoded.samplesDecoded)), sampleRate: decoded.sampleRate };
}

export async function decodeMp3(data: Uint8Array, hint: string): Promise<Pcm> {
  const cut = mp3Truncation(data);
  if (cut) throw new InputError(`Invalid MP3 file: ${cut} (truncated). ${hint}`);
  const { MPEGDecoder } = await import('mpg123-decoder');
  const decoder = new MPEGDecoder();
  try {
    await decoder.ready;
    return checked('MP3', decoder.decode(data), hint);
  } finally {
    decoder.free();
  }
}

/**
 * An Ogg stream ends with a complete page flagged end-of-stream (RFC 3533 §6); anything else was cut short. The
 * decoders themselves would answer with the audio before the cut.
 */
function checkOggComplete(data: Uint8Array, hint: string): void {
  let last = -1;
  for (let i = data.length - 27; i >= 0; i--) {
    if (data[i] === 0x4f && data[i + 1] === 0x67 && data[i + 2] === 0x67 && data[i + 3] === 0x53) {
      last = i;
      break;
    }
  }
  const segments = last >= 0 ? data[last + 26]! : 0;
  let size = 27 + segments;
  for (let s = 0; s < segments; s++) size += data[last + 27 + s] ?? 0;
  if (last < 0 || last + size > data.length || (data[last + 5]! & 0x04) === 0) {
    throw new InputError(`Invalid Ogg file: it ends before its last page (truncated). ${hint}`);
  }
}

/** Ogg carries Vorbis or Opus: the first page's packet says which. */
export async function decodeOgg(data: Uint8Array, hint: string): Promise<Pcm> {
  checkOggComplete(data, hint);
  const head = new TextDecoder('latin1').decode(data.subarray(0, 64));
  if (head.includes('OpusHead')) {
    const { OggOpusDecoder } = await import('ogg-opus-decoder');
    const decoder = new OggOpusDecoder();
    try {
      await decoder.ready;
      return checked('Ogg Opus', await decoder.decodeFile(data), hint);
    } finally {
      decoder.free();
    }
  }
  if (head.includes('\x01vorbis')) {
    const { OggVorbisDecoder } = await import('@wasm-audio-decoders/ogg-vorbis');
    const decoder = new OggVorbisDecoder();
    try {
      await decoder.ready;
      return checked('Ogg Vorbis', await decoder.decodeFile(data), hint);
    } finally {
      decoder.free();
    }
  }
  throw new InputError(`Unsupported Ogg codec (only Vorbis and Opus are decoded). ${hint}`);
}

/** OpusHead (RFC 7845 §5.1): channel count at byte 9, pre-skip (samples at 48 kHz) at bytes 10-11. */
function opusHead(bytes: Uint8Array | undefined): { channels?: number; preSkip?: number } {
  if (!bytes || bytes.length < 19 || new TextDecoder().decode(bytes.subarray(0, 8)) !== 'OpusHead') return {};
  return { channels: bytes[9]!, preSkip: bytes[10]! | (bytes[11]! << 8) };
}

export async function decodeWebm(data: Uint8Array, hint: string): Promise<Pcm> {
  const webm = demuxWebm(data);
  if (webm.codec !== 'A_OPUS') throw new InputError(`Unsupported WebM audio codec ${webm.codec || '(none)'}: WebM is decoded when it carries Opus. ${hint}`);
  const head = opusHead(webm.codecPrivate);
  const channels = Math.min(2, head.channels ?? webm.channels);
  const { OpusDecoder } = await import('opus-decoder');
  const decoder = new OpusDecoder({ channels, preSkip: head.preSkip ?? 0 });
  try {
    await decoder.ready;
    return checked('WebM/Opus', decoder.decodeFrames(webm.frames), hint);
  } finally {
    decoder.free();
  }
}
