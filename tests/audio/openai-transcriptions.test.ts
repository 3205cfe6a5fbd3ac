/**
 * OpenAI's /v1/audio/transcriptions and /v1/audio/translations, called with the real `openai` SDK: every
 * response_format gives the transformers.js pipeline's text and timestamps (same 30 s / 5 s chunking), srt and vtt
 * parse with the `subtitle` library, bad forms get OpenAI-shaped 4xx errors, and the upload is metered in seconds.
 */
import OpenAI, { toFile } from 'openai';
import { parseSync, type Cue as SubtitleCue, type NodeCue } from 'subtitle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureBytes, speechSamples, SPEECH_RATE, wavBytes } from '../fixtures/audio/fixtures.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { longRecording, pipelineAsr, type AsrAnswer } from './helpers.ts';

const MODEL = 'tiny/whisper';
const CHUNKING = { chunk_length_s: 30, stride_length_s: 5 };
type Bytes = Uint8Array<ArrayBuffer>;

/** Subtitle cues from the parser library: [start ms, end ms, text]. */
function parsedCues(text: string): [number, number, string][] {
  return parseSync(text)
    .filter((n): n is NodeCue => n.type === 'cue')
    .map((n) => n.data as SubtitleCue)
    .map((c) => [c.start, c.end, c.text]);
}

/** Where an open-ended chunk ends: with the clip, or at its start when the (random) tiny model put that past the clip. */
const openEnd = (start: number, duration: number) => Math.max(duration, start);

/** The cues the pipeline's chunks should become. */
function expectedCues(want: AsrAnswer, duration: number): [number, number, string][] {
  return (want.chunks ?? []).map((c) => [Math.round(c.timestamp[0] * 1000), Math.round((c.timestamp[1] ?? openEnd(c.timestamp[0], duration)) * 1000), c.text.trim()]);
}

describe('OpenAI audio transcriptions and translations', () => {
  let server: TestServer;
  let client: OpenAI;
  const wav = fixtureBytes('speech-16k-mono.wav');
  const duration = speechSamples().length / SPEECH_RATE;
  const file = () => toFile(Buffer.from(wav), 'speech.wav', { type: 'audio/wav' });

  beforeAll(async () => {
    server = await startServer({ batchWaitMs: 10 });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
  });
  afterAll(() => server.close());

  it('json and text give the pipeline\'s text', async () => {
    const want = await pipelineAsr(MODEL, wav, { ...CHUNKING, task: 'transcribe' });
    expect(want.text.trim().length).toBeGreaterThan(0);
    const json = await client.audio.transcriptions.create({ file: await file(), model: MODEL });
    expect(json.text).toBe(want.text.trim());
    expect((json as unknown as { usage: { seconds: number } }).usage.seconds).toBe(Math.ceil(duration));
    const text = await client.audio.transcriptions.create({ file: await file(), model: MODEL, response_format: 'text' });
    expect(text.trim()).toBe(want.text.trim());
  });

  it('srt and vtt parse with a subtitle library into the pipeline\'s segments', async () => {
    const want = await pipelineAsr(MODEL, fixtureBytes('speech-44k-stereo.mp3'), { ...CHUNKING, return_timestamps: true });
    expect(want.chunks?.length).toBeGreaterThan(0);
    const mp3 = await toFile(Buffer.from(fixtureBytes('speech-44k-stereo.mp3')), 'speech.mp3', { type: 'audio/mpeg' });
    const srt = await client.audio.transcriptions.create({ file: mp3, model: MODEL, response_format: 'srt' });
    const vtt = await client.audio.transcriptions.create({ file: mp3, model: MODEL, response_format: 'vtt' });
    expect(vtt.startsWith('WEBVTT')).toBe(true);
    expect(srt).toMatch(/^1\n\d\d:\d\d:\d\d,\d{3} --> /);
    const cues = parsedCues(srt);
    expect(cues.length).toBe(want.chunks!.length);
    // The open end of a last chunk is the clip's length from its header, which the parser cannot know: compare starts and texts there.
    cues.forEach((c, i) => {
      const [start, end, text] = expectedCues(want, Number.NaN)[i]!;
      expect(c[0]).toBe(start);
      if (Number.isFinite(end)) expect(c[1]).toBe(end);
      expect(c[2]).toBe(text);
    });
    expect(parsedCues(vtt)).toEqual(cues);
  });

  it('verbose_json gives segments and words as the pipeline times them', async () => {
    const segments = await pipelineAsr(MODEL, wav, { ...CHUNKING, return_timestamps: true, language: 'en' });
    const words = await pipelineAsr(MODEL, wav, { ...CHUNKING, return_timestamps: 'word', language: 'en' });
    const out = await client.audio.transcriptions.create({
      file: await file(),
      model: MODEL,
      language: 'en',
      response_format: 'verbose_json',
      timestamp_granularities: ['word', 'segment'],
    });
    expect(out.text).toBe(segments.text.trim());
    expect(out.language).toBe('english');
    expect(out.duration).toBeCloseTo(duration, 6);
    expect(out.segments?.map((s) => [Math.round(s.start * 1000), Math.round(s.end * 1000), s.text.trim()])).toEqual(expectedCues(segments, duration));
    expect(words.chunks?.length).toBeGreaterThan(1);
    expect(out.words?.map((w) => [w.word, w.start, w.end])).toEqual(words.chunks!.map((c) => [c.text.trim(), c.timestamp[0], c.timestamp[1] ?? openEnd(c.timestamp[0], duration)]));
  });

  it('translations give the pipeline\'s translate output', async () => {
    const want = await pipelineAsr(MODEL, wav, { ...CHUNKING, task: 'translate' });
    const out = await client.audio.translations.create({ file: await file(), model: MODEL });
    expect(out.text).toBe(want.text.trim());
    const plain = await pipelineAsr(MODEL, wav, { ...CHUNKING, task: 'transcribe' });
    // The task reaches the decoder: the tiny model's translate prompt gives other tokens.
    expect(want.text).not.toBe(plain.text);
  });

  it('a 95-second recording gives the same segments through OpenAI, the HF route and the pipeline', async () => {
    const long = longRecording();
    const want = await pipelineAsr(MODEL, long, { ...CHUNKING, return_timestamps: true });
    const hf = await postJson(`${server.url}/models/${MODEL}`, { inputs: Buffer.from(long).toString('base64'), parameters: { ...CHUNKING, return_timestamps: true } });
    expect(hf.status, hf.text).toBe(200);
    expect(hf.json).toEqual(want);
    const out = await client.audio.transcriptions.create({
      file: await toFile(Buffer.from(long), 'long.wav', { type: 'audio/wav' }),
      model: MODEL,
      response_format: 'verbose_json',
    });
    expect(out.duration).toBeCloseTo(95, 6);
    expect(out.text).toBe(want.text.trim());
    expect(out.segments!.length).toBeGreaterThan(3);
    expect(out.segments!.map((s) => [s.start, s.end, s.text])).toEqual(want.chunks!.map((c) => [c.timestamp[0], c.timestamp[1] ?? openEnd(c.timestamp[0], 95), c.text]));
  }, 300_000);

  describe('malformed requests: a 4xx in OpenAI\'s error shape naming the problem', () => {
    const form = (fields: Record<string, string | string[]>, audio: Uint8Array | null = wav, part = 'file') => {
      const f = new FormData();
      if (audio) f.append(part, new Blob([audio as Bytes], { type: 'audio/wav' }), 'speech.wav');
      for (const [k, v] of Object.entries(fields)) for (const x of [v].flat()) f.append(k, x);
      return f;
    };
    const cases: [string, string, () => RequestInit, RegExp][] = [
      ['JSON body', 'transcriptions', () => ({ body: JSON.stringify({ model: MODEL }), headers: { 'content-type': 'application/json' } }), /multipart\/form-data/],
      ['no file', 'transcriptions', () => ({ body: form({ model: MODEL }, null) }), /file/],
      ['file under another name', 'transcriptions', () => ({ body: form({ model: MODEL }, wav, 'audio') }), /"audio".*"file"/],
      ['two files', 'transcriptions', () => ({ body: (() => { const f = form({ model: MODEL }); f.append('file', new Blob([wav as Bytes]), 'b.wav'); return f; })() }), /More than one/],
      ['no model', 'transcriptions', () => ({ body: form({}) }), /model/],
      ['unknown model', 'transcriptions', () => ({ body: form({ model: 'whisper-1' }) }), /whisper-1/],
      ['a model of another task', 'transcriptions', () => ({ body: form({ model: 'snakers4/silero-vad' }) }), /automatic-speech-recognition/],
      ['bad response_format', 'transcriptions', () => ({ body: form({ model: MODEL, response_format: 'xml' }) }), /response_format/],
      ['temperature not a number', 'transcriptions', () => ({ body: form({ model: MODEL, temperature: 'hot' }) }), /temperature/],
      ['temperature above 1', 'transcriptions', () => ({ body: form({ model: MODEL, temperature: '1.5' }) }), /temperature/],
      ['granularity unknown', 'transcriptions', () => ({ body: form({ model: MODEL, response_format: 'verbose_json', 'timestamp_granularities[]': 'sentence' }) }), /word.*segment/],
      ['granularity without verbose_json', 'transcriptions', () => ({ body: form({ model: MODEL, 'timestamp_granularities[]': 'word' }) }), /verbose_json/],
      ['unknown language', 'transcriptions', () => ({ body: form({ model: MODEL, language: 'klingon' }) }), /klingon/],
      ['one-letter language', 'transcriptions', () => ({ body: form({ model: MODEL, language: 'e' }) }), /language/],
      ['stream=true', 'transcriptions', () => ({ body: form({ model: MODEL, stream: 'true' }) }), /stream/],
      ['unknown field', 'transcriptions', () => ({ body: form({ model: MODEL, beam_size: '5' }) }), /beam_size/],
      ['language on translations', 'translations', () => ({ body: form({ model: MODEL, language: 'fr' }) }), /language/],
      ['not audio', 'transcriptions', () => ({ body: form({ model: MODEL }, new TextEncoder().encode('hello there')) }), /audio/i],
      ['a cut WAV', 'transcriptions', () => ({ body: form({ model: MODEL }, wav.subarray(0, wav.length >> 1)) }), /truncated/],
      ['an empty file', 'transcriptions', () => ({ body: form({ model: MODEL }, new Uint8Array(0)) }), /empty/],
      ['a cut multipart body', 'transcriptions', () => ({ body: '--xyz\r\nContent-Disposition: form-data; name="model"\r\n\r\ntiny', headers: { 'content-type': 'multipart/form-data; boundary=xyz' } }), /multipart/],
      ['multipart without a boundary', 'transcriptions', () => ({ body: 'abc', headers: { 'content-type': 'multipart/form-data' } }), /multipart|boundary/i],
    ];

    it(`answers ${cases.length} malformed requests with a 4xx that says what is wrong`, async () => {
      for (const [name, route, init, message] of cases) {
        const res = await fetch(`${server.url}/v1/audio/${route}`, { method: 'POST', ...init() });
        const body = (await res.json()) as { error: { message: string; type: string; code: string } };
        expect(res.status, `${name}: ${JSON.stringify(body)}`).toBeGreaterThanOrEqual(400);
        expect(res.status, name).toBeLessThan(500);
        expect(body.error.type, name).toBe('invalid_request_error');
        expect(body.error.message, name).toMatch(message);
      }
    }, 120_000);

    it('the SDK raises its own error class with the status and message', async () => {
      const err = await client.audio.transcriptions.create({ file: await file(), model: 'no/such-model' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect((err as InstanceType<typeof OpenAI.APIError>).message).toMatch(/no\/such-model/);
    });
  });
});

describe('metering of multipart uploads', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startServer({}, { tiers: [{ name: 'anonymous' }, { name: 'free' }, { name: 'metered', audioSecondsPerMinute: 20 }] as never });
    const admin = await postJson(`${server.url}/api/tokens`, { name: 'admin', scopes: ['inference', 'admin'], tier: 'free' });
    const metered = await postJson(`${server.url}/api/tokens`, { name: 'metered', scopes: ['inference'], tier: 'metered' }, { authorization: `Bearer ${admin.json.token}` });
    token = metered.json.token as string;
  });
  afterAll(() => server.close());

  it('counts the file part\'s audio seconds: a 30 s upload is over a 20 s-per-minute tier', async () => {
    const clip = speechSamples();
    const long = new Float32Array(30 * SPEECH_RATE);
    for (let at = 0; at < long.length; at += clip.length) long.set(clip.subarray(0, long.length - at), at);
    const form = new FormData();
    form.append('file', new Blob([wavBytes([long], SPEECH_RATE) as Bytes], { type: 'audio/wav' }), 'long.wav');
    form.append('model', MODEL);
    const res = await fetch(`${server.url}/v1/audio/transcriptions`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { error: { message: string } };
    expect(res.status, JSON.stringify(body)).toBe(413);
    expect(body.error.message).toMatch(/30 seconds of audio/);
  });
});
