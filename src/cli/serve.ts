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
      '--processes <n|auto>',
      'HTTP processes sharing the port, "auto" for one per core (env MODELHOST_PROCESSES; default 1). Limits, circuit breakers and provider statistics stay shared; each process loads the local models it serves',
    )
    .option('--max-batch-size <n>', 'most inputs merged into one forward pass; 1 turns batching off (env MODELHOST_MAX_BATCH_SIZE)')
    .option('--batch-wait-ms <ms>', 'how long an idle model waits to fill a batch (env MODELHOST_BATCH_WAIT_MS)')
    .option('--memory-budget-mb <mb>', 'unload least-recently-used models above this (env MODELHOST_MEMORY_BUDGET_MB; default half the RAM)')
    .option('--max-wait-for-model <seconds>', 'longest a request is held while its model loads (env MODELHOST_MAX_WAIT_FOR_MODEL)')
    .option('--wait-for-model-by-default', 'hold every request for a cold model instead of answering 503 (the @huggingface/inference client is always held)')
    .option('--body-limit-mb <mb>', 'largest request body (env MODELHOST_BODY_LIMIT_MB)')
    .option('--cache-entries <n>', 'response cache size; 0 turns it off (env MODELHOST_CACHE_ENTRIES)')
    .option('--providers <file>', 'providers file (YAML/JSON): hosted providers, model mapping, prices, routing (env MODELHOST_PROVIDERS; README: Router)')
    .option('--redis <url>', 'redis://host:6379 to make rate limits and budgets global across instances (env MODELHOST_REDIS)')
    .option('--auth <mode>', 'auto (tokens required unless loopback-only with no token yet) | required | off: no tokens, limits or usage records (env MODELHOST_AUTH)')
    .option('--tiers <file>', 'tiers file (YAML/JSON): requests/minute, concurrency, characters or tokens/minute, monthly budget (env MODELHOST_TIERS)')
    .option('--reservation-ttl <seconds>', 'how long a slot or budget reservation outlives an instance that died holding it (env MODELHOST_RESERVATION_TTL)')
    .option('--default-tier <tier>', 'tier of tokens created without one (env MODELHOST_DEFAULT_TIER)')
    .option('--endpoint-scale-up-window <seconds>', 'dedicated endpoints: load averaged over this window before adding a replica (env MODELHOST_ENDPOINT_SCALE_UP_WINDOW)')
    .option('--endpoint-scale-down-after <seconds>', 'dedicated endpoints: remove a replica above the minimum after this long without its load (env MODELHOST_ENDPOINT_SCALE_DOWN_AFTER)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|silent (env MODELHOST_LOG_LEVEL)')
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
  withDatabase(cmd);
  cmd.action(async (opts: Record<string, unknown>) => {
    let config: Config;
    try {
      config = loadConfig({ ...opts, reservationTtlSeconds: opts.reservationTtl, builtinModels: opts.builtinModels === false ? false : undefined });
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
    app.log.info(`serving ${deps.repository.list().length} models from ${config.modelsDir} (and built-in ones); GET /api/models lists them`);
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
