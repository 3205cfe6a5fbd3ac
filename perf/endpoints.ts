/**
 * `npm run bench:endpoints`: a dedicated endpoint's cold start (a request arriving at an endpoint scaled to zero,
 * held with X-Scale-Up-Timeout, until its answer) and its warm latency next to the serverless route on the same
 * model, then how long modelhost itself takes to start: `npm start` to `GET /ready` (lib/startup.ts). Runs
 * `modelhost serve` as a child process on the tiny generated models.
 *
 * Wakes are measured twice: as modelhost runs by default, with a spare replica process waiting
 * (src/endpoints/replica-launcher.ts), and with `--no-endpoint-spare-replica`, where the wake starts the process too
 * (what a second endpoint waking at the same moment meets).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { startServer } from './lib/server.ts';
import { startupRounds } from './lib/startup.ts';
import { fmt, table } from './lib/table.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const opts = new Command()
  .description('A dedicated endpoint woken from zero (median/P90 to its first answer), its warm latency, and npm start to /ready.')
  .option('--model <id>', 'model of the endpoint', 'tiny/bert-sentiment')
  .option('--rounds <n>', 'scale-to-zero / wake cycles, in each of the two series', '11')
  .option('--pause-ms <ms>', 'pause between scaling to zero and the wake (an endpoint sleeps for minutes: its replica is gone and the spare replaced)', '2000')
  .option('--requests <n>', 'sequential warm requests per route', '300')
  .option('--start-rounds <n>', 'fresh `npm start` and `serve --preload all` runs timed to /ready (0: skip)', '5')
  .option('--json', 'print the figures as JSON')
  .option('--json-file <file>', 'also write the figures as JSON to this file (npm run bench uses it)')
  .option('--models-dir <dir>', 'models folder of the server', path.join(root, 'models'))
  .addHelpText('after', '\nExamples:\n  npm run bench:endpoints\n  npm run bench:endpoints -- --rounds 21 --start-rounds 0 --requests 100')
  .parse()
  .opts<{ model: string; rounds: string; pauseMs: string; requests: string; startRounds: string; json?: boolean; jsonFile?: string; modelsDir: string }>();

/** The target for a tiny model (README: Waking from zero). */
const WAKE_TARGET_MS = 350;

const percentile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)]!;
const median = (xs: number[]) => percentile(xs, 0.5);
const summary = (xs: number[]) => ({ median: median(xs), p90: percentile(xs, 0.9), min: Math.min(...xs), max: Math.max(...xs), rounds: xs.length });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
}

async function state(base: string): Promise<string> {
  return ((await (await fetch(`${base}/sleepy`)).json()) as { status: { state: string } }).status.state;
}

async function until(base: string, wanted: string): Promise<void> {
  while ((await state(base)) !== wanted) await sleep(50);
}

const body = { inputs: 'The cold start of a dedicated endpoint' };

/**
 * Wakes an endpoint scaled to zero `--rounds` times on a server started with `serverArgs`; with `warm`, then times
 * sequential requests on it and on the serverless route.
 */
async function measureEndpoint(label: string, serverArgs: string[], warm: boolean) {
  const server = await startServer(root, ['--models-dir', path.resolve(opts.modelsDir), '--no-builtin-models', '--log-level', 'warn', '--auth', 'off', ...serverArgs]);
  try {
    const base = `${server.url}/api/endpoints/admin`;
    await post(base, { name: 'sleepy', type: 'public', model: { repository: opts.model }, compute: { threads: 1, scaling: { minReplica: 0, maxReplica: 1 } } });
    await until(base, 'running');
    const wakes: number[] = [];
    for (let i = 0; i < Number(opts.rounds); i++) {
      await post(`${base}/sleepy/scale-to-zero`, {});
      await until(base, 'scaledToZero');
      await sleep(Number(opts.pauseMs));
      const t = performance.now();
      await post(`${server.url}/endpoints/sleepy`, body, { 'x-scale-up-timeout': '60' });
      wakes.push(performance.now() - t);
      process.stderr.write(`wake ${i + 1} (${label}): first answer after ${wakes.at(-1)!.toFixed(0)} ms\n`);
    }
    if (!warm) return { wakes: summary(wakes) };
    const sequential = async (url: string) => {
      const out: number[] = [];
      for (let i = 0; i < 50; i++) await post(url, body);
      for (let i = 0; i < Number(opts.requests); i++) {
        const t = performance.now();
        await post(url, body);
        out.push(performance.now() - t);
      }
      return out;
    };
    await post(`${server.url}/models/${opts.model}`, body, { 'x-wait-for-model': 'true' });
    const endpoint = await sequential(`${server.url}/endpoints/sleepy`);
    const serverless = await sequential(`${server.url}/models/${opts.model}`);
    return {
      wakes: summary(wakes),
      warmMs: {
        endpoint: { p50: median(endpoint), p99: percentile(endpoint, 0.99) },
        serverless: { p50: median(serverless), p99: percentile(serverless, 0.99) },
      },
    };
  } finally {
    await server.stop();
  }
}

const loadBefore = os.loadavg();
const spare = await measureEndpoint('spare replica', [], true);
const cold = await measureEndpoint('no spare', ['--no-endpoint-spare-replica'], false);

// Started after the endpoint servers have stopped, so they never share the cores.
const startRounds = Number(opts.startRounds);
const log = (what: string) => (ms: number, i: number) => process.stderr.write(`${what} ${i + 1}: ready after ${ms.toFixed(0)} ms\n`);
/** A start-up series, or why it could not be measured (the wakes above are reported either way). */
async function starts(command: 'npm-start' | 'serve', label: string) {
  if (startRounds <= 0) return undefined;
  try {
    return summary(await startupRounds(root, command, startRounds, log(label)));
  } catch (e) {
    process.stderr.write(`${label}: not measured: ${(e as Error).message}\n`);
    return { error: (e as Error).message.split('\n').slice(0, 3).join(' ') };
  }
}
const npmStart = await starts('npm-start', 'npm start');
const serve = await starts('serve', 'serve --preload all');

const report = {
  model: opts.model,
  /** Wake → first answer with the default settings (a spare replica process waiting). */
  coldStartMs: spare.wakes,
  /** The same without a spare: the wake starts the replica's process. */
  coldStartNoSpareMs: cold.wakes,
  warmMs: spare.warmMs!,
  ...(npmStart && serve ? { startToReadyMs: { npmStart, serve } } : {}),
  pauseMs: Number(opts.pauseMs),
  loadAverage: { before: loadBefore, after: os.loadavg() },
};
if (opts.jsonFile) writeFileSync(opts.jsonFile, `${JSON.stringify({ schema: 'modelhost-bench-endpoints/1', kind: 'endpoints', startedAt: new Date().toISOString(), ...report }, null, 2)}\n`);
if (opts.json) console.log(JSON.stringify(report));
else {
  const wakeRows = (what: string, w: ReturnType<typeof summary>) => [
    [`wake → first answer, ${what}: median`, `${fmt(w.median)} ms (target < ${WAKE_TARGET_MS} ms)`],
    [`  P90 / min / max`, `${fmt(w.p90)} / ${fmt(w.min)} / ${fmt(w.max)} ms over ${w.rounds} wakes`],
  ];
  const startFigure = (f: ReturnType<typeof summary> | { error: string }) =>
    'error' in f ? `not measured: ${f.error.slice(0, 60)}` : `${fmt(f.median)} / ${fmt(f.p90)} ms over ${f.rounds} starts`;
  console.log(`\nDedicated endpoint on ${opts.model} (1 thread per replica)\n`);
  console.log(
    table(
      ['figure', 'value'],
      [
        ...wakeRows('spare replica waiting (default)', report.coldStartMs),
        ...wakeRows('no spare (--no-endpoint-spare-replica)', report.coldStartNoSpareMs),
        ['warm request P50 / P99, endpoint', `${fmt(report.warmMs.endpoint.p50)} / ${fmt(report.warmMs.endpoint.p99)} ms`],
        ['warm request P50 / P99, serverless route', `${fmt(report.warmMs.serverless.p50)} / ${fmt(report.warmMs.serverless.p99)} ms`],
        ...(report.startToReadyMs
          ? [
              ['npm start → /ready, median / P90', startFigure(report.startToReadyMs.npmStart)],
              ['serve --preload all → /ready, median / P90', startFigure(report.startToReadyMs.serve)],
            ]
          : []),
      ],
    ),
  );
  const la = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
  console.log(`\nload average (1/5/15 min) before: ${la(report.loadAverage.before)}, after: ${la(report.loadAverage.after)}`);
}
