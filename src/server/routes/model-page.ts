/**
 * The model page at `/{org}/{name}`, as on the Hub: for browsers only (Accept: text/html). Other callers get the
 * not-found answer they got before this route existed, pointing at the model info route; the first path
 * segments that belong to this server's own routes (`/models/...`, `/v1/...`, `/api/...`) are never taken.
 */
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../deps.ts';
import { sendPage } from '../../ui/server/assets.ts';
import { baseUrlOf } from '../../ui/server/catalog.ts';
import { modelPage } from '../../ui/server/model-page.ts';

/** First segments of this server's routes: `/{org}/{name}` never shadows them (an org cannot be named so here). */
const RESERVED = new Set(['models', 'v1', 'v2', 'api', 'spaces', 'endpoints', 'admin', 'ui', 'health', 'ready', 'metrics', 'pipeline', 'hf-inference']);

const ID_PART = /^[\w.-]{1,96}$/;

export function modelPageRoutes(deps: ServerDeps) {
  return async function routes(app: FastifyInstance) {
    app.get<{ Params: { org: string; name: string } }>('/:org/:name', async (request, reply) => {
      const { org, name } = request.params;
      if (RESERVED.has(org)) return reply.callNotFound();
      if (!/\btext\/html\b/.test(request.headers.accept ?? '')) {
        return reply.code(404).send({ error: `No route GET /${org}/${name}: the model page is for browsers (Accept: text/html); model info is at GET /api/models/${org}/${name}.` });
      }
      const id = `${org}/${name}`;
      const valid = ID_PART.test(org) && ID_PART.test(name) && !id.includes('..');
      const model = valid ? await modelPage(deps, id, request, baseUrlOf(request)) : undefined;
      if (!model) {
        reply.code(404);
        return sendPage(reply, { title: 'Not found · modelhost', entry: 'web/spaces.tsx', bootstrap: { view: 'missing', id } });
      }
      return sendPage(reply, { title: `${id} · modelhost`, entry: 'web/spaces.tsx', bootstrap: { view: 'model', model } });
    });
  };
}
