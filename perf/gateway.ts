/**
 * `npm run bench:gateway`: what routing through modelhost costs. A fixed-latency OpenAI-compatible upstream runs on
 * loopback; the same chat completion is sent to it directly, through a bare node:http + undici forwarding proxy (the
 * floor any Node gateway pays) and through modelhost (`model: "bench/echo"` mapped to an openai-compatible provider).
 * Concurrency 1: latency P50/P99 and the latency each gateway adds over direct. Concurrency 64: requests/s and
 * modelhost's share of the bare proxy's. Every server is its own process. See perf/README.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Command, InvalidArgumentError } from 'commander';
import { Pool } from 'undici';
import { startBareProxy } from './lib/bare-proxy.ts';
import { cpuWindow } from './lib/cpu.ts';
import { startFixedUpstream } from './lib/fixed-upstream.ts';
import { startServer } from './lib/server.ts';
import { fmt, table } from './lib/table.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Targets from the issue. */
const TARGET_ADDED_P50_MS = 0.3;
const TARGET_ADDED_P99_MS = 2;
const TARGET_SHARE_OF_BARE = 0.6;
/** Connections of the throughput phase (the issue's concurrency 64). */
const CONNECTIONS = 64;

const MODEL_ID = 'bench/echo';
const PROVIDER = 'bench-upstream';
const PATH = '/v1/chat/completions';
/** One small, realistic chat request; the same bytes go to every target. */
const BODY = JSON.stringify({
  model: MODEL_ID,
  messages: [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: 'Say hello in one short sentence.' },
  ],
  max_tokens: 32,
  temperature: 0,
});
/** Sent to all three targets alike; modelhost's token is added once it is created (the others ignore it). */
const HEADERS: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };

const AUTH_NOTE =
  'on: every call carries a modelhost token (checked against the SQLite store, cached 0.5 s) and is recorded as usage (batched writes); the token\'s tier is unlimited unless --limits';
const LIMITS_NOTE =
  'the token\'s tier has a requests/minute window, a concurrency limit, a characters/minute window and a monthly budget, set high enough never to refuse, so every limit is checked on every call';
/** Limits high enough never to refuse during the bench, so that each one is checked on every call without changing the answers. */
const BENCH_TIER = { name: 'bench', requestsPerMinute: 1_000_000_000, concurrent: 100_000, charactersPerMinute: 1_000_000_000_000, monthlyBudgetUsd: 1_000_000 };
const METRICS_NOTE =
  'always on: prom-client default metrics (event-loop monitor at 1 ms), router statistics and circuit breaker updated on every call; /metrics scraped once at the end';

type Key = 'direct' | 'bare' | 'modelhost';
const KEYS: Key[] = ['direct', 'bare', 'modelhost'];
const LABEL: Record<Key, string> = { direct: 'direct (upstream)', bare: 'bare undici proxy', modelhost: 'modelhost' };

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number ≥ 0');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

interface Options {
  requests: number;
  duration: number;
  upstreamMs: number;
  rounds: number;
  warmupRequests: number;
  warmup: number;
  quick: boolean;
  serverRoot: string;
  out: string;
  /** --json: write the result to this file instead of <out>/gateway-<timestamp>.json (npm run bench uses it). */
  json?: string;
  /** false with --no-auth: modelhost serves without tokens, limits or usage records (to measure what they cost). */
  auth: boolean;
  /** --limits: the token's tier has every kind of limit (set never to refuse), so each is checked on every call. */
  limits: boolean;
  /** modelhost's HTTP processes (`serve --processes`). */
  processes: string;
}

const program = new Command()
  .name('bench:gateway')
  .description(
    'Latency modelhost adds to an OpenAI chat completion (concurrency 1) and its throughput (concurrency 64), against the same ' +
      'fixed-latency upstream called directly and through a bare node:http + undici proxy. Every server runs in its own process on ' +
      '127.0.0.1. Prints tables and PASS/MISS for the targets, and writes JSON to <out>/gateway-<timestamp>.json.',
  )
  .option('--requests <n>', 'concurrency 1: sequential requests per target, split into --rounds interleaved rounds', positiveInt, 3000)
  .option('--duration <s>', 'concurrency 64: seconds of load per target, split into --rounds interleaved rounds', positiveNumber, 10)
  .option('--upstream-ms <ms>', 'fixed delay of the upstream before each answer', nonNegative, 0)
  .option('--rounds <n>', 'interleaved rounds (targets take turns, order rotating) for both phases', positiveInt, 5)
  .option('--warmup-requests <n>', 'concurrency 1: warm-up requests per target before measuring (JIT steady state takes a few thousand)', positiveInt, 3000)
  .option('--warmup <s>', 'throughput phase: seconds of warm-up load per target before measuring', positiveNumber, 2)
  .option('--quick', 'smoke run: 300 requests in 3 rounds, 1 s of load per target in 1 round, short warm-ups', false)
  .option('--no-auth', 'run modelhost with --auth off: no token check, no limits, no usage records')
  .option('--limits', "give the bench token a tier with every limit (requests and characters per minute, concurrency, monthly budget), set high enough never to refuse, so each is checked on every call", false)
  .option(
    '--processes <n|auto>',
    'modelhost serve --processes: HTTP processes sharing the port ("auto": one per core, as a gateway is deployed; 1: a single process, as the bare proxy)',
    'auto',
  )
  .option('--server-root <dir>', 'run modelhost from another checkout (its bin/modelhost.js), to compare versions', root)
  .option('--out <dir>', 'folder for the JSON results', path.join(root, 'perf', 'results'))
  .option('--json <file>', 'write the JSON result to this file instead of <out>/gateway-<timestamp>.json')
  .addHelpText(
    'after',
    '\nExamples:\n' +
      '  npm run bench:gateway\n' +
      '  npm run bench:gateway -- --quick\n' +
      '  npm run bench:gateway -- --processes 1\n' +
      '  npm run bench:gateway -- --requests 10000 --rounds 10 --duration 20\n' +
      '  npm run bench:gateway -- --upstream-ms 20',
  );

const say = (line = '') => process.stdout.write(`${line}\n`);

// ---------------------------------------------------------------------------------------------------------------
// Statistics

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

interface Dist {
  n: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

function dist(values: number[]): Dist {
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length),
    min: s[0] ?? NaN,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    p999: percentile(s, 99.9),
    max: s.at(-1) ?? NaN,
  };
}

const statusKey = (status: number) => String(status);
function count(statuses: Record<string, number>, status: number) {
  const k = statusKey(status);
  statuses[k] = (statuses[k] ?? 0) + 1;
}

// ---------------------------------------------------------------------------------------------------------------
// Concurrency 1: sequential requests, timed with hrtime, interleaved rounds

interface Target {
  key: Key;
  url: string;
}

interface SequentialResult {
  requests: number;
  ok: number;
  errors: number;
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
  reqPerSec: number;
  latencyMs: Dist;
  rounds: { p50: number; p99: number; mean: number; n: number }[];
  /** Median over rounds of each round's P50 / P99. */
  roundsMedian: { p50: number; p99: number };
  /** modelhost only: its own `x-modelhost-overhead-ms` header (request time minus time waiting on the provider). */
  overheadHeaderMs?: Dist;
}

interface SequentialState {
  pool: Pool;
  latencies: number[];
  byRound: number[][];
  overhead: number[];
  statuses: Record<string, number>;
  errors: number;
  seconds: number;
  firstError?: string;
}

async function timedRequest(st: SequentialState, keep: boolean, round: number) {
  const t0 = process.hrtime.bigint();
  try {
    const res = await st.pool.request({ path: PATH, method: 'POST', headers: HEADERS, body: BODY });
    await res.body.arrayBuffer();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (!keep) return;
    count(st.statuses, res.statusCode);
    if (res.statusCode !== 200) {
      st.firstError ??= `HTTP ${res.statusCode}`;
      return;
    }
    st.latencies.push(ms);
    st.byRound[round]!.push(ms);
    const overhead = res.headers['x-modelhost-overhead-ms'];
    if (typeof overhead === 'string') st.overhead.push(Number(overhead));
  } catch (e) {
    if (!keep) throw e;
    st.errors++;
    st.firstError ??= (e as Error).message;
  }
}

async function runSequential(targets: Target[], requests: number, rounds: number, warmup: number): Promise<Record<Key, SequentialResult>> {
  const states = new Map<Key, SequentialState>();
  for (const t of targets) {
    states.set(t.key, {
      // One connection, kept alive for the whole phase: the bench measures the gateway, not TCP handshakes.
      pool: new Pool(t.url, { connections: 1, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 120_000 }),
      latencies: [],
      byRound: Array.from({ length: rounds }, () => []),
      overhead: [],
      statuses: {},
      errors: 0,
      seconds: 0,
    });
  }
  // Warm-up, interleaved in slices too, so every process reaches its JIT-compiled steady state.
  const slice = Math.max(1, Math.ceil(warmup / 5));
  for (let done = 0; done < warmup; done += slice) {
    for (const t of targets) for (let i = 0; i < Math.min(slice, warmup - done); i++) await timedRequest(states.get(t.key)!, false, 0);
  }
  const perRound = Math.ceil(requests / rounds);
  for (let r = 0; r < rounds; r++) {
    // Rotate the order each round so no target always runs first (right after another target's burst) or last.
    const order = targets.map((_, i) => targets[(i + r) % targets.length]!);
    for (const t of order) {
      const st = states.get(t.key)!;
      const started = performance.now();
      for (let i = 0; i < perRound; i++) await timedRequest(st, true, r);
      st.seconds += (performance.now() - started) / 1000;
    }
  }
  const out = {} as Record<Key, SequentialResult>;
  for (const t of targets) {
    const st = states.get(t.key)!;
    await st.pool.close();
    const roundStats = st.byRound.map((l) => {
      const d = dist(l);
      return { p50: d.p50, p99: d.p99, mean: d.mean, n: d.n };
    });
    out[t.key] = {
      requests: perRound * rounds,
      ok: st.latencies.length,
      errors: st.errors,
      statuses: st.statuses,
      reqPerSec: (perRound * rounds) / st.seconds,
      latencyMs: dist(st.latencies),
      rounds: roundStats,
      roundsMedian: { p50: median(roundStats.map((x) => x.p50)), p99: median(roundStats.map((x) => x.p99)) },
      ...(st.overhead.length > 0 ? { overheadHeaderMs: dist(st.overhead) } : {}),
    };
    if (st.firstError) say(`  ${LABEL[t.key]}: first failure: ${st.firstError}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Concurrency 64: autocannon for a fixed time, interleaved rounds

interface LoadResult {
  connections: number;
  seconds: number;
  ok: number;
  reqPerSec: number;
  /** req/s of each round. */
  roundsReqPerSec: number[];
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  non2xx: number;
  latencyMs: Dist;
  /** Cores used on average while measured, by process; `others` is everything else on the machine (noise). */
  cores: { upstream: number; gateway: number; bench: number; others: number };
  /** CPU time the gateway process spent per answered request, µs (0 for direct). */
  gatewayCpuUsPerRequest: number;
}

interface Pids {
  upstream: number;
  bare: number;
  modelhost: number;
}

async function autocannonRun(url: string, connections: number, seconds: number, onResponse?: (status: number, ms: number) => void) {
  const instance = autocannon({
    url: `${url}${PATH}`,
    connections,
    duration: seconds,
    timeout: 30,
    method: 'POST',
    headers: HEADERS,
    body: BODY,
  });
  if (onResponse) instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => onResponse(status, ms));
  return instance;
}

async function runLoad(targets: Target[], pids: Pids, connections: number, seconds: number, rounds: number, warmup: number): Promise<Record<Key, LoadResult>> {
  for (const t of targets) await autocannonRun(t.url, connections, warmup);
  const acc = new Map<Key, { latencies: number[]; statuses: Record<string, number>; rounds: number[]; seconds: number; ok: number; errors: number; timeouts: number; non2xx: number; cpu: number[]; cpuSeconds: number }>();
  for (const t of targets) acc.set(t.key, { latencies: [], statuses: {}, rounds: [], seconds: 0, ok: 0, errors: 0, timeouts: 0, non2xx: 0, cpu: [0, 0, 0, 0], cpuSeconds: 0 });
  const chunk = seconds / rounds;
  for (let r = 0; r < rounds; r++) {
    const order = targets.map((_, i) => targets[(i + r) % targets.length]!);
    for (const t of order) {
      const a = acc.get(t.key)!;
      let ok = 0;
      const gatewayPid = t.key === 'direct' ? undefined : pids[t.key];
      // Direct has no gateway process: measure the upstream and the bench only (counting a pid twice would hide noise).
      // modelhost with --processes > 1 is a primary and its workers: count them all.
      const gateway = t.key === 'modelhost' ? { tree: pids.modelhost } : gatewayPid;
      const cpu = cpuWindow(gateway === undefined ? [pids.upstream, 'self'] : [pids.upstream, gateway, 'self']);
      const result = await autocannonRun(t.url, connections, chunk, (status, ms) => {
        count(a.statuses, status);
        if (status === 200) {
          ok++;
          a.latencies.push(ms);
        }
      });
      const used = cpu();
      a.rounds.push(ok / result.duration);
      a.seconds += result.duration;
      a.ok += ok;
      a.errors += result.errors;
      a.timeouts += result.timeouts;
      a.non2xx += result.non2xx;
      const [upstreamCores, gatewayCores, benchCores] = gatewayPid === undefined ? [used.cores[0]!, 0, used.cores[1]!] : [used.cores[0]!, used.cores[1]!, used.cores[2]!];
      const weights = [upstreamCores, gatewayCores, benchCores, used.others];
      weights.forEach((w, i) => (a.cpu[i]! += w * used.seconds));
      a.cpuSeconds += used.seconds;
    }
  }
  const out = {} as Record<Key, LoadResult>;
  for (const t of targets) {
    const a = acc.get(t.key)!;
    const [upstream, gateway, bench, others] = a.cpu.map((c) => c / a.cpuSeconds) as [number, number, number, number];
    out[t.key] = {
      connections,
      seconds: a.seconds,
      ok: a.ok,
      reqPerSec: a.ok / a.seconds,
      roundsReqPerSec: a.rounds,
      statuses: a.statuses,
      errors: a.errors,
      timeouts: a.timeouts,
      non2xx: a.non2xx,
      latencyMs: dist(a.latencies),
      cores: { upstream, gateway, bench, others },
      gatewayCpuUsPerRequest: t.key === 'direct' ? 0 : (gateway * a.cpuSeconds * 1e6) / Math.max(1, a.ok),
    };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

function git(args: string[], cwd: string): string | undefined {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** One request, checked in full: the bench must measure real answers, not errors that happen to be fast. */
async function checkAnswer(key: Key, url: string): Promise<void> {
  const pool = new Pool(url, { connections: 1 });
  try {
    const res = await pool.request({ path: PATH, method: 'POST', headers: HEADERS, body: BODY });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${LABEL[key]} answered HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
    const data = JSON.parse(text) as { object?: string; model?: string; choices?: { message?: { content?: string } }[] };
    if (data.object !== 'chat.completion' || !data.choices?.[0]?.message?.content) throw new Error(`${LABEL[key]} answered something else: ${text.slice(0, 300)}`);
    if (key === 'modelhost') {
      if (data.model !== MODEL_ID) throw new Error(`modelhost answered model ${data.model}, expected ${MODEL_ID}`);
      if (res.headers['x-modelhost-provider'] !== PROVIDER) throw new Error(`modelhost answered through ${String(res.headers['x-modelhost-provider'])}, expected ${PROVIDER}`);
    }
  } finally {
    await pool.close();
  }
}

const running: { stop(): Promise<void> }[] = [];
async function stopAll() {
  await Promise.allSettled(running.splice(0).reverse().map((s) => s.stop()));
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stopAll().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  const opts = program.parse().opts<Options>();
  const quick = opts.quick;
  const requests = quick ? 300 : opts.requests;
  const rounds = quick ? 3 : opts.rounds;
  const duration = quick ? 1 : opts.duration;
  const loadRounds = quick ? 1 : rounds;
  const warmupRequests = quick ? 50 : opts.warmupRequests;
  const warmup = quick ? 0.5 : opts.warmup;
  const connections = CONNECTIONS;
  const serverRoot = path.resolve(opts.serverRoot);
  const started = new Date();
  const load0 = os.loadavg();
  const cpus = os.cpus();
  const commit = git(['rev-parse', 'HEAD'], serverRoot);
  const uncommitted = git(['status', '--porcelain', '--', 'src', 'bin', 'package.json'], serverRoot)?.split('\n').filter(Boolean) ?? [];

  say(`bench:gateway  ${started.toISOString()}  node ${process.version}, ${cpus.length} CPUs (${cpus[0]?.model ?? '?'}), load average ${load0.map((l) => l.toFixed(2)).join(' ')}`);
  say(`modelhost ${path.relative(root, serverRoot) || '.'} at ${commit?.slice(0, 12) ?? '(no git)'}${uncommitted.length ? ` + ${uncommitted.length} uncommitted change(s) in src/bin/package.json` : ''}`);
  say(
    `Note: this machine has ${cpus.length} cores, shared with other jobs while the bench runs; absolute figures drift 10–20 % between runs. ` +
      'The three targets take turns in interleaved rounds, so the comparisons within one run hold better than the absolute numbers.',
  );
  say(opts.auth ? `auth and limits: ${AUTH_NOTE}.${opts.limits ? ` --limits: ${LIMITS_NOTE}.` : ''}` : 'auth and limits: off (--no-auth): no token, no limits, no usage records.');
  say(`metrics: ON — ${METRICS_NOTE}.`);

  const tmp = await mkdtemp(path.join(os.tmpdir(), 'modelhost-bench-gateway-'));
  try {
    const upstream = await startFixedUpstream(opts.upstreamMs);
    running.push(upstream);
    const bare = await startBareProxy(upstream.url);
    running.push(bare);
    const providersFile = {
      providers: [{ name: PROVIDER, type: 'openai-compatible', baseUrl: `${upstream.url}/v1` }],
      models: [{ id: MODEL_ID, task: 'conversational', providers: [{ provider: PROVIDER }] }],
    };
    const providersPath = path.join(tmp, 'providers.json');
    await writeFile(providersPath, JSON.stringify(providersFile, null, 2));
    const dataDir = path.join(tmp, 'data');
    const tiersPath = path.join(tmp, 'tiers.json');
    await writeFile(tiersPath, JSON.stringify({ tiers: [{ name: 'anonymous', requestsPerMinute: 60 }, { name: 'free' }, { name: 'unlimited' }, BENCH_TIER] }));
    if (!opts.auth) delete HEADERS.authorization;
    const tier = opts.limits ? 'bench' : 'unlimited';
    const created = spawnSync(process.execPath, [path.join(serverRoot, 'bin', 'modelhost.js'), 'tokens', 'create', '--name', 'bench', '--tier', tier, '--data-dir', dataDir, '--json'], {
      encoding: 'utf8',
    });
    if (created.status !== 0) throw new Error(`could not create the bench token: ${created.stderr}`);
    if (opts.auth) HEADERS.authorization = `Bearer ${(JSON.parse(created.stdout) as { token: string }).token}`;
    const serverArgs = ['--providers', providersPath, '--data-dir', dataDir, '--tiers', tiersPath, '--log-level', 'warn', '--processes', opts.processes, ...(opts.auth ? [] : ['--auth', 'off'])];
    const modelhost = await startServer(serverRoot, serverArgs);
    running.push(modelhost);
    say(`upstream ${upstream.url} (pid ${upstream.pid}, ${opts.upstreamMs} ms per answer); bare proxy ${bare.url} (pid ${bare.pid}); modelhost ${modelhost.url} (pid ${modelhost.pid}): serve ${serverArgs.join(' ')}`);
    say(`request: POST ${PATH}, ${Buffer.byteLength(BODY)} bytes, model ${MODEL_ID} → provider ${PROVIDER} (openai-compatible)`);

    const targets: Target[] = [
      { key: 'direct', url: upstream.url },
      { key: 'bare', url: bare.url },
      { key: 'modelhost', url: modelhost.url },
    ];
    for (const t of targets) await checkAnswer(t.key, t.url);

    say(`\nconcurrency 1: ${warmupRequests} warm-up requests per target, then ${requests} per target in ${rounds} interleaved rounds…`);
    const c1 = await runSequential(targets, requests, rounds, warmupRequests);

    say(`concurrency ${connections}: ${warmup} s warm-up per target, then ${duration} s per target in ${loadRounds} interleaved round(s)…`);
    const pids: Pids = { upstream: upstream.pid, bare: bare.pid, modelhost: modelhost.pid };
    const c64 = await runLoad(targets, pids, connections, duration, loadRounds, warmup);

    // Metrics: one scrape at the end; the provider statistics are what the router recorded during the bench.
    const metricsText = await (await fetch(`${modelhost.url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    const providerLines = metricsText.split('\n').filter((l) => /^modelhost_(provider|failovers)_/.test(l));
    const metricValue = (name: string) => {
      const line = providerLines.find((l) => l.startsWith(`${name}{provider="${PROVIDER}"`));
      return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
    };
    const upstreamServed = ((await (await fetch(`${upstream.url}/stats`)).json()) as { served: number }).served;
    await stopAll();
    const load1 = os.loadavg();

    // ---- Report ----
    const added = (key: 'bare' | 'modelhost') => ({
      p50: c1[key].latencyMs.p50 - c1.direct.latencyMs.p50,
      p99: c1[key].latencyMs.p99 - c1.direct.latencyMs.p99,
      roundsMedian: {
        p50: median(c1[key].rounds.map((r, i) => r.p50 - c1.direct.rounds[i]!.p50)),
        p99: median(c1[key].rounds.map((r, i) => r.p99 - c1.direct.rounds[i]!.p99)),
      },
    });
    const addedC1 = { bare: added('bare'), modelhost: added('modelhost') };
    const addedC64 = {
      bare: { p50: c64.bare.latencyMs.p50 - c64.direct.latencyMs.p50, p99: c64.bare.latencyMs.p99 - c64.direct.latencyMs.p99 },
      modelhost: { p50: c64.modelhost.latencyMs.p50 - c64.direct.latencyMs.p50, p99: c64.modelhost.latencyMs.p99 - c64.direct.latencyMs.p99 },
    };
    const share = c64.modelhost.reqPerSec / c64.bare.reqPerSec;
    const roundsShare = median(c64.modelhost.roundsReqPerSec.map((v, i) => v / c64.bare.roundsReqPerSec[i]!));

    const ms = (v: number) => fmt(v, 3);
    const plus = (v: number) => `${v >= 0 ? '+' : ''}${fmt(v, 3)}`;
    say(`\n== Concurrency 1: ${requests} sequential requests per target, ${rounds} interleaved rounds, one keep-alive connection (ms) ==`);
    say(
      table(
        ['target', 'req/s', 'mean', 'P50', 'P90', 'P99', 'P99.9', 'max', 'added P50', 'added P99', 'rounds: P50', 'P99', 'added P50', 'added P99', 'non-200'],
        KEYS.map((k) => {
          const r = c1[k];
          const a = k === 'direct' ? undefined : addedC1[k];
          return [
            LABEL[k],
            fmt(r.reqPerSec, 0),
            ms(r.latencyMs.mean),
            ms(r.latencyMs.p50),
            ms(r.latencyMs.p90),
            ms(r.latencyMs.p99),
            ms(r.latencyMs.p999),
            ms(r.latencyMs.max),
            a ? plus(a.p50) : '',
            a ? plus(a.p99) : '',
            ms(r.roundsMedian.p50),
            ms(r.roundsMedian.p99),
            a ? plus(a.roundsMedian.p50) : '',
            a ? plus(a.roundsMedian.p99) : '',
            String(r.requests - (r.statuses['200'] ?? 0)),
          ];
        }),
      ),
    );
    say('added = the target minus direct; "rounds" columns = median over the rounds of each round\'s figure.');
    const oh = c1.modelhost.overheadHeaderMs;
    if (oh) say(`modelhost's own x-modelhost-overhead-ms header (its time minus time waiting on the provider): P50 ${ms(oh.p50)}, P99 ${ms(oh.p99)}, mean ${ms(oh.mean)} ms.`);

    say(`\n== Concurrency ${connections}: autocannon, ${duration} s per target in ${loadRounds} interleaved round(s) ==`);
    say(
      table(
        ['target', 'req/s', 'rounds req/s', 'P50 ms', 'P99 ms', 'added P50', 'added P99', 'gateway cores', 'gateway µs CPU/req', 'upstream cores', 'bench cores', 'other cores', 'non-200'],
        KEYS.map((k) => {
          const r = c64[k];
          const a = k === 'direct' ? undefined : addedC64[k];
          return [
            LABEL[k],
            fmt(r.reqPerSec, 0),
            r.roundsReqPerSec.map((v) => fmt(v, 0)).join('/'),
            ms(r.latencyMs.p50),
            ms(r.latencyMs.p99),
            a ? plus(a.p50) : '',
            a ? plus(a.p99) : '',
            k === 'direct' ? '' : fmt(r.cores.gateway, 2),
            k === 'direct' ? '' : fmt(r.gatewayCpuUsPerRequest, 0),
            fmt(r.cores.upstream, 2),
            fmt(r.cores.bench, 2),
            fmt(r.cores.others, 2),
            String(r.errors + r.timeouts + r.non2xx),
          ];
        }),
      ),
    );
    say(`modelhost / bare proxy: ${fmt(100 * share, 0)}% of its req/s (median of per-round ratios ${fmt(100 * roundsShare, 0)}%); modelhost / direct ${fmt((100 * c64.modelhost.reqPerSec) / c64.direct.reqPerSec, 0)}%.`);

    say('\n== Metrics (GET /metrics on modelhost, scraped once after the runs) ==');
    for (const line of providerLines) say(`  ${line}`);
    say(`upstream served ${upstreamServed} completions in all (warm-ups included).`);

    const targetsResult = {
      addedP50: {
        pass: addedC1.modelhost.p50 <= TARGET_ADDED_P50_MS,
        value: addedC1.modelhost.p50,
        target: TARGET_ADDED_P50_MS,
        detail: `concurrency 1: added latency P50 (modelhost P50 − direct P50) ≤ ${TARGET_ADDED_P50_MS} ms`,
      },
      addedP99: {
        pass: addedC1.modelhost.p99 <= TARGET_ADDED_P99_MS,
        value: addedC1.modelhost.p99,
        target: TARGET_ADDED_P99_MS,
        detail: `concurrency 1: added latency P99 (modelhost P99 − direct P99) ≤ ${TARGET_ADDED_P99_MS} ms`,
      },
      throughputShareOfBare: {
        pass: share >= TARGET_SHARE_OF_BARE,
        value: share,
        target: TARGET_SHARE_OF_BARE,
        detail: `concurrency ${connections}: modelhost req/s ≥ ${100 * TARGET_SHARE_OF_BARE}% of the bare undici proxy's`,
      },
    };
    say('\n== Targets ==');
    say(
      table(
        ['', 'target', 'measured', 'bare proxy (floor)', 'rounds median'],
        [
          [
            `${targetsResult.addedP50.pass ? 'PASS' : 'MISS'}  c=1 added P50`,
            `≤ ${TARGET_ADDED_P50_MS} ms`,
            `${plus(addedC1.modelhost.p50)} ms`,
            `${plus(addedC1.bare.p50)} ms`,
            `${plus(addedC1.modelhost.roundsMedian.p50)} ms`,
          ],
          [
            `${targetsResult.addedP99.pass ? 'PASS' : 'MISS'}  c=1 added P99`,
            `≤ ${TARGET_ADDED_P99_MS} ms`,
            `${plus(addedC1.modelhost.p99)} ms`,
            `${plus(addedC1.bare.p99)} ms`,
            `${plus(addedC1.modelhost.roundsMedian.p99)} ms`,
          ],
          [
            `${targetsResult.throughputShareOfBare.pass ? 'PASS' : 'MISS'}  c=${connections} req/s vs bare`,
            `≥ ${100 * TARGET_SHARE_OF_BARE}%`,
            `${fmt(100 * share, 0)}%`,
            `${fmt(c64.bare.reqPerSec, 0)} req/s`,
            `${fmt(100 * roundsShare, 0)}%`,
          ],
        ],
      ),
    );
    const others = KEYS.map((k) => c64[k].cores.others);
    say(
      `Noise: other processes used up to ${fmt(Math.max(...others), 2)} of ${cpus.length} cores during the throughput runs; ` +
        `load average before ${load0.map((l) => l.toFixed(2)).join(' ')}, after ${load1.map((l) => l.toFixed(2)).join(' ')}.`,
    );

    await mkdir(opts.json ? path.dirname(path.resolve(opts.json)) : opts.out, { recursive: true });
    const file = opts.json ? path.resolve(opts.json) : path.join(opts.out, `gateway-${started.toISOString().replace(/:/g, '-')}.json`);
    const report = {
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: {
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
        cpus: cpus.length,
        cpuModel: cpus[0]?.model,
        memGb: os.totalmem() / 1024 ** 3,
        loadavgBefore: load0,
        loadavgAfter: load1,
        note: `${cpus.length} cores shared with other jobs during the run; absolute figures drift 10–20 % between runs`,
      },
      modelhost: { commit, uncommittedChanges: uncommitted, serverRoot, serveArgs: serverArgs, providersFile },
      settings: { requests, rounds, warmupRequests, duration, loadRounds, warmup, connections, upstreamMs: opts.upstreamMs, quick, path: PATH, bodyBytes: Buffer.byteLength(BODY), model: MODEL_ID },
      auth: opts.auth
        ? { enabled: true, limits: opts.limits, tier: opts.limits ? BENCH_TIER : { name: 'unlimited' }, note: opts.limits ? `${AUTH_NOTE}; ${LIMITS_NOTE}` : AUTH_NOTE }
        : { enabled: false, limits: false, note: '--no-auth: modelhost ran with --auth off' },
      metrics: {
        enabled: true,
        note: METRICS_NOTE,
        providerLines,
        attemptsTotal: metricValue('modelhost_provider_attempts_total'),
        errorsTotal: metricValue('modelhost_provider_errors_total'),
      },
      upstreamServed,
      c1: { targets: c1, added: addedC1 },
      c64: { targets: c64, added: addedC64, shareOfBare: share, roundsShareOfBare: roundsShare },
      targets: targetsResult,
    };
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    say(`\nwrote ${path.relative(process.cwd(), file)}`);
  } finally {
    await stopAll();
    await rm(tmp, { recursive: true, force: true });
  }
}

main().catch(async (e: unknown) => {
  await stopAll();
  process.stderr.write(`bench:gateway failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
