/**
 * OpenAI text completions on a local encoder-decoder (T5, BART, Marian): the model's text2text-generation answer
 * as one choice. This is what `@huggingface/inference`'s `textGeneration` calls (`/models/{id}/v1/completions`), so
 * the JS client works against seq2seq models as it does against the Inference API's text2text models.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { InputError } from '../../core/errors.ts';
import type { ModelInfo } from '../../core/model.ts';
import { throwItemErrors } from '../../core/tasks/item-error.ts';
import { taskSpec } from '../../core/tasks/index.ts';
import type { Seq2SeqOutput } from '../../core/tasks/text2text-generation.ts';
import { noteUsage } from '../access.ts';
import { withHeaderOptions } from '../body.ts';
import type { ServerDeps } from '../deps.ts';
import { awaitModel } from '../inference.ts';
import { callerSignal } from '../routed.ts';
import { type completionBody, cutAtStop } from './completions.ts';

export async function seq2seqCompletion(
  deps: ServerDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  model: ModelInfo,
  body: z.output<typeof completionBody>,
) {
  if (body.stream) throw new InputError('body.stream: streaming is not available for encoder-decoder (seq2seq) models; send "stream": false');
  const prompt = typeof body.prompt === 'string' ? body.prompt : body.prompt[0]!;
  const stops = body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
  const sample = body.do_sample ?? (body.temperature ?? 0) > 0;
  const parameters: Record<string, unknown> = { max_new_tokens: body.max_tokens, do_sample: sample };
  if (sample && body.temperature !== undefined) parameters.temperature = body.temperature;
  for (const key of ['top_k', 'top_p', 'seed', 'repetition_penalty'] as const) if (body[key] !== undefined) parameters[key] = body[key];
  const spec = taskSpec('text2text-generation');
  const req = spec.parse({ inputs: prompt, parameters, root: {} });
  await awaitModel(deps, model, withHeaderOptions({}, request.headers), request.headers);
  // A caller who leaves stops the generation (at its next step once every caller sharing the batch has left).
  const outputs = await deps.engine.infer(model, spec.id, req.items, req.params, undefined, callerSignal(reply));
  throwItemErrors(outputs);
  const out = outputs[0] as Seq2SeqOutput;
  noteUsage(request, { provider: 'local', model: model.id, task: 'completions', costUsd: 0, inputTokens: out.inputTokens, outputTokens: out.generatedTokens });
  const text = cutAtStop(out.text, stops);
  return reply.type('application/json; charset=utf-8').send({
    id: `cmpl-${randomUUID()}`,
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: model.id,
    choices: [{ index: 0, text: (body.echo ? prompt : '') + text, finish_reason: out.finishReason === 'length' && text === out.text ? 'length' : 'stop', logprobs: null }],
    usage: { prompt_tokens: out.inputTokens, completion_tokens: out.generatedTokens, total_tokens: out.inputTokens + out.generatedTokens },
  });
}
