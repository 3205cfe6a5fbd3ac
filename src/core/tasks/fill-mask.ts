import { z } from 'zod';
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
  respond: (outputs, req) => (req.single ? outputs[0] : outputs),
};
