import { z } from 'zod';
import { throwItemErrors } from './item-error.ts';
import { binaryItem, validate, type TaskSpec } from './spec.ts';

const fraction = z.number().min(0).max(1);

// The Hugging Face spec's parameters with transformers.js' defaults. The thresholds steer instance and panoptic
// post-processing; a semantic model (every pixel gets its best label) reads none of them.
const params = z.object({
  subtask: z.enum(['semantic', 'instance', 'panoptic']).optional(),
  threshold: fraction.default(0.5),
  mask_threshold: fraction.default(0.5),
  overlap_mask_area_threshold: fraction.default(0.8),
});

/**
 * `[{label, mask, score?}]`: one segment per label found, its mask a black-and-white PNG (base64) at the image's
 * size. `score` is left out, not null, where the model gives none (semantic models): the JS client refuses null.
 */
export const imageSegmentation: TaskSpec = {
  id: 'image-segmentation',
  modality: 'image',
  batchable: true,
  parse(req) {
    return { items: [binaryItem(req.inputs, 'image')], single: true, params: validate(params, req.parameters, 'parameters') };
  },
  respond(outputs) {
    throwItemErrors(outputs);
    return outputs[0];
  },
};
