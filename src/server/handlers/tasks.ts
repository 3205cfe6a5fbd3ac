/**
 * The HF task calls (`/models/{id}`, `/models/{id}/pipeline/{task}`, `/pipeline/{task}/{id}` and the
 * `/models/{id}/v1/...` forms): to the local engine, or through the router when the model is routed or a provider
 * is named. Built over some deps: the serverless routes' and, with an endpoint's deps, a dedicated endpoint's.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InputError, ModelhostError } from '../../core/errors.ts';
import { isTaskId, type TaskId } from '../../core/tasks/index.ts';
import { parseBody, parseJsonObject, withHeaderOptions } from '../body.ts';
import type { ServerDeps } from '../deps.ts';
import { awaitModel, infer, resolveModel, waitBudgetMs } from '../inference.ts';
import { callerSignal, sendRouted } from '../routed.ts';
import { noteUsage } from '../access.ts';
import { checkHostedRequest, modalityOf } from '../../core/tasks/hosted.ts';
import { taskSpec } from '../../core/tasks/index.ts';
import { handleCompletion } from './completions.ts';
import { answerSpeech } from './speech.ts';
import { openAiCall } from './openai.ts';
import { streamGeneration } from './tgi-stream.ts';

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

/** The provider a task call names: the `/{provider}/models/...` path wins over the `x-provider` header. */
function namedProvider(request: FastifyRequest, pathProvider?: string): string | undefined {
  const header = request.headers['x-provider'];
  return pathProvider ?? (typeof header === 'string' && header ? header : undefined);
}

/** The task-call handlers over some deps: the serverless routes' and, with an endpoint's deps, a dedicated endpoint's. */
export function taskHandlers(deps: ServerDeps) {
  /** Whether a task call goes through the router rather than straight to the local engine. */
  function routed(id: string, provider: string | undefined): boolean {
    if (!deps.router || provider === 'local') return false;
    return provider !== undefined || deps.router.isRouted(id);
  }

  async function runRouted(request: FastifyRequest, reply: FastifyReply, id: string, provider: string | undefined, task?: string) {
    const router = deps.router!;
    const local = deps.repository.get(id);
    const chosen = task ?? router.modelEntry(id)?.task ?? local?.pipelineTag;
    if (!chosen) {
      throw new ModelhostError(
        'model_not_found',
        404,
        `Model ${id} is not in the providers file, so its task is unknown. Add it under "models:" with its task, or call /models/${id}/pipeline/<task>.`,
      );
    }
    const parsed = parseBody(request.body as Buffer | undefined, request.headers['content-type'], modalityOf(chosen), id);
    const { inputs, parameters, root } = parsed.request;
    // Checked here, so that a bad request is a 400 before any provider is paid for it.
    if (isTaskId(chosen)) taskSpec(chosen).parse(parsed.request);
    else checkHostedRequest(chosen, inputs, parameters);
    const binary = inputs && typeof inputs === 'object' && 'data' in inputs ? Buffer.from((inputs as { data: Uint8Array }).data) : undefined;
    const options = withHeaderOptions(parsed.options, request.headers);
    return sendRouted(
      router,
      {
        api: 'task',
        model: id,
        task: chosen,
        body: { ...root, inputs: binary ?? inputs, parameters },
        stream: parsed.stream,
        provider,
        requestId: request.id,
        waitForModelMs: waitBudgetMs(deps, options, request.headers),
        signal: callerSignal(reply),
      },
      request,
      reply,
      'tgi',
    );
  }

  async function run(request: FastifyRequest, reply: FastifyReply, id: string, task?: TaskId, pathProvider?: string) {
    const provider = namedProvider(request, pathProvider);
    if (routed(id, provider)) return runRouted(request, reply, id, provider, task);
    reply.header('x-modelhost-provider', 'local');
    // serve --pull: a Hub model that is not here is downloaded first (503 meanwhile, unless the caller waits).
    if (deps.pullOnDemand && !deps.repository.get(id)) await deps.pullOnDemand.ensure(id, waitBudgetMs(deps, withHeaderOptions({}, request.headers), request.headers));
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
    // Speech answers the audio file in the format `Accept` names, not JSON.
    if (spec.id === 'text-to-speech') return answerSpeech(deps, request, reply, model, spec, req, options);
    const result = await infer(deps, model, spec, req, options, request.headers, callerSignal(reply));
    (request as { upstreamMs?: number }).upstreamMs = result.computeMs;
    const localPrice = deps.router?.file.routing.localPricePerSecond ?? 0;
    noteUsage(request, { provider: 'local', model: model.id, task: spec.id, costUsd: (result.computeMs / 1000) * localPrice, computeMs: result.computeMs });
    reply.header('x-cache', result.cached ? 'HIT' : 'MISS');
    if (!result.cached) reply.header('x-compute-time', (result.computeMs / 1000).toFixed(3));
    if (spec.modality === 'text') reply.header('x-compute-characters', String(characters(parsed.request.inputs)));
    return reply.type('application/json; charset=utf-8').send(result.body);
  }

  /** `org/name`, `org/name/pipeline/<task>`, `org/name/v1/completions` (and the doubled `/v1/v1/` old clients build). */
  async function byPath(request: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply, pathProvider?: string) {
    const parts = request.params['*'].split('/').filter(Boolean);
    const id = parts.slice(0, 2).join('/');
    const rest = parts.slice(2).join('/');
    if (rest === '') return run(request, reply, id, undefined, pathProvider);
    if (parts[2] === 'pipeline' && parts.length === 4) {
      const task = parts[3]!;
      const provider = namedProvider(request, pathProvider);
      if (routed(id, provider)) return runRouted(request, reply, id, provider, task);
      if (!isTaskId(task)) throw new ModelhostError('task_not_supported', 400, `Unknown task ${task}`);
      return run(request, reply, id, task, pathProvider);
    }
    if (rest === 'v1/completions' || rest === 'v1/v1/completions') {
      const provider = namedProvider(request, pathProvider);
      if (routed(id, provider)) return openAiCallFor(request, reply, id, 'completions', provider);
      return handleCompletion(deps, request, reply, id);
    }
    if (rest === 'v1/chat/completions') return openAiCallFor(request, reply, id, 'chat', namedProvider(request, pathProvider));
    return reply.code(404).send({ error: `No route ${request.method} ${request.url}. Use POST /models/${id}.` });
  }

  /** `/models/{id}/v1/...`: the model comes from the URL (the JS client's endpointUrl form). */
  function openAiCallFor(request: FastifyRequest, reply: FastifyReply, id: string, api: 'chat' | 'completions', provider?: string) {
    const body = parseJsonObject(request.body as Buffer | undefined);
    request.body = Buffer.from(JSON.stringify({ ...body, model: provider ? `${id}:${provider}` : id }));
    return openAiCall(deps, api, request, reply);
  }

  return { run, byPath };
}
