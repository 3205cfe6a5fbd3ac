/**
 * What predictions can run, read from what the server serves: routed models (their task from the providers
 * file), local models (their pipeline tag), and dedicated endpoints. The same decision the HF task route
 * makes (handlers/tasks.ts): a routed model goes through the router even when a local copy exists.
 */
import { ModelhostError, ModelNotFoundError } from '../core/errors.ts';
import { modalityOf } from '../core/tasks/hosted.ts';
import type { ModelInfo } from '../core/model.ts';
import type { Catalog, ModelView } from './service.ts';

export interface CatalogSources {
  local(id: string): Pick<ModelInfo, 'pipelineTag'> | undefined;
  /** The task of a routed model, when the router routes it. */
  routedTask(id: string): string | undefined;
  /** A dedicated endpoint: its owner's namespace, access type and model, and its lifecycle state. */
  endpoint(name: string): { namespace: string; type: string; model: string; state?: string } | undefined;
  /** Whether a local model is in memory now (the engine's view). */
  modelState?(id: string): 'unloaded' | 'loading' | 'ready';
}

/** Endpoint states in which a call waits for a replica to start. */
const WAKING: Record<string, string> = {
  scaledToZero: 'is scaled to zero: waiting for a replica to start (cold start)',
  pending: 'is starting: waiting for its first replica',
  initializing: 'is starting: waiting for its first replica',
};

export function servedCatalog(src: CatalogSources): Catalog {
  const describe = (model: string): ModelView => {
    const routed = src.routedTask(model);
    if (routed) return { task: routed, modality: modalityOf(routed) };
    const local = src.local(model);
    if (local) return { task: local.pipelineTag, modality: modalityOf(local.pipelineTag) };
    throw new ModelNotFoundError(model);
  };
  return {
    describe,
    deployment(owner, name, caller) {
      const ep = src.endpoint(name);
      // Someone else's private endpoint is not found, as it is on its own routes for a stranger's listing.
      if (!ep || ep.namespace !== owner || (ep.type === 'private' && caller.owner !== ep.namespace)) {
        throw new ModelhostError('endpoint_not_found', 404, `No deployment ${owner}/${name} you can use. List your endpoints with GET /api/endpoints/{namespace}.`);
      }
      return { model: ep.model, ...describe(ep.model) };
    },
    coldStart(model, deployment) {
      if (deployment) {
        const state = src.endpoint(deployment)?.state;
        const note = state && WAKING[state];
        return note && `dedicated endpoint ${deployment} ${note}`;
      }
      // A routed model runs at its provider: whether that is cold is not known here.
      if (src.routedTask(model) || !src.local(model)) return undefined;
      const state = src.modelState?.(model);
      if (state === 'unloaded') return `model ${model} is not loaded: waiting for it to load (cold start)`;
      if (state === 'loading') return `model ${model} is loading: waiting for it`;
      return undefined;
    },
  };
}
