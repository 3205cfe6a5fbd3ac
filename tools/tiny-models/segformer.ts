/**
 * tiny/segformer: a SegFormer-shaped semantic segmenter, the image-segmentation model.
 *
 * Graph input:  pixel_values float [batch_size, 3, 32, 32]
 * Graph output: logits       float [batch_size, 6, 8, 8]  (one map per label at a quarter of the input size)
 *
 * Why this shape: transformers.js' image-segmentation pipeline takes the semantic path for a SegFormer processor
 * (the only post-processing it has), which needs nothing but `logits` [B, labels, H/4, W/4]: it upsamples them
 * bilinearly to each image's size and takes the argmax per pixel. The body is the factory's ViT with 4×4 patches
 * (an 8×8 grid, SegFormer's output stride) instead of a Mix-Transformer; each patch state is projected to the labels.
 * The label head's weights are large so that several labels win somewhere in most pictures (several masks).
 */
import { FLOAT, GraphBuilder, ints } from './graph.ts';
import { type BuiltModel, labelMaps } from './spec.ts';
import { TINY_VIT, patchCount, tokenSlice, vitConfigFields, vitEncoder, vitPreprocessor } from './vision.ts';

const DIMS = { ...TINY_VIT, patch: 4 };
export const SEGFORMER_LABELS = ['background', 'person', 'car', 'road', 'sky', 'tree'] as const;
const SEED = 37;

function segformerGraph(): Uint8Array {
  const g = new GraphBuilder(SEED);
  const side = DIMS.image / DIMS.patch;
  const labels = SEGFORMER_LABELS.length;
  const pixels = g.input('pixel_values', FLOAT, ['batch_size', DIMS.channels, DIMS.image, DIMS.image]);
  const states = vitEncoder(g, pixels, DIMS, 'segformer');
  const patches = tokenSlice(g, states, 1, patchCount(DIMS) + 1); // [B,64,H]
  const hidden = g.op('Relu', [g.linear(patches, 'decode_head.linear_fuse', DIMS.hidden, DIMS.hidden)]);
  const perPatch = g.linear(hidden, 'decode_head.classifier', DIMS.hidden, labels, { std: 3 / Math.sqrt(DIMS.hidden) }); // [B,64,L]
  const maps = g.op('Reshape', [g.op('Transpose', [perPatch], { perm: ints([0, 2, 1]) }), g.i64([-1, labels, side, side])]);
  g.output(maps, 'logits', FLOAT, ['batch_size', labels, side, side]);
  return g.toBytes('segformer', 'tiny SegFormer-shaped semantic segmenter');
}

export const SEGFORMER_STAMP = JSON.stringify({ DIMS, SEGFORMER_LABELS, SEED });

export function buildSegformer(): BuiltModel {
  const side = DIMS.image / DIMS.patch;
  const summary =
    `A SegFormer-shaped semantic segmenter: a ${DIMS.layers}-layer ViT (hidden ${DIMS.hidden}, ${DIMS.patch}×${DIMS.patch} patches of ` +
    `${DIMS.image}×${DIMS.image} RGB images) with random weights and a per-patch label head; labels ${SEGFORMER_LABELS.join(', ')}. ` +
    `ONNX input: pixel_values float [batch, 3, ${DIMS.image}, ${DIMS.image}]; output: logits [batch, ${SEGFORMER_LABELS.length}, ${side}, ${side}].`;
  const config = {
    architectures: ['SegformerForSemanticSegmentation'],
    model_type: 'segformer',
    ...vitConfigFields(DIMS),
    semantic_loss_ignore_index: 255,
    ...labelMaps(SEGFORMER_LABELS),
  };
  return {
    id: 'tiny/segformer',
    card: { pipelineTag: 'image-segmentation', tags: ['segformer', 'image-segmentation', 'semantic-segmentation', 'vision', 'onnx', 'tiny', 'test'], summary },
    files: {
      'config.json': config,
      'preprocessor_config.json': vitPreprocessor(DIMS, 'SegformerImageProcessor', { do_reduce_labels: false }),
      'onnx/model.onnx': segformerGraph(),
    },
  };
}
