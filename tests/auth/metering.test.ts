/**
 * Metering by kind: text in characters, audio in seconds, images in megapixels, read from the request before
 * it runs. Audio files are built with `wavefile` or byte by byte from their format's layout, so the lengths
 * read from headers are checked against what was written, not against the reader itself.
 */
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { ASSUMED_COMPRESSED_BYTES_PER_SECOND, audioSeconds, imageMegapixels } from '../../src/auth/media-length.ts';
import { meterBody } from '../../src/auth/metering.ts';
import { decodeAudio } from '../../src/engine/audio.ts';
import { demuxWebm } from '../../src/engine/audio/webm.ts';
import { fixtureBytes, speechSamples, SPEECH_RATE, wavBytes } from '../fixtures/audio/fixtures.ts';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

function png(width: number, height: number): Buffer {
  const p = new PNG({ width, height });
  p.data.fill(200);
  return PNG.sync.write(p);
}

/** An Ogg page: header, one segment table, payload. CRC is not checked by the reader (it reads lengths only). */
function oggPage(granule: bigint, payload: Uint8Array): Uint8Array {
  const page = new Uint8Array(27 + 1 + payload.length);
  const view = new DataView(page.buffer);
  page.set(Buffer.from('OggS'), 0);
  view.setBigInt64(6, granule, true);
  page[26] = 1;
  page[27] = payload.length;
  page.set(payload, 28);
  return page;
}

function opusHead(preSkip: number): Uint8Array {
  const head = new Uint8Array(19);
  head.set(Buffer.from('OpusHead'), 0);
  head[8] = 1;
  head[9] = 1;
  new DataView(head.buffer).setUint16(10, preSkip, true);
  return head;
}

/** MPEG-1 Layer III frames at 128 kbit/s, 44.1 kHz, stereo: 417 bytes each (no padding), 1152 samples each. */
function mp3Cbr(frames: number): Uint8Array {
  const frame = new Uint8Array(417);
  frame.set([0xff, 0xfb, 0x90, 0x00]);
  const out = new Uint8Array(417 * frames);
  for (let i = 0; i < frames; i++) out.set(frame, i * 417);
  return out;
}

describe('audio length from headers', () => {
  it('reads WAV of any rate, depth and channel count as the samples written', () => {
    const speech = speechSamples();
    expect(audioSeconds(fixtureBytes('speech-16k-mono.wav'))).toBeCloseTo(speech.length / SPEECH_RATE, 6);
    const stereo = wavBytes([speech, speech], 44_100, '24');
    expect(audioSeconds(stereo)).toBeCloseTo(speech.length / 44_100, 6);
    const float = wavBytes([speech], 22_050, '32f');
    expect(audioSeconds(float)).toBeCloseTo(speech.length / 22_050, 6);
  });

  it('reads FLAC STREAMINFO', () => {
    expect(audioSeconds(fixtureBytes('speech-16k-mono.flac'))).toBeCloseTo(speechSamples().length / SPEECH_RATE, 6);
  });

  it('reads raw PCM from the Content-Type rate and channels', () => {
    const bytes = new Uint8Array(2 * 8000 * 2 * 3); // 3 s of 16-bit stereo at 8 kHz
    expect(audioSeconds(bytes, 'audio/L16; rate=8000; channels=2')).toBeCloseTo(3, 9);
    expect(audioSeconds(new Uint8Array(4 * 16000), 'audio/x-raw-float32')).toBeCloseTo(1, 9);
    expect(audioSeconds(bytes)).toBeUndefined();
  });

  it('reads Ogg Opus from the last granule position less the pre-skip', () => {
    const body = new Uint8Array([...oggPage(0n, opusHead(312)), ...oggPage(0n, new Uint8Array(10)), ...oggPage(BigInt(48_000 * 7 + 312), new Uint8Array(40))]);
    expect(audioSeconds(body)).toBeCloseTo(7, 9);
  });

  it('reads a constant-bit-rate MP3 from its frame header and size', () => {
    // 100 frames × 1152 samples / 44,100 Hz; CBR: bytes × 8 / 128 kbit/s.
    expect(audioSeconds(mp3Cbr(100))).toBeCloseTo((100 * 417 * 8) / 128_000, 9);
  });

  it('never throws on a cut-off or lying header: every prefix of every fixture reads as a length or nothing', () => {
    const files = ['speech-16k-mono.wav', 'speech-16k-mono.flac', 'speech-22k-mono.ogg', 'speech-44k-stereo.mp3', 'speech-48k-mono.opus', 'speech-48k-stereo.webm'];
    let checked = 0;
    for (const name of files) {
      const whole = fixtureBytes(name);
      for (let end = 0; end <= Math.min(whole.length, 400); end++) {
        const seconds = audioSeconds(whole.subarray(0, end));
        expect(seconds === undefined || (Number.isFinite(seconds) && seconds >= 0), `${name}[0..${end}] gave ${seconds}`).toBe(true);
        checked++;
      }
    }
    // A WAV whose fmt chunk claims to run past the end of the body (the shape that once crashed the server).
    const liar = new Uint8Array(36);
    liar.set(new TextEncoder().encode('RIFF\0\0\0\0WAVEfmt '));
    new DataView(liar.buffer).setUint32(16, 0xfffffff0, true);
    expect(() => audioSeconds(liar)).not.toThrow();
    expect(checked).toBeGreaterThan(1000);
  });

  it('reads a WebM/Opus with a Segment Info Duration as the decoded length', async () => {
    const bytes = fixtureBytes('speech-48k-stereo.webm');
    const info = demuxWebm(bytes).infoDurationSeconds;
    expect(info).toBeGreaterThan(2);
    // ffmpeg's Duration counts the pre-skip (6.5 ms here); the blocks less the pre-skip give the decoded length.
    expect(Math.abs(audioSeconds(bytes, 'audio/webm')! - (await decodeAudio({ data: bytes })).durationSeconds)).toBeLessThan(0.002);
  });

  it('reads a MediaRecorder-style WebM (no Duration) from its last block and that Opus packet, less the pre-skip', async () => {
    const bytes = fixtureBytes('speech-48k-mono-live.webm');
    expect(demuxWebm(bytes).infoDurationSeconds).toBeUndefined();
    const decoded = (await decodeAudio({ data: bytes })).durationSeconds;
    expect(Math.abs(audioSeconds(bytes, 'audio/webm;codecs=opus')! - decoded)).toBeLessThan(0.002);
    // The size estimate it replaces was off by seconds for this 32 kbit/s clip.
    expect(Math.abs(bytes.length / ASSUMED_COMPRESSED_BYTES_PER_SECOND - decoded)).toBeGreaterThan(1);
  });

  it('estimates a cut-off or unreadable WebM from its size, at the stated rate', () => {
    const cut = fixtureBytes('speech-48k-mono-live.webm').subarray(0, 6000);
    expect(audioSeconds(cut)).toBeCloseTo(6000 / ASSUMED_COMPRESSED_BYTES_PER_SECOND, 9);
    const webm = new Uint8Array(48_000);
    webm.set([0x1a, 0x45, 0xdf, 0xa3]);
    expect(audioSeconds(webm)).toBeCloseTo(48_000 / ASSUMED_COMPRESSED_BYTES_PER_SECOND, 9);
  });
});

describe('image size', () => {
  it('reads megapixels from the image header', () => {
    expect(imageMegapixels(png(1000, 500))).toBeCloseTo(0.5, 9);
    expect(imageMegapixels(Buffer.from('not an image at all'))).toBeUndefined();
  });
});

describe('meterBody', () => {
  it('counts the text of a JSON body, not its keys, syntax or identifiers', () => {
    const text = 'x'.repeat(2000);
    expect(meterBody(json({ inputs: text }), 'application/json')).toEqual({ characters: 2000, audioSeconds: 0, megapixels: 0 });
    const chat = { model: 'tiny/gpt2', messages: [{ role: 'user', content: 'Hello there' }, { role: 'assistant', content: 'Hi' }] };
    expect(meterBody(json(chat), 'application/json').characters).toBe('Hello there'.length + 'Hi'.length);
    const zeroShot = { inputs: 'I love it', parameters: { candidate_labels: ['good', 'bad'] } };
    expect(meterBody(json(zeroShot), undefined).characters).toBe('I love it'.length + 4 + 3);
  });

  it('meters a raw audio body in seconds and no characters, with or without a Content-Type', () => {
    const wav = fixtureBytes('speech-16k-mono.wav');
    const seconds = speechSamples().length / SPEECH_RATE;
    for (const type of ['audio/wav', 'application/octet-stream', undefined]) {
      const m = meterBody(wav, type);
      expect(m.characters).toBe(0);
      expect(m.audioSeconds).toBeCloseTo(seconds, 6);
    }
  });

  it('meters base64 audio and data-URI images inside JSON as media, not characters', () => {
    const wav = Buffer.from(fixtureBytes('speech-16k-mono.wav')).toString('base64');
    const m = meterBody(json({ inputs: wav }), 'application/json');
    expect(m.characters).toBe(0);
    expect(m.audioSeconds).toBeCloseTo(speechSamples().length / SPEECH_RATE, 6);

    const image = `data:image/png;base64,${png(200, 100).toString('base64')}`;
    const chat = { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: image } }] }] };
    const c = meterBody(json(chat), 'application/json');
    expect(c.characters).toBe('What is this?'.length);
    expect(c.megapixels).toBeCloseTo(0.02, 9);
  });

  it('meters a raw image body in megapixels and plain text bodies in characters', () => {
    expect(meterBody(png(300, 300), 'image/png')).toEqual({ characters: 0, audioSeconds: 0, megapixels: 0.09 });
    expect(meterBody(Buffer.from('héllo wörld'), 'text/plain').characters).toBe(11);
    expect(meterBody(Buffer.from([0, 159, 146, 150, 1, 2, 3]), 'application/octet-stream')).toEqual({ characters: 0, audioSeconds: 0, megapixels: 0 });
  });

  it('keeps long base64-looking text that is not media as characters', () => {
    const text = 'A'.repeat(500);
    expect(meterBody(json({ inputs: text }), 'application/json').characters).toBe(500);
  });
});
