/**
 * tiny/ast: an Audio Spectrogram Transformer (AST) audio classifier, loaded by transformers.js 4.3.1 as
 * ASTForAudioClassification + ASTFeatureExtractor (Kaldi-style log-mel filter bank, 25 ms frames, 10 ms hop, padded or
 * cut to `max_length` frames, normalised with the dataset mean/std).
 *
 * Graph input:  input_values float [batch_size, 200, 16]   (frames × mel bins: 2 s of 16 kHz audio)
 * Graph output: logits       float [batch_size, 5]
 * Body, as HF's ASTModel: [B,T,F] -> [B,1,F,T], Conv2d patches (8×8, stride 8) -> tokens, prepend [CLS] and the
 * distillation token, add positions, pre-LN ViT layers, final LN, pooled = mean of the two first tokens,
 * classifier LayerNorm + Linear.
 *
 * The input has a fixed size, so requests of any length share one forward pass.
 */
import { FLOAT, GraphBuilder, int, ints } from './graph.ts';
import { type BuiltModel, labelMaps } from './spec.ts';
import { feedForward, selfAttention } from './transformer.ts';

const DIMS = { mels: 16, frames: 200, patch: 8, stride: 8, hidden: 32, layers: 2, heads: 4, intermediate: 64 };
export const AST_LABELS = ['Speech', 'Music', 'Silence', 'Dog', 'Vehicle'] as const;
const SEED = 41;
const LN_EPS = 1e-12;
/** AudioSet statistics of the real AST checkpoints' feature extractors. */
const NORM = { mean: -4.2677393, std: 4.5689974 };

const patchesAlong = (size: number) => Math.floor((size - DIMS.patch) / DIMS.stride) + 1;

function astGraph(): Uint8Array {
  const g = new GraphBuilder(SEED);
  const { hidden, mels, frames, patch, stride } = DIMS;
  const tokens = patchesAlong(mels) * patchesAlong(frames) + 2;
  const input = g.input('input_values', FLOAT, ['batch_size', frames, mels]);

  // [B,T,F] -> [B,1,F,T] -> Conv -> [B,H,F',T'] -> [B,F'·T',H]
  const image = g.op('Unsqueeze', [g.op('Transpose', [input], { perm: ints([0, 2, 1]) }), g.i64([1])]);
  const p = 'audio_spectrogram_transformer.embeddings';
  const convW = g.weight(`${p}.patch_embeddings.projection.weight`, [hidden, 1, patch, patch], 1 / patch);
  const convB = g.weight(`${p}.patch_embeddings.projection.bias`, [hidden], 0.1);
  const conv = g.op('Conv', [image, convW, convB], { kernel_shape: ints([patch, patch]), strides: ints([stride, stride]) });
  const patches = g.op('Transpose', [g.op('Reshape', [conv, g.i64([0, hidden, -1])])], { perm: ints([0, 2, 1]) });

  // [CLS] and the distillation token, expanded to the batch.
  const batch = g.op('Shape', [input], { start: int(0), end: int(1) });
  const firstTwo = g.op('Concat', [g.weight(`${p}.cls_token`, [1, 1, hidden], 1.0), g.weight(`${p}.distillation_token`, [1, 1, hidden], 1.0)], { axis: int(1) });
  const expanded = g.op('Expand', [firstTwo, g.op('Concat', [batch, g.i64([2, hidden])], { axis: int(0) })]);
  let x = g.op('Concat', [expanded, patches], { axis: int(1) });
  x = g.add(x, g.weight(`${p}.position_embeddings`, [1, tokens, hidden], 0.5));

  const att = { hidden, heads: DIMS.heads };
  for (let l = 0; l < DIMS.layers; l++) {
    const q = `audio_spectrogram_transformer.encoder.layer.${l}`;
    x = g.add(x, selfAttention(g, g.layerNorm(x, `${q}.layernorm_before`, hidden, LN_EPS), `${q}.attention`, att, null));
    x = g.add(x, feedForward(g, g.layerNorm(x, `${q}.layernorm_after`, hidden, LN_EPS), q, hidden, DIMS.intermediate));
  }
  x = g.layerNorm(x, 'audio_spectrogram_transformer.layernorm', hidden, LN_EPS);
  const pooled = g.op('ReduceMean', [g.op('Slice', [x, g.i64([0]), g.i64([2]), g.i64([1])]), g.i64([1])], { keepdims: int(0) }); // [B,H]
  const logits = g.linear(g.layerNorm(pooled, 'classifier.layernorm', hidden, LN_EPS), 'classifier.dense', hidden, AST_LABELS.length, { std: 3 / Math.sqrt(hidden) });
  g.output(logits, 'logits', FLOAT, ['batch_size', AST_LABELS.length]);
  return g.toBytes('ast', 'tiny Audio Spectrogram Transformer');
}

export const AST_STAMP = JSON.stringify({ DIMS, AST_LABELS, SEED, NORM });

export function buildAst(): BuiltModel {
  const config = {
    architectures: ['ASTForAudioClassification'],
    model_type: 'audio-spectrogram-transformer',
    attention_probs_dropout_prob: 0.0,
    frequency_stride: DIMS.stride,
    time_stride: DIMS.stride,
    patch_size: DIMS.patch,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.0,
    hidden_size: DIMS.hidden,
    intermediate_size: DIMS.intermediate,
    layer_norm_eps: LN_EPS,
    max_length: DIMS.frames,
    num_mel_bins: DIMS.mels,
    num_attention_heads: DIMS.heads,
    num_hidden_layers: DIMS.layers,
    qkv_bias: true,
    torch_dtype: 'float32',
    ...labelMaps(AST_LABELS),
  };
  const preprocessor = {
    feature_extractor_type: 'ASTFeatureExtractor',
    feature_size: 1,
    num_mel_bins: DIMS.mels,
    max_length: DIMS.frames,
    do_normalize: true,
    mean: NORM.mean,
    std: NORM.std,
    padding_side: 'right',
    padding_value: 0.0,
    return_attention_mask: false,
    sampling_rate: 16000,
  };
  const summary =
    `An AST-shaped audio classifier: ${DIMS.mels}-bin Kaldi log-mel filter banks of ${DIMS.frames} frames (2 s of 16 kHz audio; ` +
    `longer audio is cut, shorter padded, as the ASTFeatureExtractor does), ${DIMS.patch}×${DIMS.patch} patches, a ${DIMS.layers}-layer ` +
    `ViT (hidden ${DIMS.hidden}, ${DIMS.heads} heads) with random weights and ${AST_LABELS.length} labels (${AST_LABELS.join(', ')}). ` +
    `ONNX input: input_values float [batch, ${DIMS.frames}, ${DIMS.mels}]; output: logits [batch, ${AST_LABELS.length}].`;
  return {
    id: 'tiny/ast',
    card: { pipelineTag: 'audio-classification', tags: ['audio-spectrogram-transformer', 'audio-classification', 'audio', 'onnx', 'tiny', 'test'], summary },
    files: { 'config.json': config, 'preprocessor_config.json': preprocessor, 'onnx/model.onnx': astGraph() },
  };
}
