import { z } from 'zod';
import { nonEmptyText, validate, type TaskSpec } from './spec.ts';

/** TGI generation parameters; names and defaults follow text-generation-inference. */
export const generationParams = z.object({
  max_new_tokens: z.number().int().min(1).max(2048).default(20),
  temperature: z.number().positive().max(100).optional(),
  top_k: z.number().int().min(1).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  repetition_penalty: z.number().positive().optional(),
  do_sample: z.boolean().default(false),
  seed: z.number().int().min(0).optional(),
  stop: z.array(z.string().min(1)).max(16).default([]),
  // The legacy serverless API returned the prompt too; TGI's /generate does not. Routes set their own default.
  return_full_text: z.boolean().optional(),
  details: z.boolean().default(false),
  /** Keep only the last `truncate` tokens of the prompt (TGI). */
  truncate: z.number().int().min(1).nullish(),
  // Accepted for compatibility, not used by this engine.
  typical_p: z.number().optional(),
  watermark: z.boolean().optional(),
  decoder_input_details: z.boolean().optional(),
  max_time: z.number().optional(),
});

export type GenerationParams = z.output<typeof generationParams>;

/** One generated token as TGI reports it. */
export interface GeneratedToken {
  id: number;
  text: string;
  logprob: number;
  special: boolean;
}

/** What the engine returns for one prompt. */
export interface GenerationOutput {
  prompt: string;
  /** Only the new text. */
  text: string;
  tokens: GeneratedToken[];
  finishReason: 'length' | 'eos_token' | 'stop_sequence';
  promptTokens: number;
  seed?: number;
}

export function parseGeneration(inputs: unknown, parameters: unknown) {
  const prompt = validate(nonEmptyText, inputs, 'inputs');
  return { prompt, params: validate(generationParams, parameters ?? {}, 'parameters') };
}

export const textGeneration: TaskSpec = {
  id: 'text-generation',
  modality: 'text',
  batchable: false,
  parse(req) {
    const { prompt, params } = parseGeneration(req.inputs, req.parameters);
    // As TGI does: asking for a sampling warper (temperature other than 1, top_k, top_p < 1) turns sampling on.
    const warpers = (params.temperature !== undefined && params.temperature !== 1) || params.top_k !== undefined || (params.top_p ?? 1) < 1;
    return {
      items: [prompt],
      single: true,
      params: { ...params, do_sample: params.do_sample || warpers, return_full_text: params.return_full_text ?? true },
    };
  },
  respond(outputs, req) {
    const out = outputs[0] as GenerationOutput;
    const generated_text = req.params.return_full_text ? out.prompt + out.text : out.text;
    if (!req.params.details) return [{ generated_text }];
    return [
      {
        generated_text,
        details: {
          finish_reason: out.finishReason,
          generated_tokens: out.tokens.length,
          seed: out.seed ?? null,
          prefill: [],
          tokens: out.tokens,
        },
      },
    ];
  },
  cacheable: (params) => params.do_sample !== true || params.seed !== undefined,
};
