/**
 * One generation from a tokenized prompt on transformers.js's `generate` (model forward, KV cache, stopping at
 * the model's end-of-turn tokens) with this engine's sampler (processors.ts): the unit chat builds on, per choice.
 */
import { StoppingCriteria } from '@huggingface/transformers';
import type { Encoded, Model } from '../tasks/types.ts';
import { ChooseToken, RecordLogprobs, ShapeLogits } from './processors.ts';
import { newRng, type SamplingSettings } from './sampling.ts';
import { TextStream } from './text-stream.ts';

export interface GenerationRequest {
  encoded: Encoded;
  maxNewTokens: number;
  settings: SamplingSettings;
  /** Seed of this generation's draws; ignored when greedy (temperature 0). */
  seed: number;
  stops: string[];
  /** Ids that end generation (the model's eos ids): never part of the text. */
  eosIds: ReadonlySet<number>;
  decode: (ids: number[]) => string;
  /** Record each token's logprob (and this many alternatives when > 0). */
  logprobs: false | number;
}

export interface GeneratedStep {
  /** The token; absent on the closing step that only releases held text. */
  id?: number;
  /** Text that became safe to send with this token (may be ""). */
  text: string;
  /** Raw log-probabilities of the step, when asked for. */
  logprobs?: Float64Array;
}

export interface Generation {
  text: string;
  ids: number[];
  finishReason: 'stop' | 'length';
}

class StopOnText extends StoppingCriteria {
  constructor(private readonly stream: TextStream) {
    super();
  }
  override _call(ids: number[][]): boolean[] {
    return ids.map(() => this.stream.stopped);
  }
}

export async function generate(model: Model, req: GenerationRequest, onStep: (step: GeneratedStep) => void): Promise<Generation> {
  const promptLength = req.encoded.input_ids.dims[1] ?? 0;
  const recorder = new RecordLogprobs();
  const greedy = req.settings.temperature === 0;
  const stream = new TextStream((ids) => req.decode(ids.filter((id) => !req.eosIds.has(id))), req.stops);
  const ids: number[] = [];
  let promptSeen = false;
  const streamer = {
    put(value: bigint[][]) {
      // The streamer is given the prompt first, then one id per step.
      if (!promptSeen) {
        promptSeen = true;
        return;
      }
      const id = Number(value[0]![0]);
      ids.push(id);
      const text = req.eosIds.has(id) ? '' : stream.push(id);
      onStep({ id, text, ...(req.logprobs !== false ? { logprobs: recorder.last } : {}) });
    },
    end() {},
  };
  await model.generate({
    ...req.encoded,
    max_new_tokens: req.maxNewTokens,
    do_sample: false,
    // A model's generation_config may ask for these; OpenAI's settings replace them.
    repetition_penalty: 1,
    no_repeat_ngram_size: 0,
    logits_processor: [
      ...(req.logprobs !== false ? [recorder] : []),
      new ShapeLogits(promptLength, req.settings),
      new ChooseToken(greedy ? null : newRng(req.seed)),
    ],
    stopping_criteria: req.stops.length > 0 ? [new StopOnText(stream)] : [],
    streamer,
  });
  const rest = stream.finish();
  if (rest) onStep({ text: rest });
  const last = ids[ids.length - 1];
  const finishReason = stream.stopped || (last !== undefined && req.eosIds.has(last)) ? 'stop' : 'length';
  return { text: stream.text, ids, finishReason };
}

/** The eos ids `generate` stops at (the model's generation config, else its config). */
export function eosIdsOf(model: Model): Set<number> {
  const m = model as Model & { generation_config?: { eos_token_id?: number | number[] | null } };
  const value = m.generation_config?.eos_token_id ?? (model.config.eos_token_id as number | number[] | undefined);
  return new Set((Array.isArray(value) ? value : value == null ? [] : [value]).map(Number));
}
