/**
 * audio-classification (wav2vec2 / HuBERT / WavLM and AST models): audio in, `[{label, score}]` out, best first.
 * Parameters are the Hugging Face task's: `top_k` (5, the transformers.js pipeline's default; more than the model has
 * gives every label) and `function_to_apply` (softmax by default, as the pipeline always applies).
 */
import { z } from 'zod';
import { throwItemErrors } from './item-error.ts';
import { binaryItem, functionToApply, topK, validate, type TaskSpec } from './spec.ts';

const params = z
  .object({
    top_k: topK.default(5),
    function_to_apply: functionToApply.optional(),
  })
  .strict();

export const audioClassification: TaskSpec = {
  id: 'audio-classification',
  modality: 'audio',
  // Clips of one length (any length for spectrogram models, which pad or cut to a fixed size) share a forward pass.
  batchable: true,
  parse(req) {
    return { items: [binaryItem(req.inputs, 'audio')], single: true, params: validate(params, req.parameters, 'parameters') };
  },
  respond(outputs) {
    throwItemErrors(outputs);
    return outputs[0];
  },
};
