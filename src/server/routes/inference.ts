import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InputError, ModelhostError, reviveError } from '../../core/errors.ts';
import { isTaskId, type TaskId } from '../../core/tasks/index.ts';
import type { GenerationOutput } from '../../core/tasks/text-generation.ts';
import { parseBody, withHeaderOptions } from '../body.ts';
import type { ServerDeps } from '../deps.ts';
import { awaitModel, infer, resolveModel } from '../inference.ts';
import { openSse, type SseStream } from '../sse.ts';
import { handleCompletion } from './completions.ts';

/** Input size reported as `x-compute-characters` for text tasks, as the legacy API did. */
function characters(inputs: unknown): number {
  if (typeof inputs === 'string') return inputs.length;
  if (Array.isArray(inputs)) return inputs.reduce((n: number, x) => n + characters(x), 0);
  if (inputs && typeof inputs === 'object') return Object.values(inputs).reduce((n: number, x) => n + characters(x), 0);
  return 0;
}

function isSimilarityInput(inputs: unknown): boolean {
  return !!inputs && typeof inputs === 'object' && 'source_sentence' in inputs;
}

export function inferenceRoutes(deps: ServerDeps) {
  async function run(request: FastifyRequest, reply: FastifyReply, id: string, task?: TaskId) {
    let { model, spec } = resolveModel(deps, id, task);
    const parsed = parseBody(request.body as Buffer | undefined, request.headers['content-type'], spec.modality, model.id);
    // An embedding model also answers sentence-similarity: its input shape says which one the caller wants.
    if (!task && spec.id === 'feature-extraction' && isSimilarityInput(parsed.request.inputs)) {
      ({ model, spec } = resolveModel(deps, id, 'sentence-similarity'));
    }
    const options = withHeaderOptions(parsed.options, request.headers);
    const req = spec.parse(parsed.request);
    if (parsed.stream) {
      if (spec.id !== 'text-generation') throw new InputError(`"stream" is only available for text-generation, not ${spec.id}`);
      await awaitModel(deps, model, options, request.headers);
      return streamGeneration(request, reply, deps, model.id, req.items, req.params);
    }
    const result = await infer(deps, model, spec, req, options, request.headers);
    reply.header('x-cache', result.cached ? 'HIT' : 'MISS');
    if (!result.cached) reply.header('x-compute-time', (result.computeMs / 1000).toFixed(3));
    if (spec.modality === 'text') reply.header('x-compute-characters', String(characters(parsed.request.inputs)));
    return reply.type('application/json; charset=utf-8').send(result.body);
  }

  /** `org/name`, `org/name/pipeline/<task>`, `org/name/v1/completions` (and the doubled `/v1/v1/` old clients build). */
  async function byPath(request: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply) {
    const parts = request.params['*'].split('/').filter(Boolean);
    const id = parts.slice(0, 2).join('/');
    const rest = parts.slice(2).join('/');
    if (rest === '') return run(request, reply, id);
    if (parts[2] === 'pipeline' && parts.length === 4) {
      const task = parts[3]!;
      if (!isTaskId(task)) throw new ModelhostError('task_not_supported', 400, `Unknown task ${task}`);
      return run(request, reply, id, task);
    }
    if (rest === 'v1/completions' || rest === 'v1/v1/completions') return handleCompletion(deps, request, reply, id);
    return reply.code(404).send({ error: `No route ${request.method} ${request.url}. Use POST /models/${id}.` });
  }

  return async function routes(app: FastifyInstance) {
    app.post('/models/*', byPath);
    app.post('/hf-inference/models/*', byPath);
    app.post<{ Params: { task: string; '*': string } }>('/pipeline/:task/*', async (request, reply) => {
      const { task } = request.params;
      if (!isTaskId(task)) throw new ModelhostError('task_not_supported', 400, `Unknown task ${task}`);
      return run(request, reply, request.params['*'], task);
    });
  };
}

/**
 * TGI's stream: one `data:` event per token with `generated_text: null`; the last token's event carries the
 * whole text (and `details` when asked). No `[DONE]`. The stream opens with the first token, so an input the
 * model refuses is still a plain 4xx JSON answer; a failure after that arrives as an event with `error` and
 * `error_type`.
 */
async function streamGeneration(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: ServerDeps,
  modelId: string,
  items: unknown[],
  params: Record<string, unknown>,
) {
  const model = deps.repository.get(modelId)!;
  let sse: SseStream | undefined;
  let held: Record<string, unknown> | undefined;
  try {
    const [output] = (await deps.engine.infer(model, 'text-generation', items, params, (event) => {
      sse ??= openSse(request, reply);
      if (held) sse.send(held);
      held = { ...(event as object), generated_text: null, details: null };
    })) as GenerationOutput[];
    sse ??= openSse(request, reply);
    const full = (params.return_full_text ? output!.prompt : '') + output!.text;
    const details = params.details
      ? { finish_reason: output!.finishReason, generated_tokens: output!.tokens.length, seed: output!.seed ?? null, input_length: output!.promptTokens }
      : null;
    sse.send({ ...(held ?? { index: 0, token: null }), generated_text: full, details });
  } catch (e) {
    if (!sse) throw e;
    const error = reviveError(e);
    sse.send({ error: error.message, error_type: error.status < 500 ? 'validation' : 'generation' });
  }
  sse.end();
}
