/**
 * Serving dedicated endpoints at `/endpoints/{name}`: the serverless task payloads (`POST /endpoints/{name}`,
 * `.../pipeline/{task}`), `/v1/chat/completions`, `/v1/completions` and `/v1/embeddings`, and `GET .../health` (the `healthRoute` clients
 * probe before they call). Each endpoint checks its own access type and has its own concurrency limit; shared
 * tier limits do not apply.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ModelhostError } from '../../core/errors.ts';
import type { Deployment } from '../../endpoints/deployment.ts';
import { API_KIND_RULES } from '../../endpoints/custom/api-kinds.ts';
import { openUpstream, pipeAnswer } from '../../endpoints/custom/forward.ts';
import { customOf } from '../../endpoints/custom/spec.ts';
import { AuthError, type Principal } from '../../auth/guard.ts';
import { meterBody } from '../../auth/metering.ts';
import { noteUsage, recordCall, type AccessRequest } from '../access.ts';
import { parseJsonObject, withHeaderOptions } from '../body.ts';
import { waitBudgetMs } from '../inference.ts';
import { ResponseCache } from '../cache.ts';
import type { ServerDeps } from '../deps.ts';
import { handleChat } from '../handlers/chat.ts';
import { handleCompletion } from '../handlers/completions.ts';
import { handleEmbeddings } from '../handlers/embeddings.ts';
import { openAiCall } from '../handlers/openai.ts';
import { taskHandlers } from '../handlers/tasks.ts';

const noCache = new ResponseCache(0, 0);

type EndpointRequest = FastifyRequest & { endpointName?: string };

/** The serverless routes' deps, with the endpoint's replicas as the engine and its one model as the repository. */
function endpointDeps(deps: ServerDeps, d: Deployment): ServerDeps {
  const model = () => deps.repository.get(d.activeSpec.model.repository);
  return {
    ...deps,
    repository: { get: (id) => (id === d.activeSpec.model.repository ? model() : undefined), list: () => [model()].filter((m) => m !== undefined) },
    engine: d,
    cache: noCache,
    router: undefined,
    access: undefined,
    // Hugging Face's behaviour: without X-Scale-Up-Timeout (or wait_for_model) a sleeping endpoint answers 503.
    config: { ...deps.config, waitForModelByDefault: false },
  };
}

export function endpointServingRoutes(deps: ServerDeps) {
  const cached = new WeakMap<Deployment, { deps: ServerDeps; handlers: ReturnType<typeof taskHandlers> }>();
  function forDeployment(d: Deployment) {
    let c = cached.get(d);
    if (!c) {
      const epDeps = endpointDeps(deps, d);
      c = { deps: epDeps, handlers: taskHandlers(epDeps) };
      cached.set(d, c);
    }
    return c;
  }

  function find(name: string) {
    const found = deps.endpoints?.serving(name);
    if (!found) throw new ModelhostError('endpoint_not_found', 404, `No endpoint named ${name}. List yours with GET /api/endpoints/{namespace}.`);
    return found;
  }

  /** Public: anyone. Protected: any valid token. Private: only tokens of the endpoint's owner with the endpoints scope. */
  async function checkAccess(request: FastifyRequest, d: Deployment, namespace: string): Promise<Principal | undefined> {
    const access = deps.access;
    if (!access || access.off || d.spec.type === 'public') return undefined;
    if (d.spec.type !== 'private') return access.guard.authenticate(request.headers.authorization, 'inference');
    if (!request.headers.authorization) throw new AuthError(401, `Endpoint ${d.name} is private: send "Authorization: Bearer mh_..." with a token of its owner.`);
    const p = await access.guard.authenticate(request.headers.authorization, 'endpoints');
    if (p.anonymous) throw new AuthError(401, `Endpoint ${d.name} is private: send a modelhost token (mh_...) of its owner.`);
    if (p.owner !== namespace) throw new AuthError(403, `Endpoint ${d.name} is private to its owner; this token belongs to "${p.owner}".`);
    return p;
  }

  async function serve(request: FastifyRequest<{ Params: { name: string; '*'?: string } }>, reply: FastifyReply) {
    const { deployment: d, namespace } = find(request.params.name);
    (request as EndpointRequest).endpointName = d.name;
    const principal = await checkAccess(request, d, namespace);
    const started = performance.now();
    reply.raw.once('close', () => {
      deps.endpoints?.recordRequest(d.name, reply.raw.statusCode, (performance.now() - started) / 1000);
      // Endpoint calls appear in usage and cost like any other (by token, model, provider `endpoint:<name>` or
      // the hosted provider that served a routed endpoint).
      const access = deps.access;
      if (access && !access.off) {
        const used = (request as AccessRequest).callUsage;
        if (used && !d.routed) used.provider = `endpoint:${d.name}`;
        recordCall(access, request as AccessRequest, reply.raw.statusCode, principal ?? { tokenId: null }, meterBody(request.body as Buffer | undefined, request.headers['content-type']));
      }
    });
    const id = d.activeSpec.model.repository;
    const rest = (request.params['*'] ?? '').split('/').filter(Boolean).join('/');
    if (d.routed) return serveRouted(request, reply, d, id, rest);
    if (customOf(d.activeSpec)) return serveCustom(request, reply, d, rest);
    const { deps: epDeps, handlers } = forDeployment(d);
    if (rest === '') return handlers.run(request, reply, id, d.activeSpec.model.task as never);
    if (rest.startsWith('pipeline/')) return handlers.byPath(Object.assign(request, { params: { '*': `${id}/${rest}` } }), reply);
    if (rest === 'v1/completions' || rest === 'v1/embeddings' || rest === 'v1/chat/completions') {
      // The endpoint names its model: a body may leave `model` out or name anything (as with TGI and TEI).
      request.body = Buffer.from(JSON.stringify({ ...parseJsonObject(request.body as Buffer | undefined), model: id }));
      if (rest === 'v1/chat/completions') return handleChat(epDeps, request, reply, id);
      return rest === 'v1/completions' ? handleCompletion(epDeps, request, reply, id) : handleEmbeddings(epDeps, request, reply);
    }
    return reply.code(404).send({ error: `No route ${request.method} /endpoints/${d.name}/${rest}. Use POST /endpoints/${d.name} with the task payload.` });
  }

  /** An endpoint over a hosted provider: the serverless router's path with the endpoint's provider, limit and lifecycle. */
  async function serveRouted(request: FastifyRequest, reply: FastifyReply, d: Deployment, id: string, rest: string) {
    const release = d.admitRouted();
    reply.raw.once('close', release);
    const provider = d.activeSpec.model.provider;
    if (rest === '' || rest.startsWith('pipeline/')) {
      const path = rest === '' ? `${id}/pipeline/${d.activeSpec.model.task}` : `${id}/${rest}`;
      return globalHandlers.byPath(Object.assign(request, { params: { '*': path } }), reply, provider);
    }
    const api = ({ 'v1/chat/completions': 'chat', 'v1/completions': 'completions', 'v1/embeddings': 'embeddings' } as const)[rest];
    if (!api) return reply.code(404).send({ error: `No route ${request.method} /endpoints/${d.name}/${rest}. Use POST /endpoints/${d.name} with the task payload, or /v1/chat/completions.` });
    request.body = Buffer.from(JSON.stringify({ ...parseJsonObject(request.body as Buffer | undefined), model: id }));
    return openAiCall(deps, api, request, reply, provider);
  }
  const globalHandlers = taskHandlers(deps);

  /**
   * An endpoint running a custom server: the call is forwarded to one of its replicas as the API kind allows, with
   * the endpoint's limit and lifecycle (a sleeping one wakes; held with X-Scale-Up-Timeout), and usage with the
   * token counts the answer reports.
   */
  async function serveCustom(request: FastifyRequest, reply: FastifyReply, d: Deployment, rest: string) {
    const custom = customOf(d.activeSpec)!;
    const rules = API_KIND_RULES[custom.api];
    if (!rules.allows(request.method, rest)) {
      throw new ModelhostError('endpoint_not_found', 404, `Endpoint ${d.name} runs a server speaking the ${custom.api} API, which takes ${rules.describe}; not ${request.method} /${rest}.`);
    }
    const release = d.admitRouted();
    reply.raw.once('close', release);
    const usage = { provider: `endpoint:${d.name}`, model: d.activeSpec.model.repository, task: d.activeSpec.model.task, costUsd: 0 };
    noteUsage(request, usage);
    const ctrl = new AbortController();
    reply.raw.once('close', () => reply.raw.writableFinished || ctrl.abort());
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
    const up = await openUpstream(d, {
      method: request.method,
      path: `/${rest}${query}`,
      headers: request.headers,
      body: request.body as Buffer | undefined,
      waitMs: waitBudgetMs(forDeployment(d).deps, withHeaderOptions({}, request.headers), request.headers),
      signal: ctrl.signal,
    });
    // From here the answer is the server's, streamed as it comes (errors before this point are ours, in the API's shape).
    reply.hijack();
    // The app's own headers (CORS, request id) go out with the server's.
    const extra = { ...reply.getHeaders(), 'x-modelhost-endpoint': d.name, 'x-modelhost-provider': `endpoint:${d.name}`, 'x-request-id': request.id };
    await pipeAnswer(up, reply.raw, extra, rules, (t) => noteUsage(request, { ...usage, ...t }));
  }

  return async function routes(app: FastifyInstance) {
    if (!deps.endpoints) return;
    // The task handlers name the engine they ran on ('local'); here that engine is the endpoint's replicas.
    // (A routed endpoint keeps the provider the router chose.)
    app.addHook('onSend', (request, reply, payload, done) => {
      // Read from the request, not its params: the task handlers are given rewritten params.
      const name = (request as EndpointRequest).endpointName;
      if (name) {
        reply.header('x-modelhost-endpoint', name);
        if (!deps.endpoints?.serving(name)?.deployment.routed) reply.header('x-modelhost-provider', `endpoint:${name}`);
      }
      done(null, payload);
    });
    app.post('/endpoints/:name', serve);
    app.post('/endpoints/:name/*', serve);
    // Other methods reach custom servers whose API takes them (raw, GET /v1/models, TGI's /info); others answer 404.
    app.route({ method: ['GET', 'PUT', 'PATCH', 'DELETE'], url: '/endpoints/:name/*', handler: serve });
    app.get<{ Params: { name: string } }>('/endpoints/:name/health', async (request, reply) => {
      const { deployment: d } = find(request.params.name);
      const ready = d.readyReplica > 0;
      return reply.code(ready ? 200 : 503).send(ready ? { status: 'ok', readyReplica: d.readyReplica } : { error: `Endpoint ${d.name} is ${d.lifecycle}: ${d.message}` });
    });
    app.get<{ Params: { name: string } }>('/endpoints/:name/v1/models', async (request, reply) => {
      const { deployment: d, namespace } = find(request.params.name);
      if (customOf(d.activeSpec)) return serve(Object.assign(request, { params: { name: request.params.name, '*': 'v1/models' } }), reply);
      await checkAccess(request, d, namespace);
      return { object: 'list', data: [{ id: d.activeSpec.model.repository, object: 'model', created: 0, owned_by: namespace }] };
    });
  };
}
