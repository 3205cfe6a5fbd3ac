/**
 * `modelhost predictions create|get|list|cancel`: async predictions through a running server's Replicate-style
 * API (README: Predictions and webhooks). `--wait` follows a prediction to its end with a progress line on
 * stderr (status, elapsed time, tokens so far); the prediction itself is printed on stdout.
 */
import { Command, Option } from 'commander';
import { fail } from './options.ts';
import { callServer as call } from './server-call.ts';

interface Conn {
  url: string;
  token?: string;
  json?: boolean;
}

interface Prediction {
  id: string;
  model: string;
  status: string;
  output: unknown;
  error: string | null;
  created_at: string;
  completed_at?: string;
  metrics?: { predict_time?: number };
}

const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);

function withConnection(cmd: Command): Command {
  return cmd
    .addOption(new Option('--url <url>', 'the modelhost server').env('MODELHOST_URL').default('http://127.0.0.1:8080'))
    .addOption(new Option('--token <token>', 'a token with the inference scope (never printed)').env('MODELHOST_TOKEN'))
    .option('--json', 'print the JSON the server answered');
}


/** `key=value` pairs: the value is JSON when it parses (numbers, booleans, objects), else a string. */
function parseInputs(pairs: string[]): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) fail(`--input ${pair}: expected key=value`);
    const raw = pair.slice(at + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      /* a plain string */
    }
    input[pair.slice(0, at)] = value;
  }
  return input;
}

function show(conn: Conn, p: Prediction): void {
  if (conn.json) return void process.stdout.write(`${JSON.stringify(p, null, 2)}\n`);
  const time = p.metrics?.predict_time !== undefined ? ` in ${p.metrics.predict_time.toFixed(2)} s` : '';
  process.stdout.write(`${p.id}  ${p.model}  ${p.status}${time}\n`);
  if (p.error) process.stdout.write(`error: ${p.error}\n`);
  if (p.output !== null && p.output !== undefined) {
    const out = Array.isArray(p.output) && p.output.every((t) => typeof t === 'string') ? p.output.join('') : JSON.stringify(p.output);
    process.stdout.write(`${out}\n`);
  }
}

/** Polls until the prediction ends, redrawing one progress line on stderr. */
async function follow(conn: Conn, first: Prediction): Promise<Prediction> {
  let p = first;
  const started = Date.parse(p.created_at);
  const tty = process.stderr.isTTY;
  while (!TERMINAL.has(p.status)) {
    const tokens = Array.isArray(p.output) ? ` · ${p.output.length} outputs` : '';
    const line = `${p.id} ${p.status} · ${((Date.now() - started) / 1000).toFixed(1)} s${tokens}`;
    process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
    await new Promise((r) => setTimeout(r, 500));
    p = await call<Prediction>(conn, 'GET', `/v1/predictions/${p.id}`);
  }
  if (tty) process.stderr.write('\r\x1b[K');
  return p;
}

export function predictionsCommand(): Command {
  const cmd = new Command('predictions').description('Async predictions (Replicate-compatible API): create, get, list, cancel.');

  withConnection(
    cmd
      .command('create <model>')
      .description('Create a prediction of a served model (owner/name), or of a dedicated endpoint with --deployment.')
      .option('-i, --input <key=value...>', 'input fields, e.g. prompt="a red fox" max_new_tokens=20 (JSON values are parsed)', [])
      .option('--input-json <json>', 'the whole input as a JSON object (merged under --input)')
      .option('--webhook <url>', 'URL to POST the prediction to (signed; see GET /v1/webhooks/default/secret)')
      .option('--events <events...>', 'webhook events: start output logs completed')
      .option('--deployment', '<model> names a dedicated endpoint (owner/name) rather than a model')
      .option('--wait', 'follow it to its end, with a progress line')
      .addHelpText('after', '\nExample:\n  modelhost predictions create tiny/gpt2 -i prompt="once upon a time" max_new_tokens=20 --wait'),
  ).action(async (model: string, opts: Conn & { input: string[]; inputJson?: string; webhook?: string; events?: string[]; deployment?: boolean; wait?: boolean }) => {
    let base: Record<string, unknown> = {};
    if (opts.inputJson) {
      try {
        base = JSON.parse(opts.inputJson) as Record<string, unknown>;
      } catch (e) {
        fail(`--input-json: ${(e as Error).message}`);
      }
    }
    const body = {
      input: { ...base, ...parseInputs(opts.input) },
      ...(opts.webhook ? { webhook: opts.webhook } : {}),
      ...(opts.events ? { webhook_events_filter: opts.events } : {}),
    };
    if (!/^[^/\s]+\/[^/\s]+$/.test(model)) fail(`<model> must be owner/name, got "${model}"`);
    const path = opts.deployment ? `/v1/deployments/${model}/predictions` : `/v1/models/${model}/predictions`;
    let p = await call<Prediction>(opts, 'POST', path, body);
    if (opts.wait) p = await follow(opts, p);
    show(opts, p);
    if (p.status === 'failed') process.exitCode = 1;
  });

  withConnection(cmd.command('get <id>').description('Show a prediction.').option('--wait', 'follow it to its end, with a progress line')).action(
    async (id: string, opts: Conn & { wait?: boolean }) => {
      let p = await call<Prediction>(opts, 'GET', `/v1/predictions/${encodeURIComponent(id)}`);
      if (opts.wait) p = await follow(opts, p);
      show(opts, p);
    },
  );

  withConnection(cmd.command('list').description('List your predictions, newest first.').option('--all', 'every page, not only the first')).action(
    async (opts: Conn & { all?: boolean }) => {
      let page = await call<{ next: string | null; results: Prediction[] }>(opts, 'GET', '/v1/predictions');
      const all = [...page.results];
      while (opts.all && page.next) {
        page = await call<typeof page>(opts, 'GET', new URL(page.next).pathname + new URL(page.next).search);
        all.push(...page.results);
      }
      if (opts.json) return void process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
      for (const p of all) process.stdout.write(`${p.id}  ${p.created_at}  ${p.model}  ${p.status}\n`);
      if (!opts.all && page.next) process.stderr.write('(more: --all)\n');
    },
  );

  withConnection(cmd.command('cancel <id>').description('Cancel a queued or running prediction.')).action(async (id: string, opts: Conn) => {
    show(opts, await call<Prediction>(opts, 'POST', `/v1/predictions/${encodeURIComponent(id)}/cancel`));
  });

  return cmd;
}
