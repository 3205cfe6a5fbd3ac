import type { EngineApi } from '../engine/engine.ts';
import type { ModelRepository } from '../engine/repository.ts';
import type { Router } from '../router/router.ts';
import type { StatsReader } from '../router/stats.ts';
import type { AccessDeps } from './access.ts';
import type { ResponseCache } from './cache.ts';
import type { EndpointManager } from '../endpoints/manager.ts';
import type { HubFiles } from '../hub/service.ts';
import type { Predictions } from '../predictions/index.ts';

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

export interface ProviderView {
  stats: StatsReader;
  failovers: Map<string, number>;
}

/** The provider statistics to report: the cluster's when there is one, else this router's. */
export async function providerView(deps: Pick<ServerDeps, 'router' | 'providerStats'>): Promise<ProviderView | undefined> {
  const router = deps.router;
  if (!router) return undefined;
  if (deps.providerStats) return deps.providerStats([...router.adapters.keys()]);
  return { stats: router.stats, failovers: router.failovers };
}

/** What the HTTP layer is given by the composition root. */
export interface ServerDeps {
  repository: Pick<ModelRepository, 'get' | 'list'>;
  /** The Hub file API's view of the repository (resolve, tree, paths-info, commits); absent: no file routes. */
  hub?: HubFiles;
  /**
   * Pull on first call (`serve --pull`, src/hub/pull/on-demand.ts): makes a Hub model that is not here
   * available, or throws the answer (503 with estimated_time while it downloads, 404/400 when it never can).
   */
  pullOnDemand?: { ensure(id: string, waitMs: number): Promise<void> };
  /** The local engine, or a dedicated endpoint's replicas (src/endpoints): what the task routes run on. */
  engine: EngineApi;
  cache: ResponseCache;
  /** Routes calls to hosted providers (and to the local engine for mapped models). */
  router?: Router;
  /** Dedicated endpoints (absent in unit setups that test routes alone). */
  endpoints?: EndpointManager;
  /** Set when another instance manages the endpoints: their routes answer 503 with this. */
  endpointsElsewhere?: string;
  /** In a cluster (`--processes`): where the worker that manages the endpoints listens; their routes are forwarded there. */
  endpointsAt?: () => string | undefined;
  /** In a cluster: every process's answer for `kind` (the console merges their request logs). */
  collect?: (kind: string) => Promise<unknown[]>;
  /** In a cluster: `/metrics` over every process, summed by the primary (else this process's registry). */
  clusterMetrics?: () => Promise<string>;
  /** In a cluster: provider statistics and failovers over every process (else the router's own are read). */
  providerStats?: (providers: string[]) => Promise<ProviderView>;
  /** Async predictions (Replicate's API, src/predictions); absent: no /v1/predictions routes. */
  predictions?: Predictions;
  /** Tokens, limits and usage; absent in unit setups that test routes alone. */
  access?: AccessDeps;
  config: ServerConfig;
  /** False until preloading finishes: /ready answers 503 meanwhile. */
  isReady: () => boolean;
}
