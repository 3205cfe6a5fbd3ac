import type { EngineApi } from '../engine/engine.ts';
import type { ModelRepository } from '../engine/repository.ts';
import type { Router } from '../router/router.ts';
import type { AccessDeps } from './access.ts';
import type { ResponseCache } from './cache.ts';
import type { EndpointManager } from '../endpoints/manager.ts';

export interface ServerConfig {
  /** Longest a request is held while its model loads. */
  maxWaitForModelMs: number;
  /** Hold requests for cold models even when the caller did not ask (the JS client is always held). */
  waitForModelByDefault: boolean;
  /** Largest request body in bytes (413 above). */
  bodyLimitBytes: number;
  /** Base URL shown in usage snippets. */
  publicUrl: string;
}

/** What the HTTP layer is given by the composition root. */
export interface ServerDeps {
  repository: Pick<ModelRepository, 'get' | 'list'>;
  /** The local engine, or a dedicated endpoint's replicas (src/endpoints): what the task routes run on. */
  engine: EngineApi;
  cache: ResponseCache;
  /** Routes calls to hosted providers (and to the local engine for mapped models). */
  router?: Router;
  /** Dedicated endpoints (absent in unit setups that test routes alone). */
  endpoints?: EndpointManager;
  /** Set when another instance manages the endpoints: their routes answer 503 with this. */
  endpointsElsewhere?: string;
  /** Tokens, limits and usage; absent in unit setups that test routes alone. */
  access?: AccessDeps;
  config: ServerConfig;
  /** False until preloading finishes: /ready answers 503 meanwhile. */
  isReady: () => boolean;
}
