/**
 * A cut or damaged MP3 or FLAC upload is a 400 naming the format, not a transcription of the part that arrived;
 * whole files still decode.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAudio } from '../../src/engine/audio.ts';
import { fixtureBytes } from '../fixtures/audio/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const FRACTIONS = [0.2, 0.5, 0.75, 0.9, 0.99];
const cut = (bytes: Uint8Array, fraction: number) => bytes.subarray(0, Math.floor(bytes.length * fraction));

async function rejection(bytes: Uint8Array): Promise<string> {
  const e = await decodeAudio({ data: bytes }).then(
    () => new Error('decoded'),
    (err: unknown) => err as Error,
  );
  return e.message;
}

describe('truncated and corrupt MP3 and FLAC', () => {
  const mp3 = fixtureBytes('speech-44k-stereo.mp3');
  const flac = fixtureBytes('speech-16k-mono.flac');

  it('whole files decode', async () => {
    expect((await decodeAudio({ data: mp3 })).durationSeconds).toBeGreaterThan(1);
    expect((await decodeAudio({ data: flac })).durationSeconds).toBeGreaterThan(1);
  });

  it.each(FRACTIONS)('an MP3 cut at %s of its length is refused as truncated', async (fraction) => {
    expect(await rejection(cut(mp3, fraction))).toMatch(/^Invalid MP3 file: .*\(truncated\)/);
  });

  it('an MP3 cut on a frame boundary is refused by its Xing frame count', async () => {
    // The next frame header (the first frame's two sync bytes) after half the file: a cut there leaves whole frames.
    const at = mp3.findIndex((b, i) => i > mp3.length / 2 && b === 0xff && mp3[i + 1] === 0xfb);
    expect(at).toBeGreaterThan(0);
    expect(await rejection(mp3.subarray(0, at))).toMatch(/Invalid MP3 file: it holds \d+ of the \d+ frames its Xing header declares/);
  });

  it.each(FRACTIONS)('a FLAC file cut at %s of its length is refused as truncated', async (fraction) => {
    expect(await rejection(cut(flac, fraction))).toMatch(/^Invalid FLAC file: .*truncated or corrupt|^Invalid FLAC file \(/);
  });

  it('a FLAC file with a damaged frame in the middle is refused', async () => {
    const damaged = flac.slice();
    for (let i = Math.floor(damaged.length * 0.5); i < damaged.length * 0.52; i++) damaged[i] = 0;
    expect(await rejection(damaged)).toMatch(/Invalid FLAC file/);
  });

  describe('over HTTP', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer();
    });
    afterAll(() => server.close());

    it('the HF route and the OpenAI route answer 400 naming the format', async () => {
      for (const [name, bytes, format] of [['mp3', cut(mp3, 0.6), 'MP3'], ['flac', cut(flac, 0.6), 'FLAC']] as const) {
        const hf = await fetch(`${server.url}/models/tiny/whisper`, { method: 'POST', body: Buffer.from(bytes) });
        expect(hf.status, name).toBe(400);
        expect(((await hf.json()) as { error: string }).error).toMatch(new RegExp(`Invalid ${format} file.*truncated`));
        const form = new FormData();
        form.append('file', new Blob([Buffer.from(bytes)]), `cut.${name}`);
        form.append('model', 'tiny/whisper');
        const oa = await fetch(`${server.url}/v1/audio/transcriptions`, { method: 'POST', body: form });
        expect(oa.status, name).toBe(400);
        expect(((await oa.json()) as { error: { message: string } }).error.message).toMatch(new RegExp(`Invalid ${format} file.*truncated`));
      }
    });
  });
});
