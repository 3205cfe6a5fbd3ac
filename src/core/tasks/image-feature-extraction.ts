import { z } from 'zod';
import { throwItemErrors } from './item-error.ts';
import { binaryItem, validate, type TaskSpec } from './spec.ts';

const params = z.object({
  // transformers.js' `pool`: the model's pooled output [1, hidden] instead of every token's state [1, tokens, hidden].
  pool: z.boolean().default(false),
});

/** The image's hidden states as nested lists, shaped as transformers.js' pipeline returns them. */
export const imageFeatureExtraction: TaskSpec = {
  id: 'image-feature-extraction',
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
