/**
 * What one generation asks for: its sampling settings and stop conditions. Each sequence in a batch carries its
 * own, so neighbours never change each other's tokens.
 */

export interface GenerationSettings {
  maxNewTokens: number;
  /** False: greedy (argmax). True: multinomial sampling from the processed logits. */
  doSample: boolean;
  /** Divides the logits when sampling (1: unchanged). */
  temperature: number;
  /** Sample among the k most likely tokens (0: all). transformers.js defaults it to 50. */
  topK: number;
  /** Nucleus sampling: the smallest set of top tokens whose probability reaches top_p (1: all). */
  topP: number;
  /** transformers' repetition penalty over prompt and generated tokens (1: none). */
  repetitionPenalty: number;
  /** OpenAI's penalties over generated tokens: once per token seen, and per occurrence. */
  presencePenalty: number;
  frequencyPenalty: number;
  /** Seed of this sequence's own PRNG (sampling only). */
  seed: number;
  /** Stop when the generated text contains one of these. */
  stop: string[];
  /** Also report this many most likely alternatives per token (0: none). */
  topLogprobs: number;
}

/** The model's own defaults (its generation_config.json, with transformers.js's defaults under it). */
export interface ModelDefaults {
  temperature?: number | null;
  top_k?: number | null;
  top_p?: number | null;
  repetition_penalty?: number | null;
}

const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

/**
 * Settings from TGI-style parameters (the text-generation task's, after parsing), with the model's generation
 * config filling what the caller left out, as transformers.js `generate` does. `seed` must be chosen by the caller
 * when sampling without one, so that it can be reported.
 */
export function settingsFromParams(params: Record<string, unknown>, defaults: ModelDefaults, seed: number): GenerationSettings {
  const doSample = params.do_sample === true;
  return {
    maxNewTokens: num(params.max_new_tokens) ?? 20,
    doSample,
    temperature: num(params.temperature) ?? num(defaults.temperature) ?? 1,
    topK: num(params.top_k) ?? num(defaults.top_k) ?? 50,
    topP: num(params.top_p) ?? num(defaults.top_p) ?? 1,
    repetitionPenalty: num(params.repetition_penalty) ?? num(defaults.repetition_penalty) ?? 1,
    presencePenalty: num(params.presence_penalty) ?? 0,
    frequencyPenalty: num(params.frequency_penalty) ?? 0,
    seed,
    stop: Array.isArray(params.stop) ? (params.stop as string[]) : [],
    topLogprobs: num(params.top_logprobs) ?? 0,
  };
}
