/**
 * automatic-speech-recognition on Whisper, as transformers.js's AutomaticSpeechRecognitionPipeline (`_call_whisper`)
 * runs it: the same windows (`chunk_length_s`, `stride_length_s`, default stride chunk/6), the same `model.generate`
 * call per window (timestamp processor, seek loop, token timestamps for `"word"`), and the tokenizer's `_decode_asr`
 * to merge the windows. So text, token ids and timestamps equal the pipeline's.
 *
 * What differs is how the encoder runs: the pipeline encodes one window at a time inside `generate`; here the
 * windows of every request in the batch go through the encoder together (ENCODER_BATCH at a time), and `generate`
 * is handed each window's precomputed states (see `shareEncoderPasses`).
 */
import type { BinaryInput } from '../../core/tasks/index.ts';
import type { AsrOutput, AsrParams } from '../../core/tasks/automatic-speech-recognition.ts';
import { InputError } from '../../core/errors.ts';
import { itemError, type ItemError } from '../../core/tasks/item-error.ts';
import { decodeAudio } from '../audio.ts';
import type { Model, Pipe, TaskHandler, TensorLike } from './types.ts';
import { Tensor } from '@huggingface/transformers';

/** Windows per encoder pass: each holds a [1500, 1500] attention map per head, so memory bounds the batch. */
const ENCODER_BATCH = 8;

interface Window {
  item: number;
  stride: [number, number, number];
  features: TensorLike;
  tokens?: bigint[];
  token_timestamps?: number[];
}

interface WhisperModel extends Model {
  generation_config: { lang_to_id?: Record<string, number>; is_multilingual?: boolean };
  _prepare_encoder_decoder_kwargs_for_generation(args: EncoderArgs): Promise<Record<string, unknown>>;
}

interface EncoderArgs {
  inputs_tensor: TensorLike;
  model_inputs: Record<string, unknown>;
  model_input_name: string;
  generation_config: Record<string, unknown>;
}

interface WhisperTokenizer {
  timestamp_begin: number;
  _decode_asr(sequences: Window[], options: Record<string, unknown>): [string, { chunks?: AsrOutput['chunks'] }];
}

interface FeatureConfig {
  sampling_rate: number;
  hop_length: number;
  chunk_length: number;
}

/** Encoder states computed ahead of `generate`, keyed by the window's feature tensor. */
const precomputed = new WeakMap<object, TensorLike>();
const hooked = new WeakSet<object>();

/**
 * transformers.js 4.3.1's Whisper `generate` takes no encoder outputs (they are not among its forward params), so the
 * step that would run the encoder is wrapped: for a feature tensor encoded ahead it returns those states; for any
 * other (the seek loop's later slices) it encodes as before.
 */
function shareEncoderPasses(model: WhisperModel): void {
  if (hooked.has(model)) return;
  hooked.add(model);
  const original = model._prepare_encoder_decoder_kwargs_for_generation.bind(model);
  model._prepare_encoder_decoder_kwargs_for_generation = async (args) => {
    const states = precomputed.get(args.inputs_tensor);
    if (!states) return original(args);
    return { ...args.model_inputs, encoder_outputs: states };
  };
}

async function encodeAll(model: WhisperModel, windows: Window[]): Promise<void> {
  for (let from = 0; from < windows.length; from += ENCODER_BATCH) {
    const group = windows.slice(from, from + ENCODER_BATCH);
    const [, mels = 0, frames = 0] = group[0]!.features.dims;
    const data = new Float32Array(group.length * mels * frames);
    group.forEach((w, i) => data.set(w.features.data as Float32Array, i * mels * frames));
    const batch = new Tensor('float32', data, [group.length, mels, frames]);
    const { encoder_outputs } = await model._prepare_encoder_decoder_kwargs_for_generation({
      inputs_tensor: batch,
      model_inputs: { input_features: batch },
      model_input_name: 'input_features',
      generation_config: { guidance_scale: null },
    });
    const states = encoder_outputs as Tensor;
    group.forEach((w, i) => precomputed.set(w.features, states.slice([i, i + 1], null, null) as unknown as TensorLike));
  }
}

/** The pipeline's windows: `chunk_length_s` long, overlapping by `stride_length_s` on each side. */
async function windowsOf(pipe: Pipe, item: number, audio: Float32Array, p: AsrParams, rate: number): Promise<Window[]> {
  const processor = pipe.processor as unknown as (audio: Float32Array) => Promise<{ input_features: TensorLike }>;
  const chunk = p.chunk_length_s ?? 0;
  if (chunk <= 0) return [{ item, stride: [audio.length, 0, 0], features: (await processor(audio)).input_features }];
  const window = rate * chunk;
  const stride = rate * (p.stride_length_s ?? chunk / 6);
  const jump = window - 2 * stride;
  const out: Window[] = [];
  for (let offset = 0; ; offset += jump) {
    const sub = audio.subarray(offset, offset + window);
    const isLast = offset + window >= audio.length;
    out.push({ item, stride: [sub.length, offset === 0 ? 0 : stride, isLast ? 0 : stride], features: (await processor(sub)).input_features });
    if (isLast) return out;
  }
}

/** The language as the pipeline will look it up, or a 400 naming the ones the model knows. */
function checkLanguage(model: WhisperModel, language: string | undefined): void {
  if (language === undefined) return;
  const known = Object.keys(model.generation_config.lang_to_id ?? {}).map((t) => t.slice(2, -2));
  if (known.length === 0) throw new InputError('generate_kwargs.language: this model is English-only and takes no language');
  const code = language.toLowerCase().replace(/^<\|(.*)\|>$/, '$1');
  if (known.includes(code)) return;
  if (LANGUAGE_NAMES[code] && known.includes(LANGUAGE_NAMES[code])) return;
  throw new InputError(`generate_kwargs.language: unknown language "${language}"; use a code such as ${known.slice(0, 6).join(', ')} (${known.length} in all) or an English name`);
}

async function transcribe(pipe: Pipe, windows: Window[], p: AsrParams, config: FeatureConfig): Promise<AsrOutput> {
  const model = pipe.model as WhisperModel;
  const tokenizer = pipe.tokenizer as unknown as WhisperTokenizer;
  const generation: Record<string, unknown> = { ...p };
  if (p.return_timestamps === 'word') {
    generation.return_token_timestamps = true;
    generation.return_timestamps = true;
  }
  const timePrecision = config.chunk_length / (model.config.max_source_positions as number);
  for (const w of windows) {
    generation.num_frames = Math.floor(w.stride[0] / config.hop_length);
    const data = (await model.generate({ inputs: w.features, ...generation })) as unknown as TensorLike & { sequences?: TensorLike; token_timestamps?: TensorLike };
    if (p.return_timestamps === 'word') {
      const sequences = (data.sequences!.tolist() as bigint[][])[0]!;
      const timestamps = (data.token_timestamps!.tolist() as number[][])[0]!;
      const prefix = Math.max(sequences.findIndex((t) => Number(t) >= tokenizer.timestamp_begin), 0);
      w.tokens = sequences.slice(prefix);
      w.token_timestamps = timestamps.slice(prefix).map((x) => Math.round(x * 100) / 100);
    } else {
      w.tokens = (data.tolist() as bigint[][])[0]!;
    }
    w.stride = w.stride.map((x) => x / config.sampling_rate) as Window['stride'];
  }
  const hasText = windows.some((w) => w.tokens!.some((t) => Number(t) < tokenizer.timestamp_begin && !pipe.tokenizer.all_special_ids.includes(Number(t))));
  // _decode_asr throws on a transcript without text tokens (silence); the answer is then empty.
  if (!hasText) return p.return_timestamps ? { text: '', chunks: [] } : { text: '' };
  const [text, optional] = tokenizer._decode_asr(windows, { time_precision: timePrecision, return_timestamps: p.return_timestamps, force_full_sequences: false });
  return { text, ...optional };
}

export const automaticSpeechRecognition: TaskHandler = async ({ pipe }, inputs, params) => {
  const p = params as unknown as AsrParams;
  const model = pipe.model as WhisperModel;
  if (model.config.model_type !== 'whisper') throw new Error(`automatic-speech-recognition runs Whisper models, not ${String(model.config.model_type)}`);
  checkLanguage(model, p.language);
  const config = (pipe as unknown as { processor: { feature_extractor: { config: FeatureConfig } } }).processor.feature_extractor.config;
  shareEncoderPasses(model);

  const decoded = await Promise.all(
    (inputs as BinaryInput[]).map(async (input): Promise<Float32Array | ItemError> => {
      try {
        return (await decodeAudio(input, config.sampling_rate)).samples;
      } catch (e) {
        if (e instanceof InputError) return itemError(e.message);
        throw e;
      }
    }),
  );
  const perItem: (Window[] | ItemError)[] = [];
  for (const [i, audio] of decoded.entries()) perItem.push(audio instanceof Float32Array ? await windowsOf(pipe, i, audio, p, config.sampling_rate) : audio);
  const windows = perItem.flatMap((w) => (Array.isArray(w) ? w : []));
  await encodeAll(model, windows);
  const out: (AsrOutput | ItemError)[] = [];
  for (const w of perItem) out.push(Array.isArray(w) ? await transcribe(pipe, w, p, config) : w);
  return out;
};

/** English names the pipeline accepts for a language (whisper_language_to_code), for the common ones. */
const LANGUAGE_NAMES: Record<string, string> = Object.fromEntries(
  (
    'english:en chinese:zh german:de spanish:es russian:ru korean:ko french:fr japanese:ja portuguese:pt turkish:tr polish:pl ' +
    'catalan:ca dutch:nl arabic:ar swedish:sv italian:it indonesian:id hindi:hi finnish:fi vietnamese:vi hebrew:he ' +
    'ukrainian:uk greek:el malay:ms czech:cs romanian:ro danish:da hungarian:hu tamil:ta norwegian:no thai:th urdu:ur'
  )
    .split(' ')
    .map((pair) => pair.split(':') as [string, string]),
);
