/**
 * text-to-speech on the Hugging Face route: the answer is the audio file. WAV decodes (wavefile) to the
 * transformers.js pipeline's waveform, FLAC (chosen by Accept) decodes losslessly to its 16-bit samples, MP3 decodes to
 * about the same length; Accept negotiation, the @huggingface/inference client, speed, concurrency, and ≥ 30 refusals.
 */
import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.ts';
import {
  TEXTS,
  TTS_MODEL,
  decodeFlac,
  decodeMp3,
  decodeWav,
  int16,
  maxDiff,
  pipelineSpeech,
  postSpeech,
  rms,
} from '../audio/speech-helpers.ts';
import { png } from './vision-helpers.ts';
import { fixtureBytes } from '../fixtures/audio/fixtures.ts';

describe('text-to-speech (HF route)', () => {
  let server: TestServer;
  let url: string;

  beforeAll(async () => {
    server = await startServer({ batchWaitMs: 10 });
    url = `${server.url}/models/${TTS_MODEL}`;
  });
  afterAll(() => server.close());

  it('answers a WAV that decodes to the pipeline\'s waveform, as long as the text makes it', async () => {
    const lengths = new Set<number>();
    for (const text of TEXTS) {
      const want = await pipelineSpeech(text);
      expect(want.rate).toBe(16000);
      expect(rms(want.samples)).toBeGreaterThan(0.01);
      const res = await postSpeech(url, { inputs: text });
      expect(res.status, res.text()).toBe(200);
      expect(res.headers.get('content-type')).toBe('audio/wav');
      expect(Number(res.headers.get('x-compute-characters'))).toBe(text.length);
      const got = decodeWav(res.bytes);
      expect(got.rate).toBe(want.rate);
      expect(got.bitDepth).toBe('32f');
      expect(maxDiff(got.samples, want.samples), text).toBeLessThanOrEqual(1e-4);
      expect(Number(res.headers.get('x-audio-seconds'))).toBeCloseTo(want.samples.length / want.rate, 3);
      lengths.add(want.samples.length);
    }
    expect(lengths.size).toBe(TEXTS.length);
  });

  it('answers the same on /pipeline/text-to-speech and for a raw text body', async () => {
    const text = TEXTS[0]!;
    const want = await pipelineSpeech(text);
    const viaPipeline = await postSpeech(`${server.url}/pipeline/text-to-speech/${TTS_MODEL}`, { inputs: text });
    const raw = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: text });
    expect(viaPipeline.status).toBe(200);
    expect(raw.status).toBe(200);
    expect(maxDiff(decodeWav(viaPipeline.bytes).samples, want.samples)).toBeLessThanOrEqual(1e-4);
    expect(maxDiff(decodeWav(new Uint8Array(await raw.arrayBuffer())).samples, want.samples)).toBeLessThanOrEqual(1e-4);
  });

  it('Accept: audio/flac gives FLAC that decodes losslessly to the waveform\'s 16-bit samples', async () => {
    for (const text of TEXTS.slice(0, 3)) {
      const want = await pipelineSpeech(text);
      const res = await postSpeech(url, { inputs: text }, { accept: 'audio/flac' });
      expect(res.status, res.text()).toBe(200);
      expect(res.headers.get('content-type')).toBe('audio/flac');
      expect(Buffer.from(res.bytes.subarray(0, 4)).toString('latin1')).toBe('fLaC');
      const got = await decodeFlac(res.bytes);
      expect(got.rate).toBe(want.rate);
      expect(got.samples.length).toBe(want.samples.length);
      // The decoder divides by 32767: every decoded sample is exactly the 16-bit value that was encoded.
      const wrong = want.samples.filter((x, i) => Math.round(got.samples[i]! * 32767) !== int16(x)).length;
      expect(wrong).toBe(0);
      expect(maxDiff(got.samples, want.samples)).toBeLessThan(1 / 32767);
    }
  });

  it('Accept: audio/mpeg gives MP3 that decodes to about the same length and loudness', async () => {
    const text = TEXTS[2]!;
    const want = await pipelineSpeech(text);
    const res = await postSpeech(url, { inputs: text }, { accept: 'audio/mpeg' });
    expect(res.status, res.text()).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    const got = await decodeMp3(res.bytes);
    expect(got.rate).toBe(16000);
    // MP3 adds the encoder's delay and pads to whole frames (576 samples at 16 kHz): at most a few frames more.
    expect(got.samples.length).toBeGreaterThanOrEqual(want.samples.length);
    expect(got.samples.length - want.samples.length).toBeLessThan(4 * 1152);
    expect(rms(got.samples) / rms(want.samples)).toBeGreaterThan(0.7);
    expect(rms(got.samples) / rms(want.samples)).toBeLessThan(1.3);
  });

  it('negotiates Accept with q-values and wildcards; what it cannot make is a 406 naming what it can', async () => {
    const cases: [string, number, string?][] = [
      ['*/*', 200, 'audio/wav'],
      ['audio/*', 200, 'audio/wav'],
      ['audio/x-wav', 200, 'audio/wav'],
      ['application/octet-stream', 200, 'audio/wav'],
      ['audio/flac;q=0.5, audio/mpeg', 200, 'audio/mpeg'],
      ['audio/mpeg;q=0.2, audio/x-flac;q=0.9', 200, 'audio/flac'],
      ['audio/ogg, application/json;q=0.1, audio/wav;q=0.05', 200, 'audio/wav'],
      ['audio/ogg', 406],
      ['application/json', 406],
      ['text/html, image/*', 406],
      ['audio/wav;q=0', 406],
    ];
    for (const [accept, status, type] of cases) {
      const res = await postSpeech(url, { inputs: 'hi' }, { accept });
      expect(res.status, `${accept}: ${res.text()}`).toBe(status);
      if (type) expect(res.headers.get('content-type'), accept).toBe(type);
      else {
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        const error = JSON.parse(res.text()).error as string;
        expect(error).toMatch(/audio\/wav.*audio\/flac.*audio\/mpeg/);
        expect(error).toContain(accept.slice(0, 20));
      }
    }
  });

  it('@huggingface/inference textToSpeech returns a Blob of the pipeline\'s audio', async () => {
    const client = new InferenceClient('hf_test', { endpointUrl: url });
    const blob = await client.textToSpeech({ model: TTS_MODEL, inputs: TEXTS[0]! });
    expect(blob).toBeInstanceOf(Blob);
    expect(blob.type).toBe('audio/wav');
    const want = await pipelineSpeech(TEXTS[0]!);
    expect(maxDiff(decodeWav(new Uint8Array(await blob.arrayBuffer())).samples, want.samples)).toBeLessThanOrEqual(1e-4);
  });

  it('parameters.speed resamples: twice as fast is half as long, and the rate stays the model\'s', async () => {
    const want = await pipelineSpeech(TEXTS[2]!);
    for (const speed of [2, 0.5]) {
      const res = await postSpeech(url, { inputs: TEXTS[2]!, parameters: { speed } });
      expect(res.status, res.text()).toBe(200);
      const got = decodeWav(res.bytes);
      expect(got.rate).toBe(16000);
      expect(got.samples.length).toBe(Math.round(want.samples.length / speed));
      // Not silent: faster speech loses what is above the new Nyquist frequency, so some energy goes.
      expect(rms(got.samples) / rms(want.samples)).toBeGreaterThan(0.5);
    }
  });

  it('answers concurrent requests as it answers them one by one', async () => {
    const texts = [...TEXTS, ...TEXTS.map((t) => t.toUpperCase()), 'one more', 'and another one'];
    const noCache = { 'x-use-cache': 'false' };
    const sequential: string[] = [];
    for (const text of texts) sequential.push(Buffer.from((await postSpeech(url, { inputs: text }, noCache)).bytes).toString('base64'));
    const concurrent = await Promise.all(texts.map((text, i) => postSpeech(url, { inputs: text }, i % 2 ? { ...noCache, accept: 'audio/flac' } : noCache)));
    for (const [i, res] of concurrent.entries()) {
      expect(res.status).toBe(200);
      if (i % 2 === 0) expect(Buffer.from(res.bytes).toString('base64')).toBe(sequential[i]);
      else expect(maxDiff((await decodeFlac(res.bytes)).samples, decodeWav(Buffer.from(sequential[i]!, 'base64')).samples)).toBeLessThan(1 / 32767);
    }
  });

  it('refuses malformed requests with a 4xx naming the problem', async () => {
    const image = await png(8, 8, 1);
    const wav = new Uint8Array(fixtureBytes('speech-16k-mono.wav'));
    const json = (body: unknown, error: RegExp, status = 400) => ({ body: JSON.stringify(body), type: 'application/json', status, error });
    const raw = (body: Uint8Array | string, type: string | undefined, error: RegExp, status = 400) => ({ body, type, status, error });
    const cases = [
      raw('', 'application/json', /empty/),
      raw('', undefined, /empty/),
      raw('{"inputs": ', 'application/json', /not valid JSON/),
      raw(image, 'image/png', /text/, 415),
      raw(image, undefined, /text/, 415),
      raw(wav, 'audio/wav', /text/, 415),
      raw(wav, undefined, /text/, 415),
      raw('<speak>hi</speak>', 'application/ssml+xml', /Content-Type/, 415),
      raw(new Uint8Array([0xc3, 0x28, 0x61]), 'text/plain', /UTF-8/),
      raw('   ', 'text/plain', /non-empty/),
      json({}, /Missing "inputs"/),
      json({ inputs: null }, /Missing "inputs"/),
      json({ inputs: '' }, /inputs.*non-empty/),
      json({ inputs: ' \n\t ' }, /inputs.*non-empty/),
      json({ inputs: 42 }, /inputs.*one string/),
      json({ inputs: true }, /inputs.*one string/),
      json({ inputs: ['hello', 'there'] }, /not a list/),
      json({ inputs: [] }, /not a list/),
      json({ inputs: { text: 'hello' } }, /inputs.*one string/),
      json({ inputs: 'x'.repeat(4097) }, /4097 characters.*at most 4096/),
      json({ inputs: '!!! ??? ...' }, /no character this model can speak/),
      json({ inputs: '日本語のテキスト' }, /no character this model can speak/),
      json({ inputs: 'hi', parameters: 'fast' }, /"parameters" must be a JSON object/),
      json({ inputs: 'hi', parameters: [1] }, /"parameters" must be a JSON object/),
      json({ inputs: 'hi', parameters: { speed: 0 } }, /parameters\.speed.*at least 0\.25/),
      json({ inputs: 'hi', parameters: { speed: 4.5 } }, /parameters\.speed.*at most 4/),
      json({ inputs: 'hi', parameters: { speed: 'fast' } }, /parameters\.speed/),
      json({ inputs: 'hi', parameters: { voice: 'alloy' } }, /voice/),
      json({ inputs: 'hi', parameters: { generation_parameters: 3 } }, /generation_parameters.*object/),
      json({ inputs: 'hi', options: 3 }, /"options" must be a JSON object/),
      json({ inputs: 'hi', options: { wait_for_model: 'yes' } }, /wait_for_model/),
      json({ inputs: 'hi', stream: true }, /stream.*text-generation/),
      json({ inputs: 'hi', stream: 'yes' }, /"stream" must be true or false/),
      json(['hello'], /JSON object/),
    ];
    expect(cases.length).toBeGreaterThanOrEqual(30);
    for (const c of cases) {
      const res = await fetch(url, { method: 'POST', body: c.body as BodyInit, headers: c.type ? { 'content-type': c.type } : {} });
      const what = `${c.type ?? '(no type)'} ${String(typeof c.body === 'string' ? c.body : '<bytes>').slice(0, 60)}`;
      const text = await res.text();
      expect(res.status, `${what}: ${text}`).toBe(c.status);
      expect(res.headers.get('content-type'), what).toMatch(/^application\/json/);
      const error = (JSON.parse(text) as { error: unknown }).error;
      expect(typeof error, what).toBe('string');
      expect(error, what).toMatch(c.error);
      expect(error, what).not.toMatch(/\n\s+at /);
    }
  });

  it('is listed in /api/tasks with the client method that calls it', async () => {
    const res = await fetch(`${server.url}/api/tasks`);
    const tasks = (await res.json()) as unknown;
    expect(JSON.stringify(tasks)).toContain('textToSpeech');
    const list = (await (await fetch(`${server.url}/api/models?pipeline_tag=text-to-speech`)).json()) as { id: string }[];
    expect(list.map((m) => m.id)).toContain(TTS_MODEL);
  });
});
