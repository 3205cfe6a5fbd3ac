import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { hfCachePath } from './hub/cache-path.ts';

/** Folder of this package (models shipped with it live in builtin-models/). */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);

/** Server settings; every one can come from a flag or an environment variable (README: Configuration). */
export const configSchema = z.object({
  host: z.string().default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  modelsDir: z.string().default('./models'),
  /** Serve the models shipped in builtin-models/ (fastText language id, Silero VAD). */
  builtinModels: bool.default(true),
  /** HF hub cache whose models are served too (default: HF_HUB_CACHE, HF_HOME/hub or ~/.cache/huggingface/hub); false: none. */
  hfCache: z.union([z.literal(false), z.string().min(1)]).optional(),
  preload: z.array(z.string()).default([]),
  workers: z.coerce.number().int().min(1).max(64).default(1),
  /** Copies of each batch-task model, each in its own worker thread with its share of the cores (src/engine/engine.ts). */
  modelInstances: z.coerce.number().int().min(1).max(64).default(1),
  /** HTTP processes sharing the port (node:cluster); "auto": one per core. Shared state lives in the primary (src/cluster). */
  processes: z.union([z.literal('auto').transform(() => os.availableParallelism()), z.coerce.number().int().min(1).max(64)]).default(1),
  maxBatchSize: z.coerce.number().int().min(1).max(1024).default(64),
  batchWaitMs: z.coerce.number().min(0).max(1000).default(2),
  memoryBudgetMb: z.coerce.number().int().min(64).default(Math.floor((os.totalmem() / 1024 ** 2) * 0.5)),
  maxWaitForModelSeconds: z.coerce.number().min(0).max(3600).default(120),
  waitForModelByDefault: bool.default(false),
  bodyLimitMb: z.coerce.number().min(0.001).max(1024).default(16),
  cacheEntries: z.coerce.number().int().min(0).default(1000),
  cacheTtlSeconds: z.coerce.number().min(0).default(600),
  maxQueuedItems: z.coerce.number().int().min(1).default(4096),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  publicUrl: z.string().optional(),
  /** Providers file (YAML or JSON): hosted providers, model mapping, prices, routing policy. */
  providers: z.string().optional(),
  /** `postgres://...` to share tokens and usage between instances; else SQLite in the data directory. */
  database: z.string().optional(),
  /** Where the embedded database lives. */
  dataDir: z.string().default('./data'),
  /** `redis://...` to make rate limits and budgets global across instances; else they are per process. */
  redis: z.string().optional(),
  /** auto: tokens required unless the server listens on loopback only and no token exists yet (then the caller is the owner: no limits); off: no tokens, limits or usage records. */
  auth: z.enum(['auto', 'required', 'off']).default('auto'),
  /** Tiers file (YAML or JSON): requests/minute, concurrency, tokens or characters/minute, monthly budget. */
  tiers: z.string().optional(),
  /** Tier of tokens created without one. */
  defaultTier: z.string().default('free'),
  /** Serve callers without a token at this tier (anonymous access beyond loopback); unset: they need a token. */
  anonymousTier: z.string().optional(),
  /** How long a concurrency slot or budget reservation outlives an instance that died holding it. */
  reservationTtlSeconds: z.coerce.number().min(1).max(86_400).default(600),
  /** Dedicated endpoints: load is averaged over this window before a replica is added (Hugging Face: 20 s). */
  endpointScaleUpWindowSeconds: z.coerce.number().min(0.1).max(3600).default(10),
  /** Dedicated endpoints: a replica above the minimum is removed after this long without the load that needed it. */
  endpointScaleDownAfterSeconds: z.coerce.number().min(0.1).max(86_400).default(60),
  /** Dedicated endpoints: keep one replica process started ahead of need, so waking from zero skips Node's start. */
  endpointSpareReplica: bool.default(true),
  /** Dedicated endpoints: file naming the server commands an endpoints-scoped token may start (custom servers); admins may start any. */
  endpointCommands: z.string().min(1).optional(),
  /** Pull on first call: a call for a Hub model that is not here downloads it into the HF cache (503 meanwhile). */
  pull: bool.default(false),
  /** Repo-id globs `pull` may fetch (fnmatch, e.g. `Xenova/*`); empty: any. */
  pullAllow: z.array(z.string().min(1)).default([]),
  /** The Hub pulls come from: huggingface.co, a mirror, or another modelhost. */
  pullEndpoint: z.string().url().default('https://huggingface.co'),
  /** Token sent to the pull endpoint for gated and private repositories. */
  hfToken: z.string().optional(),
  /** Predictions: how long output file URLs (`/v1/files/...`) stay valid, seconds. */
  fileTtl: z.coerce.number().min(1).max(30 * 86_400).default(3600),
  /** Predictions: how long a terminal webhook is retried after completion, seconds. */
  webhookRetryFor: z.coerce.number().min(0).max(7 * 86_400).default(3600),
  /** Predictions: first webhook retry delay, seconds (doubled per attempt, up to webhookRetryMax). */
  webhookRetryBase: z.coerce.number().min(0.01).max(300).default(1),
  /** Predictions: longest wait between two webhook retries, seconds. */
  webhookRetryMax: z.coerce.number().min(0.01).max(3600).default(300),
  /** Predictions: allow webhooks and input-file URLs on private and loopback addresses. */
  webhookAllowPrivate: bool.default(false),
  /** Predictions running at once per model on one instance. */
  predictionConcurrency: z.coerce.number().int().min(1).max(1024).default(4),
  /** Runs of a prediction whose instance died while running it (2: retried once), then failed with a reason. */
  predictionAttempts: z.coerce.number().int().min(1).max(10).default(2),
  /** A running prediction whose instance has not said it is alive for this long is taken for orphaned, seconds. */
  predictionStaleAfter: z.coerce.number().min(0.5).max(3600).default(15),
});

export type Config = z.output<typeof configSchema>;

/** Environment variables read when the matching flag is absent. */
export const envNames: Partial<Record<keyof Config, string>> = {
  host: 'HOST',
  port: 'PORT',
  modelsDir: 'MODELHOST_MODELS_DIR',
  builtinModels: 'MODELHOST_BUILTIN_MODELS',
  hfCache: 'MODELHOST_HF_CACHE',
  preload: 'MODELHOST_PRELOAD',
  workers: 'MODELHOST_WORKERS',
  modelInstances: 'MODELHOST_MODEL_INSTANCES',
  processes: 'MODELHOST_PROCESSES',
  maxBatchSize: 'MODELHOST_MAX_BATCH_SIZE',
  batchWaitMs: 'MODELHOST_BATCH_WAIT_MS',
  memoryBudgetMb: 'MODELHOST_MEMORY_BUDGET_MB',
  maxWaitForModelSeconds: 'MODELHOST_MAX_WAIT_FOR_MODEL',
  waitForModelByDefault: 'MODELHOST_WAIT_FOR_MODEL_BY_DEFAULT',
  bodyLimitMb: 'MODELHOST_BODY_LIMIT_MB',
  cacheEntries: 'MODELHOST_CACHE_ENTRIES',
  cacheTtlSeconds: 'MODELHOST_CACHE_TTL',
  logLevel: 'MODELHOST_LOG_LEVEL',
  publicUrl: 'MODELHOST_PUBLIC_URL',
  providers: 'MODELHOST_PROVIDERS',
  database: 'MODELHOST_DATABASE',
  dataDir: 'MODELHOST_DATA_DIR',
  redis: 'MODELHOST_REDIS',
  auth: 'MODELHOST_AUTH',
  tiers: 'MODELHOST_TIERS',
  defaultTier: 'MODELHOST_DEFAULT_TIER',
  anonymousTier: 'MODELHOST_ANONYMOUS_TIER',
  reservationTtlSeconds: 'MODELHOST_RESERVATION_TTL',
  endpointScaleUpWindowSeconds: 'MODELHOST_ENDPOINT_SCALE_UP_WINDOW',
  endpointScaleDownAfterSeconds: 'MODELHOST_ENDPOINT_SCALE_DOWN_AFTER',
  endpointSpareReplica: 'MODELHOST_ENDPOINT_SPARE_REPLICA',
  endpointCommands: 'MODELHOST_ENDPOINT_COMMANDS',
  pull: 'MODELHOST_PULL',
  pullAllow: 'MODELHOST_PULL_ALLOW',
  pullEndpoint: 'HF_ENDPOINT',
  hfToken: 'HF_TOKEN',
  fileTtl: 'MODELHOST_FILE_TTL',
  webhookRetryFor: 'MODELHOST_WEBHOOK_RETRY_FOR',
  webhookRetryBase: 'MODELHOST_WEBHOOK_RETRY_BASE',
  webhookRetryMax: 'MODELHOST_WEBHOOK_RETRY_MAX',
  webhookAllowPrivate: 'MODELHOST_WEBHOOK_ALLOW_PRIVATE',
  predictionConcurrency: 'MODELHOST_PREDICTION_CONCURRENCY',
  predictionAttempts: 'MODELHOST_PREDICTION_ATTEMPTS',
  predictionStaleAfter: 'MODELHOST_PREDICTION_STALE_AFTER',
};

/** Flags win over environment variables, which win over defaults. A bad value is a clear error. */
export function loadConfig(flags: Partial<Record<keyof Config, unknown>>, env: NodeJS.ProcessEnv = process.env): Config {
  const merged: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape) as (keyof Config)[]) {
    const envName = envNames[key];
    let value = flags[key] ?? (envName ? env[envName] : undefined);
    if ((key === 'preload' || key === 'pullAllow') && typeof value === 'string') value = value.split(',').map((s) => s.trim()).filter(Boolean);
    // The HF cache is found where the Hugging Face clients put it, unless turned off (`--no-hf-cache`, "off").
    if (key === 'hfCache') value = value === 'off' || value === 'false' || value === false ? false : (value ?? hfCachePath(env));
    if (value !== undefined) merged[key] = value;
  }
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0]);
    throw new Error(`Invalid setting ${key}${envNames[key as keyof Config] ? ` (or ${envNames[key as keyof Config]})` : ''}: ${issue.message}`);
  }
  return parsed.data;
}
