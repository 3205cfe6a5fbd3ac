/**
 * Cold start, as a user meets it: `modelhost serve` spawned from nothing until it answers /health, the first
 * request to a model that is not loaded yet (load + first inference), the requests after it (warm), and how long
 * `--preload all` (what `npm start` does) takes to be ready. Each in its own fresh process and data folder.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface ColdStartRound {
  /** Spawn to the first 200 from /health, ms. */
  listeningMs: number;
  /** First request to the cold model, ms (model load + inference). */
  firstRequestMs: number;
  /** Median of the following warm requests, ms. */
  warmRequestMs: number;
}

export interface ColdStartResult {
  model: string;
  rounds: ColdStartRound[];
  median: ColdStartRound;
  /** Spawn to /ready 200 with --preload all over the same models folder, ms. */
  preloadAllReadyMs: number | null;
  modelsDir: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round1 = (x: number) => Math.round(x * 10) / 10;

/** Starts a server, waits for `readyPath` to answer 200, runs `measure`, and always stops the process. */
async function withServer<T>(root: string, args: string[], readyPath: string, measure: (url: string, startedAt: number) => Promise<T>, timeoutMs = 180_000): Promise<T> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'modelhost-coldstart-'));
  const startedAt = performance.now();
  const child = spawn(process.execPath, [path.join(root, 'bin', 'modelhost.js'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--auth', 'off', '--log-level', 'warn', ...args], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const url = `http://127.0.0.1:${port}`;
  try {
    for (;;) {
      if (exited) throw new Error(`modelhost serve exited before it was ready:\n${stderr}`);
      if (performance.now() - startedAt > timeoutMs) throw new Error(`modelhost serve not ready after ${timeoutMs / 1000} s:\n${stderr}`);
      try {
        const res = await fetch(url + readyPath, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return await measure(url, startedAt);
  } finally {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function timedPost(url: string, body: unknown): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-wait-for-model': 'true', 'x-use-cache': 'false' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST ${url}: HTTP ${res.status}: ${text.slice(0, 200)}`);
  return performance.now() - t0;
}

export async function measureColdStart(opts: { root: string; modelsDir: string; model: string; rounds: number; warmRequests?: number; log?: (s: string) => void }): Promise<ColdStartResult> {
  const rounds: ColdStartRound[] = [];
  const body = { inputs: 'I love this product, it works exactly as described.' };
  for (let r = 0; r < opts.rounds; r++) {
    const round = await withServer(opts.root, ['--models-dir', opts.modelsDir], '/health', async (url, startedAt) => {
      const listeningMs = performance.now() - startedAt;
      const firstRequestMs = await timedPost(`${url}/models/${opts.model}`, body);
      const warm: number[] = [];
      for (let i = 0; i < (opts.warmRequests ?? 5); i++) warm.push(await timedPost(`${url}/models/${opts.model}`, body));
      return { listeningMs: round1(listeningMs), firstRequestMs: round1(firstRequestMs), warmRequestMs: round1(median(warm)) };
    });
    opts.log?.(`  round ${r + 1}: listening after ${round.listeningMs} ms, first request ${round.firstRequestMs} ms, then ${round.warmRequestMs} ms warm`);
    rounds.push(round);
  }
  let preloadAllReadyMs: number | null = null;
  try {
    preloadAllReadyMs = await withServer(opts.root, ['--models-dir', opts.modelsDir, '--preload', 'all'], '/ready', async (_url, startedAt) => round1(performance.now() - startedAt));
    opts.log?.(`  --preload all: ready after ${preloadAllReadyMs} ms`);
  } catch (e) {
    opts.log?.(`  --preload all failed: ${(e as Error).message}`);
  }
  return {
    model: opts.model,
    rounds,
    median: {
      listeningMs: round1(median(rounds.map((x) => x.listeningMs))),
      firstRequestMs: round1(median(rounds.map((x) => x.firstRequestMs))),
      warmRequestMs: round1(median(rounds.map((x) => x.warmRequestMs))),
    },
    preloadAllReadyMs,
    modelsDir: opts.modelsDir,
  };
}
