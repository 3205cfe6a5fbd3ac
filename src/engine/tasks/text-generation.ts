import { LogitsProcessor, StoppingCriteria, random } from '@huggingface/transformers';
import type { GeneratedToken, GenerationOutput } from '../../core/tasks/text-generation.ts';
import type { TaskHandler, TensorLike, Tokenizer } from './types.ts';

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

/** Seeded sampling uses the library's global PRNG, so seeded runs in one worker take turns. */
let samplingTurn: Promise<unknown> = Promise.resolve();

export const textGeneration: TaskHandler = async ({ pipe }, inputs, params, emit) => {
  const outputs: GenerationOutput[] = [];
  for (const prompt of inputs as string[]) {
    const seeded = params.do_sample === true && typeof params.seed === 'number';
    const run = () => generateOne(pipe.tokenizer, pipe.model.generate.bind(pipe.model), prompt, params, emit);
    if (seeded) {
      const turn = samplingTurn.then(() => {
        random.seed(params.seed as number);
        return run();
      });
      samplingTurn = turn.catch(() => undefined);
      outputs.push(await turn);
    } else outputs.push(await run());
  }
  return outputs;
};

async function generateOne(
  tokenizer: Tokenizer,
  generate: (options: Record<string, unknown>) => Promise<TensorLike>,
  prompt: string,
  params: Record<string, unknown>,
  emit?: (event: unknown) => void,
): Promise<GenerationOutput> {
  const encoded = tokenizer(prompt);
  const promptIds = (encoded.input_ids.tolist() as bigint[][])[0]!;
  const recorder = new LogprobRecorder();
  const stops = new StopSequences(tokenizer, promptIds.length, (params.stop as string[]) ?? []);
  const special = new Set(tokenizer.all_special_ids);
  const tokens: GeneratedToken[] = [];
  const newIds: number[] = [];
  let textSoFar = '';
  let promptSeen = false;

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
      const decoded = tokenizer.decode(newIds, { skip_special_tokens: true });
      const token: GeneratedToken = {
        id,
        text: decoded.slice(textSoFar.length),
        logprob: recorder.last[id] ?? 0,
        special: special.has(id),
      };
      textSoFar = decoded;
      tokens.push(token);
      emit?.({ index: tokens.length - 1, token });
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
