/**
 * `modelhost bench`: the same payload to each target, N requests at concurrency C, and the figures to choose
 * between them (latency percentiles, time to first byte/token, errors by kind, throughput, cost per request), as a
 * table, JSON, CSV, a self-contained HTML report and a PNG of its main chart. `bench compare` sets results side
 * by side; `bench report` renders a saved result again. See docs/benchmarks.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { runBench, resolveAll, type BenchOptions } from '../bench/bench.ts';
import { comparisonTable, compareRuns, resultTable, settingDifferences, toCsv, usd } from '../bench/format.ts';
import { renderHtml } from '../bench/html.ts';
import { EXAMPLES, loadPayload } from '../bench/payloads.ts';
import { findChromium, writePng } from '../bench/png.ts';
import { parseBenchRun, type BenchRun } from '../bench/result.ts';
import type { Api } from '../bench/targets.ts';
import { fail } from './options.ts';

const DEFAULT_BASE_URL = 'http://127.0.0.1:8080';
/** Preferred default model of a bare `modelhost bench`: a tiny text classifier every `npm start` serves. */
const DEFAULT_MODEL = 'tiny/bert-sentiment';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected an integer ≥ 0');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface Opts {
  model?: string;
  task?: string;
  api?: Api;
  data?: string;
  dataFile?: string;
  requests: number;
  concurrency?: number;
  warmup: number;
  rate?: number;
  timeout: number;
  stream: boolean;
  baseUrl: string;
  tokenEnv?: string;
  useCache: boolean;
  header: string[];
  price: string[];
  examples: number;
  json?: string;
  csv?: string;
  html?: string;
  png?: string;
  out?: string;
  chromium?: string;
  progress: boolean;
}

function parseHeaders(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of list) {
    const at = h.indexOf(':');
    if (at <= 0) fail(`--header ${h.split(':')[0]}: expected "name: value"`);
    out[h.slice(0, at).trim().toLowerCase()] = h.slice(at + 1).trim();
  }
  return out;
}

function parsePrices(list: string[]): Map<string, number> {
  const prices = new Map<string, number>();
  for (const p of list) {
    const at = p.lastIndexOf('=');
    const name = at > 0 ? p.slice(0, at) : '';
    const value = Number(at > 0 ? p.slice(at + 1) : p);
    if (!Number.isFinite(value) || value < 0) fail(`--price ${p}: expected USD per request, e.g. --price 0.0004 or --price together=0.0004`);
    prices.set(name, value);
  }
  return prices;
}

/** The command line as recorded in the result: header values (which may be tokens) are replaced. */
function recordedCommand(argv: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if ((a === '-H' || a === '--header') && argv[i + 1] !== undefined) {
      out.push(a, `${argv[i + 1]!.split(':')[0]}: <redacted>`);
      i++;
    } else if (a.startsWith('--header=')) out.push(`--header=${a.slice(9).split(':')[0]}: <redacted>`);
    else out.push(/\s/.test(a) ? `'${a}'` : a);
  }
  return `modelhost bench ${out.join(' ')}`.trim();
}

async function getJson(url: string, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: undefined };
  }
}

/** Model and task for modelhost targets, asked of the server when the flags leave them out. */
async function discover(opts: Opts, needsModel: boolean, auth: Record<string, string>): Promise<{ model?: string; task?: string }> {
  const base = opts.baseUrl.replace(/\/+$/, '');
  let model = opts.model;
  let task = opts.task;
  const unreachable = (e: unknown): never =>
    fail(`cannot reach modelhost at ${base} (${(e as Error).message}). Start it with \`npm start\` (or \`modelhost serve\`), or pass --base-url; or pass --model and --task.`);
  if (!model && needsModel) {
    const list = await getJson(`${base}/api/models${task ? `?pipeline_tag=${encodeURIComponent(task)}` : ''}`, auth).catch(unreachable);
    const models = Array.isArray(list.body) ? (list.body as { id: string; pipeline_tag?: string }[]) : [];
    const known = models.filter((m) => m.pipeline_tag && EXAMPLES[m.pipeline_tag]);
    const pick = known.find((m) => m.id === DEFAULT_MODEL) ?? known.find((m) => m.pipeline_tag === 'text-classification') ?? known[0];
    if (!pick) fail(`${base} lists no model${task ? ` for task ${task}` : ''} with a built-in example payload: pass --model and --data.`);
    model = pick.id;
    task ??= pick.pipeline_tag;
  }
  if (model && !task && opts.data === undefined && opts.dataFile === undefined) {
    try {
      const info = await getJson(`${base}/api/models/${model}`, auth);
      const tag = (info.body as { pipeline_tag?: string } | undefined)?.pipeline_tag;
      if (info.status === 200 && tag) task = tag;
    } catch {
      // an external-only run: the task stays unknown and the default example is used
    }
  }
  return { model, task };
}

function writeOut(file: string, text: string) {
  if (file === '-') {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    return;
  }
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, text);
}

/** JSON, CSV, HTML and PNG as the flags ask; `--out <dir>` gives all four timestamped names. */
async function writeOutputs(run: BenchRun, o: { json?: string; csv?: string; html?: string; png?: string; out?: string; chromium?: string }, say: (s: string) => void) {
  const stamp = run.startedAt.replace(/[:.]/g, '-');
  const inOut = (ext: string) => (o.out ? path.join(o.out, `bench-${stamp}.${ext}`) : undefined);
  const json = o.json ?? inOut('json');
  const csv = o.csv ?? inOut('csv');
  const html = o.html ?? inOut('html') ?? (o.png ? path.join(path.dirname(path.resolve(o.png)), `${path.basename(o.png, '.png')}.html`) : undefined);
  const png = o.png ?? inOut('png');
  if (json) {
    writeOut(json, `${JSON.stringify(run, null, 2)}\n`);
    if (json !== '-') say(`wrote ${json}`);
  }
  if (csv) {
    writeOut(csv, toCsv(run));
    if (csv !== '-') say(`wrote ${csv}`);
  }
  if (html) {
    writeOut(html, renderHtml(run));
    say(`wrote ${html} (self-contained: open it in any browser, no network needed)`);
  }
  if (png && html) {
    let chromium: string;
    try {
      chromium = findChromium(o.chromium);
    } catch (e) {
      if (o.png) fail(`--png: ${(e as Error).message}`);
      say(`no PNG: ${(e as Error).message}`);
      return;
    }
    await writePng(html, png, chromium);
    say(`wrote ${png}`);
  }
}

function readResult(file: string): BenchRun {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    fail(`cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return parseBenchRun(data, file);
  } catch (e) {
    fail((e as Error).message);
  }
}

/** `bench compare a.json b.json...`: every target of every run, with its change against the first run that has it. */
function compareCommand(files: string[], o: Opts) {
  if (files.length < 2) fail('bench compare needs two or more result files (from modelhost bench --json)');
  const runs = files.map((file) => ({ file, run: readResult(file) }));
  const rows = compareRuns(runs);
  const out = o.json === '-' ? process.stderr : process.stdout;
  runs.forEach((r, i) =>
    out.write(`run ${i + 1}: ${r.file} (${r.run.startedAt}, ${r.run.settings.requests} requests, ${r.run.settings.rate === null ? `concurrency ${r.run.settings.concurrency}` : `${r.run.settings.rate} req/s`})\n`),
  );
  for (let i = 1; i < runs.length; i++) {
    const diff = settingDifferences(runs[0]!.run, runs[i]!.run);
    if (diff.length) out.write(`note: run ${i + 1} differs from run 1 in ${diff.join('; ')}: compare with care\n`);
  }
  out.write(`\n${comparisonTable(rows)}\n`);
  out.write('Δ: change against the same target in the first run that has it (errors in percentage points).\n');
  if (o.json) writeOut(o.json, `${JSON.stringify({ files, rows }, null, 2)}\n`);
}

/** `bench report run.json`: the table again, and any of --html, --png, --csv from a saved result. */
async function reportCommand(files: string[], o: Opts) {
  if (files.length !== 1) fail('bench report takes one result file (from modelhost bench --json)');
  const run = readResult(files[0]!);
  const say = (s: string) => (o.csv === '-' || o.json === '-' ? process.stderr : process.stdout).write(`${s}\n`);
  say(resultTable(run));
  try {
    await writeOutputs(run, o, say);
  } catch (e) {
    fail((e as Error).message);
  }
}

const HELP_AFTER = `
Targets (default: local):
  local                 the local engine on the modelhost server at --base-url
  <provider>            a provider of the server's providers file, e.g. together (POST /<provider>/models/<id>)
  :fastest, :cheapest   the router's policies (OpenAI route, model "<id>:fastest")
  endpoint:<name>       a dedicated endpoint: POST /endpoints/<name> (or /endpoints/<name>/v1/chat/completions with --api openai)
  <url>                 any URL speaking the Hugging Face or OpenAI API, e.g.
                        https://router.huggingface.co/v1/chat/completions (token from HF_TOKEN) or
                        https://api.openai.com/v1/chat/completions (token from OPENAI_API_KEY)
  label=<target>        the same, shown under your own name
Saved results:
  modelhost bench compare <a.json> <b.json>...   runs side by side, with the change of each target (--json for the rows)
  modelhost bench report <run.json>              the table again, and --html / --png / --csv from a saved result

Tokens are read from the environment and never printed or written: MODELHOST_TOKEN for the modelhost server,
HF_TOKEN for Hugging Face hosts, OPENAI_API_KEY for other OpenAI-API URLs, or the variable named by --token-env.

Measured: latency (avg, P50, P90, P95, P99, min, max) of successful requests, time to first byte (and to first
token with --stream), errors by kind (http_4xx, http_429, http_5xx, timeout, connection, stream_error,
stream_incomplete, invalid_body), throughput, and cost per request (from modelhost's price tables for modelhost
targets, else --price). Percentiles come from an HDR histogram. Without --rate the load is a closed loop (C
workers back to back); with --rate requests are sent on a fixed schedule and latency counts from the scheduled
time, so a stalled server cannot hide its stall (no coordinated omission).

Examples:
  modelhost bench                                         # local default model, 20 requests (after npm start)
  modelhost bench local --model tiny/bert-sentiment -n 100 -c 4 --warmup 5
  modelhost bench together fireworks :fastest --model meta-llama/Llama-3.1-8B-Instruct --html report.html
  modelhost bench local --model tiny/gpt2 --stream --data '{"inputs": "Once upon a time", "parameters": {"max_new_tokens": 16}}'
  modelhost bench :cheapest --model org/chat -n 200 --rate 10 -c 32 --json run.json --csv run.csv
  modelhost bench hf=https://router.huggingface.co/v1/chat/completions --model openai/gpt-oss-20b:fastest --price 0.0002
  modelhost bench endpoint:my-llm --api openai --stream --out perf/results
  modelhost bench local --model tiny/vit --data-file cat.png --png latency.png --chromium /usr/bin/chromium
  modelhost bench local --task fill-mask --use-cache --examples 5 --timeout 10
  modelhost bench --base-url http://gpu-box:8080 -H "x-wait-for-model: true" local --model org/big-model
  modelhost bench gpt=https://api.openai.com/v1/chat/completions --model gpt-4o-mini --token-env MY_OPENAI_KEY --price 0.00015 --no-progress --csv -
  modelhost bench compare before.json after.json
  modelhost bench compare perf/results/bench-*.json --json diff.json
  modelhost bench report run.json --html run.html --png run.png`;

export function benchCommand(): Command {
  const cmd = new Command('bench')
    .description(
      'Send the same payload to one or more targets (modelhost routes or any Hugging Face / OpenAI API URL) and compare latency, errors, throughput and cost.',
    )
    .argument('[targets...]', 'what to measure (see Targets below)')
    .option('-m, --model <id>', 'model id for modelhost targets and OpenAI URLs (default: asked of the server: tiny/bert-sentiment or its first model)')
    .option('-t, --task <task>', `task of the built-in example payload (default: the model's task); one of: ${Object.keys(EXAMPLES).join(', ')}`)
    .addOption(new Option('--api <api>', 'API to speak to modelhost targets: hf (POST /models/<id>) or openai (/v1/chat/completions); default: openai for chat payloads and policies').choices(['hf', 'openai']))
    .option('-d, --data <json>', 'payload as inline JSON, e.g. \'{"inputs": "I love it"}\' (model and stream are set per target)')
    .option('--data-file <file>', 'payload from a file: .json, or binary (image, audio) sent as it is')
    .option('-n, --requests <n>', 'measured requests per target', positiveInt, 20)
    .option('-c, --concurrency <n>', 'requests in flight at once (with --rate: the most in flight; default 1, or 64 with --rate)', positiveInt)
    .option('--warmup <n>', 'unmeasured requests per target first (cold models, connection set-up)', nonNegativeInt, 0)
    .option('--rate <r>', 'send r requests per second on a fixed schedule (open loop; latency from the scheduled time)', positiveNumber)
    .option('--timeout <s>', 'seconds before a request counts as a timeout', positiveNumber, 60)
    .option('--stream', 'ask for streamed answers (stream: true) and measure time to first token', false)
    .addOption(new Option('--base-url <url>', 'the modelhost server').env('MODELHOST_URL').default(DEFAULT_BASE_URL))
    .option('--token-env <var>', 'environment variable holding the token for URL targets (default by host: HF_TOKEN, OPENAI_API_KEY)')
    .option('-H, --header <name:value>', 'extra request header (repeatable), e.g. -H "x-wait-for-model: true"', collect, [])
    .option('--price <[target=]usd>', 'cost per request in USD, for every target or one (repeatable); overrides modelhost\'s price tables', collect, [])
    .option('--examples <n>', 'answers kept per target as examples (plus the first of each kind of failure)', nonNegativeInt, 3)
    .option('--json <file>', 'write the result as JSON ("-" for stdout); format: src/bench/result.ts')
    .option('--csv <file>', 'write one CSV row per target ("-" for stdout)')
    .option('--html <file>', 'write the HTML report with charts (self-contained, works offline)')
    .option('--png <file>', 'write a PNG of the main chart (needs Chromium; also writes the HTML next to it unless --html)')
    .option('--out <dir>', 'write bench-<time>.json, .csv, .html and .png (if Chromium is found) into this folder')
    .option('--chromium <path>', 'Chromium/Chrome binary for --png (default: CHROMIUM_PATH, or chromium on PATH)')
    .option('--use-cache', 'let Hugging Face API targets answer repeated payloads from their cache (default: x-use-cache: false, so every request reaches the model)', false)
    .option('--no-progress', 'no progress bar (it is also off when the output is not a terminal)')
    .addHelpText('after', HELP_AFTER)
    .action(async (targetArgs: string[], opts: Opts) => {
      // `compare` and `report` read saved results; they share this command's output flags (--json, --csv, --html, --png).
      if (targetArgs[0] === 'compare') return compareCommand(targetArgs.slice(1), opts);
      if (targetArgs[0] === 'report') return reportCommand(targetArgs.slice(1), opts);
      const toStdout = opts.json === '-' || opts.csv === '-';
      const say = (s: string) => (toStdout ? process.stderr : process.stdout).write(`${s}\n`);
      const targets = targetArgs.length ? targetArgs : ['local'];
      const headers = parseHeaders(opts.header);
      const prices = parsePrices(opts.price);
      const names = new Set(targets.map((t) => (/^([\w.-]+)=/.exec(t) && !/^https?:/i.test(t) ? t.split('=')[0]! : t)));
      for (const name of prices.keys()) if (name && !names.has(name)) fail(`--price ${name}=…: no target is called ${name} (targets: ${[...names].join(', ')})`);
      const auth: Record<string, string> = process.env.MODELHOST_TOKEN ? { authorization: `Bearer ${process.env.MODELHOST_TOKEN}` } : {};
      const needsModel = targets.some((t) => !/^(\w[\w.-]*=)?(https?:\/\/|endpoint:)/i.test(t));
      const { model, task } = await discover(opts, needsModel, auth);
      let payload;
      try {
        payload = loadPayload({ data: opts.data, dataFile: opts.dataFile, task });
      } catch (e) {
        fail((e as Error).message);
      }
      const benchOpts: BenchOptions = {
        targets,
        baseUrl: opts.baseUrl.replace(/\/+$/, ''),
        model,
        task,
        api: opts.api,
        stream: opts.stream,
        payload,
        headers,
        tokenEnv: opts.tokenEnv,
        useCache: opts.useCache,
        requests: opts.requests,
        concurrency: opts.concurrency ?? (opts.rate ? 64 : 1),
        warmup: opts.warmup,
        rate: opts.rate ?? null,
        timeoutSeconds: opts.timeout,
        examples: opts.examples,
        prices,
        command: recordedCommand(process.argv.slice(process.argv.indexOf('bench') + 1)),
      };
      let resolved;
      try {
        resolved = resolveAll(benchOpts);
      } catch (e) {
        fail((e as Error).message);
      }
      const load = benchOpts.rate === null ? `concurrency ${benchOpts.concurrency}` : `${benchOpts.rate} req/s (open loop, at most ${benchOpts.concurrency} in flight)`;
      say(`bench: ${benchOpts.requests} requests per target at ${load}${benchOpts.warmup ? ` after ${benchOpts.warmup} warm-up` : ''}; payload ${payload.source}${model ? `; model ${model}` : ''}`);
      for (const t of resolved) say(`  ${t.name}: POST ${t.url}${t.tokenEnv ? ` (token from ${t.tokenEnv})` : ''}`);

      const interactive = opts.progress && (toStdout ? process.stderr.isTTY : process.stdout.isTTY);
      let bar: cliProgress.SingleBar | undefined;
      let errorsSoFar = 0;
      const run = await runBench(benchOpts, {
        onTargetStart(t) {
          errorsSoFar = 0;
          if (!interactive) return;
          bar = new cliProgress.SingleBar(
            { format: `${t.name.padEnd(14).slice(0, 14)} {bar} {value}/{total} {phase} | {duration_formatted} | errors {errors}`, hideCursor: true, stream: toStdout ? process.stderr : process.stdout },
            cliProgress.Presets.shades_classic,
          );
          bar.start(benchOpts.warmup || benchOpts.requests, 0, { phase: benchOpts.warmup ? 'warm-up' : '', errors: 0 });
        },
        onWarmup(done) {
          bar?.update(done, { phase: 'warm-up' });
          if (bar && done === benchOpts.warmup) bar.start(benchOpts.requests, 0, { phase: '', errors: 0 });
        },
        onResult(sample, done) {
          if (!sample.ok) errorsSoFar++;
          bar?.update(done, { errors: errorsSoFar, phase: '' });
        },
        onTargetEnd(r) {
          bar?.stop();
          bar = undefined;
          if (!interactive) say(`  ${r.name}: done, ${r.requests.ok}/${r.requests.sent} ok${r.fatal ? ` (failed: ${r.fatal})` : ''}`);
        },
      }, resolved);

      say('');
      say(resultTable(run));
      for (const t of run.targets) {
        if (t.requests.sent > 0 && t.requests.ok === 0) {
          const first = t.examples.find((e) => !e.ok);
          say(`\n${t.name}: every request failed; the first answer was${first?.status ? ` HTTP ${first.status}` : ''}: ${first?.body.slice(0, 300) ?? '(none)'}`);
        }
      }
      if (!process.env.MODELHOST_TOKEN && run.targets.some((t) => (t.errors.http_429 ?? 0) > 0 && t.url.startsWith(benchOpts.baseUrl))) {
        say(
          '\nSome requests were refused with 429: calls without a token are limited by the server\'s --anonymous-tier (or a token exists, and the calls need one). ' +
            'Create a token (modelhost tokens create --name bench --tier unlimited) and export MODELHOST_TOKEN=<token>, or lower -n / --rate.',
        );
      }
      const costNotes = [...new Set(run.targets.filter((t) => t.cost.perRequestUsd !== null).map((t) => `${t.name}: ${usd(t.cost.perRequestUsd)}/request (${t.cost.source})`))];
      if (costNotes.length) say(`cost: ${costNotes.join('; ')}`);
      try {
        await writeOutputs(run, opts, say);
      } catch (e) {
        fail((e as Error).message);
      }
      if (run.targets.every((t) => t.fatal || t.requests.ok === 0)) process.exitCode = 1;
    });

  return cmd;
}
