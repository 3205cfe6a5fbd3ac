import { z } from 'zod';
import { throwItemErrors } from './item-error.ts';
import { textItems, validate, type TaskSpec } from './spec.ts';

// TEI puts these options at the JSON root; older clients put them under `parameters`. Both are read.
const options = z.object({
  normalize: z.boolean().optional(),
  truncate: z.boolean().default(true),
  truncation_direction: z.enum(['left', 'right', 'Left', 'Right']).default('right').transform((v) => v.toLowerCase()),
  prompt_name: z.string().nullish(),
  pooling: z.enum(['mean', 'cls', 'none']).optional(),
});

export const featureExtraction: TaskSpec = {
  id: 'feature-extraction',
  modality: 'text',
  batchable: true,
  parse(req) {
    const { items, single } = textItems(req.inputs);
    return { items, single, params: validate(options, { ...req.root, ...req.parameters }, 'parameters') };
  },
  respond(outputs, req) {
    throwItemErrors(outputs);
    return req.single ? outputs[0] : outputs;
  },
};
