import { z } from 'zod';
import { functionToApply, textItems, topK, validate, type TaskSpec } from './spec.ts';

const params = z.object({
  top_k: topK.nullish(),
  function_to_apply: functionToApply.optional(),
});

export const textClassification: TaskSpec = {
  id: 'text-classification',
  modality: 'text',
  batchable: true,
  parse(req) {
    const { items, single } = textItems(req.inputs);
    return { items, single, params: validate(params, req.parameters, 'parameters') };
  },
  // Always one inner list per input: the JS client requires `response[0]` to be an array.
  respond: (outputs) => outputs,
};
