/**
 * One OpenAI call (chat, completions, embeddings): to the local engine's handlers when the model is local and no
 * provider is asked for, else through the router. Shared by the OpenAI routes, the `/models/{id}/v1/...` form
 * and routed dedicated endpoints.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InputError, ModelhostError } from '../../core/errors.ts';
import type { CallApi } from '../../core/providers.ts';
import { parseJsonObject } from '../body.ts';
import type { ServerDeps } from '../deps.ts';
import { callerSignal, sendRouted, splitModelSuffix } from '../routed.ts';
import { handleChat } from './chat.ts';
import { handleCompletion } from './completions.ts';
import { handleEmbeddings } from './embeddings.ts';

const taskOfApi: Record<Exclude<CallApi, 'task'>, string> = {
  chat: 'conversational',
  completions: 'text-generation',
  embeddings: 'feature-extraction',
};

/** What each OpenAI API needs before a call may leave; the provider checks the rest. */
function checkOpenAiBody(api: CallApi, body: Record<string, unknown>) {
  if (api === 'chat' && (!Array.isArray(body.messages) || body.messages.length === 0)) {
    throw new InputError('body.messages: required, a non-empty list of {role, content}');
  }
  if (api === 'completions' && (body.prompt === undefined || body.prompt === '')) throw new InputError('body.prompt: required');
  if (api === 'embeddings' && (body.input === undefined || body.input === '')) throw new InputError('body.input: required');
  if (body.stream !== undefined && typeof body.stream !== 'boolean') throw new InputError('body.stream: must be true or false');
}

/**
 * An OpenAI call: to the local engine's own handlers when the model is local and no provider is asked for,
 * else through the router.
 */
export async function openAiCall(deps: ServerDeps, api: Exclude<CallApi, 'task'>, request: FastifyRequest, reply: FastifyReply, pathProvider?: string) {
  const body = parseJsonObject(request.body as Buffer | undefined);
  if (typeof body.model !== 'string' || body.model === '') {
    throw new InputError('body.model: required: a model id, optionally with :<provider>, :fastest or :cheapest (see GET /v1/models)');
  }
  const { model, provider: suffixProvider, policy } = splitModelSuffix(body.model);
  const provider = pathProvider ?? suffixProvider ?? (request.headers['x-provider'] as string | undefined);
  const router = deps.router;
  const local = provider === 'local' || (!provider && !policy && !router?.isRouted(model));
  if (local) {
    reply.header('x-modelhost-provider', 'local');
    if (body.model !== model) request.body = Buffer.from(JSON.stringify({ ...body, model }));
    if (api === 'chat') return handleChat(deps, request, reply);
    return api === 'completions' ? handleCompletion(deps, request, reply) : handleEmbeddings(deps, request, reply);
  }
  if (!router) throw new ModelhostError('task_not_supported', 404, `No provider serves ${model}: this server has no providers file (README: Router).`);
  checkOpenAiBody(api, body);
  return sendRouted(
    router,
    {
      api,
      model,
      task: taskOfApi[api],
      body,
      stream: api !== 'embeddings' && body.stream === true,
      provider,
      policy,
      requestId: request.id,
      signal: callerSignal(reply),
    },
    request,
    reply,
    'openai',
  );
}
