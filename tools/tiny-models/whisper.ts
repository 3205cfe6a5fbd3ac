/**
 * tiny/whisper: a Whisper-shaped encoder-decoder for automatic-speech-recognition, loaded by transformers.js 4.3.1 as
 * WhisperForConditionalGeneration + WhisperProcessor (WhisperFeatureExtractor) + WhisperTokenizer.
 *
 * onnx/encoder_model.onnx
 *   input   input_features        float [batch_size, 80, 3000]   (log-mel, 30 s at 16 kHz, hop 160)
 *   output  last_hidden_state     float [batch_size, 1500, d]
 *   body    Conv1d(80→d, k3) GELU, Conv1d(d→d, k3, stride 2) GELU, + sinusoidal positions, pre-LN layers, LN
 * onnx/decoder_model_merged.onnx
 *   inputs  input_ids, encoder_hidden_states, past_key_values.{i}.decoder/encoder.key/value
 *   outputs logits, present.{i}.decoder/encoder.key/value, cross_attentions.{i} (for word-level timestamps)
 *   body    token embedding + learned positions, pre-LN layers (causal self-attention with cache, cross-attention),
 *           LN, logits tied to the token embedding
 *
 * The encoder keys/values are recomputed from encoder_hidden_states at every step (the seq2seq graphs do the same):
 * the declared encoder past inputs are unused and the outputs equal a cached graph's. Attention as in Whisper:
 * q and v projections have biases, k has none.
 *
 * The vocabulary has the real Whisper layout: byte-level BPE text tokens, <|endoftext|>, <|startoftranscript|>, the 99
 * language tokens in Whisper's order, <|translate|>, <|transcribe|>, <|startoflm|>, <|startofprev|>, <|nocaptions|>,
 * <|notimestamps|>, then the 1501 timestamp tokens <|0.00|> … <|30.00|>. generation_config.json carries lang_to_id,
 * task_to_id, no_timestamps_token_id, alignment_heads etc. as the pipeline reads them.
 */
import { FLOAT, GraphBuilder, INT64, int, ints } from './graph.ts';
import type { BuiltModel } from './spec.ts';
import { EOS_TOKEN, byteBpeFiles, bytesToUnicode, isPrintableAsciiToken, trainByteBpe } from './tokenizer.ts';
import { MASKED, mergeHeads, splitHeads } from './transformer.ts';

const DIMS = { d: 32, layers: 2, heads: 2, ffn: 64, mels: 80, sourcePositions: 1500, targetPositions: 448 };
const SEED = 31;
const BPE_MERGES = 400;
const LN_EPS = 1e-5;
/** Logit offsets of the untrained model, so greedy outputs are printable text of varied length, not the max length. */
const BIAS = { eos: 3.5, timestamp: -3.5, unprintable: -30 };
/** Standard deviation of the untrained mix before the output projection: keeps logits near unit scale. */
const MIX_STD = 0.05;

/** Whisper's language tokens, in the order of its vocabulary (openai/whisper tokenizer.py LANGUAGES). */
export const WHISPER_LANGUAGES = (
  'en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur hr bg lt la mi ml cy ' +
  'sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si km sn yo so af oc ka be tg sd gu am yi lo ' +
  'uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha ba jw su'
).split(' ');

const TASK_TOKENS = ['<|translate|>', '<|transcribe|>', '<|startoflm|>', '<|startofprev|>', '<|nocaptions|>', '<|notimestamps|>'];
const TIMESTAMPS = Array.from({ length: 1501 }, (_, i) => `<|${(i * 0.02).toFixed(2)}|>`);

interface Vocab {
  tokens: string[];
  merges: [string, string][];
  id: (token: string) => number;
  special: string[];
}

function whisperVocab(): Vocab {
  const { vocab, merges } = trainByteBpe(BPE_MERGES); // ends with <|endoftext|>
  const special = [EOS_TOKEN, '<|startoftranscript|>', ...WHISPER_LANGUAGES.map((l) => `<|${l}|>`), ...TASK_TOKENS];
  const tokens = [...vocab, ...special.slice(1), ...TIMESTAMPS];
  const index = new Map(tokens.map((t, i) => [t, i]));
  return {
    tokens,
    merges,
    special,
    id: (t) => {
      const i = index.get(t);
      if (i === undefined) throw new Error(`token ${t} missing`);
      return i;
    },
  };
}

interface Ctx {
  g: GraphBuilder;
}

const att = { hidden: DIMS.d, heads: DIMS.heads };

/** Whisper's attention projections: q, v and out with biases, k without. */
function project(c: Ctx, x: string, name: string, bias: boolean): string {
  if (bias) return c.g.linear(x, name, DIMS.d, DIMS.d);
  return c.g.matmul(x, c.g.weight(`${name}.weight`, [DIMS.d, DIMS.d], 1 / Math.sqrt(DIMS.d)));
}

function headsOf(c: Ctx, x: string, name: string, bias: boolean): string {
  return splitHeads(c.g, project(c, x, name, bias), att, [0, 2, 1, 3]);
}

/** softmax(q·kᵀ/√hd + bias)·v; returns the projected output and the attention probabilities. */
function attention(c: Ctx, q: string, k: string, v: string, bias: string | null, name: string): { out: string; probs: string } {
  const { g } = c;
  let scores = g.mul(g.matmul(q, g.op('Transpose', [k], { perm: ints([0, 1, 3, 2]) })), g.f32(1 / Math.sqrt(DIMS.d / DIMS.heads)));
  if (bias) scores = g.add(scores, bias);
  const probs = g.op('Softmax', [scores], { axis: int(-1) });
  return { out: project(c, mergeHeads(g, g.matmul(probs, v), att), `${name}.out_proj`, true), probs };
}

function feedForward(c: Ctx, x: string, name: string): string {
  return c.g.linear(c.g.gelu(c.g.linear(x, `${name}.fc1`, DIMS.d, DIMS.ffn)), `${name}.fc2`, DIMS.ffn, DIMS.d);
}

/** Whisper's encoder positions: sin in the first half of the features, cos in the second, log timescale 10000. */
function sinusoids(length: number, channels: number): Float32Array {
  const out = new Float32Array(length * channels);
  const half = channels / 2;
  const increment = Math.log(10000) / (half - 1);
  for (let p = 0; p < length; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * Math.exp(-increment * i);
      out[p * channels + i] = Math.sin(angle);
      out[p * channels + half + i] = Math.cos(angle);
    }
  }
  return out;
}

function encoderGraph(): Uint8Array {
  const g = new GraphBuilder(SEED);
  const c: Ctx = { g };
  const { d, mels } = DIMS;
  const features = g.input('input_features', FLOAT, ['batch_size', mels, 3000]);
  const conv = (x: string, name: string, inCh: number, stride: number) =>
    g.gelu(
      g.op('Conv', [x, g.weight(`${name}.weight`, [d, inCh, 3], 1 / Math.sqrt(inCh * 3)), g.weight(`${name}.bias`, [d], 0.1)], {
        kernel_shape: ints([3]),
        pads: ints([1, 1]),
        strides: ints([stride]),
      }),
    );
  const h = conv(conv(features, 'encoder.conv1', mels, 1), 'encoder.conv2', d, 2); // [B, d, 1500]
  let x = g.add(g.op('Transpose', [h], { perm: ints([0, 2, 1]) }), g.tensor('encoder.embed_positions.weight', [DIMS.sourcePositions, d], sinusoids(DIMS.sourcePositions, d)));
  for (let l = 0; l < DIMS.layers; l++) {
    const p = `encoder.layers.${l}`;
    const n = g.layerNorm(x, `${p}.self_attn_layer_norm`, d, LN_EPS);
    x = g.add(x, attention(c, headsOf(c, n, `${p}.self_attn.q_proj`, true), headsOf(c, n, `${p}.self_attn.k_proj`, false), headsOf(c, n, `${p}.self_attn.v_proj`, true), null, `${p}.self_attn`).out);
    x = g.add(x, feedForward(c, g.layerNorm(x, `${p}.final_layer_norm`, d, LN_EPS), p));
  }
  x = g.layerNorm(x, 'encoder.layer_norm', d, LN_EPS);
  g.output(x, 'last_hidden_state', FLOAT, ['batch_size', DIMS.sourcePositions, d]);
  return g.toBytes('whisper-encoder', 'tiny Whisper: encoder');
}

function decoderGraph(vocab: Vocab, logitsBias: Float32Array): Uint8Array {
  const g = new GraphBuilder(SEED);
  const c: Ctx = { g };
  const { d, heads } = DIMS;
  const hd = d / heads;
  const ids = g.input('input_ids', INT64, ['batch_size', 'decoder_sequence_length']);
  const encoderStates = g.input('encoder_hidden_states', FLOAT, ['batch_size', 'encoder_sequence_length', d]);
  const past: { key: string; value: string }[] = [];
  for (let l = 0; l < DIMS.layers; l++) {
    const selfShape = ['batch_size', heads, 'past_decoder_sequence_length', hd];
    const crossShape = ['batch_size', heads, 'encoder_sequence_length_out', hd];
    past.push({ key: g.input(`past_key_values.${l}.decoder.key`, FLOAT, selfShape), value: g.input(`past_key_values.${l}.decoder.value`, FLOAT, selfShape) });
    g.input(`past_key_values.${l}.encoder.key`, FLOAT, crossShape);
    g.input(`past_key_values.${l}.encoder.value`, FLOAT, crossShape);
  }
  const one = g.i64([1], []);
  const pastLength = g.dim(past[0]!.key, 2);
  const total = g.add(pastLength, g.dim(ids, 1));
  const embedTokens = g.weight('decoder.embed_tokens.weight', [vocab.tokens.length, d], 1.0);
  const positions = g.op('Range', [pastLength, total, one]);
  let x = g.add(g.op('Gather', [embedTokens, ids]), g.op('Gather', [g.weight('decoder.embed_positions.weight', [DIMS.targetPositions, d], 0.5), positions]));
  const queries = g.op('Unsqueeze', [positions, g.i64([1])]);
  const keys = g.op('Range', [g.i64([0], []), total, one]);
  const causal = g.op('Where', [g.op('LessOrEqual', [keys, queries]), g.f32(0), g.f32(MASKED)]);
  const outputs: { self: [string, string]; cross: [string, string]; probs: string }[] = [];
  for (let l = 0; l < DIMS.layers; l++) {
    const p = `decoder.layers.${l}`;
    const n1 = g.layerNorm(x, `${p}.self_attn_layer_norm`, d, LN_EPS);
    const k = g.op('Concat', [past[l]!.key, headsOf(c, n1, `${p}.self_attn.k_proj`, false)], { axis: int(2) });
    const v = g.op('Concat', [past[l]!.value, headsOf(c, n1, `${p}.self_attn.v_proj`, true)], { axis: int(2) });
    x = g.add(x, attention(c, headsOf(c, n1, `${p}.self_attn.q_proj`, true), k, v, causal, `${p}.self_attn`).out);
    const n2 = g.layerNorm(x, `${p}.encoder_attn_layer_norm`, d, LN_EPS);
    const ek = headsOf(c, encoderStates, `${p}.encoder_attn.k_proj`, false);
    const ev = headsOf(c, encoderStates, `${p}.encoder_attn.v_proj`, true);
    const cross = attention(c, headsOf(c, n2, `${p}.encoder_attn.q_proj`, true), ek, ev, null, `${p}.encoder_attn`);
    x = g.add(x, cross.out);
    x = g.add(x, feedForward(c, g.layerNorm(x, `${p}.final_layer_norm`, d, LN_EPS), p));
    outputs.push({ self: [k, v], cross: [ek, ev], probs: cross.probs });
  }
  x = g.layerNorm(x, 'decoder.layer_norm', d, LN_EPS);
  // Tied output projection; the constant offsets stand in for what training would teach (see BIAS).
  // A random d×d map before the tied projection: without training, x·Eᵀ would favour the input token itself and
  // greedy decoding would repeat one token.
  x = g.matmul(x, g.weight('decoder.untrained_mix', [d, d], MIX_STD));
  const logits = g.add(g.matmul(x, g.op('Transpose', [embedTokens], { perm: ints([1, 0]) })), g.tensor('logits_bias', [vocab.tokens.length], logitsBias));
  g.output(logits, 'logits', FLOAT, ['batch_size', 'decoder_sequence_length', vocab.tokens.length]);
  outputs.forEach(({ self, cross }, l) => {
    g.output(self[0], `present.${l}.decoder.key`, FLOAT, ['batch_size', heads, 'total_decoder_sequence_length', hd]);
    g.output(self[1], `present.${l}.decoder.value`, FLOAT, ['batch_size', heads, 'total_decoder_sequence_length', hd]);
    g.output(cross[0], `present.${l}.encoder.key`, FLOAT, ['batch_size', heads, 'encoder_sequence_length_out', hd]);
    g.output(cross[1], `present.${l}.encoder.value`, FLOAT, ['batch_size', heads, 'encoder_sequence_length_out', hd]);
  });
  outputs.forEach(({ probs }, l) => g.output(probs, `cross_attentions.${l}`, FLOAT, ['batch_size', heads, 'decoder_sequence_length', 'encoder_sequence_length_out']));
  return g.toBytes('whisper-decoder', 'tiny Whisper: merged decoder with KV cache and cross-attention outputs');
}

function logitsBias(vocab: Vocab): Float32Array {
  const byteChars = new Set(bytesToUnicode());
  const special = new Set(vocab.special);
  return Float32Array.from(vocab.tokens, (t) => {
    if (t === EOS_TOKEN) return BIAS.eos;
    if (special.has(t)) return BIAS.unprintable;
    if (t.startsWith('<|') && t.endsWith('|>')) return BIAS.timestamp;
    return byteChars.has(t[0] ?? '') && !isPrintableAsciiToken(t) ? BIAS.unprintable : 0;
  });
}

export const WHISPER_STAMP = JSON.stringify({ DIMS, SEED, BPE_MERGES, BIAS, LN_EPS, MIX_STD });

export function buildWhisper(): BuiltModel {
  const vocab = whisperVocab();
  const eos = vocab.id(EOS_TOKEN);
  const sot = vocab.id('<|startoftranscript|>');
  const noTimestamps = vocab.id('<|notimestamps|>');
  const space = vocab.id('Ġ');
  const ids = { bos_token_id: eos, eos_token_id: eos, pad_token_id: eos, decoder_start_token_id: sot };
  const config = {
    architectures: ['WhisperForConditionalGeneration'],
    model_type: 'whisper',
    activation_function: 'gelu',
    d_model: DIMS.d,
    encoder_layers: DIMS.layers,
    decoder_layers: DIMS.layers,
    encoder_attention_heads: DIMS.heads,
    decoder_attention_heads: DIMS.heads,
    encoder_ffn_dim: DIMS.ffn,
    decoder_ffn_dim: DIMS.ffn,
    num_mel_bins: DIMS.mels,
    max_source_positions: DIMS.sourcePositions,
    max_target_positions: DIMS.targetPositions,
    median_filter_width: 7,
    scale_embedding: false,
    is_encoder_decoder: true,
    use_cache: true,
    vocab_size: vocab.tokens.length,
    begin_suppress_tokens: [space, eos],
    ...ids,
  };
  const generationConfig = {
    ...ids,
    max_length: DIMS.targetPositions,
    is_multilingual: true,
    lang_to_id: Object.fromEntries(WHISPER_LANGUAGES.map((l) => [`<|${l}|>`, vocab.id(`<|${l}|>`)])),
    task_to_id: { translate: vocab.id('<|translate|>'), transcribe: vocab.id('<|transcribe|>') },
    no_timestamps_token_id: noTimestamps,
    prev_sot_token_id: vocab.id('<|startofprev|>'),
    max_initial_timestamp_index: 50,
    begin_suppress_tokens: [space, eos],
    suppress_tokens: [vocab.id('<|startoflm|>'), vocab.id('<|nocaptions|>')],
    alignment_heads: [
      [1, 0],
      [1, 1],
    ],
    return_timestamps: false,
  };
  const tokenizerFiles = byteBpeFiles(vocab.tokens, vocab.merges, { special: vocab.special, tokenizerClass: 'WhisperTokenizer' });
  // Timestamp tokens are added tokens but not special ones, as in the real tokenizer: the ASR decoder tells them apart.
  const tokenizerJson = tokenizerFiles['tokenizer.json'] as { added_tokens: object[] };
  tokenizerJson.added_tokens.push(...TIMESTAMPS.map((content) => ({ id: vocab.id(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false })));
  (tokenizerFiles['tokenizer_config.json'] as Record<string, unknown>).model_max_length = 1024;
  return {
    id: 'tiny/whisper',
    card: {
      pipelineTag: 'automatic-speech-recognition',
      tags: ['whisper', 'onnx', 'tiny', 'test', 'automatic-speech-recognition', 'audio'],
      summary:
        `A Whisper-shaped encoder-decoder (${DIMS.layers}+${DIMS.layers} layers, d_model ${DIMS.d}, ${DIMS.heads} heads, ffn ${DIMS.ffn}, ` +
        `vocab ${vocab.tokens.length} in the real Whisper layout) with random weights, for 16 kHz audio through the real ` +
        'WhisperFeatureExtractor settings (80 mel bins, n_fft 400, hop 160, 30-second windows). Greedy decoding gives ' +
        'deterministic but meaningless text; segment and word timestamps work (cross-attention outputs, alignment_heads).',
    },
    files: {
      'config.json': config,
      'generation_config.json': generationConfig,
      'preprocessor_config.json': {
        chunk_length: 30,
        feature_extractor_type: 'WhisperFeatureExtractor',
        feature_size: DIMS.mels,
        hop_length: 160,
        n_fft: 400,
        n_samples: 480000,
        nb_max_frames: 3000,
        padding_side: 'right',
        padding_value: 0.0,
        processor_class: 'WhisperProcessor',
        return_attention_mask: false,
        sampling_rate: 16000,
      },
      ...tokenizerFiles,
      'onnx/encoder_model.onnx': encoderGraph(),
      'onnx/decoder_model_merged.onnx': decoderGraph(vocab, logitsBias(vocab)),
    },
  };
}
