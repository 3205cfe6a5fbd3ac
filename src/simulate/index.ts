/** Provider simulators by name, for `modelhost simulate` and the tests. */
import type { FastifyInstance } from 'fastify';
import type { FaultPlanInput } from './fault-plan.ts';
import type { SimState } from './harness.ts';
import { createFalSimulator } from './fal-ai.ts';
import { createHfInferenceSimulator } from './hf-inference.ts';
import { createOpenAiSimulator } from './openai-compatible.ts';
import { createReplicateSimulator } from './replicate.ts';
import { createWavespeedSimulator } from './wavespeed.ts';

export interface SimulatorOptions {
  plan?: FaultPlanInput;
  /** When set, calls without this key are refused as the real API refuses them. */
  token?: string;
}

type Factory = (opts: SimulatorOptions) => { app: FastifyInstance; sim: SimState };

export const simulators: Record<string, { factory: Factory; describe: string; apiPath: string }> = {
  'hf-inference': {
    factory: createHfInferenceSimulator,
    describe: "Hugging Face's serverless API: POST /models/{id}, pipelines, /v1/chat/completions per model",
    apiPath: '',
  },
  'openai-compatible': {
    factory: (o) => createOpenAiSimulator(o),
    describe: 'vLLM-style OpenAI server: /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models',
    apiPath: '/v1',
  },
  tgi: {
    factory: (o) => createOpenAiSimulator({ ...o, flavor: 'tgi' }),
    describe: 'TGI flavour of the OpenAI server (TGI error bodies, 429 overloaded)',
    apiPath: '/v1',
  },
  ollama: {
    factory: (o) => createOpenAiSimulator({ ...o, flavor: 'ollama' }),
    describe: 'Ollama flavour of the OpenAI server',
    apiPath: '/v1',
  },
  replicate: { factory: createReplicateSimulator, describe: 'Replicate predictions API (Prefer: wait, polling, streams, delivery URLs)', apiPath: '/v1' },
  'fal-ai': { factory: createFalSimulator, describe: 'fal.ai queue API (submit, status, result, cancel, file URLs)', apiPath: '' },
  wavespeed: { factory: createWavespeedSimulator, describe: 'WaveSpeed task API ({code, data} envelope, polling, sync mode, base64)', apiPath: '/api/v3' },
};
