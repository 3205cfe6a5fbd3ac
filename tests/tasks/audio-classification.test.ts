/**
 * audio-classification on the two model shapes transformers.js runs: tiny/ast (AST: log-mel filter bank of a fixed
 * size) and tiny/wav2vec2 (wav2vec2-base: the raw waveform). Every answer is compared with transformers.js's own
 * AudioClassificationPipeline on the samples our decoder gives for the same file.
 */
import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAudio } from '../../src/engine/audio.ts';
import { cutFixture, fixtureBytes, garbledFixture, speechSamples, wavBytes, whiteNoise } from '../fixtures/audio/fixtures.ts';
import { expectClose, reference } from '../helpers/reference.ts';
import { postBytes, postJson, startServer, type TestServer } from '../helpers/server.ts';
import { b64 } from './vision-helpers.ts';

const MODELS = { ast: 'tiny/ast', wav2vec2: 'tiny/wav2vec2' } as const;
const LABELS: Record<string, string[]> = {
  'tiny/ast': ['Speech', 'Music', 'Silence', 'Dog', 'Vehicle'],
  'tiny/wav2vec2': ['yes', 'no', 'up', 'down', '_silence_', '_unknown_'],
};
const FORMATS: [string, string][] = [
  ['speech-16k-mono.wav', 'audio/wav'],
  ['speech-16k-mono.flac', 'audio/flac'],
  ['speech-44k-stereo.mp3', 'audio/mpeg'],
  ['speech-22k-mono.ogg', 'audio/ogg'],
  ['speech-48k-mono.opus', 'audio/ogg'],
  ['speech-48k-stereo.webm', 'audio/webm'],
  ['speech-48k-mono-live.webm', 'audio/webm;codecs=opus'],
];

type Bytes = Uint8Array<ArrayBuffer>;
interface Label {
  label: string;
  score: number;
}

/** transformers.js's pipeline on the samples our decoder gives for the same bytes. */
async function expected(model: string, bytes: Uint8Array, topK = 5): Promise<Label[]> {
  const pipe = await reference('audio-classification', model);
  const { samples } = await decodeAudio({ data: bytes }, 16000);
  return pipe(samples, { top_k: topK });
}

/** The parts of transformers.js's audio pipeline used to get raw logits. */
interface AudioPipe {
  processor(audio: Float32Array): Promise<Record<string, unknown>>;
  model: ((inputs: Record<string, unknown>) => Promise<{ logits: { data: Float32Array } }>) & { config: { id2label: Record<number, string> } };
}

/** The reference model's logits for the bytes, with another score function, best first. */
async function expectedWith(model: string, bytes: Uint8Array, fn: 'sigmoid' | 'none', topK: number): Promise<Label[]> {
  const pipe = (await reference('audio-classification', model)) as unknown as AudioPipe;
  const { samples } = await decodeAudio({ data: bytes }, 16000);
  const { logits } = await pipe.model(await pipe.processor(samples));
  const scores = Array.from(logits.data, (x) => (fn === 'sigmoid' ? 1 / (1 + Math.exp(-x)) : x));
  return scores
    .map((score, i) => ({ label: pipe.model.config.id2label[i]!, score }))
    .sort((a, b) => b.score - a.score)
    .slice(0, topK);
}

const noCache = { 'x-use-cache': 'false' };

describe('audio-classification', () => {
  let server: TestServer;
  const url = (model: string) => `${server.url}/models/${model}`;
  const wav = fixtureBytes('speech-16k-mono.wav');

  beforeAll(async () => {
    server = await startServer({ batchWaitMs: 10 });
  });
  afterAll(() => server.close());

  describe('parity with the transformers.js pipeline', () => {
    for (const model of Object.values(MODELS)) {
      it(`${model}: every audio format, as raw bytes (with and without Content-Type) and as base64 JSON`, async () => {
        const distinct = new Set<string>();
        for (const [name, type] of FORMATS) {
          const bytes = fixtureBytes(name);
          const want = await expected(model, bytes);
          expect(want).toHaveLength(5);
          for (const l of want) expect(LABELS[model], name).toContain(l.label);
          distinct.add(JSON.stringify(want.map((l) => l.score.toFixed(5))));
          const answers = [
            await postBytes(url(model), bytes, type),
            await postBytes(url(model), bytes),
            await postBytes(url(model), bytes, 'application/octet-stream'),
            await postJson(url(model), { inputs: b64(bytes) }),
            await postJson(url(model), { inputs: `data:${type};base64,${b64(bytes)}` }),
            await postJson(url(model), { inputs: { audio: b64(bytes) } }),
          ];
          for (const [i, res] of answers.entries()) {
            expect(res.status, `${name} #${i}: ${res.text}`).toBe(200);
            expect(res.headers.get('content-type')).toMatch(/^application\/json/);
            expectClose(res.json, want);
          }
        }
        // Lossy formats decode to slightly different samples: the scores differ (a constant answer would not).
        expect(distinct.size).toBeGreaterThan(3);
        // Noise is told apart from speech.
        const noise = wavBytes([whiteNoise(16000, 0.3)], 16000);
        const noiseAnswer = (await postBytes(url(model), noise)).json;
        expectClose(noiseAnswer, await expected(model, noise));
        expect(JSON.stringify(noiseAnswer)).not.toBe(JSON.stringify((await postBytes(url(model), wav)).json));
      }, 120_000);
    }

    it('answers the same on the /pipeline and hf-inference routes', async () => {
      const want = await expected(MODELS.ast, wav);
      for (const route of [`/models/${MODELS.ast}/pipeline/audio-classification`, `/pipeline/audio-classification/${MODELS.ast}`, `/hf-inference/models/${MODELS.ast}`]) {
        const res = await postBytes(`${server.url}${route}`, wav, 'audio/wav');
        expect(res.status, `${route}: ${res.text}`).toBe(200);
        expectClose(res.json, want);
      }
    });

    it('top_k keeps the best k labels; more than the model has gives all of them', async () => {
      for (const model of Object.values(MODELS)) {
        for (const k of [1, 2, 4]) {
          const res = await postJson(url(model), { inputs: b64(wav), parameters: { top_k: k } });
          expect(res.status, res.text).toBe(200);
          expect(res.json).toHaveLength(k);
          expectClose(res.json, await expected(model, wav, k));
        }
        const all = await postJson(url(model), { inputs: b64(wav), parameters: { top_k: 100 } });
        expect((all.json as Label[]).map((l) => l.label).sort()).toEqual([...LABELS[model]!].sort());
        expectClose(all.json, await expected(model, wav, 100));
        const scores = (all.json as Label[]).map((l) => l.score);
        expect(scores).toEqual([...scores].sort((a, b) => b - a));
        expect(scores.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 5);
      }
    });

    it('function_to_apply gives sigmoid scores or raw logits', async () => {
      for (const fn of ['sigmoid', 'none'] as const) {
        const res = await postJson(url(MODELS.wav2vec2), { inputs: b64(wav), parameters: { function_to_apply: fn, top_k: 3 } });
        expect(res.status, res.text).toBe(200);
        expectClose(res.json, await expectedWith(MODELS.wav2vec2, wav, fn, 3));
      }
    });
  });

  describe('batching', () => {
    it('tiny/ast: concurrent clips of any length answer as sequential ones, sharing forward passes', async () => {
      const clips = [...FORMATS.map(([name]) => fixtureBytes(name)), wavBytes([speechSamples().subarray(0, 9000)], 16000), wavBytes([whiteNoise(40000, 0.2, 3)], 16000)];
      const sequential: unknown[] = [];
      for (const bytes of clips) sequential.push((await postBytes(url(MODELS.ast), bytes, undefined, noCache)).json);
      const before = { ...server.composed.deps.engine.counters };
      const concurrent = await Promise.all(clips.map((bytes) => postBytes(url(MODELS.ast), bytes, undefined, noCache)));
      const after = server.composed.deps.engine.counters;
      concurrent.forEach((res, i) => {
        expect(res.status, res.text).toBe(200);
        expectClose(res.json, sequential[i]);
      });
      expect(after.items - before.items).toBe(clips.length);
      expect(after.batches - before.batches).toBeLessThan(clips.length);
    }, 60_000);

    it('tiny/wav2vec2: concurrent clips answer as sequential ones; clips of one length share a forward pass', async () => {
      const speech = speechSamples();
      const clips = [0, 1, 2, 3, 4, 5].map((i) => wavBytes([speech.subarray(i * 2000, i * 2000 + 16000)], 16000));
      clips.push(wavBytes([speech.subarray(0, 7000)], 16000), fixtureBytes('speech-44k-stereo.mp3'));
      const sequential: unknown[] = [];
      for (const bytes of clips) sequential.push((await postBytes(url(MODELS.wav2vec2), bytes, undefined, noCache)).json);
      const before = { ...server.composed.deps.engine.counters };
      const concurrent = await Promise.all(clips.map((bytes) => postBytes(url(MODELS.wav2vec2), bytes, undefined, noCache)));
      const after = server.composed.deps.engine.counters;
      concurrent.forEach((res, i) => {
        expect(res.status, res.text).toBe(200);
        expectClose(res.json, sequential[i]);
      });
      for (const [i, bytes] of clips.entries()) expectClose(sequential[i], await expected(MODELS.wav2vec2, bytes));
      expect(after.batches - before.batches).toBeLessThan(clips.length);
    }, 60_000);

    it('a broken file fails only its own request, not the others in its batch', async () => {
      const broken = wav.slice(0, 30);
      const all = [wav, fixtureBytes('speech-22k-mono.ogg'), broken, wav, fixtureBytes('speech-48k-mono.opus')];
      const answers = await Promise.all(all.map((bytes) => postBytes(url(MODELS.ast), bytes, undefined, noCache)));
      for (const [i, res] of answers.entries()) {
        if (all[i] === broken) {
          expect(res.status).toBe(400);
          expect((res.json as { error: string }).error).toMatch(/WAV|audio/);
        } else {
          expect(res.status, res.text).toBe(200);
          expectClose(res.json, await expected(MODELS.ast, all[i]!));
        }
      }
    });
  });

  describe('@huggingface/inference client', () => {
    it('audioClassification with a WAV and a WebM Blob', async () => {
      const client = new InferenceClient('hf_test');
      for (const model of Object.values(MODELS)) {
        for (const [name, type] of [FORMATS[0]!, FORMATS[6]!]) {
          const bytes = fixtureBytes(name);
          const out = await client.audioClassification({ inputs: new Blob([bytes as Bytes], { type }), endpointUrl: url(model) } as never);
          expectClose(out, await expected(model, bytes));
        }
      }
      await expect(client.audioClassification({ inputs: new Blob([wav.slice(0, 30) as Bytes], { type: 'audio/wav' }), endpointUrl: url(MODELS.ast) } as never)).rejects.toThrow(/WAV|audio/);
    });
  });

  describe('malformed input: a 4xx naming the problem', () => {
    const cut = cutFixture;
    const garble = garbledFixture;
    const wavB64 = b64(wav);
    const raw: [string, string, Uint8Array | string, string | undefined, RegExp][] = [
      ['empty body', MODELS.ast, new Uint8Array(0), 'audio/wav', /empty/i],
      ['empty body, no type', MODELS.wav2vec2, '', undefined, /empty/i],
      ['text bytes', MODELS.ast, new TextEncoder().encode('hello there'), 'audio/wav', /audio|format/i],
      ['random bytes', MODELS.ast, Uint8Array.from({ length: 4000 }, (_, i) => (i * 7919) & 255), 'application/octet-stream', /audio|format/i],
      ['WAV header only', MODELS.ast, wav.subarray(0, 44), undefined, /WAV|samples|data/i],
      ['WAV cut in half', MODELS.wav2vec2, cut('speech-16k-mono.wav', 0.5), undefined, /truncated/i],
      ['Ogg Vorbis cut in half', MODELS.ast, cut('speech-22k-mono.ogg', 0.5), undefined, /Ogg.*truncated/i],
      ['Ogg Opus garbled', MODELS.ast, garble('speech-48k-mono.opus'), undefined, /Ogg Opus/i],
      ['WebM cut in half', MODELS.wav2vec2, cut('speech-48k-stereo.webm', 0.5), undefined, /WebM.*truncated/i],
      ['live WebM cut at 90%', MODELS.ast, cut('speech-48k-mono-live.webm', 0.9), 'audio/webm', /WebM.*truncated/i],
      ['WebM header only', MODELS.ast, fixtureBytes('speech-48k-stereo.webm').subarray(0, 40), undefined, /WebM/i],
      ['MP3 garbled', MODELS.ast, garble('speech-44k-stereo.mp3'), undefined, /MP3/i],
      ['FLAC garbled', MODELS.wav2vec2, garble('speech-16k-mono.flac'), undefined, /FLAC/i],
      ['MP4 file', MODELS.ast, Uint8Array.from([0, 0, 0, 24, ...new TextEncoder().encode('ftypM4A '), ...new Uint8Array(100)]), undefined, /MP4/i],
      ['raw PCM of odd length', MODELS.ast, new Uint8Array(3001), 'audio/L16;rate=16000', /whole number/i],
      ['raw PCM with a bad rate', MODELS.ast, new Uint8Array(3000), 'audio/L16;rate=abc', /rate/i],
      ['a PNG image', MODELS.ast, Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Uint8Array(64)]), 'image/png', /audio/i],
      ['an SVG', MODELS.ast, '<svg/>', 'application/xml', /Content-Type/i],
      ['too short for the convolutions (10 ms)', MODELS.wav2vec2, wavBytes([speechSamples().subarray(2000, 2160)], 16000), 'audio/wav', /10 ms.*at least 25 ms/],
      ['longer than the model takes (61 s)', MODELS.wav2vec2, wavBytes([whiteNoise(61 * 16000, 0.1)], 16000), 'audio/wav', /61\.0 s.*at most 60 s/],
      ['cut JSON', MODELS.ast, '{"inputs": ', 'application/json', /not valid JSON/i],
    ];
    const json: [string, unknown, RegExp][] = [
      ['inputs missing', {}, /inputs/],
      ['inputs null', { inputs: null }, /inputs/],
      ['inputs a number', { inputs: 5 }, /inputs/],
      ['inputs not base64', { inputs: '%%%' }, /base64/],
      ['inputs an empty string', { inputs: '' }, /inputs/],
      ['inputs base64 of text', { inputs: b64(new TextEncoder().encode('just words, not sound')) }, /audio|format/i],
      ['inputs a list', { inputs: [wavB64] }, /inputs/],
      ['inputs.audio not base64', { inputs: { audio: 'not base64!' } }, /inputs\.audio.*base64/],
      ['inputs with another key', { inputs: { sound: wavB64 } }, /inputs/],
      ['top_k zero', { inputs: wavB64, parameters: { top_k: 0 } }, /top_k/],
      ['top_k a string', { inputs: wavB64, parameters: { top_k: '3' } }, /top_k/],
      ['top_k fractional', { inputs: wavB64, parameters: { top_k: 1.5 } }, /top_k/],
      ['function_to_apply unknown', { inputs: wavB64, parameters: { function_to_apply: 'relu' } }, /function_to_apply/],
      ['unknown parameter', { inputs: wavB64, parameters: { threshold: 0.5 } }, /threshold|parameters/],
      ['parameters a string', { inputs: wavB64, parameters: 'fast' }, /parameters/],
      ['options not an object', { inputs: wavB64, options: 3 }, /options/],
      ['stream asked', { inputs: wavB64, stream: true }, /stream/],
      ['a JSON string', 'just a string', /raw body|base64|inputs/],
    ];

    it(`answers ${raw.length + json.length} malformed requests with a 4xx that says what is wrong`, async () => {
      expect(raw.length + json.length).toBeGreaterThanOrEqual(30);
      for (const [name, model, body, type, message] of raw) {
        const res = await postBytes(url(model), body, type);
        expect(res.status, `${name}: ${res.text}`).toBeGreaterThanOrEqual(400);
        expect(res.status, name).toBeLessThan(500);
        expect(res.headers.get('content-type'), name).toMatch(/^application\/json/);
        expect(String((res.json as { error: unknown }).error), name).toMatch(message);
        expect(res.text, name).not.toMatch(/\n\s+at /);
      }
      for (const model of Object.values(MODELS)) {
        for (const [name, body, message] of json) {
          const res = await postJson(url(model), body);
          expect(res.status, `${model} ${name}: ${res.text}`).toBeGreaterThanOrEqual(400);
          expect(res.status, name).toBeLessThan(500);
          expect(String(res.json?.error), `${model} ${name}`).toMatch(message);
        }
      }
      // The server still answers afterwards.
      expect((await postBytes(url(MODELS.wav2vec2), wav)).status).toBe(200);
    }, 120_000);
  });
});
