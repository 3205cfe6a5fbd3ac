/**
 * One load point: autocannon at a fixed concurrency against POST /models/<id>, bodies rotating through the corpus,
 * with /metrics scraped right before and right after to get the engine's batch counters and the server's
 * event-loop delay over exactly that window.
 */
import autocannon from 'autocannon';
import { cpuWindow } from './cpu.ts';
import { metric, scrape } from './metrics.ts';
import type { ServerHandle } from './server.ts';

export interface LoadPoint {
  concurrency: number;
  seconds: number;
  /** 2xx responses per second over the run. */
  reqPerSec: number;
  ok: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Latency of 2xx responses in ms, measured per response (autocannon's own histogram rounds to whole ms). */
  latencyMs: { avg: number; p50: number; p95: number; p99: number; max: number };
  /** Engine items / batches during the run. */
  meanBatch: number;
  batches: number;
  items: number;
  /** Server event-loop delay over the run (prom-client's histogram, reset by the scrape before the run), ms. */
  loopP99Ms: number;
  loopMaxMs: number;
  /** CPU cores the server process used on average during the run (main thread + worker + onnxruntime threads). */
  serverCores: number;
  /** CPU cores this (load-generating) process used. */
  clientCores: number;
  /** CPU cores every other process on the machine used: noise from outside the bench. */
  otherCores: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Bodies `{"inputs": sentence}` handed out in corpus order, shared by all connections. */
export function rotatingBodies(corpus: readonly string[]): () => string {
  const bodies = corpus.map((s) => JSON.stringify({ inputs: s }));
  let next = 0;
  return () => bodies[next++ % bodies.length]!;
}

export async function runLoad(server: ServerHandle, modelPath: string, concurrency: number, seconds: number, nextBody: () => string): Promise<LoadPoint> {
  const before = await scrape(server.url); // also resets prom-client's event-loop histogram
  const cpu = cpuWindow([server.pid, 'self']);
  const latencies: number[] = [];
  let ok = 0;
  const started = performance.now();
  const instance = autocannon({
    url: `${server.url}${modelPath}`,
    connections: concurrency,
    duration: seconds,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: nextBody() }),
      },
    ],
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status < 300) {
      ok++;
      latencies.push(ms);
    }
  });
  const result = await instance;
  const elapsed = (performance.now() - started) / 1000;
  const used = cpu();
  const after = await scrape(server.url);
  const batches = metric(after, 'modelhost_engine_batches_total') - metric(before, 'modelhost_engine_batches_total');
  const items = metric(after, 'modelhost_engine_items_total') - metric(before, 'modelhost_engine_items_total');
  latencies.sort((a, b) => a - b);
  return {
    concurrency,
    seconds: elapsed,
    reqPerSec: ok / result.duration,
    ok,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    latencyMs: {
      avg: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? NaN,
    },
    meanBatch: batches > 0 ? items / batches : NaN,
    batches,
    items,
    loopP99Ms: metric(after, 'nodejs_eventloop_lag_p99_seconds') * 1000,
    loopMaxMs: metric(after, 'nodejs_eventloop_lag_max_seconds') * 1000,
    serverCores: used.cores[0]!,
    clientCores: used.cores[1]!,
    otherCores: used.others,
  };
}

/** Event-loop delay of the idle server: two scrapes a second apart (shows the reset and the 1 ms timer floor). */
export async function idleLoop(server: ServerHandle): Promise<{ p99Ms: number; maxMs: number }> {
  await scrape(server.url);
  await new Promise((r) => setTimeout(r, 1000));
  const after = await scrape(server.url);
  return { p99Ms: metric(after, 'nodejs_eventloop_lag_p99_seconds') * 1000, maxMs: metric(after, 'nodejs_eventloop_lag_max_seconds') * 1000 };
}
