import { z } from 'zod';
import { throwItemErrors } from './item-error.ts';
import { binaryItem, validate, type TaskSpec } from './spec.ts';

// The pipeline takes no parameters; unknown ones are ignored as the other tasks ignore them.
const params = z.object({});

/**
 * `{predicted_depth, depth}`: the model's depth at the size of the image sent (nested lists, rows of pixels) and the
 * same map scaled to 0..255 as a greyscale PNG in base64, as the Hugging Face API answers.
 */
export const depthEstimation: TaskSpec = {
  id: 'depth-estimation',
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
