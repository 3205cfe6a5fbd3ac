/**
 * Spaces: a page per model at `/spaces/{org}/{name}`, generated from its task, and a gallery at `/spaces`.
 * The pages are the built front-end in src/ui (see src/ui/server/assets.ts); this file gives each page its
 * bootstrap data and serves the card's example files.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../deps.ts';
import { registerAssets, sendPage } from '../../ui/server/assets.ts';
import { baseUrlOf, findSpace, listSpaces } from '../../ui/server/catalog.ts';
import type { RequestLog } from '../../ui/server/request-log.ts';
import { MEDIA_TYPES } from '../../core/media.ts';

export function spacesRoutes(deps: ServerDeps, log?: RequestLog) {
  return async function routes(app: FastifyInstance) {
    registerAssets(app);

    const gallery = (baseUrl: string) =>
      listSpaces(deps, baseUrl).map((s) => ({ ...s, latency: log?.modelLatency(s.id) ?? null }));

    app.get('/spaces', async (request, reply) =>
      sendPage(reply, { title: 'Spaces · modelhost', entry: 'web/spaces.tsx', bootstrap: { view: 'gallery', spaces: gallery(baseUrlOf(request)) } }),
    );
    app.get('/spaces/', async (_request, reply) => reply.redirect('/spaces'));

    app.get<{ Params: { org: string; name: string }; Querystring: { embed?: string } }>('/spaces/:org/:name', async (request, reply) => {
      const id = `${request.params.org}/${request.params.name}`;
      const space = findSpace(deps, id, baseUrlOf(request));
      if (!space) {
        reply.code(404);
        return sendPage(reply, { title: 'Not found · modelhost', entry: 'web/spaces.tsx', bootstrap: { view: 'missing', id } });
      }
      const embed = request.query.embed === '1';
      return sendPage(reply, { title: `${id} · Spaces · modelhost`, entry: 'web/spaces.tsx', bootstrap: { view: 'space', space, embed }, frameable: embed });
    });

    // Image and audio files of a model folder, for the card's `widget: - src: <file>` examples.
    app.get<{ Params: { org: string; name: string; '*': string } }>('/spaces/:org/:name/resolve/*', async (request, reply) => {
      const model = deps.repository.get(`${request.params.org}/${request.params.name}`);
      const rel = request.params['*'];
      const type = MEDIA_TYPES[path.extname(rel).toLowerCase()];
      if (!model || !type || !model.files.includes(rel)) return reply.code(404).send({ error: `No example file ${rel}` });
      const file = path.join(model.dir, rel);
      if (!existsSync(file)) return reply.code(404).send({ error: `No example file ${rel}` });
      return reply.type(type).send(readFileSync(file));
    });
  };
}
