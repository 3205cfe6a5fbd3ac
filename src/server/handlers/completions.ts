/**
 * OpenAI text completions on a local text-generation model, streamed or not. Used by the OpenAI routes (when no
 * provider is asked for), by `/models/{id}/v1/completions` and by dedicated endpoints' `/v1/completions`.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { InputError, reviveError } from '../../core/errors.ts';
import { validate } from '../../core/tasks/index.ts';
import { generationParams, type GenerationOutput } from '../../core/tasks/text-generation.ts';
import { isSeq2SeqTask } from '../../core/tasks/text2text-generation.ts';
import { parseJsonObject, withHeaderOptions } from '../body.ts';
import type { ServerDeps } from '../deps.ts';
import { awaitModel, resolveModel } from '../inference.ts';
import { callerSignal } from '../routed.ts';
import { openSse, type SseStream } from '../sse.ts';
import { noteUsage } from '../access.ts';
import { seq2seqCompletion } from './seq2seq-completion.ts';

export const completionBody = z.object({
  model: z.string().optional(),
  // A list is checked for its length after parsing: inside a union, zod would report only the union's message.
  prompt: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], { error: 'required: a non-empty string' }),
  max_tokens: z.number().int().min(1).max(2048).default(16),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  n: z.literal(1, { error: 'only n = 1 is supported' }).optional(),
  stop: z.union([z.string(), z.array(z.string()).max(16)]).nullish(),
  seed: z.number().int().min(0).optional(),
  stream: z.boolean().default(false),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  echo: z.boolean().default(false),
  // Extra TGI parameters the JS client forwards at the root.
  top_k: z.number().int().min(1).optional(),
  repetition_penalty: z.number().positive().optional(),
  do_sample: z.boolean().optional(),
});

/** Cuts the text at the first stop sequence (OpenAI leaves the stop sequence out). */
export function cutAtStop(text: string, stops: string[]): string {
  const at = Math.min(...stops.map((s) => text.indexOf(s)).filter((i) => i >= 0));
  return Number.isFinite(at) ? text.slice(0, at) : text;
}

/** Length of the longest end of `text` that begins a stop sequence (and may become one with the next token). */
function heldBack(text: string, stops: string[]): number {
  let held = 0;
  for (const stop of stops) {
    for (let n = Math.min(stop.length - 1, text.length); n > held; n--) {
      if (text.endsWith(stop.slice(0, n))) {
        held = n;
        break;
      }
    }
  }
  return held;
}

/** OpenAI text completions on a text-generation model: `/v1/completions` (model in the body) or `/models/{id}/v1/completions`. */
export async function handleCompletion(deps: ServerDeps, request: FastifyRequest, reply: FastifyReply, urlModel?: string) {
  const body = validate(completionBody, parseJsonObject(request.body as Buffer | undefined), 'body');
  if (Array.isArray(body.prompt) && body.prompt.length > 1) {
    throw new InputError(`body.prompt: only one prompt per request is supported (got ${body.prompt.length})`);
  }
  // With endpointUrl the JS client sends the URL itself as `model`; the URL's model wins.
  const id = urlModel ?? body.model;
  if (!id) throw new InputError('body.model: required (the id of a text-generation model, see GET /v1/models)');
  // An encoder-decoder answers completions with its text2text-generation output (the JS client's textGeneration).
  const seq2seq = deps.repository.get(id);
  if (seq2seq && isSeq2SeqTask(seq2seq.pipelineTag)) return seq2seqCompletion(deps, request, reply, seq2seq, body);
  const { model } = resolveModel(deps, id, 'text-generation');
  const stops = body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
  // Sampling only when asked for (temperature > 0 or top_p < 1): deterministic by default.
  const sample = body.do_sample ?? ((body.temperature ?? 0) > 0 || (body.top_p ?? 1) < 1);
  const params = validate(
    generationParams,
    {
      max_new_tokens: body.max_tokens,
      do_sample: sample,
      temperature: sample ? body.temperature : undefined,
      top_p: body.top_p,
      top_k: body.top_k,
      repetition_penalty: body.repetition_penalty,
      seed: body.seed,
      stop: stops,
    },
    'body',
  );
  const prompt = typeof body.prompt === 'string' ? body.prompt : body.prompt[0]!;
  await awaitModel(deps, model, withHeaderOptions({}, request.headers), request.headers);
  const id_ = `cmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  // A caller who leaves stops the generation at its next step (the engine frees its slot in the batch).
  const signal = callerSignal(reply);
  const finish = (o: GenerationOutput) => (o.finishReason === 'length' ? 'length' : 'stop');
  const usage = (o: GenerationOutput) => ({
    prompt_tokens: o.promptTokens,
    completion_tokens: o.tokens.length,
    total_tokens: o.promptTokens + o.tokens.length,
  });

  if (!body.stream) {
    const [out] = (await deps.engine.infer(model, 'text-generation', [prompt], params, undefined, signal)) as GenerationOutput[];
    noteUsage(request, { provider: 'local', model: model.id, task: 'completions', costUsd: 0, inputTokens: out!.promptTokens, outputTokens: out!.tokens.length });
    const text = (body.echo ? prompt : '') + cutAtStop(out!.text, stops);
    return reply.type('application/json; charset=utf-8').send({
      id: id_,
      object: 'text_completion',
      created,
      model: model.id,
      choices: [{ index: 0, text, finish_reason: finish(out!), logprobs: null }],
      usage: usage(out!),
    });
  }

  const chunk = (text: string, finishReason: string | null) => ({
    id: id_,
    object: 'text_completion',
    created,
    model: model.id,
    choices: [{ index: 0, text, finish_reason: finishReason, logprobs: null }],
  });
  // The stream opens with the first token, so that input the model refuses before generating (a prompt longer
  // than its context, say) is still an HTTP error rather than a 200 stream that carries only an error.
  let sse: SseStream | undefined;
  const stream = () => {
    if (!sse) {
      sse = openSse(request, reply);
      if (body.echo) sse.send(chunk(prompt, null));
    }
    return sse;
  };
  // Text is sent as it comes, except what could be the start of a stop sequence (held until it is known not
  // to be) and anything from a stop sequence on: the chunks add up to the non-streamed text.
  let generated = '';
  let sent = 0;
  let stopped = false;
  const flush = (final: boolean) => {
    if (stopped) return;
    const cut = cutAtStop(generated, stops);
    stopped = cut.length < generated.length;
    const safe = stopped || final ? cut : cut.slice(0, cut.length - heldBack(cut, stops));
    if (safe.length > sent) stream().send(chunk(safe.slice(sent), null));
    sent = Math.max(sent, safe.length);
  };
  try {
    const [out] = (await deps.engine.infer(model, 'text-generation', [prompt], params, (event) => {
      generated += (event as { token: { text: string } }).token.text;
      flush(false);
    }, signal)) as GenerationOutput[];
    flush(true);
    noteUsage(request, { provider: 'local', model: model.id, task: 'completions', costUsd: 0, inputTokens: out!.promptTokens, outputTokens: out!.tokens.length });
    const open = stream();
    open.send(chunk('', finish(out!)));
    if (body.stream_options?.include_usage) open.send({ ...chunk('', null), choices: [], usage: usage(out!) });
    open.send('[DONE]');
  } catch (e) {
    if (!sse) throw e;
    const error = reviveError(e);
    sse.send({ error: { message: error.message, type: error.status === 400 ? 'invalid_request_error' : 'server_error', code: error.code } });
  }
  sse?.end();
}
