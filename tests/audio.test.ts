import { describe, expect, it } from 'vitest';
import wavefile from 'wavefile';
import { InputError } from '../src/core/errors.ts';
import { decodeAudio, resample } from '../src/engine/audio.ts';
import {
  correlation,
  fixtureBytes,
  l16Bytes,
  randomBytes,
  resampleWithWavefile,
  speechSamples,
  wavBytes,
} from './fixtures/audio/fixtures.ts';

const speech = speechSamples();
const speechWav = fixtureBytes('speech-16k-mono.wav');
const CLIP_SECONDS = speech.length / 16000;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

async function expectInputError(promise: Promise<unknown>, message: RegExp = /WAV.*FLAC/) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  expect((error as InputError).message).toMatch(message);
}

describe('decodeAudio: WAV', () => {
  it('decodes the 16-bit 16 kHz fixture exactly', async () => {
    const out = await decodeAudio({ data: speechWav });
    expect(out.sampleRate).toBe(16000);
    expect(out.samples.length).toBe(39892);
    expect(out.durationSeconds).toBeCloseTo(2.49325, 5);
    expect(maxAbsDiff(out.samples, speech)).toBe(0);
  });

  it('ignores a misleading Content-Type and reads the bytes', async () => {
    for (const contentType of [undefined, 'application/octet-stream', 'audio/mpeg', 'audio/L16;rate=8000']) {
      const out = await decodeAudio({ data: speechWav, contentType });
      expect(out.samples.length).toBe(speech.length);
    }
  });

  it.each([
    ['8', 1 / 128 + 1e-6],
    ['24', 1e-6],
    ['32', 1e-6],
    ['32f', 1e-7],
  ] as const)('decodes %s-bit samples', async (bitDepth, tolerance) => {
    const out = await decodeAudio({ data: wavBytes([speech], 16000, bitDepth) });
    expect(maxAbsDiff(out.samples, speech)).toBeLessThanOrEqual(tolerance);
  });

  it('averages channels to mono', async () => {
    const silent = new Float32Array(speech.length);
    const out = await decodeAudio({ data: wavBytes([speech, silent], 16000, '32f') });
    expect(maxAbsDiff(out.samples, speech.map((v) => v / 2))).toBeLessThan(1e-7);
  });

  it('reads WAVE_FORMAT_EXTENSIBLE (3-channel 24-bit)', async () => {
    // wavefile writes the 40-byte extensible fmt layout but keeps tag 1; mark it extensible so only the
    // sub-format GUID (which starts with 0x0001, PCM) says what the samples are.
    const data = wavBytes([speech, speech, speech], 16000, '24');
    const view = new DataView(data.buffer, data.byteOffset);
    expect(view.getUint32(16, true)).toBe(40);
    expect(view.getUint16(44, true)).toBe(1);
    view.setUint16(20, 0xfffe, true);
    const out = await decodeAudio({ data });
    expect(maxAbsDiff(out.samples, speech)).toBeLessThan(1e-6);
  });

  it.each([
    [44100, '16'],
    [22050, '32f'],
    [8000, '16'],
  ] as const)('resamples %i Hz stereo (%s) to 16 kHz', async (rate, bitDepth) => {
    const atRate = resampleWithWavefile(speech, 16000, rate);
    const out = await decodeAudio({ data: wavBytes([atRate, atRate], rate, bitDepth) });
    expect(out.sampleRate).toBe(16000);
    expect(out.durationSeconds).toBeCloseTo(CLIP_SECONDS, 2);
    expect(Math.abs(out.samples.length - speech.length)).toBeLessThanOrEqual(2);
    // 8 kHz loses everything above 4 kHz, so it matches the original less closely.
    expect(correlation(out.samples, speech)).toBeGreaterThan(rate === 8000 ? 0.8 : 0.98);
  });

  it('resamples to another target rate', async () => {
    const out = await decodeAudio({ data: speechWav }, 8000);
    expect(out.sampleRate).toBe(8000);
    expect(Math.abs(out.samples.length - speech.length / 2)).toBeLessThanOrEqual(1);
    expect(out.durationSeconds).toBeCloseTo(CLIP_SECONDS, 5);
  });

  it('accepts a streaming WAV whose data size was never filled in', async () => {
    const data = wavBytes([speech], 16000, '16');
    new DataView(data.buffer, data.byteOffset).setUint32(40, 0xffffffff, true);
    const out = await decodeAudio({ data });
    expect(maxAbsDiff(out.samples, speech)).toBe(0);
  });
});

describe('decodeAudio: FLAC', () => {
  it('decodes the FLAC fixture to the same samples as the WAV, last short frame included', async () => {
    const out = await decodeAudio({ data: fixtureBytes('speech-16k-mono.flac') });
    expect(out.sampleRate).toBe(16000);
    // The decoder scales by 1/32767 rather than 1/32768, hence the tolerance.
    expect(maxAbsDiff(out.samples, speech)).toBeLessThan(1e-4);
  });
});

describe('decodeAudio: raw PCM by Content-Type', () => {
  it('reads audio/L16;rate=16000', async () => {
    const out = await decodeAudio({ data: l16Bytes([speech]), contentType: 'audio/L16;rate=16000' });
    expect(maxAbsDiff(out.samples, speech)).toBe(0);
  });

  it('defaults audio/pcm to 16 kHz mono', async () => {
    const out = await decodeAudio({ data: l16Bytes([speech]), contentType: 'audio/pcm' });
    expect(out.samples.length).toBe(speech.length);
  });

  it('reads rate and channels parameters (8 kHz stereo)', async () => {
    const at8k = resampleWithWavefile(speech, 16000, 8000);
    const out = await decodeAudio({ data: l16Bytes([at8k, at8k]), contentType: 'Audio/L16; rate="8000"; channels=2' });
    expect(out.durationSeconds).toBeCloseTo(at8k.length / 8000, 5);
    expect(Math.abs(out.samples.length - speech.length)).toBeLessThanOrEqual(2);
  });

  it('reads audio/x-raw-float32', async () => {
    const bytes = new Uint8Array(speech.slice().buffer);
    const out = await decodeAudio({ data: bytes, contentType: 'audio/x-raw-float32; rate=16000' });
    expect(maxAbsDiff(out.samples, speech)).toBe(0);
  });
});

describe('decodeAudio: bad input is an InputError naming the accepted formats', () => {
  it('empty body', () => expectInputError(decodeAudio({ data: new Uint8Array(0) }), /empty.*WAV.*FLAC/));

  it('not bytes at all', () => expectInputError(decodeAudio({ data: 'hello' as unknown as Uint8Array })));

  it('WAV header cut inside the fmt chunk', () => expectInputError(decodeAudio({ data: speechWav.subarray(0, 30) }), /Invalid WAV/));

  it('WAV cut right after the header (no samples)', () =>
    expectInputError(decodeAudio({ data: speechWav.subarray(0, 44) }), /data chunk is truncated/));

  it('WAV cut in the middle of its samples', () =>
    expectInputError(decodeAudio({ data: speechWav.subarray(0, speechWav.length - 1000) }), /data chunk is truncated/));

  it('RIFF that is not WAVE', () => {
    const data = speechWav.slice(0, 100);
    data.set(Buffer.from('AVI '), 8);
    return expectInputError(decodeAudio({ data }), /WAVE/);
  });

  it('WAV with an unsupported encoding (A-law)', () => {
    const wav = new wavefile.WaveFile();
    wav.fromScratch(1, 8000, '16', Array.from(speech.subarray(0, 800), (v) => Math.round(v * 32767)));
    wav.toALaw();
    return expectInputError(decodeAudio({ data: wav.toBuffer() }), /unsupported encoding \(format tag 6/);
  });

  it('random bytes', () => expectInputError(decodeAudio({ data: randomBytes(4000) }), /Unrecognised audio format/));

  it('random bytes even with a WAV Content-Type', () =>
    expectInputError(decodeAudio({ data: randomBytes(4000), contentType: 'audio/wav' }), /Unrecognised/));

  it('MP3: an ID3 tag and no frames', () => {
    const data = new Uint8Array(2000);
    data.set(Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x00', 'latin1'));
    return expectInputError(decodeAudio({ data, contentType: 'audio/mpeg' }), /Invalid MP3 file \(no audio frames\).*WAV/);
  });

  it('MP3: one frame header whose frame (417 bytes at 128 kbit/s) is cut', () => {
    const data = new Uint8Array(200);
    data.set([0xff, 0xfb, 0x90, 0x64]);
    return expectInputError(decodeAudio({ data }), /Invalid MP3 file: its last frame needs 217 more bytes \(truncated\)/);
  });

  it('Ogg', () => expectInputError(decodeAudio({ data: new Uint8Array(Buffer.from('OggS\x00\x02' + '\x00'.repeat(100))) }), /Ogg/));

  it('FLAC magic followed by garbage', () =>
    expectInputError(decodeAudio({ data: concatBytes(Buffer.from('fLaC'), randomBytes(500)) }), /Invalid FLAC/));

  it('raw PCM with an odd number of bytes', () =>
    expectInputError(decodeAudio({ data: new Uint8Array(101), contentType: 'audio/L16' }), /whole number/));

  it('raw PCM with a bad rate or channels parameter', async () => {
    const data = new Uint8Array(100);
    await expectInputError(decodeAudio({ data, contentType: 'audio/L16;rate=abc' }), /rate=abc/);
    await expectInputError(decodeAudio({ data, contentType: 'audio/L16;rate=10' }), /rate=10 is invalid/);
    await expectInputError(decodeAudio({ data, contentType: 'audio/L16;channels=0' }), /channels=0/);
  });
});

describe('resample', () => {
  const tone = (freq: number, rate: number, seconds: number) =>
    Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => Math.sin((2 * Math.PI * freq * i) / rate));
  const rms = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);

  it('returns the input unchanged when the rates match', () => {
    const x = tone(440, 16000, 0.1);
    expect(resample(x, 16000, 16000)).toBe(x);
  });

  it('keeps an in-band tone intact when downsampling 48 kHz → 16 kHz', () => {
    const out = resample(tone(1000, 48000, 1), 48000, 16000);
    expect(out.length).toBe(16000);
    const expected = tone(1000, 16000, 1);
    // Skip the edges, where the filter only sees half a window.
    expect(correlation(out.subarray(100, -100), expected.subarray(100, -100))).toBeGreaterThan(0.999);
    expect(rms(out.subarray(100, -100))).toBeCloseTo(Math.SQRT1_2, 2);
  });

  it('filters out a tone above the new Nyquist frequency instead of aliasing it', () => {
    const out = resample(tone(12000, 48000, 1), 48000, 16000);
    expect(rms(out.subarray(100, -100))).toBeLessThan(0.02);
  });
});

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}
