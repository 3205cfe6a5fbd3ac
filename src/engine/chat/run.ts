/**
 * A chat completion in the worker: render the conversation with the model's template, then generate each of the
 * `n` choices (together on the model's scheduler, else one by one with generation/generate.ts). Temperature 0 is
 * greedy, so every choice would be the same: it is generated once and repeated. Otherwise choice i draws with seed
 * `seed + i`, so a choice does not depend on how many were asked for or on the others' lengths.
 */
import path from 'node:path';
import { InputError } from '../../core/errors.ts';
import { templateTakesTools, toolFormatOf } from '../../chat/tool-calls.ts';
import { isChatItem, type ChatChoiceOutput, type ChatEvent, type ChatItem, type ChatOutput, type ChatParams, type TokenLogprob } from '../../chat/types.ts';
import { eosIdsOf, generate, type GeneratedStep } from './generate.ts';
import { generateOnScheduler } from '../generation/chat.ts';
import { schedulerFor } from '../generation/index.ts';
import type { SamplingSettings } from './sampling.ts';
import { contextLength } from '../tasks/text-generation.ts';
import type { HandlerContext, Tokenizer } from '../tasks/types.ts';
import { chatTemplateOf, renderChat, type ChatTokenizer } from './template.ts';

/** With no max_tokens, an answer may run to the end of the context, but not past this many tokens. */
const DEFAULT_MAX_TOKENS = 4096;
/** Context assumed when a model's config does not give one. */
const FALLBACK_CONTEXT = 2048;

function modelIdOf(dir: string): string {
  return path.relative(path.dirname(path.dirname(dir)), dir).split(path.sep).join('/');
}

function logprobEntry(tokenizer: Tokenizer, id: number, logprobs: Float64Array, top: number): TokenLogprob {
  const entry = (tid: number) => {
    const token = tokenizer.decode([tid], { skip_special_tokens: false });
    return { token, logprob: logprobs[tid] ?? -Infinity, bytes: [...Buffer.from(token, 'utf8')] };
  };
  const alternatives: number[] = [];
  if (top > 0) {
    const order = Array.from(logprobs.keys()).sort((a, b) => logprobs[b]! - logprobs[a]! || a - b);
    alternatives.push(...order.slice(0, top));
  }
  return { ...entry(id), top_logprobs: alternatives.map(entry) };
}

function promptBudget(ctx: HandlerContext, promptTokens: number, asked: number | undefined): number {
  const context = contextLength(ctx.pipe.model.config, ctx.pipe.tokenizer) ?? FALLBACK_CONTEXT;
  const room = context - promptTokens;
  if (room <= 0) {
    throw new InputError(`This model's maximum context length is ${context} tokens; the messages are ${promptTokens} tokens. Shorten them.`);
  }
  if (asked !== undefined && asked > room) {
    throw new InputError(
      `This model's maximum context length is ${context} tokens; you asked for ${promptTokens + asked} (${promptTokens} in the messages, ${asked} in the completion). Lower max_tokens or shorten the messages.`,
    );
  }
  return asked ?? Math.min(room, DEFAULT_MAX_TOKENS);
}

export async function runChat(ctx: HandlerContext, item: ChatItem, params: ChatParams, emit?: (event: ChatEvent) => void): Promise<ChatOutput> {
  const tokenizer = ctx.pipe.tokenizer as ChatTokenizer;
  const modelId = modelIdOf(ctx.dir);
  const template = chatTemplateOf(tokenizer, ctx.dir, modelId, !!item.tools);
  if (item.tools && !templateTakesTools(template)) {
    throw new InputError(`The chat template of ${modelId} takes no tools; leave "tools" out (or set "tool_choice": "none")`);
  }
  const encoded = renderChat(tokenizer, template, item, modelId);
  const promptTokens = encoded.input_ids.dims[1] ?? 0;
  const maxNewTokens = promptBudget(ctx, promptTokens, params.max_tokens);
  const toolFormat = item.tools ? toolFormatOf(template) : null;
  emit?.({ kind: 'start', promptTokens, toolFormat });

  const vocab = (ctx.pipe.model.config.vocab_size as number | undefined) ?? Number.MAX_SAFE_INTEGER;
  const settings: SamplingSettings = {
    temperature: params.temperature,
    top_p: params.top_p,
    presence_penalty: params.presence_penalty,
    frequency_penalty: params.frequency_penalty,
    logit_bias: new Map(Object.entries(params.logit_bias).map(([id, bias]) => [Number(id), bias] as [number, number]).filter(([id]) => id < vocab)),
  };
  const eosIds = eosIdsOf(ctx.pipe.model);
  const decode = (ids: number[]) => tokenizer.decode(ids, { skip_special_tokens: !params.keep_special });
  const greedy = params.temperature === 0;

  const runs = greedy ? 1 : params.n;
  // On the model's continuous-batching scheduler when it has one (src/engine/generation/chat.ts): the same steps.
  const scheduler = schedulerFor(ctx.pipe, ctx.generation);
  const runChoice = async (index: number): Promise<ChatChoiceOutput> => {
    const logprobs: TokenLogprob[] = [];
    const onStep = (step: GeneratedStep) => {
      const logprob = step.id !== undefined && step.logprobs && !eosIds.has(step.id) ? logprobEntry(tokenizer, step.id, step.logprobs, params.top_logprobs) : undefined;
      if (logprob) logprobs.push(logprob);
      if (step.text || logprob) emit?.({ kind: 'token', choice: index, text: step.text, ...(logprob ? { logprob } : {}) });
    };
    const request = { encoded, maxNewTokens, settings, seed: (params.seed + index) >>> 0, stops: params.stop, eosIds, decode, logprobs: params.logprobs ? params.top_logprobs : false as const };
    const out = scheduler ? await generateOnScheduler(scheduler, request, onStep, ctx.signal) : await generate(ctx.pipe.model, request, onStep);
    return { index, text: out.text, finishReason: out.finishReason, tokens: out.ids.length, ...(params.logprobs ? { logprobs } : {}) };
  };
  const indices = Array.from({ length: runs }, (_, i) => i);
  // On a scheduler the choices share its decoder steps (each with its own seed, so each is what it is alone);
  // transformers.js generate runs them one after the other.
  const choices: ChatChoiceOutput[] = [];
  if (scheduler) choices.push(...(await Promise.all(indices.map(runChoice))));
  else for (const index of indices) choices.push(await runChoice(index));
  // Greedy: the other choices are the first one again (streamed again too, under their own index).
  for (let index = 1; greedy && index < params.n; index++) {
    const first = choices[0]!;
    choices.push({ ...first, index });
    if (emit) {
      let k = 0;
      // Replay the first choice's events: its text in one event per logprob entry, or as one piece.
      if (first.logprobs?.length) for (const lp of first.logprobs) emit({ kind: 'token', choice: index, text: k++ === 0 ? first.text : '', logprob: lp });
      else if (first.text) emit({ kind: 'token', choice: index, text: first.text });
    }
  }
  return { promptTokens, toolFormat, choices };
}

/** The text-generation task's entry for chat items (one conversation per item; a batch never mixes them with prompts). */
export async function runChats(ctx: HandlerContext, inputs: unknown[], params: ChatParams, emit?: (event: ChatEvent) => void): Promise<ChatOutput[]> {
  const answers: ChatOutput[] = [];
  for (const item of inputs) {
    if (!isChatItem(item)) throw new InputError('a batch mixes chat conversations and text prompts');
    answers.push(await runChat(ctx, item, params, emit));
  }
  return answers;
}
