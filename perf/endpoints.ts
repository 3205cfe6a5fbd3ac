/**
 * `npm run bench:endpoints`: a dedicated endpoint's cold start (a request arriving at an endpoint scaled to zero,
 * held with X-Scale-Up-Timeout, until its answer) and its warm latency next to the serverless route on the same
 * model. Runs `modelhost serve` as a child process on the tiny generated models.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { startServer } from './lib/server.ts';
import { fmt, table } from './lib/table.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const opts = new Command()
  .option('--model <id>', 'model of the endpoint', 'tiny/bert-sentiment')
  .option('--rounds <n>', 'scale-to-zero / wake cycles', '5')
  .option('--requests <n>', 'sequential warm requests per route', '300')
  .option('--json', 'print the figures as JSON')
  .option('--json-file <file>', 'also write the figures as JSON to this file (npm run bench uses it)')
  .option('--models-dir <dir>', 'models folder of the server', path.join(root, 'models'))
  .parse()
  .opts<{ model: string; rounds: string; requests: string; json?: boolean; jsonFile?: string; modelsDir: string }>();

const percentile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)]!;
const median = (xs: number[]) => percentile(xs, 0.5);

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
}

async function state(base: string): Promise<string> {
  return ((await (await fetch(`${base}/sleepy`)).json()) as { status: { state: string } }).status.state;
}

async function until(base: string, wanted: string): Promise<void> {
  while ((await state(base)) !== wanted) await new Promise((r) => setTimeout(r, 50));
}

const server = await startServer(root, ['--models-dir', path.resolve(opts.modelsDir), '--no-builtin-models', '--log-level', 'warn', '--auth', 'off']);
try {
  const base = `${server.url}/api/endpoints/admin`;
  await post(base, { name: 'sleepy', type: 'public', model: { repository: opts.model }, compute: { threads: 1, scaling: { minReplica: 0, maxReplica: 1 } } });
  await until(base, 'running');
  const body = { inputs: 'The cold start of a dedicated endpoint' };
  const wakes: number[] = [];
  for (let i = 0; i < Number(opts.rounds); i++) {
    await post(`${base}/sleepy/scale-to-zero`, {});
    await until(base, 'scaledToZero');
    await new Promise((r) => setTimeout(r, 300));
    const t = performance.now();
    await post(`${server.url}/endpoints/sleepy`, body, { 'x-scale-up-timeout': '60' });
    wakes.push(performance.now() - t);
    process.stderr.write(`wake ${i + 1}: first answer after ${wakes.at(-1)!.toFixed(0)} ms\n`);
  }
  const warm = async (url: string) => {
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
  const endpoint = await warm(`${server.url}/endpoints/sleepy`);
  const serverless = await warm(`${server.url}/models/${opts.model}`);
  const figures = {
    model: opts.model,
    coldStartMs: { median: median(wakes), min: Math.min(...wakes), max: Math.max(...wakes), rounds: wakes.length },
    warmMs: {
      endpoint: { p50: median(endpoint), p99: percentile(endpoint, 0.99) },
      serverless: { p50: median(serverless), p99: percentile(serverless, 0.99) },
    },
  };
  if (opts.jsonFile) writeFileSync(opts.jsonFile, `${JSON.stringify({ schema: 'modelhost-bench-endpoints/1', kind: 'endpoints', startedAt: new Date().toISOString(), ...figures }, null, 2)}\n`);
  if (opts.json) console.log(JSON.stringify(figures));
  else {
    console.log(`\nDedicated endpoint on ${opts.model} (1 thread per replica)\n`);
    console.log(
      table(
        ['figure', 'value'],
        [
          ['cold start: wake → first answer, median', `${fmt(figures.coldStartMs.median)} ms (target < 1000 ms)`],
          ['cold start: min / max', `${fmt(figures.coldStartMs.min)} / ${fmt(figures.coldStartMs.max)} ms over ${wakes.length} wakes`],
          ['warm request P50 / P99, endpoint', `${fmt(figures.warmMs.endpoint.p50)} / ${fmt(figures.warmMs.endpoint.p99)} ms`],
          ['warm request P50 / P99, serverless route', `${fmt(figures.warmMs.serverless.p50)} / ${fmt(figures.warmMs.serverless.p99)} ms`],
        ],
      ),
    );
  }
} finally {
  await server.stop();
}
