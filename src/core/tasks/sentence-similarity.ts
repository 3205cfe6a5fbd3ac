import { z } from 'zod';
import { nonEmptyText, validate, type TaskSpec } from './spec.ts';

const inputs = z.object(
  {
    source_sentence: nonEmptyText,
    sentences: z.array(nonEmptyText).min(1, 'give at least one sentence').max(256),
  },
  { error: 'expected {"source_sentence": "...", "sentences": ["...", ...]}' },
);

export const sentenceSimilarity: TaskSpec = {
  id: 'sentence-similarity',
  modality: 'text',
  batchable: false,
  parse(req) {
    return { items: [validate(inputs, req.inputs, 'inputs')], single: true, params: {} };
  },
  respond: (outputs) => outputs[0],
};
