import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { parseFaultPlan } from '../simulate/fault-plan.ts';
import { listen } from '../simulate/harness.ts';
import { simulators } from '../simulate/index.ts';
import { fail } from './options.ts';

/** A plan given inline as JSON, or as a YAML/JSON file. */
function readPlan(value: string | undefined): unknown {
  if (!value) return {};
  const text = value.trim().startsWith('{') ? value : readFileSync(value, 'utf8');
  return value.endsWith('.json') || text.trim().startsWith('{') ? JSON.parse(text) : parseYaml(text);
}

export function simulateCommand(): Command {
  return new Command('simulate')
    .description('Run a local simulator of a hosted provider\'s real API, with faults from a plan (for tests, demos and `modelhost bench`).')
    .argument('<provider>', `one of: ${Object.keys(simulators).join(', ')}`)
    .option('-p, --port <port>', 'port to listen on (0 picks a free one)', '0')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--plan <json-or-file>', 'fault plan: inline JSON or a YAML/JSON file (fields: latencyMs{mean,jitter,distribution}, errorRate, errorStatus, rateLimitRate, retryAfterSeconds, outage, hangRate, firstTokenDelayMs, tokenIntervalMs, cutRate, cutAfterEvents, malformedRate, urlTtlMs, failAfterCompleteRate, jobFailRate, seed)')
    .option('--token <key>', 'refuse calls without this key, as the real API does')
    .addHelpText(
      'after',
      `
The plan can be changed while it runs: PUT /__sim/plan with a partial plan (JSON); GET /__sim/stats counts requests.

Examples:
  modelhost simulate openai-compatible --port 9001
  modelhost simulate replicate --port 9002 --plan '{"latencyMs":{"mean":100,"jitter":10},"errorRate":0.05}'
  modelhost simulate fal-ai --port 9003 --plan plans/flaky.yaml
  curl -X PUT localhost:9001/__sim/plan -H 'content-type: application/json' -d '{"outage":"503"}'`,
    )
    .action(async (provider: string, opts: { port: string; host: string; plan?: string; token?: string }) => {
      const entry = simulators[provider];
      if (!entry) fail(`unknown provider "${provider}". Choose one of: ${Object.keys(simulators).join(', ')}`);
      let plan;
      try {
        plan = parseFaultPlan(readPlan(opts.plan));
      } catch (e) {
        fail(`--plan: ${(e as Error).message}`);
      }
      const { app, sim } = entry.factory({ plan, token: opts.token });
      const started = await listen(app, sim, Number(opts.port), opts.host);
      console.log(`${provider} simulator (${entry.describe}) listening on ${started.url}${entry.apiPath}`);
      const stop = async () => {
        await started.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
