/**
 * text2text-generation, summarization and translation on an encoder-decoder (T5, BART, Marian), as transformers.js's
 * Text2TextGenerationPipeline runs them: the model's prefixes (`config.prefix`, `task_specific_params[task].prefix`),
 * the tokenizer padding and truncating to its length, `model.generate` with the pipeline's 256 new tokens unless
 * asked otherwise, and decoding without special tokens.
 *
 * Unlike the pipeline, a batch gives each text the answer it gets alone: transformers.js keeps generating for a
 * row that has reached end-of-sequence while the others go on, so each row is cut at its first eos here. Sampled
 * runs go one text at a time in a seeded turn (see sampling.ts), so that they too do not depend on the batch.
 */
import { InterruptableStoppingCriteria } from '@huggingface/transformers';
import { itemError, type ItemError } from '../../core/tasks/item-error.ts';
import type { Seq2SeqOutput, Seq2SeqParams } from '../../core/tasks/text2text-generation.ts';
import type { TaskId } from '../../core/tasks/types.ts';
import { cancelledError, type CancelSignal } from '../generation/index.ts';
import { inSamplingTurn } from './sampling.ts';
import type { Model, Pipe, TaskHandler, Tokenizer } from './types.ts';
import { chooseLanguage } from './translation-languages.ts';

/** transformers.js's Text2TextGenerationPipeline default. */
export const DEFAULT_MAX_NEW_TOKENS = 256;

type Config = Record<string, unknown> & { prefix?: string; task_specific_params?: Record<string, { prefix?: string }> };

/** The text the model reads: the pipeline's prefixes, or the translation direction the caller named. */
function prepare(task: TaskId, model: Model, tokenizer: Tokenizer, text: string, p: Seq2SeqParams): string {
  const config = model.config as Config;
  const own = config.task_specific_params?.[task]?.prefix ?? '';
  const base = (config.prefix ?? '') + text;
  if (task !== 'translation') return own + base;
  return chooseLanguage(config, tokenizer, base, p) ?? own + base;
}

/** Token ids that end a sequence, from generation_config.json (else config.json). */
function eosIds(model: Model): Set<number> {
  const gen = (model as unknown as { generation_config?: { eos_token_id?: number | number[] } }).generation_config;
  const value = gen?.eos_token_id ?? (model.config.eos_token_id as number | number[] | undefined);
  return new Set(value === undefined ? [] : Array.isArray(value) ? value : [value]);
}

/**
 * Greedy (or one sampled) generation for a batch of prepared texts. When `signal` aborts (every caller of the batch
 * has left), generation stops at the next decoder step and the batch fails as cancelled.
 */
async function generate(pipe: Pipe, texts: string[], p: Seq2SeqParams, signal?: CancelSignal): Promise<Seq2SeqOutput[]> {
  if (signal?.aborted) throw cancelledError();
  const { tokenizer, model } = pipe;
  const encoded = tokenizer(texts, { padding: true, truncation: true });
  const interrupt = new InterruptableStoppingCriteria();
  const stop = () => interrupt.interrupt();
  signal?.addEventListener('abort', stop);
  let output;
  try {
    output = await model.generate({
      ...encoded,
      stopping_criteria: [interrupt],
      max_new_tokens: p.max_new_tokens ?? DEFAULT_MAX_NEW_TOKENS,
      do_sample: p.do_sample,
      ...(p.min_new_tokens !== undefined ? { min_new_tokens: p.min_new_tokens } : {}),
      ...(p.do_sample && p.temperature !== undefined ? { temperature: p.temperature } : {}),
      ...(p.do_sample && p.top_k !== undefined ? { top_k: p.top_k } : {}),
      ...(p.repetition_penalty !== undefined ? { repetition_penalty: p.repetition_penalty } : {}),
      ...(p.no_repeat_ngram_size !== undefined ? { no_repeat_ngram_size: p.no_repeat_ngram_size } : {}),
    });
  } finally {
    signal?.removeEventListener('abort', stop);
  }
  if (signal?.aborted) throw cancelledError();
  const eos = eosIds(model);
  const masks = encoded.attention_mask.tolist() as bigint[][];
  return (output.tolist() as bigint[][]).map((row, i) => {
    // Position 0 is the decoder's start token (for BART it is the eos id itself).
    const generated = row.slice(1).map(Number);
    const end = generated.findIndex((id) => eos.has(id));
    const kept = end < 0 ? generated : generated.slice(0, end + 1);
    const decodeOptions = { skip_special_tokens: true, ...(p.clean_up_tokenization_spaces !== undefined ? { clean_up_tokenization_spaces: p.clean_up_tokenization_spaces } : {}) };
    return {
      text: tokenizer.decode(kept, decodeOptions),
      inputTokens: masks[i]!.filter((m) => m === 1n).length,
      generatedTokens: kept.length,
      finishReason: end < 0 ? 'length' : 'eos_token',
    };
  });
}

export function seq2seqHandler(task: TaskId): TaskHandler {
  return async ({ pipe, signal }, inputs, params) => {
    const p = params as unknown as Seq2SeqParams;
    const { tokenizer, model } = pipe;
    // A direction the model cannot take is the request's mistake: all items share the params, so throw.
    const texts = (inputs as string[]).map((t) => prepare(task, model, tokenizer, t, p));
    const max = tokenizer.model_max_length;
    const tooLong = texts.map((t) => p.truncation === 'do_not_truncate' && (tokenizer(t).input_ids.dims[1] ?? 0) > max);
    const kept = texts.filter((_, i) => !tooLong[i]);
    let outputs: Seq2SeqOutput[] = [];
    if (kept.length > 0 && p.do_sample) {
      for (const text of kept) outputs.push(...(await inSamplingTurn(p.seed, () => generate(pipe, [text], p, signal))).value);
    } else if (kept.length > 0) {
      outputs = await generate(pipe, kept, p, signal);
    }
    let next = 0;
    return texts.map((_, i): Seq2SeqOutput | ItemError =>
      tooLong[i] ? itemError(`inputs: longer than the model's ${max} tokens and parameters.truncation is "do_not_truncate"`) : outputs[next++]!,
    );
  };
}

export const text2textGeneration = seq2seqHandler('text2text-generation');
export const summarization = seq2seqHandler('summarization');
export const translation = seq2seqHandler('translation');
