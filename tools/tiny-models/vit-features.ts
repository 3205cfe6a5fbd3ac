/**
 * tiny/vit-features: a ViT without a head (ViTModel), the image-feature-extraction model.
 *
 * Graph input:   pixel_values      float [batch_size, 3, 32, 32]
 * Graph outputs: last_hidden_state float [batch_size, 17, 32]  ([CLS] + 16 patches)
 *                pooler_output     float [batch_size, 32]      (tanh(dense([CLS])), as ViTPooler)
 */
import { FLOAT, GraphBuilder, int } from './graph.ts';
import type { BuiltModel } from './spec.ts';
import { TINY_VIT, patchCount, vitConfigFields, vitEncoder, vitPreprocessor } from './vision.ts';

const DIMS = TINY_VIT;
const SEED = 33;

function featuresGraph(): Uint8Array {
  const g = new GraphBuilder(SEED);
  const pixels = g.input('pixel_values', FLOAT, ['batch_size', DIMS.channels, DIMS.image, DIMS.image]);
  const states = vitEncoder(g, pixels, DIMS, 'vit');
  const tokens = patchCount(DIMS) + 1;
  g.output(states, 'last_hidden_state', FLOAT, ['batch_size', tokens, DIMS.hidden]);
  const cls = g.op('Gather', [states, g.i64([0], [])], { axis: int(1) });
  const pooled = g.op('Tanh', [g.linear(cls, 'vit.pooler.dense', DIMS.hidden, DIMS.hidden)]);
  g.output(pooled, 'pooler_output', FLOAT, ['batch_size', DIMS.hidden]);
  return g.toBytes('vit_features', 'tiny ViT feature extractor');
}

export const VIT_FEATURES_STAMP = JSON.stringify({ DIMS, SEED });

export function buildVitFeatures(): BuiltModel {
  const tokens = patchCount(DIMS) + 1;
  const summary =
    `A ${DIMS.layers}-layer ViT without a head (hidden ${DIMS.hidden}, ${DIMS.patch}×${DIMS.patch} patches of ${DIMS.image}×${DIMS.image} RGB ` +
    `images) with random weights. ONNX input: pixel_values float [batch, 3, ${DIMS.image}, ${DIMS.image}]; outputs: last_hidden_state ` +
    `[batch, ${tokens}, ${DIMS.hidden}] and pooler_output [batch, ${DIMS.hidden}].`;
  return {
    id: 'tiny/vit-features',
    card: { pipelineTag: 'image-feature-extraction', tags: ['vit', 'image-feature-extraction', 'vision', 'onnx', 'tiny', 'test'], summary },
    files: {
      'config.json': { architectures: ['ViTModel'], model_type: 'vit', ...vitConfigFields(DIMS) },
      'preprocessor_config.json': vitPreprocessor(DIMS, 'ViTImageProcessor'),
      'onnx/model.onnx': featuresGraph(),
    },
  };
}
