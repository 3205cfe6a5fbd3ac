import cluster from 'node:cluster';
import { Command } from 'commander';
import { pino } from 'pino';
import { runPrimary } from '../cluster/primary.ts';
import { compose } from '../compose.ts';
import { loadConfig, type Config } from '../config.ts';
import { fail, withDatabase, withModelsDir } from './options.ts';

export function serveCommand(): Command {
  const cmd = new Command('serve')
    .description('Start the HTTP server (Hugging Face Inference API, OpenAI completions, Hub-style model listing).')
    .option('--host <host>', 'address to listen on (env HOST)', undefined)
    .option('-p, --port <port>', 'port to listen on (env PORT)', undefined)
    .option('--preload <ids...>', 'models to load at start ("all" for every model); /ready answers 503 until done (env MODELHOST_PRELOAD, comma-separated)')
    .option('--workers <n>', 'worker threads hosting models (env MODELHOST_WORKERS)')
    .option(
      '--model-instances <n>',
      'copies of each model (not text generation), each in its own worker thread with its share of the cores: one pre-processes a batch while another runs; costs memory per copy (env MODELHOST_MODEL_INSTANCES; default 1)',
    )
    .option(
      '--processes <n|auto>',
      'HTTP processes sharing the port, "auto" for one per core (env MODELHOST_PROCESSES; default 1). Limits, circuit breakers and provider statistics stay shared; each process loads the local models it serves',
    )
    .option('--max-batch-size <n>', 'most inputs merged into one forward pass, and generations sharing a decoder step; 1 turns batching off (env MODELHOST_MAX_BATCH_SIZE)')
    .option('--batch-wait-ms <ms>', 'how long an idle model waits to fill a batch (env MODELHOST_BATCH_WAIT_MS)')
    .option('--memory-budget-mb <mb>', 'unload least-recently-used models above this (env MODELHOST_MEMORY_BUDGET_MB; default half the RAM)')
    .option('--max-wait-for-model <seconds>', 'longest a request is held while its model loads (env MODELHOST_MAX_WAIT_FOR_MODEL)')
    .option('--wait-for-model-by-default', 'hold every request for a cold model instead of answering 503 (the @huggingface/inference client is always held)')
    .option('--body-limit-mb <mb>', 'largest request body (env MODELHOST_BODY_LIMIT_MB)')
    .option('--cache-entries <n>', 'response cache size; 0 turns it off (env MODELHOST_CACHE_ENTRIES)')
    .option('--providers <file>', 'providers file (YAML/JSON): hosted providers, model mapping, prices, routing (env MODELHOST_PROVIDERS; README: Router)')
    .option('--redis <url>', 'redis://host:6379 to make rate limits and budgets global across instances (env MODELHOST_REDIS)')
    .option('--auth <mode>', 'auto (tokens required unless loopback-only with no token yet: then calls are the owner\'s, without limits) | required | off: no tokens, limits or usage records (env MODELHOST_AUTH)')
    .option('--tiers <file>', 'tiers file (YAML/JSON): requests/minute, concurrency, characters or tokens/minute, audio seconds/minute, megapixels/minute, monthly budget (env MODELHOST_TIERS)')
    .option('--reservation-ttl <seconds>', 'how long a slot or budget reservation outlives an instance that died holding it (env MODELHOST_RESERVATION_TTL)')
    .option('--default-tier <tier>', 'tier of tokens created without one (env MODELHOST_DEFAULT_TIER)')
    .option(
      '--anonymous-tier <tier>',
      'serve callers without a token at this tier, e.g. on a public server (env MODELHOST_ANONYMOUS_TIER); unset, they need a token, except the owner of a loopback-only server with no token yet, who is never limited',
    )
    .option('--endpoint-scale-up-window <seconds>', 'dedicated endpoints: load averaged over this window before adding a replica (env MODELHOST_ENDPOINT_SCALE_UP_WINDOW)')
    .option('--endpoint-scale-down-after <seconds>', 'dedicated endpoints: remove a replica above the minimum after this long without its load (env MODELHOST_ENDPOINT_SCALE_DOWN_AFTER)')
    .option(
      '--no-endpoint-spare-replica',
      'dedicated endpoints: do not keep a replica process started ahead of need (~90 MB while it waits; without it a wake from zero also pays for starting Node and onnxruntime) (env MODELHOST_ENDPOINT_SPARE_REPLICA=false)',
    )
    .option(
      '--endpoint-commands <file>',
      'dedicated endpoints: the server commands (one per line) an endpoints-scoped token may run as a custom server; admin tokens may run any (env MODELHOST_ENDPOINT_COMMANDS; README: Custom servers)',
    )
    .option('--log-level <level>', 'fatal|error|warn|info|debug|silent (env MODELHOST_LOG_LEVEL)')
    .option('--pull', 'pull on first call: a call for a Hub model that is not here downloads it into the HF cache, answering 503 with estimated_time meanwhile (env MODELHOST_PULL)')
    .option('--pull-allow <globs...>', 'with --pull, only repos matching these globs, e.g. "Xenova/*" (env MODELHOST_PULL_ALLOW, comma-separated)')
    .option('--pull-endpoint <url>', 'with --pull, the Hub to pull from (env HF_ENDPOINT; default https://huggingface.co); the token is HF_TOKEN')
    .option('--file-ttl <seconds>', 'predictions: how long output file URLs (/v1/files/...) stay valid (env MODELHOST_FILE_TTL; default 3600)')
    .option('--webhook-retry-for <seconds>', 'predictions: how long a completed webhook is retried, with exponential backoff (env MODELHOST_WEBHOOK_RETRY_FOR; default 3600)')
    .option('--webhook-retry-base <seconds>', 'predictions: first webhook retry delay, doubled per attempt up to --webhook-retry-max (env MODELHOST_WEBHOOK_RETRY_BASE; default 1)')
    .option('--webhook-retry-max <seconds>', 'predictions: longest wait between two webhook retries (env MODELHOST_WEBHOOK_RETRY_MAX; default 300)')
    .option('--webhook-allow-private', 'predictions: allow webhooks and input-file URLs on private or loopback addresses (env MODELHOST_WEBHOOK_ALLOW_PRIVATE)')
    .option('--prediction-concurrency <n>', 'predictions running at once per model on this instance (env MODELHOST_PREDICTION_CONCURRENCY; default 4)')
    .option('--prediction-attempts <n>', 'runs of a prediction whose instance died while running it, then failed with a reason (env MODELHOST_PREDICTION_ATTEMPTS; default 2: retried once)')
    .option('--prediction-stale-after <seconds>', 'a running prediction whose instance stopped beating this long is taken for orphaned (env MODELHOST_PREDICTION_STALE_AFTER; default 15)')
    .addHelpText(
      'after',
      `
Examples:
  modelhost serve
  modelhost serve --port 9000 --preload facebook/fasttext-lid-176
  curl -X POST http://127.0.0.1:8080/models/facebook/fasttext-lid-176 \\
       -H 'Content-Type: application/json' -d '{"inputs": "Bonjour tout le monde"}'`,
    );
  withModelsDir(cmd);
  cmd
    .option('--hf-cache <dir>', 'serve the models of this Hugging Face hub cache too, under their Hub ids (env MODELHOST_HF_CACHE; default: HF_HUB_CACHE, HF_HOME/hub or ~/.cache/huggingface/hub)')
    .option('--no-hf-cache', 'do not serve the models of the Hugging Face hub cache');
  withDatabase(cmd);
  cmd.action(async (opts: Record<string, unknown>) => {
    let config: Config;
    try {
      config = loadConfig({ ...opts, reservationTtlSeconds: opts.reservationTtl, builtinModels: opts.builtinModels === false ? false : undefined, endpointSpareReplica: opts.endpointSpareReplica === false ? false : undefined });
    } catch (e) {
      fail((e as Error).message);
    }
    if (config.processes > 1 && cluster.isPrimary) {
      const log = pino({ level: config.logLevel });
      log.info(`cluster: starting ${config.processes} processes on ${config.host}:${config.port}`);
      await runPrimary({
        processes: config.processes,
        redis: config.redis,
        reservationTtlSeconds: config.reservationTtlSeconds,
        log: (level, message) => log[level](message),
        onListening: (address) => log.info(`cluster: ${config.processes} processes serving on ${address}`),
      });
      return;
    }
    let composed: Awaited<ReturnType<typeof compose>>;
    try {
      composed = await compose(config, { logger: { level: config.logLevel } });
    } catch (e) {
      fail((e as Error).message);
    }
    const { app, deps, preloaded, close } = composed;
    try {
      await app.listen({ host: config.host, port: config.port });
    } catch (e) {
      fail(`cannot listen on ${config.host}:${config.port}: ${(e as Error).message}. Pick another with --port or PORT.`);
    }
    app.log.info(`serving ${deps.repository.list().length} models from ${config.modelsDir}${config.hfCache ? `, the HF cache ${config.hfCache}` : ''} (and built-in ones); GET /api/models lists them`);
    preloaded.then(
      () => config.preload.length && app.log.info('preloading finished; /ready answers 200'),
      (e: Error) => app.log.error(`preloading failed: ${e.message}`),
    );
    const stop = async () => {
      app.log.info('shutting down');
      await close();
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return cmd;
}
