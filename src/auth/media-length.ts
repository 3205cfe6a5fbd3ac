/**
 * How long a clip is and how large an image is, read from their headers without decoding them: the
 * limiter meters audio in seconds and images in megapixels before the call runs, so this must be cheap and
 * must not trust a size it cannot read. A WebM/Opus gives the time of its last block plus that packet's length, read
 * by the engine's demuxer without decoding (other WebM codecs: the Segment Info Duration). Formats whose
 * length is nowhere (an MP3 without a Xing frame count, a WebM cut short) are estimated from their byte size at a
 * stated bit rate.
 */
import { imageSize } from 'image-size';
import { demuxWebm } from '../engine/audio/webm.ts';

/**
 * Bytes per second assumed for compressed audio whose length no header gives: 16 kB/s (128 kbit/s), the
 * usual rate of MP3 and of browsers' MediaRecorder Opus at its default settings.
 */
export const ASSUMED_COMPRESSED_BYTES_PER_SECOND = 16_000;

const ascii = (d: Uint8Array, at: number, text: string) => {
  if (d.length < at + text.length) return false;
  for (let i = 0; i < text.length; i++) if (d[at + i] !== text.charCodeAt(i)) return false;
  return true;
};

/** Seconds of audio in `data`, or undefined when it is not audio this can recognise. */
export function audioSeconds(data: Uint8Array, contentType?: string): number | undefined {
  // Headers come from callers: one that lies about its sizes must read as "unknown length", never throw.
  try {
    return readAudioSeconds(data, contentType);
  } catch {
    return estimated(data.length);
  }
}

function readAudioSeconds(data: Uint8Array, contentType?: string): number | undefined {
  if (data.length < 4) return rawPcmSeconds(data, contentType);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if ((ascii(data, 0, 'RIFF') || ascii(data, 0, 'RF64')) && ascii(data, 8, 'WAVE')) return wavSeconds(data, view);
  if (ascii(data, 0, 'fLaC')) return flacSeconds(data, view);
  if (ascii(data, 0, 'OggS')) return oggSeconds(data, view);
  if (ascii(data, 0, 'ID3') || (data[0] === 0xff && (data[1]! & 0xe0) === 0xe0)) return mp3Seconds(data, view);
  if (data[0] === 0x1a && data[1] === 0x45 && data[2] === 0xdf && data[3] === 0xa3) return webmSeconds(data);
  if (ascii(data, 4, 'ftyp')) return estimated(data.length);
  return rawPcmSeconds(data, contentType);
}

/** Megapixels of an image, or undefined when it is not an image this can read. */
export function imageMegapixels(data: Uint8Array): number | undefined {
  try {
    const { width, height } = imageSize(data);
    return width && height ? (width * height) / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

function estimated(bytes: number): number {
  return bytes / ASSUMED_COMPRESSED_BYTES_PER_SECOND;
}

/** Bytes of the data chunk over the byte rate of the fmt chunk (any WAV codec states its byte rate). */
function wavSeconds(data: Uint8Array, view: DataView): number | undefined {
  let byteRate = 0;
  for (let pos = 12; pos + 8 <= data.length; ) {
    const size = view.getUint32(pos + 4, true);
    if (ascii(data, pos, 'fmt ') && pos + 20 <= data.length) byteRate = view.getUint32(pos + 16, true);
    if (ascii(data, pos, 'data')) {
      // A streaming writer's 0 / 0xFFFFFFFF, or a size past the end, mean "what is there".
      const present = data.length - (pos + 8);
      const bytes = size === 0 || size === 0xffffffff ? present : Math.min(size, present);
      return byteRate > 0 ? bytes / byteRate : undefined;
    }
    pos += 8 + size + (size & 1);
  }
  return undefined;
}

/** STREAMINFO's total samples over its sample rate. */
function flacSeconds(data: Uint8Array, view: DataView): number | undefined {
  if (data.length < 26) return undefined;
  const rate = (data[18]! << 12) | (data[19]! << 4) | (data[20]! >> 4);
  const total = (data[21]! & 0x0f) * 2 ** 32 + view.getUint32(22);
  if (rate === 0) return undefined;
  return total > 0 ? total / rate : estimated(data.length);
}

/** The last page's granule position: samples at 48 kHz for Opus (less pre-skip), at the stream's rate for Vorbis. */
function oggSeconds(data: Uint8Array, view: DataView): number | undefined {
  const payload = 27 + (data[26] ?? 0);
  let rate = 0;
  let preSkip = 0;
  if (ascii(data, payload, 'OpusHead') && payload + 12 <= data.length) {
    rate = 48_000;
    preSkip = view.getUint16(payload + 10, true);
  } else if (data[payload] === 1 && ascii(data, payload + 1, 'vorbis') && payload + 16 <= data.length) {
    rate = view.getUint32(payload + 12, true);
  }
  if (rate === 0) return estimated(data.length);
  for (let at = data.length - 27; at >= 0; at--) {
    if (data[at] === 0x4f && ascii(data, at, 'OggS')) {
      const granule = Number(view.getBigInt64(at + 6, true));
      return granule > 0 ? Math.max(0, granule - preSkip) / rate : estimated(data.length);
    }
  }
  return estimated(data.length);
}

/**
 * Opus: the last block's start plus that packet's length, less the pre-skip (the decoder's warm-up samples, which are
 * not audio). That is the decoded length, where the Info Duration need not be: Chromium's MediaRecorder writes the
 * last block's start there, one packet (60 ms) short. Other codecs: the Info Duration, else the last block's start.
 * Throws when the file is cut short.
 */
function webmSeconds(data: Uint8Array): number {
  const webm = demuxWebm(data);
  if (webm.codec !== 'A_OPUS') return webm.infoDurationSeconds ?? webm.lastBlockSeconds;
  const head = webm.codecPrivate;
  const preSkip = head && head.length >= 12 && ascii(head, 0, 'OpusHead') ? (head[10]! | (head[11]! << 8)) / 48_000 : 0;
  return Math.max(0, webm.lastBlockSeconds + opusPacketSeconds(webm.frames.at(-1)!) - preSkip);
}

/** Opus frame lengths in ms by TOC config (RFC 6716 §3.1): SILK 10/20/40/60, hybrid 10/20, CELT 2.5/5/10/20. */
function opusFrameMs(config: number): number {
  if (config < 12) return [10, 20, 40, 60][config % 4]!;
  if (config < 16) return [10, 20][config % 2]!;
  return [2.5, 5, 10, 20][config % 4]!;
}

/** Seconds one Opus packet holds: frame length × frame count (code 0: one, 1 and 2: two, 3: the count byte). */
function opusPacketSeconds(packet: Uint8Array): number {
  const toc = packet[0];
  if (toc === undefined) return 0;
  const code = toc & 3;
  const count = code === 0 ? 1 : code < 3 ? 2 : (packet[1] ?? 0) & 0x3f;
  return (opusFrameMs(toc >> 3) * count) / 1000;
}

const MP3_BITRATES_V1_L3 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const MP3_BITRATES_V2_L3 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
const MP3_RATES: Record<number, number[]> = { 3: [44_100, 48_000, 32_000], 2: [22_050, 24_000, 16_000], 0: [11_025, 12_000, 8_000] };

/** A Xing/Info frame count when there is one, else the first frame's bit rate over the bytes (CBR). */
function mp3Seconds(data: Uint8Array, view: DataView): number | undefined {
  let at = 0;
  if (ascii(data, 0, 'ID3') && data.length >= 10) {
    at = 10 + ((data[6]! & 0x7f) << 21) + ((data[7]! & 0x7f) << 14) + ((data[8]! & 0x7f) << 7) + (data[9]! & 0x7f);
  }
  for (; at + 4 <= data.length && !(data[at] === 0xff && (data[at + 1]! & 0xe0) === 0xe0); at++);
  if (at + 4 > data.length) return undefined;
  const version = (data[at + 1]! >> 3) & 3; // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
  const rates = MP3_RATES[version];
  const rate = rates?.[(data[at + 2]! >> 2) & 3];
  const kbps = (version === 3 ? MP3_BITRATES_V1_L3 : MP3_BITRATES_V2_L3)[data[at + 2]! >> 4];
  if (!rate || !kbps) return estimated(data.length - at);
  const mono = data[at + 3]! >> 6 === 3;
  const side = version === 3 ? (mono ? 17 : 32) : mono ? 9 : 17;
  const xing = at + 4 + side;
  if ((ascii(data, xing, 'Xing') || ascii(data, xing, 'Info')) && xing + 12 <= data.length && view.getUint32(xing + 4) & 1) {
    const frames = view.getUint32(xing + 8);
    return (frames * (version === 3 ? 1152 : 576)) / rate;
  }
  return ((data.length - at) * 8) / (kbps * 1000);
}

/** Headerless PCM: its length follows from the Content-Type's rate and channels (as the engine reads them). */
function rawPcmSeconds(data: Uint8Array, contentType: string | undefined): number | undefined {
  if (!contentType) return undefined;
  const [type = '', ...params] = contentType.toLowerCase().split(';').map((s) => s.trim());
  const width = type === 'audio/l16' || type === 'audio/pcm' ? 2 : type === 'audio/x-raw-float32' ? 4 : 0;
  if (width === 0) return undefined;
  const param = (name: string, fallback: number) => {
    const p = params.find((x) => x.startsWith(`${name}=`));
    const n = p ? Number(p.slice(name.length + 1).replace(/"/g, '')) : fallback;
    return Number.isFinite(n) && n > 0 ? n : fallback;
  };
  return data.length / (width * param('rate', 16_000) * param('channels', 1));
}
