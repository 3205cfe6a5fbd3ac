/**
 * A minimal WebM (Matroska) audio demuxer: the first audio track's codec, channels, rate, Opus pre-skip and frames,
 * in file order, plus the duration. Browsers' MediaRecorder writes the Segment and its Clusters with "unknown" sizes
 * (it cannot seek back to fill them in), so the walk does not rely on master sizes: it steps into the masters it
 * needs and over everything else, and an element that runs past the end of the file is reported as truncation.
 */
import { InputError } from '../../core/errors.ts';

const ID = {
  EBML: 0x1a45dfa3,
  Segment: 0x18538067,
  Info: 0x1549a966,
  TimecodeScale: 0x2ad7b1,
  Duration: 0x4489,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackType: 0x83,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  Audio: 0xe1,
  SamplingFrequency: 0xb5,
  Channels: 0x9f,
  Cluster: 0x1f43b675,
  Timecode: 0xe7,
  SimpleBlock: 0xa3,
  BlockGroup: 0xa0,
  Block: 0xa1,
} as const;

/** Masters whose children are read; every other element is skipped whole. */
const MASTERS = new Set<number>([ID.Segment, ID.Info, ID.Tracks, ID.TrackEntry, ID.Audio, ID.Cluster, ID.BlockGroup]);

export interface WebmAudio {
  codec: string;
  channels: number;
  sampleRate: number;
  codecPrivate?: Uint8Array;
  frames: Uint8Array[];
  /** Seconds, from the Info element or the last block's time (MediaRecorder leaves Duration out). */
  durationSeconds?: number;
  /** The Info element's Duration in seconds, when the file has one. */
  infoDurationSeconds?: number;
  /** When the last audio block starts, in seconds (the audio ends one frame later). */
  lastBlockSeconds: number;
}

const bad = (why: string) => new InputError(`Invalid WebM file: ${why}. Send a complete WebM/Opus recording (or WAV, FLAC, MP3, Ogg).`);

/** A variable-length integer at `pos`: its value (marker bit removed unless `keepMarker`) and byte length. */
function vint(data: Uint8Array, pos: number, keepMarker: boolean): { value: number; length: number; unknown: boolean } | undefined {
  const first = data[pos];
  if (first === undefined || first === 0) return undefined;
  const length = Math.clz32(first) - 23;
  if (pos + length > data.length) return undefined;
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    value = value * 256 + data[pos + i]!;
    if (data[pos + i] !== 0xff) allOnes = false;
  }
  return { value, length, unknown: !keepMarker && allOnes };
}

function uint(bytes: Uint8Array): number {
  return bytes.reduce((v, b) => v * 256 + b, 0);
}

function float(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return bytes.length === 4 ? view.getFloat32(0) : bytes.length === 8 ? view.getFloat64(0) : NaN;
}

export function demuxWebm(data: Uint8Array): WebmAudio {
  const tracks = new Map<number, Partial<WebmAudio> & { type?: number }>();
  let track: (Partial<WebmAudio> & { type?: number; number?: number }) | undefined;
  const blocks: { track: number; payload: Uint8Array; time: number }[] = [];
  let timecodeScale = 1_000_000;
  let duration: number | undefined;
  let clusterTime = 0;
  let sawHeader = false;
  let pos = 0;
  while (pos < data.length) {
    const id = vint(data, pos, true);
    const size = id && vint(data, pos + id.length, false);
    if (!id || !size) throw bad(`the file is truncated or corrupt at byte ${pos}`);
    const start = pos + id.length + size.length;
    if (id.value === ID.EBML) sawHeader = true;
    if (MASTERS.has(id.value)) {
      if (id.value === ID.TrackEntry) {
        if (track?.number !== undefined) tracks.set(track.number, track);
        track = {};
      }
      pos = start;
      continue;
    }
    if (size.unknown) throw bad('an element other than a Segment or Cluster has an unknown size');
    const end = start + size.value;
    if (end > data.length) throw bad(`an element at byte ${pos} runs past the end of the file (truncated or corrupt)`);
    const body = data.subarray(start, end);
    switch (id.value) {
      case ID.TimecodeScale: timecodeScale = uint(body); break;
      case ID.Duration: duration = float(body); break;
      case ID.TrackNumber: if (track) track.number = uint(body); break;
      case ID.TrackType: if (track) track.type = uint(body); break;
      case ID.CodecID: if (track) track.codec = new TextDecoder().decode(body); break;
      case ID.CodecPrivate: if (track) track.codecPrivate = body; break;
      case ID.SamplingFrequency: if (track) track.sampleRate = float(body); break;
      case ID.Channels: if (track) track.channels = uint(body); break;
      case ID.Timecode: clusterTime = uint(body); break;
      case ID.SimpleBlock:
      case ID.Block: {
        const number = vint(body, 0, false);
        // Track number, 16-bit relative time, flags; lacing (several frames per block) is not used for audio by browsers.
        if (!number || body.length < number.length + 3) throw bad('a block is too short');
        const flags = body[number.length + 2]!;
        if ((flags & 0x06) !== 0) throw bad('laced blocks are not supported');
        const relative = new DataView(body.buffer, body.byteOffset + number.length, 2).getInt16(0);
        blocks.push({ track: number.value, payload: body.subarray(number.length + 3), time: clusterTime + relative });
        break;
      }
    }
    pos = end;
  }
  if (!sawHeader) throw bad('no EBML header');
  if (track?.number !== undefined) tracks.set(track.number, track);
  const audio = [...tracks.entries()].find(([, t]) => t.type === 2 || t.codec?.startsWith('A_'));
  if (!audio) throw bad('no audio track (the file may be truncated before its track list)');
  const [number, t] = audio;
  const frames = blocks.filter((b) => b.track === number);
  if (frames.length === 0) throw bad('no audio blocks (the recording is empty or truncated)');
  const lastTime = frames.at(-1)!.time;
  return {
    codec: t.codec ?? '',
    channels: t.channels ?? 1,
    sampleRate: t.sampleRate ?? 48000,
    ...(t.codecPrivate ? { codecPrivate: t.codecPrivate } : {}),
    frames: frames.map((b) => b.payload),
    durationSeconds: ((duration ?? lastTime) * timecodeScale) / 1e9,
    ...(duration !== undefined ? { infoDurationSeconds: (duration * timecodeScale) / 1e9 } : {}),
    lastBlockSeconds: (lastTime * timecodeScale) / 1e9,
  };
}
