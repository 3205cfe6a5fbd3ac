import { z } from 'zod';
import { throwItemErrors } from './item-error.ts';
import { nonEmptyText, textItems, topK, validate, type TaskSpec } from './spec.ts';

const params = z.object({
  top_k: topK.default(5),
  targets: z
    .union([nonEmptyText, z.array(nonEmptyText).min(1)])
    .transform((v) => (typeof v === 'string' ? [v] : v))
    .optional(),
});

export const fillMask: TaskSpec = {
  id: 'fill-mask',
  modality: 'text',
  batchable: true,
  parse(req) {
    const { items, single } = textItems(req.inputs);
    return { items, single, params: validate(params, req.parameters, 'parameters') };
  },
  respond(outputs, req) {
    // A text without the mask token fails its own request (400), not the other requests batched with it.
    throwItemErrors(outputs);
    return req.single ? outputs[0] : outputs;
  },
};
