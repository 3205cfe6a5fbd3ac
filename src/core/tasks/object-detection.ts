import { z } from 'zod';
import { throwItemErrors } from './item-error.ts';
import { binaryItem, validate, type TaskSpec } from './spec.ts';

const params = z.object({
  // transformers.js' object-detection pipeline keeps boxes scoring at least 0.9 unless told otherwise.
  threshold: z.number().min(0).max(1).default(0.9),
});

/** Boxes `{label, score, box: {xmin, ymin, xmax, ymax}}` in pixels of the image sent (DETR/YOLOS shapes). */
export const objectDetection: TaskSpec = {
  id: 'object-detection',
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
