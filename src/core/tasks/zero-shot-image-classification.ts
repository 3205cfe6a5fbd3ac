import { z } from 'zod';
import { throwItemErrors } from './item-error.ts';
import { binaryItem, nonEmptyText, validate, type TaskSpec } from './spec.ts';

const params = z.object({
  // As zero-shot-classification: the Hub widget sends one comma-separated string, clients send a list.
  candidate_labels: z
    .union([z.string(), z.array(nonEmptyText)], { error: 'required: a list of labels (or one comma-separated string)' })
    .transform((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v))
    .refine((v) => v.length > 0 && v.length <= 100, 'give between 1 and 100 labels'),
  // transformers.js' default template (the Python pipeline's ends with a period).
  hypothesis_template: z
    .string()
    .refine((t) => t.includes('{}'), 'must contain {} where the label goes')
    .default('This is a photo of {}'),
});

/** `[{label, score}]` for every candidate label, best first (CLIP: softmax over labels; SigLIP: sigmoid per label). */
export const zeroShotImageClassification: TaskSpec = {
  id: 'zero-shot-image-classification',
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
