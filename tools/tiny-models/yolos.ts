/**
 * tiny/yolos: a YOLOS-shaped object detector (ViT with detection tokens), the object-detection model.
 *
 * Graph input:   pixel_values float [batch_size, 3, 32, 32]
 * Graph outputs: logits     float [batch_size, 10, 6]  (5 labels + the last "no object" class)
 *                pred_boxes float [batch_size, 10, 4]  (center x, center y, width, height in [0, 1])
 *
 * Why YOLOS rather than DETR: transformers.js runs both through the same post-processing, but its DETR processor
 * adds a pixel_mask and DETR needs a CNN backbone plus a decoder; YOLOS is the ViT already in the factory with
 * learned detection tokens appended, and a fixed input size lets concurrent requests share a forward pass.
 * The class head's weights are large so that some queries are confident (above the pipeline's 0.9 default).
 */
import { FLOAT, GraphBuilder } from './graph.ts';
import { type BuiltModel, labelMaps } from './spec.ts';
import { TINY_VIT, type VitDims, patchCount, tokenSlice, vitConfigFields, vitEncoder, vitPreprocessor } from './vision.ts';

const DIMS = TINY_VIT;
const DETECTION_TOKENS = 10;
export const YOLOS_LABELS = ['person', 'car', 'dog', 'cat', 'bicycle'] as const;
const SEED = 31;

function mlp(g: GraphBuilder, x: string, prefix: string, out: number, std: number, dims: VitDims): string {
  const h = g.op('Relu', [g.linear(x, `${prefix}.layers.0`, dims.hidden, dims.hidden)]);
  return g.linear(h, `${prefix}.layers.1`, dims.hidden, out, { std });
}

// `dims` other than TINY_VIT only for the bench model (perf/lib/vision-bench.ts); tiny/yolos's bytes stay as they were.
function yolosGraph(dims: VitDims): Uint8Array {
  const g = new GraphBuilder(SEED);
  const pixels = g.input('pixel_values', FLOAT, ['batch_size', dims.channels, dims.image, dims.image]);
  const states = vitEncoder(g, pixels, dims, 'vit', DETECTION_TOKENS);
  const first = patchCount(dims) + 1;
  const queries = tokenSlice(g, states, first, first + DETECTION_TOKENS); // [B,10,H]
  const classes = YOLOS_LABELS.length + 1;
  g.output(mlp(g, queries, 'class_labels_classifier', classes, 4 / Math.sqrt(dims.hidden), dims), 'logits', FLOAT, ['batch_size', DETECTION_TOKENS, classes]);
  const boxes = g.op('Sigmoid', [mlp(g, queries, 'bbox_predictor', 4, 1 / Math.sqrt(dims.hidden), dims)]);
  g.output(boxes, 'pred_boxes', FLOAT, ['batch_size', DETECTION_TOKENS, 4]);
  return g.toBytes('yolos', 'tiny YOLOS-shaped object detector');
}

export const YOLOS_STAMP = JSON.stringify({ DIMS, DETECTION_TOKENS, YOLOS_LABELS, SEED });

/** tiny/yolos, or (with `dims` and `id`) the same detector at another size: the engine bench's model. */
export function buildYolos(dims: VitDims = DIMS, id = 'tiny/yolos'): BuiltModel {
  const config = {
    architectures: ['YolosForObjectDetection'],
    model_type: 'yolos',
    ...vitConfigFields(dims),
    num_detection_tokens: DETECTION_TOKENS,
    use_mid_position_embeddings: false,
    ...labelMaps(YOLOS_LABELS),
  };
  const summary =
    `A YOLOS-shaped detector: a ${dims.layers}-layer ViT (hidden ${dims.hidden}, ${dims.patch}×${dims.patch} patches of ${dims.image}×${dims.image} ` +
    `RGB images) with ${DETECTION_TOKENS} detection tokens and random weights; labels ${YOLOS_LABELS.join(', ')} plus "no object". ` +
    `ONNX input: pixel_values float [batch, 3, ${dims.image}, ${dims.image}]; outputs: logits [batch, ${DETECTION_TOKENS}, ${YOLOS_LABELS.length + 1}], ` +
    `pred_boxes [batch, ${DETECTION_TOKENS}, 4] (cx, cy, w, h in 0..1).`;
  return {
    id,
    card: { pipelineTag: 'object-detection', tags: ['yolos', 'object-detection', 'vision', 'onnx', 'tiny', 'test'], summary },
    files: { 'config.json': config, 'preprocessor_config.json': vitPreprocessor(dims, 'YolosImageProcessor'), 'onnx/model.onnx': yolosGraph(dims) },
  };
}
