/**
 * audio-classification, as transformers.js's AudioClassificationPipeline computes it: the model's own feature extractor
 * on each clip (Wav2Vec2FeatureExtractor: the normalised waveform; ASTFeatureExtractor: a log-mel filter bank padded or
 * cut to `max_length` frames), the model, softmax (or the asked function) over the logits, the `top_k` best labels.
 *
 * Clips whose features have the same shape share one forward pass: every clip of a spectrogram model, and clips of
 * equal length for waveform models (wav2vec2-base normalises over the whole sequence, so padding would change the answer).
 */
import { cat, type Tensor } from '@huggingface/transformers';
import { InputError } from '../../core/errors.ts';
import type { BinaryInput } from '../../core/tasks/index.ts';
import { isItemError, itemError, type ItemError } from '../../core/tasks/item-error.ts';
import { decodeAudio } from '../audio.ts';
import { applyFunction, labelOf, row, topIndices } from './math.ts';
import type { Pipe, TaskHandler, TensorLike } from './types.ts';

/** Longest clip a waveform model takes: its self-attention grows with the square of the frames (50 per second). */
const MAX_WAVEFORM_SECONDS = 60;

type Features = Record<string, TensorLike>;

interface AudioProcessor {
  (audio: Float32Array): Promise<Features>;
  feature_extractor: { config: { sampling_rate: number } };
}

/**
 * The fewest samples a waveform model's convolutions can read (one output frame): 400 for wav2vec2-base's kernels
 * 10,3,3,3,3,2,2 and strides 5,2,2,2,2,2,2. Zero for spectrogram models, whose extractor pads.
 */
function minimumSamples(config: Record<string, unknown>): number {
  const kernels = config.conv_kernel;
  const strides = config.conv_stride;
  if (!Array.isArray(kernels) || !Array.isArray(strides)) return 0;
  let needed = 1;
  for (let i = kernels.length - 1; i >= 0; i--) needed = (needed - 1) * Number(strides[i]) + Number(kernels[i]);
  return needed;
}

/** The clip's features, or why this model cannot take it. */
async function featuresOf(pipe: Pipe, input: BinaryInput): Promise<Features | ItemError> {
  const processor = pipe.processor as unknown as AudioProcessor;
  const rate = processor.feature_extractor.config.sampling_rate;
  let samples: Float32Array;
  try {
    ({ samples } = await decodeAudio(input, rate));
  } catch (e) {
    if (e instanceof InputError) return itemError(e.message);
    throw e;
  }
  const waveform = minimumSamples(pipe.model.config);
  if (waveform > 0 && samples.length < waveform) {
    return itemError(`inputs: the audio is ${fmtMs(samples.length, rate)} long; this model needs at least ${fmtMs(waveform, rate)}`);
  }
  if (waveform > 0 && samples.length > MAX_WAVEFORM_SECONDS * rate) {
    return itemError(`inputs: the audio is ${(samples.length / rate).toFixed(1)} s long; this model classifies clips of at most ${MAX_WAVEFORM_SECONDS} s (cut the audio first)`);
  }
  return processor(samples);
}

const fmtMs = (samples: number, rate: number) => `${Math.round((samples / rate) * 1000)} ms`;

/** The items' features merged along the batch axis (each is [1, ...]). */
function merged(group: Features[]): Record<string, Tensor> {
  const names = Object.keys(group[0]!);
  return Object.fromEntries(names.map((n) => [n, group.length === 1 ? (group[0]![n] as unknown as Tensor) : cat(group.map((f) => f[n] as unknown as Tensor), 0)]));
}

export const audioClassification: TaskHandler = async ({ pipe }, inputs, params) => {
  if (!pipe.processor) throw new Error('audio model without a feature extractor');
  const features = await Promise.all((inputs as BinaryInput[]).map((input) => featuresOf(pipe, input)));
  // Group by feature shape: one forward pass per group.
  const groups = new Map<string, number[]>();
  features.forEach((f, i) => {
    if (isItemError(f)) return;
    const key = JSON.stringify(Object.values(f).map((t) => t.dims));
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  const out: unknown[] = features.map((f) => (isItemError(f) ? f : undefined));
  for (const members of groups.values()) {
    const { logits } = await pipe.model(merged(members.map((i) => features[i] as Features)));
    const numLabels = logits!.dims[1] ?? 0;
    const fn = (params.function_to_apply as 'softmax' | 'sigmoid' | 'none' | undefined) ?? 'softmax';
    members.forEach((item, b) => {
      const scores = applyFunction(row(logits!.data as Float32Array, b, numLabels), fn);
      out[item] = topIndices(scores, params.top_k as number).map((j) => ({ label: labelOf(pipe.model.config, j), score: scores[j]! }));
    });
  }
  return out;
};
