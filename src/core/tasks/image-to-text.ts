import { z } from 'zod';
import { InputError } from '../errors.ts';
import { throwItemErrors } from './item-error.ts';
import { binaryItem, validate, type TaskSpec } from './spec.ts';

const maxNewTokens = z.number().int().min(1).max(256);

// @huggingface/tasks' image-to-text parameters. Decoding is greedy, as transformers.js' pipeline decodes by default.
const generationParameters = z.object({
  max_new_tokens: maxNewTokens.optional(),
  /** Decoder length counting its start token, as transformers counts it for encoder-decoders. */
  max_length: z.number().int().min(2).max(257).optional(),
  do_sample: z.boolean().optional(),
  num_beams: z.number().int().min(1).optional(),
  // Only meaningful with beam search or the KV cache, which need no setting here: accepted, without effect.
  early_stopping: z.union([z.boolean(), z.literal('never')]).optional(),
  use_cache: z.boolean().optional(),
});

const params = z.object({ max_new_tokens: maxNewTokens.optional(), generation_parameters: generationParameters.optional() });

/** What the engine gets: the number of new tokens, when the caller set one (else the model's generation config). */
export interface ImageToTextParams {
  max_new_tokens?: number;
}

function flatten(raw: z.output<typeof params>): ImageToTextParams {
  const g = raw.generation_parameters ?? {};
  if (g.do_sample) throw new InputError('parameters.generation_parameters.do_sample: sampling is not available for image-to-text here (captions are decoded greedily); leave it out');
  if ((g.num_beams ?? 1) > 1) throw new InputError('parameters.generation_parameters.num_beams: beam search is not available here (captions are decoded greedily); use num_beams 1');
  // generation_parameters wins over the top-level setting, as for the other generation tasks.
  const maxNew = g.max_new_tokens ?? (g.max_length !== undefined ? g.max_length - 1 : raw.max_new_tokens);
  return maxNew === undefined ? {} : { max_new_tokens: maxNew };
}

/**
 * `{generated_text}`: the caption of one image. The Hugging Face spec and @huggingface/inference ≥ 4.13.15 take this
 * object; transformers.js' pipeline (and JS clients before 4.13.15) use a one-element list of it.
 */
export const imageToText: TaskSpec = {
  id: 'image-to-text',
  modality: 'image',
  batchable: true,
  parse(req) {
    return { items: [binaryItem(req.inputs, 'image')], single: true, params: flatten(validate(params, req.parameters, 'parameters')) as Record<string, unknown> };
  },
  respond(outputs) {
    throwItemErrors(outputs);
    return outputs[0];
  },
};
