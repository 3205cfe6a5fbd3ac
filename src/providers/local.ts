/**
 * The local engine as a provider, so hosted models can fail over to it (and it to them). Only Hugging Face
 * task calls go through here; local models reached directly keep the server's own path (cache, streaming,
 * OpenAI completions and embeddings) without a detour through the router.
 */
import type { ModelInfo } from '../core/model.ts';
import type { CallApi, ProviderAdapter, ProviderCall, ProviderResult } from '../core/providers.ts';
import { taskSpec, tasksServedBy, type TaskId } from '../core/tasks/index.ts';

/** The part of the engine this adapter needs. */
export interface LocalEngine {
  ensureReady(model: ModelInfo, waitMs: number): Promise<void>;
  infer(model: ModelInfo, task: TaskId, items: unknown[], params: Record<string, unknown>): Promise<unknown[]>;
}

export interface LocalCatalogue {
  get(id: string): ModelInfo | undefined;
}

export function createLocalAdapter(repository: LocalCatalogue, engine: LocalEngine): ProviderAdapter {
  return {
    name: 'local',
    type: 'local',
    supports: (api: CallApi) => api === 'task',
    serves(model: string, api: CallApi, task: string) {
      const info = repository.get(model);
      return api === 'task' && !!info && tasksServedBy(info.pipelineTag).includes(task as TaskId);
    },
    async call(call: ProviderCall): Promise<ProviderResult> {
      const model = repository.get(call.model)!;
      const spec = taskSpec(call.task as TaskId);
      const { inputs, parameters, ...root } = call.body;
      // A raw file arrives as a Buffer; the task specs take the server's binary form.
      const input = Buffer.isBuffer(inputs) ? { data: new Uint8Array(inputs) } : inputs;
      const req = spec.parse({ inputs: input, parameters: (parameters ?? {}) as Record<string, unknown>, root });
      const started = performance.now();
      await engine.ensureReady(model, call.waitForModelMs ?? 0);
      const outputs = await engine.infer(model, spec.id, req.items, req.params);
      return { kind: 'json', body: spec.respond(outputs, req), usage: { computeSeconds: (performance.now() - started) / 1000 } };
    },
  };
}
