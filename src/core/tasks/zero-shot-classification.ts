import { z } from 'zod';
import { nonEmptyText, textItems, validate, type TaskSpec } from './spec.ts';

const params = z.object({
  // The Hub widget sends labels as one comma-separated string; clients send a list.
  candidate_labels: z
    .union([z.string(), z.array(nonEmptyText)], { error: 'required: a list of labels (or one comma-separated string)' })
    .transform((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v))
    .refine((v) => v.length > 0 && v.length <= 100, 'give between 1 and 100 labels'),
  hypothesis_template: z
    .string()
    .refine((t) => t.includes('{}'), 'must contain {} where the label goes')
    .default('This example is {}.'),
  multi_label: z.boolean().default(false),
});

export const zeroShotClassification: TaskSpec = {
  id: 'zero-shot-classification',
  modality: 'text',
  batchable: false,
  parse(req) {
    const { items, single } = textItems(req.inputs);
    return { items, single, params: validate(params, req.parameters, 'parameters') };
  },
  respond: (outputs, req) => (req.single ? outputs[0] : outputs),
};
