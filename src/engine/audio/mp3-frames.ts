/**
 * Whether an MP3 file ends where its last frame ends. libmpg123 decodes the frames that are there and says nothing
 * about a cut-off tail, so an upload that stopped half-way would be transcribed in part, silently. The frame
 * headers say how long each frame is (ISO 11172-3 §2.4.2.3; MPEG-2 and 2.5 halve Layer III frames), so walking them
 * finds a last frame that runs past the end; a Xing/Info header's frame count finds a cut on a frame boundary.
 */

const BITRATES: Record<string, number[]> = {
  // [MPEG-1 | MPEG-2/2.5] × layer, kbit/s by the header's 4-bit index.
  '1-1': [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  '1-2': [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  '1-3': [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  '2-1': [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  '2-2': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  '2-3': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const RATES: Record<number, number[]> = { 3: [44_100, 48_000, 32_000], 2: [22_050, 24_000, 16_000], 0: [11_025, 12_000, 8_000] };

interface Frame {
  length: number;
  /** Bytes from the frame start to its Xing/Info tag, if the frame is a Layer III one that may hold it. */
  xingAt: number;
}

function frameAt(d: Uint8Array, at: number): Frame | undefined {
  if (at + 4 > d.length || d[at] !== 0xff || (d[at + 1]! & 0xe0) !== 0xe0) return undefined;
  const version = (d[at + 1]! >> 3) & 3; // 3 MPEG-1, 2 MPEG-2, 0 MPEG-2.5, 1 reserved
  const layer = 4 - ((d[at + 1]! >> 1) & 3); // 1, 2, 3 (4 is reserved)
  const rate = RATES[version]?.[(d[at + 2]! >> 2) & 3];
  const kbps = BITRATES[`${version === 3 ? 1 : 2}-${layer}`]?.[d[at + 2]! >> 4];
  if (!rate || !kbps) return undefined; // free-format or reserved: nothing to measure
  const padding = (d[at + 2]! >> 1) & 1;
  const bps = kbps * 1000;
  const length =
    layer === 1 ? (Math.floor((12 * bps) / rate) + padding) * 4 : Math.floor(((layer === 3 && version !== 3 ? 72 : 144) * bps) / rate) + padding;
  const mono = d[at + 3]! >> 6 === 3;
  const side = version === 3 ? (mono ? 17 : 32) : mono ? 9 : 17;
  return { length, xingAt: layer === 3 ? 4 + side : -1 };
}

const tag = (d: Uint8Array, at: number, text: string) => [...text].every((c, i) => d[at + i] === c.charCodeAt(0));

/** A reason the stream is cut short, or undefined when its frames end with the file (or cannot be measured). */
export function mp3Truncation(d: Uint8Array): string | undefined {
  let at = 0;
  if (tag(d, 0, 'ID3') && d.length >= 10) at = 10 + ((d[6]! & 0x7f) << 21) + ((d[7]! & 0x7f) << 14) + ((d[8]! & 0x7f) << 7) + (d[9]! & 0x7f);
  const first = frameAt(d, at);
  if (!first) return undefined;
  let declared: number | undefined;
  const x = at + first.xingAt;
  if (first.xingAt > 0 && (tag(d, x, 'Xing') || tag(d, x, 'Info')) && x + 12 <= d.length && d[x + 7]! & 1) {
    declared = new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(x + 8);
  }
  let frames = 0;
  for (let frame: Frame | undefined = first; frame; frame = frameAt(d, at)) {
    if (at + frame.length > d.length) return `its last frame needs ${at + frame.length - d.length} more bytes`;
    at += frame.length;
    frames++;
  }
  // A cut inside the next frame's 4-byte header leaves a sync byte the walk cannot read as a frame.
  if (d.length - at > 0 && d.length - at < 4 && d[at] === 0xff) return 'it ends inside a frame header';
  // The Xing/Info frame carries no audio and counts only the frames after it (as LAME and FFmpeg write it).
  if (declared !== undefined && frames - 1 < declared) return `it holds ${frames - 1} of the ${declared} frames its Xing header declares`;
  return undefined;
}
