import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HubRepoInfo, ModelInfo } from '../../core/model.ts';
import { CLIENT_METHODS, catalogEntry } from '../../core/tasks/catalog.ts';
import { allTaskSpecs, validate } from '../../core/tasks/index.ts';
import { maySee } from '../../hub/access.ts';
import { siblings } from '../../hub/entries.ts';
import { hubErrorHeaders, repoNotFound, revisionNotFound } from '../../hub/errors.ts';
import { checkRepoId, checkRevision } from '../../hub/paths.ts';
import type { RepoSnapshot } from '../../hub/snapshot.ts';
import type { AccessRequest } from '../access.ts';
import type { ServerDeps } from '../deps.ts';
import { sendError } from '../errors.ts';
import { modelTasks } from '../inference.ts';
import { modelWays } from '../ways.ts';

const listQuery = z.object({
  pipeline_tag: z.string().optional(),
  library: z.string().optional(),
  search: z.string().optional(),
  filter: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

/** `blobs=true` adds sizes, blob ids and LFS details to `siblings`; `expand` is accepted and every field is sent. */
const infoQuery = z.object({ blobs: z.enum(['true', 'false', '1', '0', '']).optional() });

function summary(model: ModelInfo, deps: ServerDeps) {
  const [author] = model.id.split('/');
  return {
    _id: model.id,
    id: model.id,
    modelId: model.id,
    author,
    private: model.private ?? false,
    pipeline_tag: model.pipelineTag,
    library_name: model.libraryName,
    tags: model.tags,
    downloads: 0,
    likes: 0,
    // "warm" as on the Hub: loaded and answering without a cold start.
    ...(deps.engine.state(model.id) === 'ready' ? { inference: 'warm' } : {}),
  };
}

/**
 * Where the JS client may send a routed model: `hf-inference` (this server's task routes, where the router's
 * policy picks the provider) and, for chat and text generation, every OpenAI-compatible provider by its name
 * (the client posts to `/{provider}/v1/chat/completions`, which this server serves). Other provider types are
 * left out: the client would speak their native APIs, which this server does not.
 */
function providerMapping(deps: ServerDeps, id: string, task: string, providers: string[]) {
  const mapping: Record<string, { status: string; providerId: string; task: string }> = {
    'hf-inference': { status: 'live', providerId: id, task },
  };
  if (task === 'conversational' || task === 'text-generation') {
    for (const name of providers) {
      if (deps.router?.adapters.get(name)?.type === 'openai-compatible') mapping[name] = { status: 'live', providerId: id, task };
    }
  }
  return mapping;
}

/** Whether the caller may see `repo` (a private one needs an inference token; src/hub/access.ts). */
function visible(deps: ServerDeps, request: FastifyRequest, repo: Pick<HubRepoInfo, 'private'>): Promise<boolean> {
  return maySee(repo, { authorization: request.headers.authorization, principal: (request as AccessRequest).principal }, deps.access);
}

/**
 * What the Hub's model info adds for download clients (shared/docs/hub-protocol.md 2.1): the commit `sha` the
 * files are served at (snapshotDownload and snapshot_download need it), `siblings` (with `blobs=true`, sizes
 * and LFS details), dates, and the access fields hfd and huggingface_hub read.
 */
function repoFields(repo: HubRepoInfo, snapshot: RepoSnapshot, blobs: boolean) {
  const date = snapshot.lastModified.toISOString();
  return { sha: snapshot.commit, lastModified: date, createdAt: date, private: repo.private ?? false, gated: false, disabled: false, siblings: siblings(snapshot, blobs) };
}

/** Model info of a local model or a cached repository that cannot run, at `snapshot`. */
function detail(deps: ServerDeps, repo: HubRepoInfo, snapshot: RepoSnapshot | undefined, blobs: boolean) {
  const model = deps.repository.get(repo.id);
  const hub = snapshot ? repoFields(repo, snapshot, blobs) : { siblings: repo.files.map((rfilename) => ({ rfilename })) };
  if (!model) {
    const reason = 'reason' in repo ? String(repo.reason) : 'not a model this server runs';
    const ways = modelWays(deps, { id: repo.id, repo, unrunnable: reason }, deps.config.publicUrl);
    return { _id: repo.id, id: repo.id, modelId: repo.id, author: repo.id.split('/')[0], tags: [], downloads: 0, likes: 0, cardData: {}, ...hub, modelhost: { runnable: false, reason, ...ways } };
  }
  return {
    ...summary(model, deps),
    ...hub,
    cardData: { license: model.license, pipeline_tag: model.pipelineTag, library_name: model.libraryName, tags: model.tags },
    config: model.config ? { model_type: model.config.model_type, architectures: model.config.architectures } : undefined,
    usedStorage: model.sizeBytes,
    // What the JS client asks for (`?expand[]=inferenceProviderMapping`) before calling a model without an
    // endpointUrl: here every model is served by this server's hf-inference routes.
    inferenceProviderMapping: { 'hf-inference': { status: 'live', providerId: model.id, task: model.pipelineTag } },
    modelhost: { runtime: model.runtime, state: deps.engine.state(model.id), tasks: modelTasks(model), ...modelWays(deps, { id: model.id, model, repo, routed: deps.router?.modelEntry(model.id) }, deps.config.publicUrl) },
  };
}

const isTrue = (v: string | undefined) => v === 'true' || v === '1';

export function hubRoutes(deps: ServerDeps) {
  return async function routes(app: FastifyInstance) {
    // Hub errors carry X-Error-Code / X-Error-Message (what download clients read); the body is written as for any route.
    app.setErrorHandler((error, request, reply) => sendError(error, request, reply.headers(hubErrorHeaders(error))));

    app.get('/api/models', async (request) => {
      const q = validate(listQuery, request.query, 'query');
      const search = q.search?.toLowerCase();
      // Private models are left out for callers who may not see them (one token check, only if there are any).
      const hidden = deps.repository.list().some((m) => m.private) && !(await visible(deps, request, { private: true }));
      const models = deps.repository
        .list()
        .filter((m) => !(hidden && m.private))
        .filter((m) => !q.pipeline_tag || m.pipelineTag === q.pipeline_tag || modelTasks(m).includes(q.pipeline_tag as never))
        .filter((m) => !q.library || m.libraryName === q.library)
        .filter((m) => !q.filter || m.tags.includes(q.filter))
        .filter((m) => !search || m.id.toLowerCase().includes(search));
      return models.slice(0, q.limit ?? models.length).map((m) => summary(m, deps));
    });

    // Every task the engine serves, what it takes and answers (the catalogue README.md's table is written from),
    // and the public local models that serve it.
    app.get('/api/tasks', async () => {
      const models = deps.repository.list().filter((m) => !m.private);
      return Object.fromEntries(
        allTaskSpecs().map((spec) => {
          const entry = catalogEntry(spec.id);
          const served = models.filter((m) => modelTasks(m).includes(spec.id)).map((m) => m.id);
          const info = { id: spec.id, modality: spec.modality, inputs: entry?.inputs ?? `${spec.modality}`, parameters: entry?.parameters ?? '', answer: entry?.answer ?? '' };
          return [spec.id, { ...info, client: CLIENT_METHODS[spec.id] ?? null, batchable: spec.batchable, models: served }];
        }),
      );
    });

    app.get<{ Params: { '*': string } }>('/api/models/*', async (request) => {
      const id = request.params['*'].replace(/\/+$/, '');
      const repo = deps.hub?.find(id) ?? deps.repository.get(id);
      const routed = deps.router?.modelEntry(id);
      if (!repo && routed) {
        // A model served by hosted providers: the JS client is told to use this server's hf-inference routes,
        // where the router takes over.
        return {
          _id: id,
          id,
          modelId: id,
          author: id.split('/')[0],
          private: false,
          pipeline_tag: routed.task,
          tags: [],
          inferenceProviderMapping: providerMapping(deps, id, routed.task, routed.providers.map((p) => p.provider)),
          modelhost: { providers: routed.providers.map((p) => p.provider), ...modelWays(deps, { id, routed }, deps.config.publicUrl) },
        };
      }
      // Unknown and private-without-access look alike; 404 here as this route always answered (the file API: 401).
      if (!repo || !(await visible(deps, request, repo))) throw repoNotFound(id, 404);
      const { blobs } = validate(infoQuery, request.query, 'query');
      return detail(deps, repo, await deps.hub?.at(repo, 'main'), isTrue(blobs));
    });

    // Model info at a branch or commit (`@huggingface/hub` asks for revision HEAD; snapshot_download for main).
    app.get<{ Params: { org: string; name: string; rev: string } }>('/api/models/:org/:name/revision/:rev', async (request) => {
      const id = checkRepoId(request.params.org, request.params.name);
      const revision = checkRevision(request.params.rev);
      const { blobs } = validate(infoQuery, request.query, 'query');
      const repo = deps.hub?.find(id);
      if (!repo || !(await visible(deps, request, repo))) throw repoNotFound(id);
      const snapshot = await deps.hub?.at(repo, revision);
      if (!snapshot) throw revisionNotFound(id, revision);
      return detail(deps, repo, snapshot, isTrue(blobs));
    });
  };
}
