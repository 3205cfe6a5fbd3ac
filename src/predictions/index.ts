/**
 * Async predictions, put together: the service the routes call, the workers, webhooks and output files.
 * Built by src/compose.ts, which also builds the internal app predictions run on (internal-calls.ts).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { PredictionStore } from '../store/predictions.ts';
import { guardedAgent } from './address-guard.ts';
import { BullDispatch } from './bull-dispatch.ts';
import { FileStore } from './files.ts';
import { InternalCalls } from './internal-calls.ts';
import { Runner } from './runner.ts';
import { PredictionService, type Admit, type Catalog } from './service.ts';
import { DEFAULT_WEBHOOK_OPTIONS, Webhooks, type WebhookOptions } from './webhooks.ts';
import { Workers, type WorkerOptions } from './workers.ts';

export { PredictionService, ownerKey, type Caller } from './service.ts';
export { toApi, isTerminal, type ApiPrediction, type PredictionRow } from './types.ts';

export interface PredictionsConfig {
  /** The base of the URLs predictions carry (asked when needed: a server on port 0 knows its port late). */
  publicUrl: () => string;
  /** `redis://...`: BullMQ hands out the work; else the database is polled. */
  redis?: string;
  /** Per model, per instance. */
  concurrencyPerModel: number;
  /** Runs of a prediction whose instance died: 2 = retried once. */
  maxAttempts: number;
  fileTtlMs: number;
  recordUsage: boolean;
  webhooks?: Partial<WebhookOptions>;
  workers?: Partial<Pick<WorkerOptions, 'pollMs' | 'heartbeatMs' | 'staleMs' | 'progressMs' | 'logProgressMs' | 'maxRunning'>>;
}

export interface Predictions {
  service: PredictionService;
  workers: Workers;
  webhooks: Webhooks;
  files: FileStore;
  calls: InternalCalls;
  publicUrl: () => string;
  start(): void;
  close(): Promise<void>;
}

export function createPredictions(
  store: PredictionStore,
  catalog: Catalog,
  config: PredictionsConfig,
  admit: Admit | undefined,
  log: (message: string) => void,
): Predictions {
  const instance = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const webhookOptions = { ...DEFAULT_WEBHOOK_OPTIONS, ...config.webhooks };
  const webhooks = new Webhooks(store, config.publicUrl, webhookOptions, log);
  const files = new FileStore(store, config.fileTtlMs);
  const calls = new InternalCalls();
  const fetchAgent = guardedAgent(webhookOptions.allowPrivate);
  const runner = new Runner(calls, files, fetchAgent);
  const maxRunning = config.workers?.maxRunning ?? 64;
  const dispatch = config.redis ? new BullDispatch({ redisUrl: config.redis, name: 'modelhost-predictions', concurrency: maxRunning }) : undefined;
  const pollMs = config.workers?.pollMs ?? 250;
  const workers = new Workers(
    store,
    runner,
    webhooks,
    catalog,
    {
      instance,
      publicUrl: config.publicUrl,
      concurrencyPerModel: config.concurrencyPerModel,
      maxRunning,
      pollMs,
      heartbeatMs: config.workers?.heartbeatMs ?? 2_000,
      staleMs: config.workers?.staleMs ?? 15_000,
      progressMs: config.workers?.progressMs ?? 500,
      logProgressMs: config.workers?.logProgressMs ?? 2_000,
      recordUsage: config.recordUsage,
    },
    dispatch,
    log,
  );
  const service = new PredictionService({ store, catalog, workers, ...(admit ? { admit } : {}), allowPrivateTargets: webhookOptions.allowPrivate, maxAttempts: config.maxAttempts, pollMs });
  let sweep: NodeJS.Timeout | undefined;
  return {
    service,
    workers,
    webhooks,
    files,
    calls,
    publicUrl: config.publicUrl,
    start() {
      workers.start();
      webhooks.start();
      sweep = setInterval(() => void files.sweep().catch(() => undefined), 60_000);
    },
    async close() {
      clearInterval(sweep);
      await workers.close();
      await calls.close();
      await webhooks.close();
      await fetchAgent.close().catch(() => undefined);
    },
  };
}
