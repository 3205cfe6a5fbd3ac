/**
 * tiny/wav2vec2: a wav2vec2-base-shaped audio classifier (keyword spotting labels), loaded by transformers.js 4.3.1 as
 * Wav2Vec2ForSequenceClassification + Wav2Vec2FeatureExtractor (the raw waveform, zero mean and unit variance).
 *
 * Graph input:  input_values float [batch_size, samples]   (16 kHz)
 * Graph output: logits       float [batch_size, 6]
 * Body, as HF's wav2vec2 with feat_extract_norm "group" (wav2vec2-base): seven Conv1d layers (kernels 10,3,3,3,3,2,2,
 * strides 5,2,2,2,2,2,2: one frame per 20 ms, at least 400 samples), the first with GroupNorm (one group per
 * channel, i.e. InstanceNormalization), GELU; feature projection (LN + Linear); a grouped positional convolution
 * added to the frames; LN; post-LN transformer layers; projector; mean over frames; classifier.
 *
 * No attention_mask input: like wav2vec2-base, the model normalises over the whole sequence, so a padded input would
 * change the answer. Inputs of different lengths cannot share a forward pass.
 */
import { FLOAT, GraphBuilder, float, int, ints } from './graph.ts';
import { type BuiltModel, labelMaps } from './spec.ts';
import { feedForward, selfAttention } from './transformer.ts';

const CONV = { kernels: [10, 3, 3, 3, 3, 2, 2], strides: [5, 2, 2, 2, 2, 2, 2], dim: 16 };
const DIMS = { hidden: 32, layers: 2, heads: 4, intermediate: 64, posKernel: 16, posGroups: 4, projector: 16 };
export const WAV2VEC2_LABELS = ['yes', 'no', 'up', 'down', '_silence_', '_unknown_'] as const;
const SEED = 43;
const LN_EPS = 1e-5;

function wav2vec2Graph(): Uint8Array {
  const g = new GraphBuilder(SEED);
  const { hidden } = DIMS;
  const input = g.input('input_values', FLOAT, ['batch_size', 'sequence_length']);

  // Feature encoder: [B,S] -> [B,1,S] -> convolutions -> [B,C,frames]
  let x = g.op('Unsqueeze', [input, g.i64([1])]);
  let channels = 1;
  CONV.kernels.forEach((k, i) => {
    const p = `wav2vec2.feature_extractor.conv_layers.${i}`;
    const w = g.weight(`${p}.conv.weight`, [CONV.dim, channels, k], 1 / Math.sqrt(channels * k));
    x = g.op('Conv', [x, w], { kernel_shape: ints([k]), strides: ints([CONV.strides[i]!]) });
    if (i === 0) x = g.op('InstanceNormalization', [x, g.filled(`${p}.layer_norm.weight`, [CONV.dim], 1), g.filled(`${p}.layer_norm.bias`, [CONV.dim], 0)], { epsilon: float(1e-5) });
    x = g.gelu(x);
    channels = CONV.dim;
  });
  x = g.op('Transpose', [x], { perm: ints([0, 2, 1]) }); // [B,frames,C]
  x = g.linear(g.layerNorm(x, 'wav2vec2.feature_projection.layer_norm', CONV.dim, LN_EPS), 'wav2vec2.feature_projection.projection', CONV.dim, hidden);

  // Positional convolution (grouped, "same" padding: an even kernel gives one extra frame, dropped as SamePadLayer does).
  const k = DIMS.posKernel;
  const posW = g.weight('wav2vec2.encoder.pos_conv_embed.conv.weight', [hidden, hidden / DIMS.posGroups, k], 1 / Math.sqrt((hidden / DIMS.posGroups) * k));
  const posB = g.weight('wav2vec2.encoder.pos_conv_embed.conv.bias', [hidden], 0.1);
  const channelsFirst = g.op('Transpose', [x], { perm: ints([0, 2, 1]) });
  let pos = g.op('Conv', [channelsFirst, posW, posB], { kernel_shape: ints([k]), pads: ints([k / 2, k / 2]), group: int(DIMS.posGroups) });
  pos = g.op('Slice', [pos, g.i64([0]), g.i64([-1]), g.i64([2])]);
  x = g.add(x, g.op('Transpose', [g.gelu(pos)], { perm: ints([0, 2, 1]) }));
  x = g.layerNorm(x, 'wav2vec2.encoder.layer_norm', hidden, LN_EPS);

  const att = { hidden, heads: DIMS.heads };
  for (let l = 0; l < DIMS.layers; l++) {
    const p = `wav2vec2.encoder.layers.${l}`;
    x = g.layerNorm(g.add(x, selfAttention(g, x, `${p}.attention`, att, null)), `${p}.layer_norm`, hidden, LN_EPS);
    x = g.layerNorm(g.add(x, feedForward(g, x, `${p}.feed_forward`, hidden, DIMS.intermediate)), `${p}.final_layer_norm`, hidden, LN_EPS);
  }
  const projected = g.linear(x, 'projector', hidden, DIMS.projector);
  const pooled = g.op('ReduceMean', [projected, g.i64([1])], { keepdims: int(0) }); // [B,P]
  const logits = g.linear(pooled, 'classifier', DIMS.projector, WAV2VEC2_LABELS.length, { std: 3 / Math.sqrt(DIMS.projector) });
  g.output(logits, 'logits', FLOAT, ['batch_size', WAV2VEC2_LABELS.length]);
  return g.toBytes('wav2vec2', 'tiny wav2vec2 audio classifier');
}

export const WAV2VEC2_STAMP = JSON.stringify({ CONV, DIMS, WAV2VEC2_LABELS, SEED });

export function buildWav2vec2(): BuiltModel {
  const config = {
    architectures: ['Wav2Vec2ForSequenceClassification'],
    model_type: 'wav2vec2',
    conv_bias: false,
    conv_dim: CONV.kernels.map(() => CONV.dim),
    conv_kernel: CONV.kernels,
    conv_stride: CONV.strides,
    feat_extract_norm: 'group',
    feat_extract_activation: 'gelu',
    do_stable_layer_norm: false,
    hidden_act: 'gelu',
    hidden_size: DIMS.hidden,
    intermediate_size: DIMS.intermediate,
    layer_norm_eps: LN_EPS,
    num_attention_heads: DIMS.heads,
    num_hidden_layers: DIMS.layers,
    num_conv_pos_embeddings: DIMS.posKernel,
    num_conv_pos_embedding_groups: DIMS.posGroups,
    num_feat_extract_layers: CONV.kernels.length,
    classifier_proj_size: DIMS.projector,
    use_weighted_layer_sum: false,
    torch_dtype: 'float32',
    ...labelMaps(WAV2VEC2_LABELS),
  };
  const preprocessor = {
    feature_extractor_type: 'Wav2Vec2FeatureExtractor',
    feature_size: 1,
    do_normalize: true,
    padding_side: 'right',
    padding_value: 0.0,
    return_attention_mask: false,
    sampling_rate: 16000,
  };
  const summary =
    `A wav2vec2-base-shaped audio classifier: the 16 kHz waveform (normalised to zero mean, unit variance) through seven ` +
    `convolutions of ${CONV.dim} channels (one frame per 20 ms), a ${DIMS.layers}-layer post-LN transformer (hidden ${DIMS.hidden}, ` +
    `${DIMS.heads} heads), mean pooling and a classifier, with random weights and ${WAV2VEC2_LABELS.length} keyword labels ` +
    `(${WAV2VEC2_LABELS.join(', ')}). ONNX input: input_values float [batch, samples] (at least 400); output: logits [batch, ${WAV2VEC2_LABELS.length}].`;
  return {
    id: 'tiny/wav2vec2',
    card: { pipelineTag: 'audio-classification', tags: ['wav2vec2', 'audio-classification', 'audio', 'onnx', 'tiny', 'test'], summary },
    files: { 'config.json': config, 'preprocessor_config.json': preprocessor, 'onnx/model.onnx': wav2vec2Graph() },
  };
}
