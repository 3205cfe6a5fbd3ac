import * as ort from 'onnxruntime-node';
import { InputError, TaskNotSupportedError } from '../../core/errors.ts';
import type { ModelInfo } from '../../core/model.ts';
import type { TaskId } from '../../core/tasks/index.ts';
import { decodeAudio, type AudioInput } from '../audio.ts';
import type { LoadedModel, Runtime } from '../runtime.ts';
import { resolveModelWeights } from './package-weights.ts';

/**
 * Silero VAD (v4 ONNX graph: inputs `input`, `sr`, `h`, `c`) for voice-activity-detection.
 * Speech probabilities per frame are turned into segments the way silero's get_speech_timestamps does.
 */
export interface SpeechSegment {
  /** Seconds from the start of the audio, 3 decimals. */
  start: number;
  end: number;
  /** Mean speech probability of the frames inside the segment. */
  score: number;
}

export interface VadParams {
  threshold: number;
  min_speech_duration_ms: number;
  min_silence_duration_ms: number;
  speech_pad_ms: number;
}

const SAMPLE_RATE = 16000;
// 512 samples (32 ms) is one of the frame sizes silero v4 was trained on (512/1024/1536) and the finest,
// so segment edges land within 32 ms. Calls are ~0.1 ms each, so the extra calls cost little.
const FRAME = 512;
const STATE_DIMS = [2, 1, 64];
const REQUIRED_INPUTS = ['input', 'sr', 'h', 'c'];

export const sileroVadRuntime: Runtime = {
  name: 'silero-vad',
  async load(model: ModelInfo): Promise<LoadedModel> {
    const path = resolveModelWeights(model, (f) => f === 'silero_vad.onnx', 'silero_vad.onnx');
    // One thread: the graph is tiny and runs frame by frame, so thread hand-offs would cost more than they save.
    const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const missing = REQUIRED_INPUTS.filter((name) => !session.inputNames.includes(name));
    if (missing.length > 0) {
      await session.release();
      throw new Error(`${path} is not a Silero VAD v4 graph: missing inputs ${missing.join(', ')}`);
    }
    const tasks: readonly TaskId[] = ['voice-activity-detection'];
    return {
      tasks,
      async run(task, inputs, params) {
        if (task !== 'voice-activity-detection') {
          throw new TaskNotSupportedError(model.id, task, 'voice-activity-detection');
        }
        const options = parseVadParams(params);
        const results: SpeechSegment[][] = [];
        for (const input of inputs) {
          const audio = await decodeAudio(toAudioInput(input), SAMPLE_RATE);
          const probs = await speechProbabilities(session, audio.samples);
          results.push(speechSegments(probs, audio.samples.length, options));
        }
        return results;
      },
      async dispose() {
        await session.release();
      },
    };
  },
};

function toAudioInput(input: unknown): AudioInput {
  const value = input as Partial<AudioInput> | null;
  if (!value || !(value.data instanceof Uint8Array)) {
    throw new InputError('Send the audio file itself as the request body (WAV, FLAC or raw audio/L16 PCM).');
  }
  return { data: value.data, contentType: typeof value.contentType === 'string' ? value.contentType : undefined };
}

/** One speech probability per FRAME samples; the last frame is zero-padded. State starts at zero per call. */
async function speechProbabilities(session: ort.InferenceSession, samples: Float32Array): Promise<Float32Array> {
  const sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(SAMPLE_RATE)]), []);
  let h: ort.Tensor = new ort.Tensor('float32', new Float32Array(128), STATE_DIMS);
  let c: ort.Tensor = new ort.Tensor('float32', new Float32Array(128), STATE_DIMS);
  const probs = new Float32Array(Math.ceil(samples.length / FRAME));
  for (let i = 0; i < probs.length; i++) {
    const frame = new Float32Array(FRAME);
    frame.set(samples.subarray(i * FRAME, (i + 1) * FRAME));
    const out = await session.run({ input: new ort.Tensor('float32', frame, [1, FRAME]), sr, h, c });
    probs[i] = (out.output!.data as Float32Array)[0]!;
    h = out.hn!;
    c = out.cn!;
  }
  return probs;
}

/**
 * Port of silero-vad's get_speech_timestamps (without max_speech_duration_s): speech starts at the first
 * frame ≥ threshold, ends once probability has stayed below threshold − 0.15 for min_silence_duration_ms;
 * segments shorter than min_speech_duration_ms are dropped; then each side is padded by speech_pad_ms
 * (or by half the gap when two segments are closer than twice the padding).
 */
export function speechSegments(probs: ArrayLike<number>, totalSamples: number, p: VadParams): SpeechSegment[] {
  const ms = (v: number) => (SAMPLE_RATE * v) / 1000;
  const minSpeech = ms(p.min_speech_duration_ms);
  const minSilence = ms(p.min_silence_duration_ms);
  const pad = ms(p.speech_pad_ms);
  const negThreshold = p.threshold - 0.15;

  const raw: { start: number; end: number }[] = [];
  let start = -1; // sample where the current segment started, -1 when not in speech
  let tempEnd = 0; // first silent sample of a pause that may end the segment, 0 when none
  for (let i = 0; i < probs.length; i++) {
    const prob = probs[i]!;
    const at = i * FRAME;
    if (prob >= p.threshold) {
      tempEnd = 0;
      if (start < 0) start = at;
      continue;
    }
    if (start < 0 || prob >= negThreshold) continue;
    if (tempEnd === 0) tempEnd = at;
    if (at - tempEnd < minSilence) continue;
    if (tempEnd - start > minSpeech) raw.push({ start, end: tempEnd });
    start = -1;
    tempEnd = 0;
  }
  if (start >= 0 && totalSamples - start > minSpeech) raw.push({ start, end: totalSamples });

  // Padding changes the edges, so the score is computed on the unpadded frames first.
  const scores = raw.map(({ start: s, end: e }) => meanProb(probs, s, e));
  const padded = raw.map((seg) => ({ ...seg }));
  for (let i = 0; i < padded.length; i++) {
    const seg = padded[i]!;
    const next = padded[i + 1];
    if (i === 0) seg.start = Math.max(0, seg.start - pad);
    if (next) {
      const gap = next.start - seg.end;
      const shift = gap < 2 * pad ? Math.floor(gap / 2) : pad;
      seg.end = Math.min(totalSamples, seg.end + shift);
      next.start = Math.max(0, next.start - shift);
    } else {
      seg.end = Math.min(totalSamples, seg.end + pad);
    }
  }
  const seconds = (samples: number) => Math.round((samples / SAMPLE_RATE) * 1000) / 1000;
  return padded.map((seg, i) => ({ start: seconds(seg.start), end: seconds(seg.end), score: scores[i]! }));
}

function meanProb(probs: ArrayLike<number>, start: number, end: number): number {
  const first = Math.floor(start / FRAME);
  const last = Math.min(probs.length, Math.ceil(end / FRAME));
  let sum = 0;
  for (let i = first; i < last; i++) sum += probs[i]!;
  return last > first ? sum / (last - first) : 0;
}

/** Validates VAD parameters; missing ones take silero's defaults. */
export function parseVadParams(params: Record<string, unknown>): VadParams {
  const num = (name: keyof VadParams, fallback: number, ok: (v: number) => boolean, rule: string): number => {
    const value = params[name];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
      throw new InputError(`parameters.${name} must be ${rule}, got ${JSON.stringify(value)}.`);
    }
    return value;
  };
  // Same bounds as the task's request schema (src/core/tasks/voice-activity-detection.ts).
  const ms = (max: number) => (v: number) => Number.isInteger(v) && v >= 0 && v <= max;
  const msRule = (max: number) => `an integer number of milliseconds from 0 to ${max}`;
  return {
    threshold: num('threshold', 0.5, (v) => v > 0 && v < 1, 'a number between 0 and 1 (exclusive)'),
    min_speech_duration_ms: num('min_speech_duration_ms', 250, ms(60_000), msRule(60_000)),
    min_silence_duration_ms: num('min_silence_duration_ms', 100, ms(60_000), msRule(60_000)),
    speech_pad_ms: num('speech_pad_ms', 30, ms(10_000), msRule(10_000)),
  };
}
