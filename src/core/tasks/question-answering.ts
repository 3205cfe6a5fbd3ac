import { z } from 'zod';
import { throwItemErrors } from './item-error.ts';
import { nonEmptyText, topK, validate, type TaskSpec } from './spec.ts';

const pair = z.object({ question: nonEmptyText, context: nonEmptyText });
const inputs = z.union([pair, z.array(pair).min(1).max(64)], {
  error: 'expected {"question": "...", "context": "..."} (or a list of them)',
});

const params = z.object({
  top_k: topK.max(50).default(1),
  max_answer_len: z.number().int().min(1).max(512).default(15),
  handle_impossible_answer: z.boolean().default(false),
  doc_stride: z.number().int().min(1).optional(),
  max_seq_len: z.number().int().min(8).optional(),
  max_question_len: z.number().int().min(1).optional(),
  align_to_words: z.boolean().optional(),
});

export const questionAnswering: TaskSpec = {
  id: 'question-answering',
  modality: 'text',
  batchable: true,
  parse(req) {
    const value = validate(inputs, req.inputs, 'inputs');
    const list = Array.isArray(value) ? value : [value];
    return { items: list, single: !Array.isArray(value), params: validate(params, req.parameters, 'parameters') };
  },
  // One answer comes back as an object (the legacy shape every client accepts); top_k > 1 gives a list.
  respond(outputs, req) {
    // A question too long for max_seq_len fails its own request, not the others batched with it.
    throwItemErrors(outputs);
    const perItem = outputs as unknown[][];
    const shaped = perItem.map((answers) => (req.params.top_k === 1 ? answers[0] : answers));
    return req.single ? shaped[0] : shaped;
  },
};
