/**
 * Chat completions on the scheduler: the same contract as src/engine/chat/generate.ts (`generate`, one choice on
 * transformers.js `generate`), with the choice's tokens chosen by chat's own sampling functions (OpenAI settings,
 * its seeded generator) inside the continuously batched steps. The chat layer calls this when the model has a
 * scheduler, so concurrent chats share decoder steps and a caller who leaves frees its slot.
 */
import { argmax, logSoftmax, newRng, sampleToken, shapeLogits, type Rng, type SamplingSettings } from '../chat/sampling.ts';
import type { GeneratedStep, Generation, GenerationRequest } from '../chat/generate.ts';
import { TextStream } from '../chat/text-stream.ts';
import type { Pick, TokenChooser } from './sampler.ts';
import type { GenerationScheduler } from './scheduler.ts';
import type { CancelSignal } from './sequence.ts';
import { settingsFromParams } from './settings.ts';

/** Chat's token choice: raw logprobs recorded first, then bias, penalties, temperature and top_p, then arg-max or a draw. */
class ChatChooser implements TokenChooser {
  /** Each generated token's raw log-probabilities (when asked for), by token index. */
  readonly logprobs: Float64Array[] = [];
  private readonly generated: number[] = [];

  constructor(
    private readonly settings: SamplingSettings,
    private readonly rng: Rng | null,
    private readonly record: boolean,
  ) {}

  next(row: Float32Array): Pick {
    const raw = this.record ? logSoftmax(row) : undefined;
    if (raw) this.logprobs.push(raw);
    shapeLogits(row, this.generated, this.settings);
    const id = this.rng ? sampleToken(row, this.rng) : argmax(row);
    this.generated.push(id);
    return { id, logprob: raw?.[id] ?? 0 };
  }
}

/** One chat choice through the model's scheduler; `onStep` is called as in chat's `generate`. */
export async function generateOnScheduler(
  scheduler: GenerationScheduler,
  req: GenerationRequest,
  onStep: (step: GeneratedStep) => void,
  signal?: CancelSignal,
): Promise<Generation> {
  const greedy = req.settings.temperature === 0;
  const chooser = new ChatChooser(req.settings, greedy ? null : newRng(req.seed), req.logprobs !== false);
  const stream = new TextStream((ids) => req.decode(ids.filter((id) => !req.eosIds.has(id))), req.stops);
  const ids: number[] = [];
  const promptIds = Array.from(req.encoded.input_ids.data as BigInt64Array, Number);
  // Only the length and stop fields of the settings are used: the chooser replaces the TGI sampler.
  const settings = settingsFromParams({ max_new_tokens: req.maxNewTokens }, {}, req.seed);
  await scheduler.generate(
    promptIds,
    settings,
    ({ id }, index) => {
      ids.push(id);
      const text = req.eosIds.has(id) ? '' : stream.push(id);
      const logprobs = chooser.logprobs[index];
      onStep({ id, text, ...(logprobs ? { logprobs } : {}) });
      // A stop sequence in the text ends the choice here, as chat's StopOnText criterion does.
      return stream.stopped;
    },
    signal,
    chooser,
  );
  const rest = stream.finish();
  if (rest) onStep({ text: rest });
  const last = ids[ids.length - 1];
  const finishReason = stream.stopped || (last !== undefined && req.eosIds.has(last)) ? 'stop' : 'length';
  return { text: stream.text, ids, finishReason };
}
