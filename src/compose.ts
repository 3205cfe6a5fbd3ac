/** Composition root: the one place concrete parts are built and wired together. */
import path from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { packageRoot, type Config } from './config.ts';
import { Engine } from './engine/engine.ts';
import { ModelRepository } from './engine/repository.ts';
import { HubFiles } from './hub/service.ts';
import { buildApp } from './server/app.ts';
import { ResponseCache } from './server/cache.ts';
import type { ServerDeps } from './server/deps.ts';
import { createLocalAdapter } from './providers/local.ts';
import { buildRouter } from './router/build.ts';
import { loadRouterFile, parseRouterFile, type RouterFile } from './router/config.ts';
import { buildAccess } from './auth/access-setup.ts';
import type { Tier } from './auth/tiers.ts';
import { openStore } from './store/index.ts';
import { expectedCost } from './server/expected-cost.ts';
import { EndpointManager } from './endpoints/manager.ts';
import { loadAllowList } from './endpoints/custom/allow-list.ts';
import type { ScalingOptions } from './endpoints/deployment.ts';
import { connectWorker, isClusterWorker } from './cluster/worker.ts';
import { REQUEST_LOG, RequestLog } from './ui/server/request-log.ts';
import { OnDemandPuller } from './hub/pull/on-demand.ts';
import { createPredictions, type PredictionsConfig } from './predictions/index.ts';
import { servedCatalog } from './predictions/catalog.ts';
import { tierAdmit } from './predictions/admission.ts';

export interface Composed {
  app: FastifyInstance;
  deps: ServerDeps;
  /** Resolves when every --preload model is loaded. */
  preloaded: Promise<void>;
  close(): Promise<void>;
}

export function modelRoots(config: Pick<Config, 'modelsDir' | 'builtinModels'>): string[] {
  const roots = [path.resolve(config.modelsDir)];
  if (config.builtinModels) roots.push(path.join(packageRoot, 'builtin-models'));
  return roots;
}

export interface ComposeOptions {
  logger?: boolean | object;
  /** A providers file already parsed (tests); else `config.providers` is read. */
  routerFile?: RouterFile;
  /** Tiers given directly (tests); else `config.tiers` is read, else the built-in ones. */
  tiers?: Tier[];
  /** Dedicated endpoints' scaling timings (tests shorten them). */
  endpointScaling?: Partial<ScalingOptions>;
  /** Predictions' timings (tests shorten them). */
  predictions?: Partial<PredictionsConfig>;
}

export async function compose(config: Config, opts: ComposeOptions = {}): Promise<Composed> {
  // Folders and built-in models first, then the HF cache's models under their Hub ids.
  const repository = new ModelRepository(modelRoots(config), config.hfCache ? { hfCache: config.hfCache } : {});
  const routerFile = opts.routerFile ?? (config.providers ? loadRouterFile(config.providers) : parseRouterFile({}));
  // The engine logs through the app's logger, which exists only once the app is built.
  const logger: { app?: FastifyInstance } = {};
  const engine = new Engine({
    workers: config.workers,
    modelInstances: config.modelInstances,
    maxBatchSize: config.maxBatchSize,
    batchWaitMs: config.batchWaitMs,
    memoryBudgetBytes: config.memoryBudgetMb * 1024 ** 2,
    maxQueuedItems: config.maxQueuedItems,
    log: (level, message) => logger.app?.log[level](message),
  });
  let ready = config.preload.length === 0;
  const warnings: string[] = [];
  const store = await openStore({ database: config.database, dataDir: config.dataDir });
  // One of several HTTP processes (`--processes`): limits, breakers and statistics are kept in the primary.
  const clusterWorker = isClusterWorker() ? connectWorker() : undefined;
  const access = buildAccess(store, {
    host: config.host,
    auth: config.auth,
    redis: config.redis,
    tiersFile: config.tiers,
    tiers: opts.tiers,
    defaultTier: config.defaultTier,
    ...(config.anonymousTier ? { anonymousTier: config.anonymousTier } : {}),
    reservationTtlSeconds: config.reservationTtlSeconds,
    ...(clusterWorker && !config.redis ? { limiter: clusterWorker.limiter } : {}),
    log: (level, message) => (logger.app ? logger.app.log[level](message) : warnings.push(message)),
  });
  const router = buildRouter(routerFile, createLocalAdapter(repository, engine), { warn: (m) => warnings.push(m), events: clusterWorker?.routerEvents });
  clusterWorker?.attach(router);
  const publicUrl = config.publicUrl ?? `http://${config.host}:${config.port}`;
  // On a shared PostgreSQL only one instance runs the dedicated endpoints' replicas (the first to start); the
  // others say so rather than start a second set of replicas for the same endpoints.
  const managesEndpoints = await store.claimEndpoints();
  const endpointManager = new EndpointManager({
    store: store.endpoints,
    repository,
    router,
    publicUrl,
    scaling: {
      scaleUpWindowMs: config.endpointScaleUpWindowSeconds * 1000,
      scaleDownAfterMs: config.endpointScaleDownAfterSeconds * 1000,
      maxHoldMs: config.maxWaitForModelSeconds * 1000,
      ...opts.endpointScaling,
    },
    spareReplica: config.endpointSpareReplica,
    ...(config.endpointCommands ? { commandAllowList: loadAllowList(config.endpointCommands) } : {}),
    log: (level, message) => (logger.app ? logger.app.log[level](message) : warnings.push(message)),
  });
  const endpoints = managesEndpoints ? endpointManager : undefined;
  if (!managesEndpoints && !clusterWorker) warnings.push('dedicated endpoints are managed by another instance sharing this database (the first one started); this one answers their routes with 503');
  if (config.pull && !config.hfCache) throw new Error('--pull (MODELHOST_PULL) writes into the HF cache: it cannot be used with --no-hf-cache');
  const pullOnDemand =
    config.pull && config.hfCache
      ? new OnDemandPuller({
          endpoint: config.pullEndpoint,
          token: config.hfToken,
          cacheDir: config.hfCache,
          allow: config.pullAllow,
          has: (id) => !!repository.get(id),
          rescan: () => repository.rescan(),
          loadSeconds: (bytes) => engine.estimateLoadSeconds({ id: '', sizeBytes: bytes }),
          log: (level, message) => (logger.app ? logger.app.log[level](message) : warnings.push(message)),
        })
      : undefined;
  // Async predictions (src/predictions): their URLs point at this server, whose port may be known only once it listens.
  const listeningUrl = () => {
    if (config.publicUrl) return config.publicUrl;
    const a = logger.app?.server.address();
    if (!a || typeof a !== 'object') return publicUrl;
    const host = a.address === '0.0.0.0' || a.address === '::' ? '127.0.0.1' : a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  };
  const predictions = createPredictions(
    store.predictions,
    servedCatalog({
      local: (id) => repository.get(id),
      routedTask: (id) => (router.isRouted(id) ? router.modelEntry(id)?.task : undefined),
      endpoint: (name) => {
        const found = endpoints?.serving(name);
        return found && { namespace: found.namespace, type: found.deployment.spec.type, model: found.deployment.activeSpec.model.repository, state: found.deployment.lifecycle };
      },
      modelState: (id) => engine.state(id),
    }),
    {
      publicUrl: listeningUrl,
      ...(config.redis ? { redis: config.redis } : {}),
      concurrencyPerModel: config.predictionConcurrency,
      maxAttempts: config.predictionAttempts,
      fileTtlMs: config.fileTtl * 1000,
      recordUsage: config.auth !== 'off',
      webhooks: { allowPrivate: config.webhookAllowPrivate, retryForMs: config.webhookRetryFor * 1000, baseDelayMs: config.webhookRetryBase * 1000, maxDelayMs: config.webhookRetryMax * 1000 },
      workers: { staleMs: config.predictionStaleAfter * 1000, heartbeatMs: Math.max(100, (config.predictionStaleAfter * 1000) / 4) },
      ...opts.predictions,
    },
    config.auth === 'off'
      ? undefined
      : tierAdmit(access.limiter, (model, body) => expectedCost(router, repository, { url: `/models/${model}`, body } as unknown as FastifyRequest)),
    (message) => (logger.app ? logger.app.log.warn(message) : warnings.push(message)),
  );
  const deps: ServerDeps = {
    repository,
    predictions,
    ...(pullOnDemand ? { pullOnDemand } : {}),
    hub: new HubFiles(repository),
    endpoints,
    ...(managesEndpoints ? {} : { endpointsElsewhere: 'Dedicated endpoints are managed by another modelhost instance on this database (the first one started): send endpoint calls and management requests to it.' }),
    ...(clusterWorker
      ? {
          providerStats: (providers: string[]) => clusterWorker.stats(providers),
          clusterMetrics: () => clusterWorker.metrics(),
          collect: (kind: string) => clusterWorker.collect(kind),
        }
      : {}),
    ...(clusterWorker && !managesEndpoints ? { endpointsAt: clusterWorker.endpointsAt } : {}),
    engine,
    cache: new ResponseCache(config.cacheEntries, config.cacheTtlSeconds * 1000),
    router,
    access: {
      off: config.auth === 'off',
      guard: access.guard,
      tokens: access.tokens,
      usage: store.usage,
      limiter: access.limiter,
      recorder: access.recorder,
      expectedCost: (request) => expectedCost(router, repository, request),
    },
    config: {
      maxWaitForModelMs: config.maxWaitForModelSeconds * 1000,
      waitForModelByDefault: config.waitForModelByDefault,
      bodyLimitBytes: Math.round(config.bodyLimitMb * 1024 ** 2),
      publicUrl,
    },
    isReady: () => ready,
  };
  // The console's request log; in a cluster the console merges every process's.
  const requestLog = new RequestLog();
  clusterWorker?.onCollect(REQUEST_LOG, () => requestLog.export());
  const app = await buildApp(deps, { logger: opts.logger, requestLog });
  logger.app = app;
  for (const w of repository.warnings) app.log.warn(`skipped model folder ${w.dir}: ${w.reason}`);
  for (const m of repository.unrunnable()) app.log.info(`HF cache: ${m.id} cannot run here (${m.reason}); its files are served`);
  // An endpoint with route.port also answers on that port, at its root, with the same routes and errors.
  endpoints?.setPortOpener(async (name, port) => {
    const own = await buildApp(deps, { logger: false, endpointAtRoot: name });
    await own.listen({ host: config.host, port });
    return () => own.close();
  });
  await endpoints?.restore();
  // In a cluster, the worker that manages the endpoints also listens on a loopback port of its own, where the
  // other workers forward endpoint calls (their requests pass its access checks as any other).
  let internal: FastifyInstance | undefined;
  if (clusterWorker && endpoints) {
    internal = await buildApp(deps, { logger: false });
    await internal.listen({ host: '127.0.0.1', port: 0, exclusive: true });
    const { port } = internal.server.address() as { port: number };
    clusterWorker.announceEndpoints(`http://127.0.0.1:${port}`);
  }
  // Predictions run as calls of the HF task routes on a loopback-only copy of the app without the access layer
  // (src/predictions/internal-calls.ts): tiers were applied at submission, and each records its usage once.
  const inner = await buildApp({ ...deps, access: undefined, predictions: undefined }, { logger: false });
  predictions.calls.attach(inner);
  await inner.listen({ host: '127.0.0.1', port: 0 });
  predictions.calls.listening(`http://127.0.0.1:${(inner.server.address() as { port: number }).port}`);
  predictions.start();
  for (const w of warnings) app.log.warn(w);
  if (routerFile.providers.length) app.log.info(`router: ${routerFile.providers.length} providers, ${routerFile.models.length} routed models (GET /api/providers)`);

  const ids = config.preload.includes('all') ? repository.list().map((m) => m.id) : config.preload;
  const preloaded = (async () => {
    for (const id of ids) {
      const model = repository.get(id);
      if (!model) throw new Error(`--preload: no model ${id} in ${modelRoots(config).join(', ')}`);
      await engine.preload(model);
    }
    ready = true;
  })();
  preloaded.catch(() => undefined);

  return {
    app,
    deps,
    preloaded,
    async close() {
      clusterWorker?.close();
      await predictions.close();
      await inner.close();
      await internal?.close();
      await app.close();
      await endpoints?.close();
      await access.close();
      await store.close();
      await deps.router?.close();
      await engine.close();
    },
  };
}
