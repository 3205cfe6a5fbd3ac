/**
 * tiny/vit: a ViT image classifier on 32×32 images (8×8 patches -> 16 patches + [CLS]).
 *
 * Graph input:  pixel_values float [batch_size, 3, 32, 32]
 * Graph output: logits float [batch_size, 5]
 * Body (pre-LayerNorm, as in ViT): patch Conv -> tokens, prepend [CLS], add positions,
 * per layer x += Attn(LN(x)); x += FFN(LN(x)); final LN; classifier on [CLS].
 */
import { FLOAT, GraphBuilder, int, ints } from './graph.ts';
import { type BuiltModel, labelMaps } from './spec.ts';
import { feedForward, selfAttention } from './transformer.ts';

const DIMS = { image: 32, patch: 8, channels: 3, hidden: 32, layers: 2, heads: 4, intermediate: 128 };
const LABELS = ['cat', 'dog', 'bird', 'car', 'tree'] as const;
const SEED = 11;
const LN_EPS = 1e-12;

function vitGraph(): Uint8Array {
  const g = new GraphBuilder(SEED);
  const { image, patch, channels, hidden } = DIMS;
  const tokens = (image / patch) ** 2 + 1;
  const pixels = g.input('pixel_values', FLOAT, ['batch_size', channels, image, image]);

  // Patch embedding: a stride-`patch` convolution, then [B,H,4,4] -> [B,16,H].
  const convW = g.weight('vit.embeddings.patch_embeddings.projection.weight', [hidden, channels, patch, patch], 1 / Math.sqrt(channels * patch * patch));
  const convB = g.weight('vit.embeddings.patch_embeddings.projection.bias', [hidden], 0.1);
  const conv = g.op('Conv', [pixels, convW, convB], { kernel_shape: ints([patch, patch]), strides: ints([patch, patch]) });
  const patches = g.op('Transpose', [g.op('Reshape', [conv, g.i64([0, hidden, -1])])], { perm: ints([0, 2, 1]) });

  // Prepend the [CLS] token, expanded to the batch: shape [B, 1, H].
  const cls = g.weight('vit.embeddings.cls_token', [1, 1, hidden], 1.0);
  const batch = g.op('Shape', [pixels], { start: int(0), end: int(1) });
  const clsShape = g.op('Concat', [batch, g.i64([1, hidden])], { axis: int(0) });
  let x = g.op('Concat', [g.op('Expand', [cls, clsShape]), patches], { axis: int(1) });
  x = g.add(x, g.weight('vit.embeddings.position_embeddings', [1, tokens, hidden], 0.5));

  const att = { hidden, heads: DIMS.heads };
  for (let l = 0; l < DIMS.layers; l++) {
    const p = `vit.encoder.layer.${l}`;
    x = g.add(x, selfAttention(g, g.layerNorm(x, `${p}.layernorm_before`, hidden, LN_EPS), `${p}.attention`, att, null));
    x = g.add(x, feedForward(g, g.layerNorm(x, `${p}.layernorm_after`, hidden, LN_EPS), p, hidden, DIMS.intermediate));
  }
  x = g.layerNorm(x, 'vit.layernorm', hidden, LN_EPS);
  const first = g.op('Gather', [x, g.i64([0], [])], { axis: int(1) }); // [B,H]
  const logits = g.linear(first, 'classifier', hidden, LABELS.length);
  g.output(logits, 'logits', FLOAT, ['batch_size', LABELS.length]);
  return g.toBytes('vit', 'tiny ViT image classifier');
}

export const VIT_STAMP = JSON.stringify({ DIMS, LABELS, SEED });

export function buildVit(): BuiltModel {
  const config = {
    architectures: ['ViTForImageClassification'],
    model_type: 'vit',
    attention_probs_dropout_prob: 0.0,
    encoder_stride: DIMS.patch,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.0,
    hidden_size: DIMS.hidden,
    image_size: DIMS.image,
    initializer_range: 0.02,
    intermediate_size: DIMS.intermediate,
    layer_norm_eps: LN_EPS,
    num_attention_heads: DIMS.heads,
    num_channels: DIMS.channels,
    num_hidden_layers: DIMS.layers,
    patch_size: DIMS.patch,
    problem_type: 'single_label_classification',
    qkv_bias: true,
    torch_dtype: 'float32',
    ...labelMaps(LABELS),
  };
  const preprocessor = {
    image_processor_type: 'ViTImageProcessor',
    do_resize: true,
    size: { height: DIMS.image, width: DIMS.image },
    resample: 2,
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [0.5, 0.5, 0.5],
    image_std: [0.5, 0.5, 0.5],
  };
  const summary =
    `A ${DIMS.layers}-layer ViT (hidden ${DIMS.hidden}, ${DIMS.heads} heads, ${DIMS.patch}×${DIMS.patch} patches of ` +
    `${DIMS.image}×${DIMS.image} RGB images) with random weights and ${LABELS.length} labels (${LABELS.join(', ')}). ` +
    'ONNX input: pixel_values float [batch, 3, 32, 32]; output: logits [batch, 5].';
  return {
    id: 'tiny/vit',
    card: { pipelineTag: 'image-classification', tags: ['vit', 'image-classification', 'vision', 'onnx', 'tiny', 'test'], summary },
    files: { 'config.json': config, 'preprocessor_config.json': preprocessor, 'onnx/model.onnx': vitGraph() },
  };
}
