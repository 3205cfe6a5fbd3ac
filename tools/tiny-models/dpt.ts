/**
 * tiny/dpt: a DPT / Depth-Anything shaped depth estimator, the depth-estimation model.
 *
 * Graph input:  pixel_values    float [batch_size, 3, 32, 32]
 * Graph output: predicted_depth float [batch_size, 32, 32]  (positive: a Softplus head, so no pixel is clamped to 0)
 * Body: the ViT encoder; the 4×4 patch states are projected to one value each, upsampled bilinearly to 32×32 and
 * passed through Softplus. Real DPT reassembles several layers and fuses them; the pipeline sees only predicted_depth.
 */
import { FLOAT, GraphBuilder } from './graph.ts';
import type { BuiltModel } from './spec.ts';
import { TINY_VIT, patchCount, tokenSlice, vitConfigFields, vitEncoder, vitPreprocessor } from './vision.ts';

const DIMS = TINY_VIT;
const SEED = 35;

/** [to, from] weights of half-pixel bilinear interpolation from `from` samples to `to` (edges clamped). */
function bilinear(from: number, to: number): Float32Array {
  const out = new Float32Array(to * from);
  for (let i = 0; i < to; i++) {
    const x = Math.min(Math.max(((i + 0.5) * from) / to - 0.5, 0), from - 1);
    const left = Math.floor(x);
    const right = Math.min(left + 1, from - 1);
    out[i * from + left]! += 1 - (x - left);
    out[i * from + right]! += x - left;
  }
  return out;
}

function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  return Float32Array.from({ length: rows * cols }, (_, k) => m[(k % rows) * cols + Math.floor(k / rows)]!);
}

function dptGraph(): Uint8Array {
  const g = new GraphBuilder(SEED);
  const side = DIMS.image / DIMS.patch;
  const pixels = g.input('pixel_values', FLOAT, ['batch_size', DIMS.channels, DIMS.image, DIMS.image]);
  const states = vitEncoder(g, pixels, DIMS, 'dpt');
  const patches = tokenSlice(g, states, 1, patchCount(DIMS) + 1); // [B,16,H]
  const perPatch = g.linear(g.op('Relu', [g.linear(patches, 'head.conv1', DIMS.hidden, DIMS.hidden)]), 'head.conv2', DIMS.hidden, 1, { bias: 0.5 });
  const grid = g.op('Reshape', [perPatch, g.i64([-1, side, side])]); // [B,4,4]
  // Bilinear upsampling as two matmuls with fixed interpolation matrices: up = R·grid·Rᵀ, [B,32,32].
  const rows = g.tensor('head.upsample', [DIMS.image, side], bilinear(side, DIMS.image));
  const cols = g.tensor('head.upsample_t', [side, DIMS.image], transpose(bilinear(side, DIMS.image), DIMS.image, side));
  const up = g.matmul(g.matmul(rows, grid), cols);
  g.output(g.op('Softplus', [up]), 'predicted_depth', FLOAT, ['batch_size', DIMS.image, DIMS.image]);
  return g.toBytes('dpt', 'tiny DPT-shaped depth estimator');
}

export const DPT_STAMP = JSON.stringify({ DIMS, SEED });

export function buildDpt(): BuiltModel {
  const summary =
    `A DPT-shaped depth estimator: a ${DIMS.layers}-layer ViT (hidden ${DIMS.hidden}, ${DIMS.patch}×${DIMS.patch} patches of ${DIMS.image}×${DIMS.image} ` +
    'RGB images) with random weights, a per-patch head upsampled bilinearly and a Softplus. ONNX input: pixel_values float ' +
    `[batch, 3, ${DIMS.image}, ${DIMS.image}]; output: predicted_depth [batch, ${DIMS.image}, ${DIMS.image}].`;
  return {
    id: 'tiny/dpt',
    card: { pipelineTag: 'depth-estimation', tags: ['dpt', 'depth-estimation', 'depth-anything', 'vision', 'onnx', 'tiny', 'test'], summary },
    files: {
      'config.json': { architectures: ['DPTForDepthEstimation'], model_type: 'dpt', ...vitConfigFields(DIMS) },
      'preprocessor_config.json': vitPreprocessor(DIMS, 'DPTImageProcessor'),
      'onnx/model.onnx': dptGraph(),
    },
  };
}
