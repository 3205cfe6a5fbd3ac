import { z } from 'zod';
import { InputError } from '../errors.ts';
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
    const parsed = validate(params, req.parameters, 'parameters');
    // As the Python pipeline: windows are merged entity by entity, which needs an aggregation strategy.
    if (parsed.stride !== undefined && parsed.aggregation_strategy === 'none') {
      throw new InputError('parameters.stride: windows need an aggregation_strategy other than "none" (their entities are merged)');
    }
    return { items, single, params: parsed };
  },
  respond: (outputs, req) => (req.single ? outputs[0] : outputs),
};
