import { z } from 'zod';
import { textItems, validate, type TaskSpec } from './spec.ts';

const params = z.object({
  aggregation_strategy: z.enum(['none', 'simple', 'first', 'average', 'max']).default('simple'),
  ignore_labels: z.array(z.string()).default(['O']),
  stride: z.number().int().min(0).optional(),
});

export const tokenClassification: TaskSpec = {
  id: 'token-classification',
  modality: 'text',
  batchable: true,
  parse(req) {
    const { items, single } = textItems(req.inputs);
    return { items, single, params: validate(params, req.parameters, 'parameters') };
  },
  respond: (outputs, req) => (req.single ? outputs[0] : outputs),
};
