/**
 * The dedicated endpoints management API, shaped like Hugging Face's Inference Endpoints v2 API: under
 * `/api/endpoints/{namespace}` and, for clients configured with a v2 base URL, `/v2/endpoint/{namespace}`.
 * Scope `endpoints`; a namespace is the token's owner (tokens with the admin scope reach every namespace).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ModelhostError } from '../../core/errors.ts';
import type { AccessRequest } from '../access.ts';
import type { ServerDeps } from '../deps.ts';
import { parseJsonObject } from '../body.ts';
import { forwardCall } from '../forward.ts';

type Params = { namespace: string; name?: string };

function caller(request: FastifyRequest): { name: string; owner: string; admin: boolean } {
  const p = (request as AccessRequest).principal;
  // No principal: --auth off (a trusted single-user setup), where the local admin acts.
  return p ? { name: p.name, owner: p.owner, admin: p.scopes.includes('admin') } : { name: 'admin', owner: 'admin', admin: true };
}

/** A token manages the endpoints of its owner's namespace; the admin scope manages every namespace. */
function checkNamespace(request: FastifyRequest, namespace: string): { name: string; admin: boolean } {
  const c = caller(request);
  if (c.owner !== namespace && !c.admin) {
    throw new ModelhostError('forbidden', 403, `This token belongs to "${c.owner}" and cannot manage endpoints of "${namespace}" (use /api/endpoints/${c.owner}).`);
  }
  // Whether it is an admin decides which server commands it may start (custom endpoints' allow-list).
  return { name: c.name, admin: c.admin };
}

export function endpointRoutes(deps: ServerDeps) {
  return async function routes(app: FastifyInstance) {
    const manager = deps.endpoints;
    if (!manager) {
      // Another worker of this cluster manages them: its answers, whatever they are, are ours.
      const at = deps.endpointsAt;
      if (at) {
        const forward = (request: FastifyRequest, reply: FastifyReply) => forwardCall(at(), request, reply);
        for (const path of ['/api/endpoints/*', '/v2/endpoint/*', '/endpoints/*', '/api/whoami-v2']) app.all(path, forward);
        return;
      }
      const elsewhere = deps.endpointsElsewhere;
      if (elsewhere) {
        const refuse = async () => {
          throw new ModelhostError('endpoint_unavailable', 503, elsewhere);
        };
        for (const path of ['/api/endpoints/*', '/v2/endpoint/*', '/endpoints/*']) app.all(path, refuse);
      }
      return;
    }

    app.get('/api/whoami-v2', async (request) => {
      const p = deps.access && !deps.access.off ? await deps.access.guard.authenticate(request.headers.authorization, null) : undefined;
      const owner = p?.owner ?? 'admin';
      return { type: 'user', id: owner, name: owner, auth: { accessToken: { displayName: p?.name ?? 'anonymous', role: p?.scopes.includes('admin') ? 'admin' : 'write' } } };
    });

    for (const base of ['/api/endpoints/:namespace', '/v2/endpoint/:namespace']) {
      app.get<{ Params: Params }>(base, async (request) => {
        checkNamespace(request, request.params.namespace);
        return { items: manager.list(request.params.namespace) };
      });
      app.post<{ Params: Params }>(base, async (request, reply) => {
        const who = checkNamespace(request, request.params.namespace);
        const created = await manager.create(request.params.namespace, parseJsonObject(request.body as Buffer | undefined), who);
        return reply.code(200).send(created);
      });
      app.get<{ Params: Params }>(`${base}/:name`, async (request) => {
        checkNamespace(request, request.params.namespace);
        return manager.get(request.params.namespace, request.params.name!);
      });
      app.put<{ Params: Params }>(`${base}/:name`, async (request) => {
        const who = checkNamespace(request, request.params.namespace);
        return manager.update(request.params.namespace, request.params.name!, parseJsonObject(request.body as Buffer | undefined), who);
      });
      app.delete<{ Params: Params }>(`${base}/:name`, async (request, reply) => {
        checkNamespace(request, request.params.namespace);
        await manager.delete(request.params.namespace, request.params.name!);
        return reply.code(200).send({});
      });
      for (const action of ['pause', 'resume', 'scale-to-zero'] as const) {
        app.post<{ Params: Params }>(`${base}/:name/${action}`, async (request) => {
          checkNamespace(request, request.params.namespace);
          const { namespace, name } = request.params;
          if (action === 'pause') return manager.pause(namespace, name!);
          if (action === 'resume') return manager.resume(namespace, name!);
          return manager.scaleToZero(namespace, name!);
        });
      }
      app.get<{ Params: Params; Querystring: { tail?: string } }>(`${base}/:name/logs`, async (request, reply) => {
        checkNamespace(request, request.params.namespace);
        const tail = Number(request.query.tail);
        const lines = manager.logs(request.params.namespace, request.params.name!, Number.isInteger(tail) && tail > 0 ? tail : undefined);
        return reply.type('text/plain; charset=utf-8').send(lines.join('\n') + (lines.length ? '\n' : ''));
      });
      app.get<{ Params: Params }>(`${base}/:name/metrics`, async (request) => {
        checkNamespace(request, request.params.namespace);
        return manager.metrics(request.params.namespace, request.params.name!);
      });
    }
  };
}
