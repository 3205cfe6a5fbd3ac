/**
 * A local Hugging Face `hf-inference` provider (the router's `/hf-inference` prefix left out):
 * `POST /models/:org/:name` with `{inputs, parameters}` (or raw image/audio bytes),
 * `POST /models/:org/:name/pipeline/:task`, and the model's OpenAI routes `/models/:org/:name/v1/...`
 * (TGI flavour, see openai-compatible.ts).
 *
 * The task comes from the model id: /flux|diffusion|sdxl|image/i text-to-image (PNG bytes),
 * /embed|minilm|bge|e5/i feature-extraction, /sentiment|classif|sst/i text-classification (`[[{label,
 * score}]]` for one string), anything else text-generation (`[{generated_text}]`; TGI SSE with `stream:
 * true`: token events, the last with `generated_text`, no `[DONE]`). A raw binary body gets an
 * image/audio-classification answer `[{label, score}]`. The pipeline route's task wins over the id.
 * Errors are `{"error": "..."}` (TGI adds `error_type`); ids in `loading` answer 503 `{"error": "Model X is
 * currently loading", "estimated_time": N}`. Answers carry `x-compute-type` and `x-compute-time` (seconds);
 * text generation adds TGI's `x-prompt-tokens` / `x-generated-tokens`.
 *
 * Fault plan: request-level faults; `latencyMs` per answer; `malformedRate` truncates a JSON answer (a file
 * answer becomes truncated JSON); TGI streams take the stream faults of openai-compatible.ts, where
 * `failAfterCompleteRate` drops the final event and `jobFailRate` sends `{error, error_type: "generation"}`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FaultPlanInput } from './fault-plan.ts';
import { countTokens, fakeClassification, fakeCompletionTokens, fakeEmbedding, fakeImagePng } from './fake-models.ts';
import { applyRequestFault, createSimApp, type FaultAnswers, type SimState } from './harness.ts';
import { addOpenAiRoutes, addRequestIds, sendEventStream, sendJson, wait } from './openai-compatible.ts';

type Body = Record<string, unknown>;
type Params = { org?: string; name: string; task?: string };

/** The task a model id stands for in the simulator. */
export function simulatedTask(modelId: string): string {
  if (/flux|diffusion|sdxl|image/i.test(modelId)) return 'text-to-image';
  if (/embed|minilm|bge|e5/i.test(modelId)) return 'feature-extraction';
  if (/sentiment|classif|sst/i.test(modelId)) return 'text-classification';
  return 'text-generation';
}

const answers: FaultAnswers = {
  errorBody: (status, message) => (status === 429 ? { error: 'Rate limit reached. Please retry later.' } : { error: message }),
};

export function createHfInferenceSimulator(
  opts: { plan?: FaultPlanInput; token?: string; loading?: string[]; loadingSeconds?: number } = {},
): { app: FastifyInstance; sim: SimState } {
  const { app, sim } = createSimApp(opts.plan);
  const loading = new Set(opts.loading ?? []);
  addRequestIds(app);
  const modelOf = (request: FastifyRequest) => {
    const { org, name } = request.params as Params;
    return org ? `${org}/${name}` : name;
  };

  const guard = (request: FastifyRequest, reply: FastifyReply): boolean => {
    if (applyRequestFault(sim, request, reply, answers)) return true;
    if (opts.token && request.headers.authorization !== `Bearer ${opts.token}`) {
      sim.count('unauthorized');
      reply.code(401).send({ error: 'Invalid credentials in Authorization header' });
      return true;
    }
    const model = modelOf(request);
    if (loading.has(model)) {
      sim.count('loading');
      reply.code(503).send({ error: `Model ${model} is currently loading`, estimated_time: opts.loadingSeconds ?? 20 });
      return true;
    }
    return false;
  };

  async function runTask(request: FastifyRequest, reply: FastifyReply) {
    if (guard(request, reply)) return reply;
    const model = modelOf(request);
    const task = (request.params as Params).task ?? simulatedTask(model);
    const body = request.body as Body | Buffer | undefined;
    const started = Date.now();
    await wait(sim.latency());
    reply.header('x-compute-type', 'cpu').header('x-compute-time', ((Date.now() - started) / 1000).toFixed(3));
    if (Buffer.isBuffer(body)) {
      sim.stats.creates++;
      return sendJson(sim, reply, fakeClassification(body.toString('base64')));
    }
    if (!body || typeof body !== 'object' || '__invalidJson' in body || body.inputs === undefined) {
      return reply.code(400).send({ error: 'Body needs to contain an "inputs" field' });
    }
    const params = (body.parameters ?? {}) as Body;
    const handler = TASKS[task];
    if (!handler) return reply.code(400).send({ error: `Task ${task} is not served by this simulator` });
    return handler({ request, reply, sim, body, params });
  }

  app.post('/models/:org/:name', runTask);
  app.post('/models/:name', runTask);
  app.post('/models/:org/:name/pipeline/:task', runTask);
  addOpenAiRoutes(app, sim, '/models/:org/:name/v1', { flavor: 'tgi', guard, urlModel: modelOf });
  return { app, sim };
}

interface TaskContext {
  request: FastifyRequest;
  reply: FastifyReply;
  sim: SimState;
  body: Body;
  params: Body;
}

const invalid = (reply: FastifyReply, message: string) => reply.code(400).send({ error: message });
const isStringList = (x: unknown): x is string[] => Array.isArray(x) && x.length > 0 && x.every((s) => typeof s === 'string');

const TASKS: Record<string, (ctx: TaskContext) => Promise<FastifyReply> | FastifyReply> = {
  'text-to-image': ({ reply, sim, body, params }) => {
    if (typeof body.inputs !== 'string') return invalid(reply, 'inputs must be a prompt string');
    sim.stats.creates++;
    const size = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 1024 ? v : 64);
    const png = fakeImagePng(body.inputs, size(params.width), size(params.height));
    if (sim.chance(sim.plan.malformedRate)) {
      sim.count('malformed');
      return reply.type('application/json').send(`{"image":"${png.toString('base64').slice(0, 40)}`);
    }
    return reply.type('image/png').send(png);
  },

  'feature-extraction': ({ reply, sim, body }) => {
    const { inputs } = body;
    if (typeof inputs !== 'string' && !isStringList(inputs)) return invalid(reply, 'inputs must be a string or a list of strings');
    sim.stats.creates++;
    return sendJson(sim, reply, typeof inputs === 'string' ? fakeEmbedding(inputs) : inputs.map((text) => fakeEmbedding(text)));
  },

  'sentence-similarity': ({ reply, sim, body }) => {
    const inputs = body.inputs as { source_sentence?: unknown; sentences?: unknown };
    if (typeof inputs?.source_sentence !== 'string' || !isStringList(inputs.sentences)) {
      return invalid(reply, 'inputs must be {source_sentence, sentences[]}');
    }
    sim.stats.creates++;
    const source = fakeEmbedding(inputs.source_sentence);
    // Unit vectors: the dot product is the cosine.
    return sendJson(sim, reply, inputs.sentences.map((s) => fakeEmbedding(s).reduce((sum, x, i) => sum + x * source[i]!, 0)));
  },

  'text-classification': ({ reply, sim, body, params }) => {
    const { inputs } = body;
    if (typeof inputs !== 'string' && !isStringList(inputs)) return invalid(reply, 'inputs must be a string or a list of strings');
    sim.stats.creates++;
    const topK = typeof params.top_k === 'number' ? params.top_k : undefined;
    const scores = (text: string) => fakeClassification(text).slice(0, topK);
    return sendJson(sim, reply, typeof inputs === 'string' ? [scores(inputs)] : inputs.map(scores));
  },

  'text-generation': ({ request, reply, sim, body, params }) => {
    const { inputs } = body;
    const tgiError = (message: string) => reply.code(422).send({ error: `Input validation error: ${message}`, error_type: 'validation' });
    if (typeof inputs !== 'string') return tgiError('`inputs` must be a string');
    const max = params.max_new_tokens ?? 20;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) return tgiError('`max_new_tokens` must be strictly positive');
    sim.stats.creates++;
    const tokens = fakeCompletionTokens(inputs, max);
    const text = (params.return_full_text === true ? inputs : '') + tokens.join('');
    const details = { finish_reason: 'length', generated_tokens: tokens.length, seed: typeof params.seed === 'number' ? params.seed : null };
    reply.header('x-prompt-tokens', String(countTokens(inputs))).header('x-generated-tokens', String(tokens.length));
    if (body.stream !== true) return sendJson(sim, reply, [params.details === true ? { generated_text: text, details } : { generated_text: text }]);
    const event = (i: number) => ({ index: i + 1, token: { id: 1000 + i, text: tokens[i], logprob: -0.5, special: false }, generated_text: null, details: null });
    const events = tokens.slice(0, -1).map((_, i) => JSON.stringify(event(i)));
    const last = tokens.length - 1;
    const end = JSON.stringify({ ...event(last), generated_text: text, details: params.details === true ? { ...details, input_length: countTokens(inputs) } : null });
    const error = JSON.stringify({ error: 'Request failed during generation: Server error: simulated shard failure', error_type: 'generation' });
    return sendEventStream(sim, request, reply, { events, end, error, endAfterError: false, prefix: 'data:' }).then(() => reply);
  },
};
