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
  /** A dedicated endpoint: its owner's namespace, access type and model. */
  endpoint(name: string): { namespace: string; type: string; model: string } | undefined;
}

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
  };
}
