import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAudio } from '../../src/engine/audio.ts';
import { concat, cutFixture, fixtureBytes, garbledFixture, speechSamples, wavBytes } from '../fixtures/audio/fixtures.ts';
import { reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';

const MODEL = 'tiny/whisper';
const FORMATS = ['speech-16k-mono.wav', 'speech-16k-mono.flac', 'speech-44k-stereo.mp3', 'speech-22k-mono.ogg', 'speech-48k-mono.opus', 'speech-48k-stereo.webm', 'speech-48k-mono-live.webm'];

type Bytes = Uint8Array<ArrayBuffer>;

/** transformers.js's own pipeline on the samples our decoder gives for the same file. */
async function expected(bytes: Uint8Array, options: Record<string, unknown> = {}): Promise<unknown> {
  const pipe = await reference('automatic-speech-recognition', MODEL);
  const { samples } = await decodeAudio({ data: bytes }, 16000);
  return pipe(samples, options);
}

async function postAudio(url: string, body: Uint8Array, contentType?: string) {
  const res = await fetch(url, { method: 'POST', body: body as Bytes, headers: contentType ? { 'content-type': contentType } : {} });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) as Record<string, unknown> };
}

/** 95 seconds of espeak-ng speech: the committed clip again and again, with pauses of varied length between. */
function longRecording(): Uint8Array {
  const clip = speechSamples();
  const parts: Float32Array[] = [];
  let length = 0;
  for (let i = 0; length < 95 * 16000; i++) {
    const gap = new Float32Array(((i * 7919) % 9) * 1600);
    parts.push(clip, gap);
    length += clip.length + gap.length;
  }
  return wavBytes([concat(...parts).subarray(0, 95 * 16000)], 16000);
}

describe('automatic-speech-recognition (Whisper)', () => {
  let server: TestServer;
  let url: string;
  const wav = fixtureBytes('speech-16k-mono.wav');

  beforeAll(async () => {
    server = await startServer({ batchWaitMs: 10 });
    url = `${server.url}/models/${MODEL}`;
  });
  afterAll(() => server.close());

  describe('parity with the transformers.js pipeline', () => {
    it('text, segment timestamps, word timestamps and translate equal the pipeline\'s', async () => {
      const cases: [Record<string, unknown>, Record<string, unknown>][] = [
        [{}, {}],
        [{ return_timestamps: true }, { return_timestamps: true }],
        [{ return_timestamps: 'word' }, { return_timestamps: 'word' }],
        [{ generate_kwargs: { language: 'fr', task: 'translate' } }, { language: 'fr', task: 'translate' }],
        [{ generate_kwargs: { language: 'german', max_new_tokens: 8 } }, { language: 'german', max_new_tokens: 8 }],
      ];
      const texts = new Set<string>();
      for (const [parameters, options] of cases) {
        const want = (await expected(wav, options)) as { text: string };
        const res = await postJson(url, { inputs: Buffer.from(wav).toString('base64'), parameters });
        expect(res.status, res.text).toBe(200);
        expect(res.json).toEqual(want);
        expect(want.text.length).toBeGreaterThan(0);
        texts.add(want.text);
      }
      // Language and task reach the decoder (different prompts give different text).
      expect(texts.size).toBeGreaterThan(2);
    });

    it('a 95-second recording, chunked 30 s with 5 s strides, gives the pipeline\'s text and timestamps', async () => {
      const long = longRecording();
      const parameters = { chunk_length_s: 30, stride_length_s: 5, return_timestamps: true };
      const want = (await expected(long, parameters)) as { text: string; chunks: { timestamp: [number, number] }[] };
      const res = await postJson(url, { inputs: Buffer.from(long).toString('base64'), parameters });
      expect(res.status, res.text).toBe(200);
      expect(res.json).toEqual(want);
      expect(want.chunks.length).toBeGreaterThan(3);
      expect(Math.max(...want.chunks.map((c) => c.timestamp[1] ?? 0))).toBeGreaterThan(60);
    }, 300_000);

    it('concurrent requests (sharing encoder passes) answer as sequential ones', async () => {
      const inputs = FORMATS.slice(0, 5).map((f) => fixtureBytes(f));
      const sequential = [];
      for (const bytes of inputs) sequential.push((await postAudio(url, bytes)).json);
      const before = server.composed.deps.engine.counters.batches;
      const concurrent = await Promise.all(inputs.map(async (bytes) => (await postAudio(url, bytes)).json));
      expect(concurrent).toEqual(sequential);
      // Fewer batches than requests: some were encoded together.
      expect(server.composed.deps.engine.counters.batches - before).toBeLessThan(inputs.length);
    }, 120_000);

    it('@huggingface/inference automaticSpeechRecognition gets the pipeline\'s text', async () => {
      const client = new InferenceClient(undefined, { endpointUrl: server.url } as never);
      const out = await client.automaticSpeechRecognition({ model: MODEL, inputs: new Blob([wav as Bytes], { type: 'audio/wav' }), endpointUrl: url } as never);
      const want = (await expected(wav)) as { text: string };
      expect(out.text).toBe(want.text);
    });
  });

  describe('audio formats', () => {
    it('every format of the same clip is decoded and transcribed as the pipeline transcribes its samples', async () => {
      const lossless = new Set<string>();
      for (const name of FORMATS) {
        const bytes = fixtureBytes(name);
        const res = await postAudio(url, bytes);
        expect(res.status, `${name}: ${res.text}`).toBe(200);
        expect(res.json, name).toEqual(await expected(bytes));
        if (name.endsWith('.wav') || name.endsWith('.flac')) lossless.add(JSON.stringify(res.json));
      }
      // WAV and FLAC carry the same samples: the same words.
      expect(lossless.size).toBe(1);
    }, 120_000);

    it('every format gives the same voice-activity segments within 0.1 s', async () => {
      const segments = async (name: string) => {
        const res = await postAudio(`${server.url}/models/snakers4/silero-vad`, fixtureBytes(name));
        expect(res.status, `${name}: ${res.text}`).toBe(200);
        return res.json as unknown as { start: number; end: number }[];
      };
      const want = await segments('speech-16k-mono.wav');
      expect(want.length).toBeGreaterThan(0);
      for (const name of FORMATS.slice(1)) {
        const got = await segments(name);
        expect(got.length, name).toBe(want.length);
        got.forEach((s, i) => {
          expect(Math.abs(s.start - want[i]!.start), name).toBeLessThan(0.1);
          expect(Math.abs(s.end - want[i]!.end), name).toBeLessThan(0.1);
        });
      }
    });
  });

  describe('malformed input: a 4xx naming the problem', () => {
    const cut = cutFixture;
    const garble = garbledFixture;
    const b64 = Buffer.from(wav).toString('base64');
    const raw: [string, Uint8Array, string | undefined, RegExp][] = [
      ['empty body', new Uint8Array(0), 'audio/wav', /empty/i],
      ['text bytes', new TextEncoder().encode('hello there'), 'audio/wav', /audio|format/i],
      ['random bytes', Uint8Array.from({ length: 4000 }, (_, i) => (i * 7919) & 255), 'application/octet-stream', /audio|format/i],
      ['WAV header only', wav.subarray(0, 44), undefined, /WAV|samples|data/i],
      ['WAV cut in half', cut('speech-16k-mono.wav', 0.5), undefined, /truncated/i],
      ['Ogg Vorbis cut in half', cut('speech-22k-mono.ogg', 0.5), undefined, /Ogg.*truncated/i],
      ['Ogg Opus cut at 90%', cut('speech-48k-mono.opus', 0.9), undefined, /Ogg.*truncated/i],
      ['Ogg Vorbis garbled', garble('speech-22k-mono.ogg'), undefined, /Ogg Vorbis/i],
      ['Ogg Opus garbled', garble('speech-48k-mono.opus'), undefined, /Ogg Opus/i],
      ['WebM cut in half', cut('speech-48k-stereo.webm', 0.5), undefined, /WebM.*truncated/i],
      ['live WebM cut at 90%', cut('speech-48k-mono-live.webm', 0.9), undefined, /WebM.*truncated/i],
      ['WebM garbled', garble('speech-48k-stereo.webm'), undefined, /WebM/i],
      ['WebM header only', fixtureBytes('speech-48k-stereo.webm').subarray(0, 40), undefined, /WebM/i],
      ['MP3 garbled', garble('speech-44k-stereo.mp3'), undefined, /MP3/i],
      ['FLAC garbled', garble('speech-16k-mono.flac'), undefined, /FLAC/i],
      ['Ogg page of another codec', Uint8Array.from([...new TextEncoder().encode('OggS'), ...new Uint8Array(100)]), undefined, /Ogg/i],
      ['MP4 file', Uint8Array.from([0, 0, 0, 24, ...new TextEncoder().encode('ftypM4A '), ...new Uint8Array(100)]), undefined, /MP4/i],
      ['raw PCM of odd length', new Uint8Array(3001), 'audio/L16;rate=16000', /whole number/i],
      ['raw PCM with a bad rate', new Uint8Array(3000), 'audio/L16;rate=abc', /rate/i],
      ['an image', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Uint8Array(64)]), 'image/png', /audio/i],
    ];
    const json: [string, unknown, RegExp][] = [
      ['inputs missing', {}, /inputs/],
      ['inputs a number', { inputs: 5 }, /inputs/],
      ['inputs not base64', { inputs: '%%%' }, /base64/],
      ['inputs an empty string', { inputs: '' }, /inputs/],
      ['return_timestamps a string', { inputs: b64, parameters: { return_timestamps: 'segments' } }, /return_timestamps/],
      ['chunk_length_s negative', { inputs: b64, parameters: { chunk_length_s: -1 } }, /chunk_length_s/],
      ['chunk_length_s above 30', { inputs: b64, parameters: { chunk_length_s: 60 } }, /chunk_length_s/],
      ['stride without chunk', { inputs: b64, parameters: { stride_length_s: 2 } }, /chunk_length_s/],
      ['stride too long for the chunk', { inputs: b64, parameters: { chunk_length_s: 10, stride_length_s: 5 } }, /stride_length_s/],
      ['unknown parameter', { inputs: b64, parameters: { beam: 3 } }, /beam|parameters/],
      ['task unknown', { inputs: b64, parameters: { generate_kwargs: { task: 'summarize' } } }, /task/],
      ['language unknown', { inputs: b64, parameters: { generate_kwargs: { language: 'klingon' } } }, /language.*klingon/],
      ['language empty', { inputs: b64, parameters: { generate_kwargs: { language: ' ' } } }, /language/],
      ['max_new_tokens zero', { inputs: b64, parameters: { generate_kwargs: { max_new_tokens: 0 } } }, /max_new_tokens/],
      ['max_new_tokens beyond the decoder', { inputs: b64, parameters: { generate_kwargs: { max_new_tokens: 5000 } } }, /max_new_tokens/],
      ['generate_kwargs a list', { inputs: b64, parameters: { generate_kwargs: [] } }, /generate_kwargs/],
      ['parameters a string', { inputs: b64, parameters: 'fast' }, /parameters/],
    ];

    it(`answers ${raw.length + json.length} malformed requests with a 4xx that says what is wrong`, async () => {
      expect(raw.length + json.length).toBeGreaterThanOrEqual(30);
      for (const [name, body, type, message] of raw) {
        const res = await postAudio(url, body, type);
        expect(res.status, `${name}: ${res.text}`).toBeGreaterThanOrEqual(400);
        expect(res.status, name).toBeLessThan(500);
        expect(String(res.json.error), name).toMatch(message);
      }
      for (const [name, body, message] of json) {
        const res = await postJson(url, body);
        expect(res.status, `${name}: ${res.text}`).toBeGreaterThanOrEqual(400);
        expect(res.status, name).toBeLessThan(500);
        expect(String(res.json.error), name).toMatch(message);
      }
      // The server still answers afterwards.
      expect((await postAudio(url, wav)).status).toBe(200);
    }, 120_000);
  });
});
