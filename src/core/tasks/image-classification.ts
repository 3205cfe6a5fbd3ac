import { z } from 'zod';
import { throwItemErrors } from './item-error.ts';
import { binaryItem, functionToApply, topK, validate, type TaskSpec } from './spec.ts';

const params = z.object({
  top_k: topK.default(5),
  function_to_apply: functionToApply.optional(),
});

export const imageClassification: TaskSpec = {
  id: 'image-classification',
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
