/**
 * `npm run bench:predictions`: what the predictions queue costs on a tiny model (README: Predictions and webhooks).
 * - submit-to-start: `started_at - created_at` of predictions submitted one at a time to an idle queue;
 * - overhead: a prediction held with `Prefer: wait` (submit, queue, run through the HF route, answer) against
 *   the same synchronous call of the HF route, sequential, P50/P99 of each and the difference of the P50s;
 * - submissions per second accepted by one process (201s), with `--clients` submitting at once.
 * On SQLite (the default) and on Redis (BullMQ; `--redis`, else a throwaway redis-server when one is installed).
 * The server runs in this process (compose), so client and server share one event loop in both columns.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { Pool } from 'undici';
import { compose } from '../src/compose.ts';
import { loadConfig } from '../src/config.ts';
import { freePort } from './lib/server.ts';
import { fmt, table } from './lib/table.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const defaultModels = existsSync(path.join(root, '.cache', 'test-models', 'tiny', 'bert-sentiment')) ? path.join(root, '.cache', 'test-models') : path.join(root, 'models');

const opts = new Command()
  .description('Submit-to-start latency, queue overhead vs the synchronous call, and submissions/s of predictions, on SQLite and Redis.')
  .option('--model <id>', 'a tiny model', 'tiny/bert-sentiment')
  .option('--requests <n>', 'sequential calls per series', '300')
  .option('--submissions <n>', 'predictions submitted for the submissions/s figure', '3000')
  .option('--clients <n>', 'concurrent submitters', '32')
  .option('--redis <url>', 'Redis for the BullMQ series (default: a throwaway redis-server, when installed)')
  .option('--no-redis-series', 'only the SQLite series')
  .option('--models-dir <dir>', 'models folder (npm run models:tiny writes ./models)', defaultModels)
  .option('--json-file <file>', 'also write the figures as JSON to this file')
  .addHelpText('after', '\nExamples:\n  npm run bench:predictions\n  npm run bench:predictions -- --requests 1000 --redis redis://127.0.0.1:6379')
  .parse()
  .opts<{ model: string; requests: string; submissions: string; clients: string; redis?: string; redisSeries: boolean; modelsDir: string; jsonFile?: string }>();

const percentile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1))]!;

interface Series {
  backend: string;
  submitToStart: { p50: number; p99: number };
  sync: { p50: number; p99: number };
  prediction: { p50: number; p99: number };
  overheadP50: number;
  submissionsPerSecond: number;
  /** The machine's 1-minute load average when the series started and ended (others' work shows here). */
  load: [number, number];
}

async function series(backend: string, redis: string | undefined): Promise<Series> {
  const loadBefore = os.loadavg()[0]!;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'modelhost-bench-predictions-'));
  const config = { ...loadConfig({ modelsDir: opts.modelsDir, port: 0, logLevel: 'silent', dataDir, hfCache: false, preload: [opts.model], cacheEntries: 0 }, {}), ...(redis ? { redis } : {}) };
  const composed = await compose(config, { logger: false, tiers: [{ name: 'anonymous' }, { name: 'free' }], predictions: { workers: { pollMs: 50 } } });
  await composed.preloaded;
  await composed.app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(composed.app.server.address() as { port: number }).port}`;
  const pool = new Pool(url, { connections: Number(opts.clients) + 4 });
  const post = async (p: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await pool.request({ path: p, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const json = (await res.body.json()) as Record<string, unknown>;
    if (res.statusCode >= 300) throw new Error(`${p}: ${res.statusCode} ${JSON.stringify(json)}`);
    return json;
  };
  const n = Number(opts.requests);
  try {
    // Warm both paths (model, statements, connections).
    for (let i = 0; i < 20; i++) {
      await post(`/models/${opts.model}`, { inputs: `warm ${i}` });
      await post(`/v1/models/${opts.model}/predictions`, { input: { prompt: `warm ${i}` } }, { prefer: 'wait=30' });
    }
    const sync: number[] = [];
    const pred: number[] = [];
    const startDelay: number[] = [];
    for (let i = 0; i < n; i++) {
      // Interleaved, so both series meet the same machine.
      let t = performance.now();
      await post(`/models/${opts.model}`, { inputs: `sentence number ${i}` });
      sync.push(performance.now() - t);
      t = performance.now();
      const p = await post(`/v1/models/${opts.model}/predictions`, { input: { prompt: `sentence number ${i}` } }, { prefer: 'wait=30' });
      pred.push(performance.now() - t);
      if (p.status !== 'succeeded') throw new Error(`prediction ${String(p.id)} ended ${String(p.status)}`);
      startDelay.push(Date.parse(String(p.started_at)) - Date.parse(String(p.created_at)));
    }
    // Submissions/s: accepted (201) submissions over the wall time of submitting them.
    const total = Number(opts.submissions);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: Number(opts.clients) }, async () => {
        for (;;) {
          const i = next++;
          if (i >= total) return;
          await post(`/v1/models/${opts.model}/predictions`, { input: { prompt: `burst ${i}` } });
        }
      }),
    );
    const rate = total / ((performance.now() - t0) / 1000);
    const s = (xs: number[]) => ({ p50: percentile(xs, 0.5), p99: percentile(xs, 0.99) });
    return { backend, submitToStart: s(startDelay), sync: s(sync), prediction: s(pred), overheadP50: percentile(pred, 0.5) - percentile(sync, 0.5), submissionsPerSecond: rate, load: [loadBefore, os.loadavg()[0]!] };
  } finally {
    await pool.close();
    await composed.close();
  }
}

async function throwawayRedis(): Promise<{ url: string; stop: () => void } | undefined> {
  const port = await freePort();
  let child: ChildProcess;
  try {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const ok = await new Promise<boolean>((resolve) => {
    child.once('error', () => resolve(false));
    setTimeout(() => resolve(child.exitCode === null), 500);
  });
  return ok ? { url: `redis://127.0.0.1:${port}`, stop: () => child.kill() } : undefined;
}

const results: Series[] = [await series('SQLite', undefined)];
if (opts.redisSeries) {
  const own = opts.redis ? undefined : await throwawayRedis();
  const redis = opts.redis ?? own?.url;
  if (redis) {
    try {
      results.push(await series('Redis (BullMQ)', redis));
    } finally {
      own?.stop();
    }
  } else process.stderr.write('no Redis: pass --redis redis://... (or install redis-server) for the BullMQ series\n');
}

const ms = (x: number) => fmt(x, 2);
process.stdout.write(
  `\n${table(
    ['backend', 'submit→start P50 ms', 'P99 ms', 'sync P50 ms', 'sync P99 ms', 'prediction P50 ms', 'prediction P99 ms', 'overhead P50 ms', 'submissions/s', 'load 1m'],
    results.map((r) => [r.backend, ms(r.submitToStart.p50), ms(r.submitToStart.p99), ms(r.sync.p50), ms(r.sync.p99), ms(r.prediction.p50), ms(r.prediction.p99), ms(r.overheadP50), fmt(r.submissionsPerSecond, 0), `${fmt(r.load[0], 1)}→${fmt(r.load[1], 1)}`]),
  )}\n\nTargets: overhead P50 <= 5 ms on SQLite; >= 1,000 submissions/s on one process. ${opts.requests} sequential calls per series, ${opts.submissions} submissions by ${opts.clients} clients; model ${opts.model}; ${os.cpus().length} cores; load 1m: the machine's load average as each series started and ended.\n`,
);
if (opts.jsonFile) writeFileSync(opts.jsonFile, JSON.stringify({ at: new Date().toISOString(), results }, null, 2));
