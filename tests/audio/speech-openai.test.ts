/**
 * OpenAI's /v1/audio/speech, called with the real `openai` SDK: each response_format it encodes decodes to the
 * transformers.js pipeline's waveform (exactly for wav, losslessly for flac's 16 bits, about the same length for mp3,
 * resampled to 24 kHz for pcm); speed, voice, errors in OpenAI's shape, and metering in characters.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resampleWithWavefile } from '../fixtures/audio/fixtures.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { TEXTS, TTS_MODEL, decodeFlac, decodeMp3, decodeWav, int16, maxDiff, pipelineSpeech, rms } from './speech-helpers.ts';

type SpeechArgs = Parameters<OpenAI['audio']['speech']['create']>[0];

/** Pearson correlation of two equally long signals. */
function correlation(a: Float32Array, b: Float32Array): number {
  const n = Math.min(a.length, b.length);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

describe('OpenAI /v1/audio/speech', () => {
  let server: TestServer;
  let client: OpenAI;
  const speak = async (args: Partial<SpeechArgs>) => {
    const res = await client.audio.speech.create({ model: TTS_MODEL, voice: 'alloy', input: TEXTS[0]!, ...args } as SpeechArgs);
    return { type: res.headers.get('content-type'), bytes: new Uint8Array(await res.arrayBuffer()) };
  };

  beforeAll(async () => {
    server = await startServer({ batchWaitMs: 10 });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
  });
  afterAll(() => server.close());

  it('wav is the pipeline\'s waveform, flac its 16-bit samples, for every text', async () => {
    for (const text of TEXTS) {
      const want = await pipelineSpeech(text);
      const wav = await speak({ input: text, response_format: 'wav' });
      expect(wav.type).toBe('audio/wav');
      expect(maxDiff(decodeWav(wav.bytes).samples, want.samples), text).toBeLessThanOrEqual(1e-4);
      const flac = await speak({ input: text, response_format: 'flac' });
      expect(flac.type).toBe('audio/flac');
      const got = await decodeFlac(flac.bytes);
      expect(got.rate).toBe(want.rate);
      expect(got.samples.length).toBe(want.samples.length);
      expect(want.samples.filter((x, i) => Math.round(got.samples[i]! * 32767) !== int16(x)).length).toBe(0);
    }
  });

  it('mp3 is the default and decodes to about the same length and loudness', async () => {
    const want = await pipelineSpeech(TEXTS[2]!);
    const mp3 = await speak({ input: TEXTS[2]! });
    expect(mp3.type).toBe('audio/mpeg');
    const got = await decodeMp3(mp3.bytes);
    expect(got.rate).toBe(want.rate);
    expect(got.samples.length - want.samples.length).toBeGreaterThanOrEqual(0);
    expect(got.samples.length - want.samples.length).toBeLessThan(4 * 1152);
    expect(rms(got.samples) / rms(want.samples)).toBeGreaterThan(0.7);
    expect(rms(got.samples) / rms(want.samples)).toBeLessThan(1.3);
  });

  it('pcm is headerless 16-bit little-endian at 24 kHz: the waveform resampled', async () => {
    const want = await pipelineSpeech(TEXTS[2]!);
    const pcm = await speak({ input: TEXTS[2]!, response_format: 'pcm' });
    expect(pcm.bytes.length % 2).toBe(0);
    const view = new DataView(pcm.bytes.buffer, pcm.bytes.byteOffset, pcm.bytes.byteLength);
    const samples = Float32Array.from({ length: pcm.bytes.length / 2 }, (_, i) => view.getInt16(i * 2, true) / 32767);
    expect(samples.length).toBe(Math.round((want.samples.length * 24000) / 16000));
    // Every third 24 kHz sample falls on every second 16 kHz one, where a band-limited resampler keeps the sample.
    const offGrid = want.samples.filter((x, i) => i % 2 === 0 && 3 * (i / 2) < samples.length && Math.abs(Math.round(samples[3 * (i / 2)]! * 32767) - int16(x)) > 1);
    expect(offGrid.length).toBe(0);
    // Between them, it follows the signal as an independent resampler (wavefile's cubic) does.
    expect(correlation(samples, resampleWithWavefile(want.samples, 16000, 24000))).toBeGreaterThan(0.6);
  });

  it('speed resamples (shorter above 1, longer below), and every voice sounds the same on a one-speaker model', async () => {
    const want = await pipelineSpeech(TEXTS[0]!);
    for (const speed of [1.5, 0.25, 4]) {
      const got = decodeWav((await speak({ response_format: 'wav', speed })).bytes);
      expect(got.rate).toBe(16000);
      expect(got.samples.length).toBe(Math.round(want.samples.length / speed));
    }
    const alloy = await speak({ response_format: 'wav', voice: 'alloy' });
    const nova = await speak({ response_format: 'wav', voice: 'nova', instructions: 'Speak cheerfully.' });
    const custom = await speak({ response_format: 'wav', voice: { id: 'voice_123' } as never });
    expect(Buffer.from(nova.bytes).equals(Buffer.from(alloy.bytes))).toBe(true);
    expect(Buffer.from(custom.bytes).equals(Buffer.from(alloy.bytes))).toBe(true);
  });

  it('answers concurrent calls as it answers them one by one', async () => {
    const formats = ['wav', 'flac', 'mp3', 'pcm'] as const;
    const calls = TEXTS.flatMap((input, i) => [{ input, response_format: formats[i % 4]! }, { input: input.toLowerCase(), response_format: formats[(i + 1) % 4]! }]);
    const noCache = { 'x-use-cache': 'false' };
    const call = async (args: Partial<SpeechArgs>) => {
      const res = await client.audio.speech.create({ model: TTS_MODEL, voice: 'alloy', ...args } as SpeechArgs, { headers: noCache });
      return Buffer.from(await res.arrayBuffer()).toString('base64');
    };
    const sequential: string[] = [];
    for (const args of calls) sequential.push(await call(args));
    expect(await Promise.all(calls.map(call))).toEqual(sequential);
  });

  describe('refusals', () => {
    const body = (fields: Record<string, unknown>) => JSON.stringify({ model: TTS_MODEL, voice: 'alloy', input: 'hello', ...fields });
    const without = (key: string) => JSON.stringify(Object.fromEntries(Object.entries({ model: TTS_MODEL, voice: 'alloy', input: 'hello' }).filter(([k]) => k !== key)));
    const cases: [string, string | undefined, RegExp, number?][] = [
      ['no body', undefined, /empty/],
      ['not JSON', '{"model": ', /not valid JSON/],
      ['a JSON list', '[1, 2]', /JSON object/],
      ['a JSON string', '"hello"', /JSON object/],
      ['no model', without('model'), /body\.model.*required/],
      ['empty model', body({ model: '' }), /model/],
      ['model not a string', body({ model: 7 }), /body\.model/],
      ['unknown model', body({ model: 'no/such-model' }), /no\/such-model/, 404],
      ['a model of another task', body({ model: 'tiny/bert-sentiment' }), /text-to-speech/],
      ['no input', without('input'), /body\.input.*one string/],
      ['empty input', body({ input: '' }), /body\.input.*non-empty/],
      ['blank input', body({ input: '   ' }), /body\.input.*non-empty/],
      ['input a number', body({ input: 12 }), /body\.input.*one string/],
      ['input a list', body({ input: ['a', 'b'] }), /not a list/],
      ['input too long', body({ input: 'y'.repeat(4097) }), /4097 characters.*4096/],
      ['nothing speakable', body({ input: '?!?!' }), /no character this model can speak/],
      ['no voice', without('voice'), /body\.voice.*required/],
      ['empty voice', body({ voice: '' }), /body\.voice/],
      ['voice a number', body({ voice: 3 }), /body\.voice/],
      ['voice object without id', body({ voice: { name: 'x' } }), /body\.voice/],
      ['opus', body({ response_format: 'opus' }), /opus is not encoded here.*mp3, flac, wav, pcm/],
      ['aac', body({ response_format: 'aac' }), /aac is not encoded here.*mp3, flac, wav, pcm/],
      ['ogg', body({ response_format: 'ogg' }), /response_format.*mp3, flac, wav, pcm/],
      ['format a number', body({ response_format: 3 }), /response_format/],
      ['speed too low', body({ speed: 0.1 }), /body\.speed.*at least 0\.25/],
      ['speed too high', body({ speed: 4.01 }), /body\.speed.*at most 4/],
      ['speed a string', body({ speed: 'fast' }), /body\.speed.*number/],
      ['instructions a number', body({ instructions: 5 }), /body\.instructions/],
      ['instructions too long', body({ instructions: 'z'.repeat(4097) }), /body\.instructions.*4096/],
      ['stream_format sse', body({ stream_format: 'sse' }), /stream_format.*sse/],
      ['unknown field', body({ temperature: 0.5 }), /temperature/],
    ];

    it(`answers ${cases.length} malformed requests with a 4xx in OpenAI's shape that says what is wrong`, async () => {
      expect(cases.length).toBeGreaterThanOrEqual(30);
      for (const [name, payload, message, status = 400] of cases) {
        const res = await fetch(`${server.url}/v1/audio/speech`, { method: 'POST', headers: { 'content-type': 'application/json' }, ...(payload === undefined ? {} : { body: payload }) });
        const error = ((await res.json()) as { error: { message: string; type: string; code: string } }).error;
        expect(res.status, `${name}: ${JSON.stringify(error)}`).toBe(status);
        expect(error.type, name).toBe('invalid_request_error');
        expect(typeof error.code, name).toBe('string');
        expect(error.message, name).toMatch(message);
        expect(error.message, name).not.toMatch(/\n\s+at /);
      }
    });

    it('the SDK raises its own error classes with the status and message', async () => {
      const bad = await client.audio.speech.create({ model: TTS_MODEL, voice: 'alloy', input: 'hi', response_format: 'opus' }).catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
      expect((bad as InstanceType<typeof OpenAI.APIError>).message).toMatch(/mp3, flac, wav, pcm/);
      const missing = await client.audio.speech.create({ model: 'no/such-model', voice: 'alloy', input: 'hi' }).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    });
  });
});

describe('metering of speech calls', () => {
  let server: TestServer;
  let auth: Record<string, string>;
  let adminAuth: Record<string, string>;
  beforeAll(async () => {
    server = await startServer({}, { tiers: [{ name: 'anonymous' }, { name: 'free' }, { name: 'metered', charactersPerMinute: 1000 }] as never });
    const admin = await postJson(`${server.url}/api/tokens`, { name: 'admin', scopes: ['inference', 'admin'], tier: 'free' });
    const metered = await postJson(`${server.url}/api/tokens`, { name: 'metered', scopes: ['inference'], tier: 'metered' }, { authorization: `Bearer ${admin.json.token}` });
    auth = { authorization: `Bearer ${metered.json.token}` };
    adminAuth = { authorization: `Bearer ${admin.json.token}` };
  });
  afterAll(() => server.close());

  it('counts the text in characters (not the model, voice or format), on both routes', async () => {
    const tooLong = await postJson(`${server.url}/v1/audio/speech`, { model: TTS_MODEL, voice: 'alloy', input: 'a'.repeat(1500) }, auth);
    expect(tooLong.status).toBe(413);
    expect(tooLong.json.error.message).toMatch(/1500 characters/);
    const openai = await fetch(`${server.url}/v1/audio/speech`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ model: TTS_MODEL, voice: 'shimmer', input: 'b'.repeat(300), response_format: 'wav' }) });
    expect(openai.status).toBe(200);
    const hf = await fetch(`${server.url}/models/${TTS_MODEL}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ inputs: 'c'.repeat(200) }) });
    expect(hf.status).toBe(200);
    const { rows } = (await (await fetch(`${server.url}/api/usage?by=model`, { headers: adminAuth })).json()) as { rows: { model: string; characters: number; audioSeconds: number }[] };
    const row = rows.find((r) => r.model === TTS_MODEL)!;
    expect(row.characters).toBe(500);
    expect(row.audioSeconds).toBe(0);
  });
});
