import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ModelNotFoundError } from '../../core/errors.ts';
import type { ModelInfo } from '../../core/model.ts';
import { validate } from '../../core/tasks/index.ts';
import type { ServerDeps } from '../deps.ts';
import { modelTasks } from '../inference.ts';

const listQuery = z.object({
  pipeline_tag: z.string().optional(),
  library: z.string().optional(),
  search: z.string().optional(),
  filter: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

/** Example input per task, for the usage snippets. */
function exampleBody(model: ModelInfo): string {
  switch (model.pipelineTag) {
    case 'question-answering':
      return '{"inputs": {"question": "Where do I live?", "context": "My name is Sarah and I live in London."}}';
    case 'sentence-similarity':
      return '{"inputs": {"source_sentence": "That is a happy person", "sentences": ["That is a happy dog", "Today is a sunny day"]}}';
    case 'zero-shot-classification':
      return '{"inputs": "I have a problem with my iphone", "parameters": {"candidate_labels": ["urgent", "not urgent"]}}';
    case 'fill-mask':
      return '{"inputs": "The capital of France is [MASK]."}';
    default:
      return '{"inputs": "Bonjour tout le monde, comment allez-vous ?"}';
  }
}

/**
 * Ways to run the model that work here, like the Hub's "Deploy / Use this model" menu. A way this model or
 * this server cannot offer is absent, not listed as broken.
 */
function usage(model: ModelInfo, baseUrl: string) {
  const url = `${baseUrl}/models/${model.id}`;
  const binary = model.pipelineTag === 'image-classification' || model.pipelineTag === 'voice-activity-detection';
  const methods: Record<string, unknown>[] = [
    {
      method: 'serverless',
      title: 'Serverless API',
      url,
      tasks: modelTasks(model),
      snippet: binary
        ? `curl -X POST ${url} --data-binary @file.${model.pipelineTag === 'image-classification' ? 'png' : 'wav'}`
        : `curl -X POST ${url} -H 'Content-Type: application/json' -d '${exampleBody(model)}'`,
    },
  ];
  if (model.pipelineTag === 'text-generation') {
    methods.push({ method: 'openai-completions', title: 'OpenAI-compatible completions', url: `${url}/v1/completions` });
  }
  if (model.runtime === 'transformers') {
    methods.push({
      method: 'library',
      title: 'Transformers.js',
      library: 'transformers.js',
      snippet: `import { pipeline, env } from '@huggingface/transformers';\nenv.localModelPath = '<models folder>';\nconst pipe = await pipeline('${model.pipelineTag === 'sentence-similarity' ? 'feature-extraction' : model.pipelineTag}', '${model.id}');`,
    });
  }
  return methods;
}

function summary(model: ModelInfo, deps: ServerDeps) {
  const [author] = model.id.split('/');
  return {
    _id: model.id,
    id: model.id,
    modelId: model.id,
    author,
    private: false,
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

export function hubRoutes(deps: ServerDeps) {
  return async function routes(app: FastifyInstance) {
    app.get('/api/models', async (request) => {
      const q = validate(listQuery, request.query, 'query');
      const search = q.search?.toLowerCase();
      const models = deps.repository
        .list()
        .filter((m) => !q.pipeline_tag || m.pipelineTag === q.pipeline_tag || modelTasks(m).includes(q.pipeline_tag as never))
        .filter((m) => !q.library || m.libraryName === q.library)
        .filter((m) => !q.filter || m.tags.includes(q.filter))
        .filter((m) => !search || m.id.toLowerCase().includes(search));
      return models.slice(0, q.limit ?? models.length).map((m) => summary(m, deps));
    });

    app.get<{ Params: { '*': string } }>('/api/models/*', async (request) => {
      const id = request.params['*'].replace(/\/+$/, '');
      const model = deps.repository.get(id);
      const routed = deps.router?.modelEntry(id);
      if (!model && routed) {
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
          modelhost: { providers: routed.providers.map((p) => p.provider) },
        };
      }
      if (!model) throw new ModelNotFoundError(id);
      return {
        ...summary(model, deps),
        siblings: model.files.map((rfilename) => ({ rfilename })),
        cardData: { license: model.license, pipeline_tag: model.pipelineTag, library_name: model.libraryName, tags: model.tags },
        config: model.config ? { model_type: model.config.model_type, architectures: model.config.architectures } : undefined,
        usedStorage: model.sizeBytes,
        // What the JS client asks for (`?expand[]=inferenceProviderMapping`) before calling a model without an
        // endpointUrl: here every model is served by this server's hf-inference routes.
        inferenceProviderMapping: { 'hf-inference': { status: 'live', providerId: model.id, task: model.pipelineTag } },
        modelhost: { runtime: model.runtime, state: deps.engine.state(model.id), tasks: modelTasks(model), usage: usage(model, deps.config.publicUrl) },
      };
    });
  };
}
