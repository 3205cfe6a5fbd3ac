/**
 * tiny/vits: a VITS-*shaped* text-to-speech model, loaded by transformers.js 4.3.1 as VitsModel + VitsTokenizer and run
 * by its text-to-audio pipeline (`_call_text_to_waveform`: tokenizer → model → `waveform`, rate from config.json).
 * It is not real VITS: there is no flow, no stochastic duration predictor and no HiFi-GAN; every token lasts HOP
 * samples. What it shares with VITS is what the pipeline sees: one graph, characters in, a waveform out whose length
 * follows the text.
 *
 * onnx/model.onnx
 *   inputs  input_ids       int64 [batch_size, sequence_length]
 *           attention_mask  int64 [batch_size, sequence_length]
 *   output  waveform        float [batch_size, sequence_length × HOP]   (in (−1, 1): a tanh at the end)
 *   body    character embedding (masked) → Conv1d(k3) tanh → two ConvTranspose1d upsamplings (×16, ×16) with LeakyRelu
 *           → per-channel amplitudes of fixed sine carriers (Range, Sin) summed over channels → tanh
 *
 * The tokenizer is laid out as transformers.js's conversion of the MMS-TTS tokenizers writes it: a Legacy (vocab
 * only) model over single characters, a normalizer that lower-cases, drops characters outside the vocabulary,
 * strips, and puts the pad token between characters and at both ends (VITS' `add_blank`), and a Split pre-tokenizer
 * that isolates every character. So "hi" becomes `_ h _ i _`.
 */
import { FLOAT, GraphBuilder, INT64, float, int, ints } from './graph.ts';
import type { BuiltModel } from './spec.ts';

const SEED = 41;
export const VITS_SAMPLING_RATE = 16000;
/** Channels of the text encoder, then of the two upsampling stages. */
const DIMS = { text: 16, up1: 8, up2: 4, stages: [16, 16] as const };
/** Samples per token: the product of the upsampling strides. */
export const VITS_HOP = DIMS.stages[0] * DIMS.stages[1];
/** The pad ("blank") token: one character, because the pre-tokenizer splits the normalised text into characters. */
const PAD = '_';
const UNK = '<unk>';
const CHARACTERS = [PAD, ' ', "'", '-', ...'abcdefghijklmnopqrstuvwxyz', ...'0123456789'];
/** Carrier frequencies in Hz of the last stage's channels: a chord in the speech band. */
const CARRIERS_HZ = [220, 330, 495, 742.5];

function vocab(): Record<string, number> {
  return Object.fromEntries([...CHARACTERS, UNK].map((c, i) => [c, i]));
}

/** ConvTranspose1d that multiplies the length by `stride` exactly: kernel 2·stride, half a stride of padding each side. */
function upsample(g: GraphBuilder, x: string, prefix: string, from: number, to: number, stride: number): string {
  const w = g.weight(`${prefix}.weight`, [from, to, 2 * stride], 1 / Math.sqrt(from * 2));
  const b = g.weight(`${prefix}.bias`, [to], 0.05);
  const y = g.op('ConvTranspose', [x, w, b], { kernel_shape: ints([2 * stride]), strides: ints([stride]), pads: ints([stride / 2, stride / 2]) });
  return g.op('LeakyRelu', [y], { alpha: float(0.1) });
}

function vitsGraph(vocabSize: number): Uint8Array {
  const g = new GraphBuilder(SEED);
  const ids = g.input('input_ids', INT64, ['batch_size', 'sequence_length']);
  const mask = g.input('attention_mask', INT64, ['batch_size', 'sequence_length']);
  const table = g.weight('text_encoder.embed_tokens.weight', [vocabSize, DIMS.text], 1);
  // Padded positions of a batch carry no signal into the convolutions.
  const keep = g.op('Unsqueeze', [g.op('Cast', [mask], { to: int(FLOAT) }), g.i64([2])]);
  const embedded = g.op('Transpose', [g.mul(g.op('Gather', [table, ids], { axis: int(0) }), keep)], { perm: ints([0, 2, 1]) }); // [B,C,T]
  const convW = g.weight('text_encoder.conv.weight', [DIMS.text, DIMS.text, 3], 1 / Math.sqrt(DIMS.text * 3));
  const convB = g.weight('text_encoder.conv.bias', [DIMS.text], 0.1);
  const text = g.op('Tanh', [g.op('Conv', [embedded, convW, convB], { kernel_shape: ints([3]), pads: ints([1, 1]) })]);
  const up1 = upsample(g, text, 'decoder.upsampler.0', DIMS.text, DIMS.up1, DIMS.stages[0]);
  const amplitude = upsample(g, up1, 'decoder.upsampler.1', DIMS.up1, DIMS.up2, DIMS.stages[1]); // [B,4,T·HOP]
  // Sine carriers over the sample index n: sin(2π f n / rate), one per channel, [4, T·HOP].
  const length = g.op('Cast', [g.dim(amplitude, 2)], { to: int(FLOAT) });
  const n = g.op('Range', [g.f32(0), length, g.f32(1)]);
  const omega = g.tensor('decoder.carriers', [DIMS.up2, 1], Float32Array.from(CARRIERS_HZ, (f) => (2 * Math.PI * f) / VITS_SAMPLING_RATE));
  const carriers = g.op('Sin', [g.mul(omega, g.op('Unsqueeze', [n, g.i64([0])]))]);
  const mixed = g.op('ReduceSum', [g.mul(amplitude, carriers), g.i64([1])], { keepdims: int(0) }); // [B,T·HOP]
  const waveform = g.mul(g.op('Tanh', [g.mul(mixed, g.f32(0.5))]), g.f32(0.9));
  g.output(waveform, 'waveform', FLOAT, ['batch_size', 'num_samples']);
  return g.toBytes('vits', 'tiny VITS-shaped text-to-speech stand-in');
}

/** tokenizer.json as transformers.js's MMS-TTS conversion writes it (see the module comment). */
function tokenizerJson(v: Record<string, number>): object {
  const kept = CHARACTERS.map((c) => c.replace(/[\\\]^-]/g, (m) => `\\${m}`)).join('');
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: v[UNK], content: UNK, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Lowercase' },
        { type: 'Replace', pattern: { Regex: `[^${kept}]` }, content: '' },
        { type: 'Strip', strip_left: true, strip_right: true },
        // add_blank: the pad before every character and once at the end; an empty text stays empty.
        { type: 'Replace', pattern: { Regex: '(?=.)|(?<!^)$' }, content: PAD },
      ],
    },
    pre_tokenizer: { type: 'Split', pattern: { Regex: '' }, behavior: 'Isolated', invert: false },
    post_processor: null,
    decoder: null,
    model: { vocab: v },
  };
}

export const VITS_STAMP = JSON.stringify({ DIMS, SEED, CHARACTERS, CARRIERS_HZ, VITS_SAMPLING_RATE });

export function buildVits(): BuiltModel {
  const v = vocab();
  const size = Object.keys(v).length;
  return {
    id: 'tiny/vits',
    card: {
      pipelineTag: 'text-to-speech',
      tags: ['vits', 'mms', 'text-to-speech', 'text-to-audio', 'audio', 'onnx', 'tiny', 'test'],
      summary:
        `A VITS-shaped stand-in for text-to-speech, not real VITS: ${size} characters embedded (${DIMS.text} channels), a Conv1d, ` +
        `two ConvTranspose1d upsamplings (×${DIMS.stages[0]}, ×${DIMS.stages[1]}) whose outputs scale four fixed sine carriers, ` +
        `summed and squashed by tanh. Every token lasts ${VITS_HOP} samples at ${VITS_SAMPLING_RATE} Hz (no duration predictor), ` +
        'so the sound is a deterministic buzz whose length follows the text. ONNX inputs: input_ids, attention_mask ' +
        '(int64 [batch, tokens]); output: waveform float [batch, tokens × 256]. The tokenizer is laid out as MMS-TTS ' +
        '(VitsTokenizer, characters with the blank "_" between them).',
    },
    files: {
      'config.json': {
        architectures: ['VitsModel'],
        model_type: 'vits',
        vocab_size: size,
        hidden_size: DIMS.text,
        sampling_rate: VITS_SAMPLING_RATE,
        upsample_rates: DIMS.stages,
        speaking_rate: 1.0,
        num_speakers: 1,
      },
      'tokenizer.json': tokenizerJson(v),
      'special_tokens_map.json': { pad_token: PAD, unk_token: UNK },
      'tokenizer_config.json': {
        tokenizer_class: 'VitsTokenizer',
        pad_token: PAD,
        unk_token: UNK,
        add_blank: true,
        normalize: true,
        phonemize: false,
        is_uroman: false,
        language: 'eng',
        clean_up_tokenization_spaces: true,
        model_max_length: 1000000000000000019884624838656,
      },
      'onnx/model.onnx': vitsGraph(size),
    },
  };
}
