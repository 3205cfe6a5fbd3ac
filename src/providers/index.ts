/** Provider types by name. Adding a provider: its file, one line here, its tests. */
import type { AdapterFactory } from './_base/adapter.ts';
import { createFalAdapter } from './fal-ai.ts';
import { createHfInferenceAdapter } from './hf-inference.ts';
import { createOpenAiCompatibleAdapter } from './openai-compatible.ts';
import { createReplicateAdapter } from './replicate.ts';
import { createWavespeedAdapter } from './wavespeed.ts';

export const adapterFactories: Record<string, AdapterFactory> = {
  'hf-inference': createHfInferenceAdapter,
  'openai-compatible': createOpenAiCompatibleAdapter,
  replicate: createReplicateAdapter,
  'fal-ai': createFalAdapter,
  wavespeed: createWavespeedAdapter,
};
