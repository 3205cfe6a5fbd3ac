/**
 * Sequence-to-sequence tasks (text2text-generation, summarization, translation): one request shape, three answer
 * keys. Parameters follow @huggingface/tasks (`clean_up_tokenization_spaces`, `truncation`, `generate_parameters`,
 * and `src_lang`/`tgt_lang` for translation); the generation settings are also taken at the top level of
 * `parameters`, as the legacy Inference API took them (`max_new_tokens`, `max_length`, `do_sample`, ...). When both
 * give a setting, `generate_parameters` wins.
 */
import { z } from 'zod';
import { InputError } from '../errors.ts';
import { throwItemErrors } from './item-error.ts';
import { textItems, validate, type TaskSpec } from './spec.ts';
import type { TaskId } from './types.ts';

const generateParameters = z.object({
  max_new_tokens: z.number().int().min(1).max(1024).optional(),
  /** Decoder length counting its start token, as transformers counts it for encoder-decoders. */
  max_length: z.number().int().min(2).max(1025).optional(),
  min_new_tokens: z.number().int().min(0).max(1024).optional(),
  min_length: z.number().int().min(0).max(1025).optional(),
  do_sample: z.boolean().optional(),
  temperature: z.number().positive().max(100).optional(),
  top_k: z.number().int().min(1).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  seed: z.number().int().min(0).optional(),
  num_beams: z.number().int().min(1).optional(),
  num_return_sequences: z.number().int().min(1).optional(),
  repetition_penalty: z.number().positive().optional(),
  no_repeat_ngram_size: z.number().int().min(0).optional(),
  // Only meaningful with beam search or the KV cache, which need no setting here: accepted, without effect.
  early_stopping: z.union([z.boolean(), z.literal('never')]).optional(),
  use_cache: z.boolean().optional(),
});

const common = generateParameters.extend({
  clean_up_tokenization_spaces: z.boolean().optional(),
  truncation: z.enum(['do_not_truncate', 'longest_first', 'only_first', 'only_second']).optional(),
  generate_parameters: generateParameters.optional(),
});

const translationParams = common.extend({ src_lang: z.string().min(1).optional(), tgt_lang: z.string().min(1).optional() });

/** Settings the local engine cannot honour: a 400 that says so, rather than an answer made some other way. */
function refuseUnsupported(p: z.output<typeof generateParameters>): void {
  if ((p.num_beams ?? 1) > 1) throw new InputError('parameters.num_beams: beam search is not available here (the engine decodes greedily or samples); use num_beams 1');
  if ((p.num_return_sequences ?? 1) > 1) throw new InputError('parameters.num_return_sequences: only one sequence per input is returned here');
  if ((p.top_p ?? 1) < 1) throw new InputError('parameters.top_p: nucleus sampling is not available for this task here; use top_k and temperature');
}

/** What the engine gets: flat generation settings plus the task options. */
export interface Seq2SeqParams {
  max_new_tokens?: number;
  min_new_tokens?: number;
  do_sample: boolean;
  temperature?: number;
  top_k?: number;
  seed?: number;
  repetition_penalty?: number;
  no_repeat_ngram_size?: number;
  clean_up_tokenization_spaces?: boolean;
  truncation: 'do_not_truncate' | 'longest_first' | 'only_first';
  src_lang?: string;
  tgt_lang?: string;
}

function flatten(raw: z.output<typeof translationParams>): Seq2SeqParams {
  const { generate_parameters, ...top } = raw;
  const p = { ...top, ...generate_parameters };
  refuseUnsupported(p);
  if (p.truncation === 'only_second') throw new InputError('parameters.truncation: "only_second" needs a text pair; this task takes one text');
  const out: Seq2SeqParams = { do_sample: p.do_sample ?? false, truncation: p.truncation ?? 'longest_first' };
  // max_length and min_length count the decoder's start token; the engine works in new tokens.
  const maxNew = p.max_new_tokens ?? (p.max_length !== undefined ? p.max_length - 1 : undefined);
  const minNew = p.min_new_tokens ?? (p.min_length !== undefined ? Math.max(0, p.min_length - 1) : undefined);
  if (maxNew !== undefined) out.max_new_tokens = maxNew;
  if (minNew !== undefined && minNew > 0) out.min_new_tokens = minNew;
  if (maxNew !== undefined && minNew !== undefined && minNew > maxNew) {
    throw new InputError(`parameters: min_new_tokens (${minNew}) must not exceed max_new_tokens (${maxNew})`);
  }
  for (const key of ['temperature', 'top_k', 'seed', 'repetition_penalty', 'no_repeat_ngram_size', 'clean_up_tokenization_spaces', 'src_lang', 'tgt_lang'] as const) {
    if (p[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = p[key];
  }
  return out;
}

/** What the engine returns per input. */
export interface Seq2SeqOutput {
  text: string;
  /** Tokens the encoder read (after truncation) and tokens generated (without the decoder's start token). */
  inputTokens: number;
  generatedTokens: number;
  finishReason: 'length' | 'eos_token';
}

/** Tasks a seq2seq model answers, whichever of them its card names. */
export const SEQ2SEQ_TASKS = ['text2text-generation', 'summarization', 'translation'] as const;

export function isSeq2SeqTask(task: string): task is (typeof SEQ2SEQ_TASKS)[number] {
  return (SEQ2SEQ_TASKS as readonly string[]).includes(task);
}

/** A seq2seq task whose answer is `[{<key>: text}]` per input. */
export function seq2seqTask(id: TaskId, key: string): TaskSpec {
  const schema = id === 'translation' ? translationParams : common;
  return {
    id,
    modality: 'text',
    batchable: true,
    parse(req) {
      const { items, single } = textItems(req.inputs);
      return { items, single, params: flatten(validate(schema, req.parameters, 'parameters')) as unknown as Record<string, unknown> };
    },
    // One input: a one-element list (what every client reads); several: one object per input, as the pipeline
    // answers a list of texts.
    respond(outputs) {
      // An input too long for the model (truncation "do_not_truncate") fails its own request only.
      throwItemErrors(outputs);
      return (outputs as Seq2SeqOutput[]).map((o) => ({ [key]: o.text }));
    },
    // An unseeded sample is a new answer each time.
    cacheable: (params) => params.do_sample !== true || params.seed !== undefined,
  };
}

export const text2textGeneration = seq2seqTask('text2text-generation', 'generated_text');
