import { randomInt } from 'node:crypto';
import { LogitsProcessor, StoppingCriteria, Tensor, random } from '@huggingface/transformers';
import { InputError } from '../../core/errors.ts';
import type { GeneratedToken, GenerationOutput } from '../../core/tasks/text-generation.ts';
import type { Encoded, TaskHandler, TensorLike, Tokenizer } from './types.ts';

/** Keeps the log-probabilities of the last step, after every other processor, to report each token's logprob. */
class LogprobRecorder extends LogitsProcessor {
  last: Float32Array = new Float32Array();
  override _call(_ids: bigint[][], logits: TensorLike): TensorLike {
    const data = logits.data as Float32Array;
    const width = logits.dims[logits.dims.length - 1] ?? data.length;
    const rowData = data.subarray(0, width);
    let max = -Infinity;
    for (const x of rowData) max = Math.max(max, x);
    let sum = 0;
    for (const x of rowData) sum += Math.exp(x - max);
    const logZ = max + Math.log(sum);
    this.last = Float32Array.from(rowData, (x) => x - logZ);
    return logits;
  }
}

/** Stops when the new text contains one of the caller's stop sequences. */
class StopSequences extends StoppingCriteria {
  hit = false;
  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly promptLength: number,
    private readonly stops: string[],
  ) {
    super();
  }
  // transformers.js types ids as number[][]; at run time they are bigints, which decode also takes.
  override _call(ids: number[][]): boolean[] {
    const text = this.tokenizer.decode(ids[0]!.slice(this.promptLength), { skip_special_tokens: true });
    this.hit = this.stops.some((s) => text.includes(s));
    return [this.hit];
  }
}

/**
 * Sampling draws from the library's global PRNG, which every model of this worker shares: sampled runs take
 * turns, each seeding it first (with the caller's seed, else a random one), so that another model sampling at
 * the same time cannot change a seeded answer.
 */
let samplingTurn: Promise<unknown> = Promise.resolve();

/** How many positions (prompt + new tokens) the model has; undefined when its config does not say. */
export function contextLength(config: Record<string, unknown>, tokenizer: Tokenizer): number | undefined {
  for (const key of ['n_positions', 'max_position_embeddings', 'n_ctx', 'seq_length']) {
    const value = config[key];
    if (typeof value === 'number' && value > 0) return value;
  }
  const fromTokenizer = tokenizer.model_max_length;
  // Tokenizers without a limit carry a huge sentinel (1e30 in transformers).
  return typeof fromTokenizer === 'number' && fromTokenizer > 0 && fromTokenizer < 1e9 ? fromTokenizer : undefined;
}

/** The tokenized prompt; TGI's `truncate` keeps only its last `truncate` tokens. */
function encodePrompt(tokenizer: Tokenizer, prompt: string, truncate: unknown): Encoded {
  const encoded = tokenizer(prompt);
  const length = encoded.input_ids.dims[1] ?? 0;
  if (typeof truncate !== 'number' || length <= truncate) return encoded;
  const kept: Record<string, TensorLike> = {};
  for (const [key, t] of Object.entries(encoded)) {
    const type = (t as unknown as { type: 'int64' }).type;
    kept[key] = new Tensor(type, (t.data as BigInt64Array).slice(length - truncate), [1, truncate]) as unknown as TensorLike;
  }
  return kept as Encoded;
}

export const textGeneration: TaskHandler = async ({ pipe }, inputs, params, emit) => {
  const outputs: GenerationOutput[] = [];
  const context = contextLength(pipe.model.config, pipe.tokenizer);
  for (const prompt of inputs as string[]) {
    const encoded = encodePrompt(pipe.tokenizer, prompt, params.truncate);
    const promptTokens = encoded.input_ids.dims[1] ?? 0;
    // Past the model's positions the graph fails mid-generation; refuse up front, as TGI does (422 there).
    const wanted = params.max_new_tokens as number;
    if (context !== undefined && promptTokens + wanted > context) {
      throw new InputError(
        `inputs tokens + max_new_tokens (max_tokens on /v1/completions) must be <= ${context}, this model's context length; given ${promptTokens} inputs tokens and ${wanted} new tokens`,
      );
    }
    const run = () => generateOne(pipe.tokenizer, pipe.model.generate.bind(pipe.model), prompt, encoded, params, emit);
    if (params.do_sample === true) {
      const seed = typeof params.seed === 'number' ? params.seed : randomInt(2 ** 32);
      const turn = samplingTurn.then(() => {
        random.seed(seed);
        return run();
      });
      samplingTurn = turn.catch(() => undefined);
      // Like TGI, details report the seed used, so an unseeded answer can be asked for again.
      outputs.push({ ...(await turn), seed });
    } else outputs.push(await run());
  }
  return outputs;
};

async function generateOne(
  tokenizer: Tokenizer,
  generate: (options: Record<string, unknown>) => Promise<TensorLike>,
  prompt: string,
  encoded: Encoded,
  params: Record<string, unknown>,
  emit?: (event: unknown) => void,
): Promise<GenerationOutput> {
  const promptIds = (encoded.input_ids.tolist() as bigint[][])[0]!;
  const recorder = new LogprobRecorder();
  const stops = new StopSequences(tokenizer, promptIds.length, (params.stop as string[]) ?? []);
  const special = new Set(tokenizer.all_special_ids);
  const tokens: GeneratedToken[] = [];
  const newIds: number[] = [];
  let textSoFar = '';
  let promptSeen = false;

  // Tokens whose text is not known yet: byte-level tokens can end inside a UTF-8 character, which decodes as
  // U+FFFD until the token that completes it arrives. They are reported (with text "") together with that token,
  // which carries the whole character, so token texts always add up to the generated text.
  const pending: GeneratedToken[] = [];
  const release = (text: string) => {
    pending.forEach((token, i) => {
      if (i === pending.length - 1) token.text = text;
      tokens.push(token);
      emit?.({ index: tokens.length - 1, token });
    });
    pending.length = 0;
  };

  // A streamer receives the prompt first, then one id per step; decoding the whole tail each step keeps
  // multi-token characters and word pieces right.
  const streamer = {
    put(value: bigint[][]) {
      if (!promptSeen) {
        promptSeen = true;
        return;
      }
      const id = Number(value[0]![0]);
      newIds.push(id);
      pending.push({ id, text: '', logprob: recorder.last[id] ?? 0, special: special.has(id) });
      const decoded = tokenizer.decode(newIds, { skip_special_tokens: true });
      if (decoded.endsWith('\uFFFD')) return;
      release(decoded.slice(textSoFar.length));
      textSoFar = decoded;
    },
    end() {},
  };

  const sampling = params.do_sample === true;
  await generate({
    ...encoded,
    max_new_tokens: params.max_new_tokens,
    do_sample: sampling,
    ...(sampling && params.temperature !== undefined ? { temperature: params.temperature } : {}),
    ...(sampling && params.top_k !== undefined ? { top_k: params.top_k } : {}),
    ...(sampling && params.top_p !== undefined ? { top_p: params.top_p } : {}),
    ...(params.repetition_penalty !== undefined ? { repetition_penalty: params.repetition_penalty } : {}),
    logits_processor: [recorder],
    stopping_criteria: stops.hit || (params.stop as string[]).length === 0 ? [] : [stops],
    streamer,
  });

  // Generation may end inside a character: the last tokens then carry what the text ends with.
  if (pending.length > 0) {
    const decoded = tokenizer.decode(newIds, { skip_special_tokens: true });
    release(decoded.slice(textSoFar.length));
    textSoFar = decoded;
  }
  const last = newIds[newIds.length - 1];
  const finishReason = stops.hit ? 'stop_sequence' : last !== undefined && last === tokenizer.eos_token_id ? 'eos_token' : 'length';
  return {
    prompt,
    text: textSoFar,
    tokens,
    finishReason,
    promptTokens: promptIds.length,
    ...(typeof params.seed === 'number' ? { seed: params.seed } : {}),
  };
}
