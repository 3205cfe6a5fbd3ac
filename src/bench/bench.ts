/**
 * A whole `modelhost bench` run: the targets one after the other (never at the same time, so they do not compete
 * for this machine or the network), each with the same payload and settings, folded into a `BenchRun`.
 */
import { randomUUID } from 'node:crypto';
import { machineInfo, versionsInfo } from './environment.ts';
import { describePayload } from './payloads.ts';
import { BENCH_SCHEMA, errorKinds, type BenchRun, type BenchSettings, type ErrorKind, type Sample, type TargetResult } from './result.ts';
import { runTarget, type RunOptions, type TargetRun } from './runner.ts';
import { bucketCounts, distributionOf, round3, sharedBounds } from './stats.ts';
import { resolveTarget, type ResolvedTarget, type ResolveOptions } from './targets.ts';

/** What a run is given: how to reach and call each target (the resolver's options), and how to load it. */
export interface BenchOptions extends Omit<ResolveOptions, 'env'> {
  targets: string[];
  requests: number;
  concurrency: number;
  warmup: number;
  rate: number | null;
  timeoutSeconds: number;
  examples: number;
  /** USD per request: for every target (key ''), or per target name. */
  prices: Map<string, number>;
  command: string;
  env?: NodeJS.ProcessEnv;
}

export interface BenchHooks {
  /** A target begins: its warm-up, then its measured requests. */
  onTargetStart?(target: ResolvedTarget, index: number): void;
  onWarmup?(done: number): void;
  onResult?(sample: Sample, done: number): void;
  onTargetEnd?(result: TargetResult): void;
}

/** Sum of modelhost's `modelhost_provider_cost_usd_total` counters; null when /metrics cannot be read. */
export async function routerCostTotal(baseUrl: string, headers: Record<string, string>): Promise<number | null> {
  try {
    const res = await fetch(`${baseUrl.replace(/\/+$/, '')}/metrics`, { headers: headers.authorization ? { authorization: headers.authorization } : {}, signal: AbortSignal.timeout(5000) });
    if (!res.ok) return null;
    const text = await res.text();
    let total = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith('modelhost_provider_cost_usd_total{')) total += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
    }
    return total;
  } catch {
    return null;
  }
}

function countBy<T extends string>(items: (T | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of items) if (k !== undefined) out[k] = (out[k] ?? 0) + 1;
  return out;
}

/** Folds one target's measurements into its result (the histogram buckets are filled in later, shared by the run). */
export function summarise(
  t: ResolvedTarget,
  run: TargetRun,
  startedAt: string,
  warmup: number,
  openModel: boolean,
  cost: TargetResult['cost'],
): TargetResult {
  const s = run.samples;
  const ok = s.filter((x) => x.ok);
  const failed = s.length - ok.length;
  const errors: Partial<Record<ErrorKind, number>> = {};
  for (const k of errorKinds) {
    const n = s.filter((x) => x.error === k).length;
    if (n > 0) errors[k] = n;
  }
  const seconds = Math.max(run.elapsedSeconds, 1e-9);
  const firstTokens = ok.map((x) => x.firstTokenMs).filter((x): x is number => x !== undefined);
  return {
    name: t.name,
    kind: t.kind,
    method: 'POST',
    url: t.url,
    api: t.api,
    ...(t.model ? { model: t.model } : {}),
    stream: t.stream,
    ...(t.tokenEnv ? { tokenEnv: t.tokenEnv } : {}),
    startedAt,
    elapsedSeconds: round3(run.elapsedSeconds),
    requests: { sent: s.length, ok: ok.length, failed, warmup },
    errorRate: s.length ? failed / s.length : 0,
    errors,
    statuses: countBy(s.map((x) => (x.status === undefined ? undefined : String(x.status)))),
    latencyMs: distributionOf(ok.map((x) => x.ms)),
    allLatencyMs: distributionOf(s.map((x) => x.ms)),
    firstByteMs: distributionOf(ok.map((x) => x.firstByteMs).filter((x): x is number => x !== undefined)),
    firstTokenMs: t.stream ? distributionOf(firstTokens) : null,
    ...(openModel ? { serviceMs: distributionOf(run.serviceMs.filter((_, i) => s[i]!.ok)), maxSendLagMs: run.maxSendLagMs } : {}),
    throughput: {
      requestsPerSecond: round3(s.length / seconds),
      okPerSecond: round3(ok.length / seconds),
      outputTokensPerSecond: run.sawTokens ? round3(run.outputTokens / seconds) : null,
    },
    providers: countBy(s.map((x) => x.provider)),
    cost,
    histogram: { boundsMs: [], counts: [] },
    samples: s,
    examples: run.examples,
  };
}

/** Fills every target's latency histogram with buckets shared by the whole run, so charts line up. */
export function fillHistograms(targets: TargetResult[]): void {
  const all = targets.flatMap((t) => t.samples.filter((x) => x.ok).map((x) => x.ms));
  const bounds = sharedBounds(all);
  for (const t of targets) t.histogram = { boundsMs: bounds, counts: bucketCounts(t.samples.filter((x) => x.ok).map((x) => x.ms), bounds) };
}

function fatalResult(name: string, message: string, startedAt: string): TargetResult {
  return {
    name,
    kind: 'url',
    method: 'POST',
    url: '',
    api: 'hf',
    stream: false,
    startedAt,
    elapsedSeconds: 0,
    requests: { sent: 0, ok: 0, failed: 0, warmup: 0 },
    errorRate: 0,
    errors: {},
    statuses: {},
    latencyMs: null,
    allLatencyMs: null,
    firstByteMs: null,
    firstTokenMs: null,
    throughput: { requestsPerSecond: 0, okPerSecond: 0, outputTokensPerSecond: null },
    providers: {},
    cost: { perRequestUsd: null, totalUsd: null, source: 'unknown' },
    histogram: { boundsMs: [], counts: [] },
    samples: [],
    examples: [],
    fatal: message,
  };
}

/** Resolves every target first, so a bad name or a missing token stops the run before any request is sent. */
export function resolveAll(o: BenchOptions): ResolvedTarget[] {
  return o.targets.map((spec) => resolveTarget(spec, { ...o, env: o.env ?? process.env }));
}

export async function runBench(o: BenchOptions, hooks: BenchHooks = {}, resolved = resolveAll(o)): Promise<BenchRun> {
  const startedAt = new Date();
  const machine = machineInfo();
  const results: TargetResult[] = [];
  for (const [i, t] of resolved.entries()) {
    hooks.onTargetStart?.(t, i);
    const targetStart = new Date().toISOString();
    const flagPrice = o.prices.get(t.name) ?? o.prices.get('');
    let costBefore: number | null = null;
    const runOpts: RunOptions = {
      requests: o.requests,
      concurrency: o.concurrency,
      warmup: o.warmup,
      rate: o.rate,
      timeoutMs: o.timeoutSeconds * 1000,
      examples: o.examples,
      onWarmup: hooks.onWarmup,
      onResult: hooks.onResult,
      beforeMeasure: async () => {
        if (flagPrice === undefined && t.onModelhost) costBefore = await routerCostTotal(o.baseUrl, t.headers);
      },
    };
    let run: TargetRun;
    try {
      run = await runTarget(t, runOpts);
    } catch (e) {
      const r = fatalResult(t.name, (e as Error).message, targetStart);
      results.push(r);
      hooks.onTargetEnd?.(r);
      continue;
    }
    const n = run.samples.length;
    let cost: TargetResult['cost'];
    if (flagPrice !== undefined) {
      cost = { perRequestUsd: flagPrice, totalUsd: round9(flagPrice * n), source: 'flag', note: '--price' };
    } else if (t.onModelhost && costBefore !== null) {
      const after = await routerCostTotal(o.baseUrl, t.headers);
      const answeredBy = new Set(run.samples.map((x) => x.provider).filter(Boolean));
      const delta = after === null ? null : Math.max(0, after - costBefore);
      if (delta !== null && (delta > 0 || [...answeredBy].some((p) => p !== 'local' && p !== 'none'))) {
        cost = {
          perRequestUsd: n ? round9(delta / n) : null,
          totalUsd: round9(delta),
          source: 'router',
          note: "modelhost's price tables: the change of modelhost_provider_cost_usd_total while this target ran (retries and failovers included; other traffic on the server would add to it)",
        };
      } else if (delta !== null) {
        cost = { perRequestUsd: 0, totalUsd: 0, source: 'local', note: 'answered by the local engine, which has no price; compare with hosted providers by passing --price local=<usd>' };
      } else {
        cost = { perRequestUsd: null, totalUsd: null, source: 'unknown', note: 'could not read /metrics after the run' };
      }
    } else {
      cost = { perRequestUsd: null, totalUsd: null, source: 'unknown', note: 'not a modelhost target: pass --price <usd per request>' };
    }
    const r = summarise(t, run, targetStart, o.warmup, o.rate !== null, cost);
    results.push(r);
    hooks.onTargetEnd?.(r);
  }
  fillHistograms(results.filter((r) => !r.fatal));
  const settings: BenchSettings = {
    requests: o.requests,
    concurrency: o.concurrency,
    warmup: o.warmup,
    rate: o.rate,
    loadModel: o.rate === null ? 'closed' : 'open',
    timeoutSeconds: o.timeoutSeconds,
    stream: o.stream,
    baseUrl: o.baseUrl,
    ...(o.model ? { model: o.model } : {}),
    ...(o.task ? { task: o.task } : {}),
    ...(o.api ? { api: o.api } : {}),
    payloadSource: o.payload.source,
    payload: describePayload(o.payload),
    useCache: o.useCache ?? false,
    price: o.prices.get('') ?? null,
    // Names only: values may be secrets.
    headers: Object.keys(o.headers),
    examples: o.examples,
  };
  return {
    schema: BENCH_SCHEMA,
    kind: 'run',
    id: randomUUID(),
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: o.command,
    machine,
    versions: versionsInfo(),
    settings,
    targets: results,
  };
}

const round9 = (x: number) => Math.round(x * 1e9) / 1e9;
