/**
 * Local generation's entry point: one continuous-batching scheduler per loaded decoder model, made on first use.
 *
 * Task handlers tokenize, call `schedulerFor(pipe, ctx.generation)` and then
 * `scheduler.generate(inputIds, settings, onToken, signal)` (text-generation: tasks/text-generation.ts; chat
 * completions: chat.ts, which brings chat's own token chooser); they get undefined for a model the scheduler cannot
 * drive (see decoder.ts) and then use transformers.js `generate` one request at a time.
 *
 * Files: scheduler.ts (the step loop, admission, prefill chunks, cancellation), sequence.ts (one generation),
 * decoder.ts (a batched forward pass on the onnxruntime session), kv.ts (the padded batch cache), sampler.ts
 * (TGI/transformers.js sampling with a per-sequence seeded generator), text.ts (incremental detokenization and stop
 * strings), settings.ts (what a generation asks for).
 */
import type { TaskId } from '../../core/tasks/index.ts';
import type { Pipe } from '../tasks/types.ts';
import { decoderFor, type DecoderSession } from './decoder.ts';
import { GenerationScheduler, type SchedulerOptions, type SchedulerStats } from './scheduler.ts';

export { GenerationScheduler, defaultSchedulerOptions, type SchedulerOptions, type SchedulerStats } from './scheduler.ts';
export { cancelledError, type CancelSignal, type GenerationResult, type OnToken } from './sequence.ts';
export { Sampler, type Pick, type TokenChooser } from './sampler.ts';
export { settingsFromParams, type GenerationSettings } from './settings.ts';
export type { TokenEvent } from './text.ts';

/** What the engine gives a model's scheduler: its bounds and where to report each step. */
export interface GenerationContext {
  options?: Partial<SchedulerOptions>;
  onStats?: (stats: SchedulerStats) => void;
}

/** Tasks whose requests run through a generation scheduler: the engine sends them to the worker at once, concurrently. */
export const GENERATION_TASKS: ReadonlySet<TaskId> = new Set<TaskId>(['text-generation']);

interface GenerativeModel {
  sessions?: Record<string, DecoderSession>;
  config: Record<string, unknown>;
  generation_config?: { eos_token_id?: number | number[] | null };
}

const schedulers = new WeakMap<object, GenerationScheduler | null>();

/** The model's scheduler, or undefined when its graph is not a decoder the scheduler can drive. */
export function schedulerFor(pipe: Pipe, ctx: GenerationContext = {}): GenerationScheduler | undefined {
  const known = schedulers.get(pipe);
  if (known !== undefined) return known ?? undefined;
  const scheduler = createScheduler(pipe, ctx);
  schedulers.set(pipe, scheduler ?? null);
  return scheduler;
}

/** A new scheduler over the pipeline's decoder session (tests and benches compare several settings on one model). */
export function createScheduler(pipe: Pipe, ctx: GenerationContext = {}): GenerationScheduler | undefined {
  const model = pipe.model as unknown as GenerativeModel;
  const session = model.sessions?.model;
  const decoder = session ? decoderFor(session, model.config) : undefined;
  const eos = model.generation_config?.eos_token_id ?? pipe.tokenizer.eos_token_id;
  const eosIds = new Set(eos == null ? [] : Array.isArray(eos) ? eos : [eos]);
  return decoder ? new GenerationScheduler(decoder, pipe.tokenizer, eosIds, ctx.options, ctx.onStats) : undefined;
}

/** The model's generation defaults (its generation_config.json over transformers.js's). */
export function modelDefaults(pipe: Pipe): Record<string, unknown> {
  return ((pipe.model as unknown as { generation_config?: Record<string, unknown> }).generation_config ?? {}) as Record<string, unknown>;
}
