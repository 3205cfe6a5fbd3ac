/**
 * OpenAI chat completions on a local text-generation model with a chat template, streamed or not. Used by
 * `/v1/chat/completions` (when no provider is asked for), `/models/{id}/v1/chat/completions` and dedicated
 * endpoints' `/v1/chat/completions`. The body is checked in src/chat/request.ts; the conversation is rendered and
 * generated in the model's worker (src/engine/chat); this module only turns the outcome into OpenAI's answers.
 */
import { randomInt, randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InputError, reviveError } from '../../core/errors.ts';
import { parseChatRequest } from '../../chat/request.ts';
import { ChoiceStream, completionBody, usageOf, type AnswerIds } from '../../chat/response.ts';
import type { ChatEvent, ChatOutput, ChatParams, TokenLogprob } from '../../chat/types.ts';
import type { ToolCall, ToolFormat } from '../../chat/tool-calls.ts';
import { noteUsage } from '../access.ts';
import { parseJsonObject, withHeaderOptions } from '../body.ts';
import type { ServerDeps } from '../deps.ts';
import { awaitModel, resolveModel } from '../inference.ts';
import { callerSignal } from '../routed.ts';
import { openSse, type SseStream } from '../sse.ts';

export async function handleChat(deps: ServerDeps, request: FastifyRequest, reply: FastifyReply, urlModel?: string) {
  const chat = parseChatRequest(parseJsonObject(request.body as Buffer | undefined));
  const id = urlModel ?? chat.model;
  if (!id) throw new InputError('body.model: required (the id of a text-generation model with a chat template, see GET /v1/models)');
  const { model } = resolveModel(deps, id, 'text-generation');
  await awaitModel(deps, model, withHeaderOptions({}, request.headers), request.headers);
  // Without a seed, one is drawn here: the worker is then deterministic, and x-modelhost-seed lets a caller repeat it.
  const params: ChatParams = { ...chat.params, seed: chat.params.seed ?? randomInt(2 ** 32) };
  reply.header('x-modelhost-seed', String(params.seed));
  const ids: AnswerIds = { id: `chatcmpl-${randomUUID()}`, created: Math.floor(Date.now() / 1000), model: model.id };
  const note = (out: ChatOutput) => {
    const usage = usageOf(out);
    noteUsage(request, { provider: 'local', model: model.id, task: 'chat', costUsd: 0, inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens });
  };

  // A caller who leaves (closed connection, aborted stream) stops the generation at its next step.
  const signal = callerSignal(reply);
  if (!chat.stream) {
    const [out] = (await deps.engine.infer(model, 'text-generation', [chat.item], params as unknown as Record<string, unknown>, undefined, signal)) as ChatOutput[];
    note(out!);
    return reply.type('application/json; charset=utf-8').send(completionBody(ids, out!, chat.toolsActive));
  }

  const chunk = (choices: unknown[]) => ({
    id: ids.id,
    object: 'chat.completion.chunk',
    created: ids.created,
    model: model.id,
    system_fingerprint: null,
    choices,
    ...(chat.includeUsage ? { usage: null } : {}),
  });
  const delta = (index: number, d: Record<string, unknown>, logprobs: TokenLogprob[] | null, finish: string | null = null) => ({
    index,
    delta: d,
    logprobs: logprobs && logprobs.length > 0 ? { content: logprobs, refusal: null } : null,
    finish_reason: finish,
  });
  // The stream opens with the first event from the worker (the rendered prompt), so that what the model refuses
  // before generating (no template, a prompt past its context) is still an HTTP error, not a 200 stream.
  let sse: SseStream | undefined;
  let toolFormat: ToolFormat | null = null;
  const choices = new Map<number, ChoiceStream>();
  const choice = (index: number) => {
    let c = choices.get(index);
    if (!c) {
      c = new ChoiceStream(chat.toolsActive ? toolFormat : null);
      choices.set(index, c);
    }
    if (!c.started) {
      c.started = true;
      sse!.send(chunk([delta(index, { role: 'assistant', content: '' }, null)]));
    }
    return c;
  };
  const onEvent = (event: unknown) => {
    const e = event as ChatEvent;
    if (e.kind === 'start') {
      sse = openSse(request, reply, { 'x-modelhost-seed': String(params.seed) });
      toolFormat = e.toolFormat;
      return;
    }
    const { content, logprobs } = choice(e.choice).push(e.text, e.logprob);
    if (content || logprobs.length > 0) sse!.send(chunk([delta(e.choice, { content }, chat.params.logprobs ? logprobs : null)]));
  };
  try {
    const [out] = (await deps.engine.infer(model, 'text-generation', [chat.item], params as unknown as Record<string, unknown>, onEvent, signal)) as ChatOutput[];
    note(out!);
    sse ??= openSse(request, reply);
    for (const c of out!.choices) {
      const end = choice(c.index).finish(c.finishReason);
      if (end.content) sse.send(chunk([delta(c.index, { content: end.content }, chat.params.logprobs ? end.logprobs : null)]));
      if (end.toolCalls.length > 0) sse.send(chunk([delta(c.index, { tool_calls: end.toolCalls.map((t: ToolCall, k) => ({ index: k, ...t })) }, null)]));
      sse.send(chunk([delta(c.index, {}, null, end.finishReason)]));
    }
    if (chat.includeUsage) sse.send({ ...chunk([]), usage: usageOf(out!) });
    sse.send('[DONE]');
  } catch (e) {
    if (!sse) throw e;
    const error = reviveError(e);
    // A failure of the model itself is logged by the engine; its text (library internals) is not shown.
    const message = error.status < 500 ? error.message : 'Internal error while running the model';
    sse.send({ error: { message, type: error.status < 500 ? 'invalid_request_error' : 'server_error', code: error.code } });
  }
  sse?.end();
}
