/**
 * `npm run bench:generation`: local generation served with continuous batching on and off, against the raw limit
 * (onnxruntime's decoder step alone at the same batch sizes). See perf/README.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoTokenizer, env, pipeline } from '@huggingface/transformers';
import { Command, InvalidArgumentError } from 'commander';
import { createScheduler, settingsFromParams } from '../src/engine/generation/index.ts';
import type { Pipe } from '../src/engine/tasks/types.ts';
import { stampFor, writeModelFolder } from '../tools/tiny-models/files.ts';
import { buildGpt2Sized } from '../tools/tiny-models/gpt2.ts';
import { buildLlamaSized } from '../tools/tiny-models/llama.ts';
import { CORPUS } from './lib/corpus.ts';
import { runRawDecodeIsolated, type RawDecodePoint } from './lib/decode-raw.ts';
import { metric, scrape } from './lib/metrics.ts';
import { startServer, type ServerHandle } from './lib/server.ts';
import { fmt, table } from './lib/table.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The bench decoders: the factory's GPT-2 and Llama builders at bench size (not committed; written at bench time). */
const FAMILIES = {
  gpt2: { id: 'tiny/gpt2-bench', shape: 'GPT-2' },
  llama: { id: 'tiny/llama-bench', shape: 'Llama (RMSNorm, rotary, grouped-query attention, SwiGLU)' },
} as const;
type Family = keyof typeof FAMILIES;

const TARGETS = { shareOfRaw: 0.8, gain16: 5, shareOfRawGain: 0.8, itlP99Ratio: 3, loopP99Ms: 20 };

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function intList(value: string): number[] {
  const list = value.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n <= 0)) throw new InvalidArgumentError('expected a comma-separated list of positive integers');
  return list;
}

const program = new Command()
  .name('bench:generation')
  .description(
    'Writes bench-size decoders (GPT-2 and Llama shapes, hidden 512 × 6 layers by default) to .cache/bench-models, measures onnxruntime\'s ' +
      'decoder step alone (the raw limit), then serves it with continuous batching on (--max-batch-size 64) and off (1) and ' +
      'streams greedy generations at each concurrency. Prints tokens/s, time to first token and inter-token latency, ' +
      'PASS/MISS for the targets, and writes JSON to perf/results/generation-<timestamp>.json.',
  )
  .option('--duration <s>', 'seconds of load per concurrency point', positiveInt, 10)
  .option('--concurrency <list>', 'concurrent streams', intList, [1, 4, 16, 64])
  .option('--max-new-tokens <n>', 'tokens generated per request', positiveInt, 64)
  .option('--hidden <n>', 'bench decoder hidden size', positiveInt, 512)
  .option('--layers <n>', 'bench decoder layers', positiveInt, 6)
  .option('--heads <n>', 'bench decoder attention heads', positiveInt, 8)
  .option('--families <list>', 'decoders to measure: gpt2, llama or gpt2,llama', 'gpt2,llama')
  .option('--modes <list>', 'continuous batching: on, off or on,off', 'on,off')
  .option('--no-kv-compare', 'skip the in-process comparison of KV cache layouts')
  .option('--quick', 'smoke run: 3 s points at concurrency 1,16', false)
  .addHelpText('after', '\nExamples:\n  npm run bench:generation\n  npm run bench:generation -- --quick\n  npm run bench:generation -- --concurrency 1,16 --modes on');

interface Options {
  duration: number;
  concurrency: number[];
  maxNewTokens: number;
  hidden: number;
  layers: number;
  heads: number;
  modes: string;
  families: string;
  kvCompare: boolean;
  quick: boolean;
}

interface ServedPoint {
  model: string;
  batching: 'on' | 'off';
  concurrency: number;
  requests: number;
  errors: number;
  tokensPerSec: number;
  ttftMs: { p50: number; p99: number };
  itlMs: { p50: number; p99: number };
  loopP99Ms: number;
  /** The raw decoder step at batch = concurrency, measured right before this point (the machine's speed drifts). */
  raw: RawDecodePoint;
}

const say = (line = '') => process.stdout.write(`${line}\n`);

function percentile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/**
 * Keep-alive connections for the load: node:http rather than fetch, because the load generator shares the machine's
 * cores with the server it measures, and fetch's web streams took twice the CPU (6% of a core against 3% at
 * 1,700 tokens/s, 16 streams) for the same bytes.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });

/** One streamed TGI generation: time to the first token event, and the gaps between the later ones. */
function streamOne(target: string, prompt: string, maxNewTokens: number, ttft: number[], itl: number[]): Promise<number> {
  const started = performance.now();
  const url = new URL(target);
  const body = JSON.stringify({ inputs: prompt, stream: true, parameters: { max_new_tokens: maxNewTokens, do_sample: false } });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`status ${res.statusCode}`));
        return;
      }
      let last = 0;
      let tokens = 0;
      res.on('data', (chunk: Buffer) => {
        const now = performance.now();
        // One SSE event per token; events that arrive in one read count as arriving together.
        for (let at = chunk.indexOf('data:'); at !== -1; at = chunk.indexOf('data:', at + 5)) {
          if (tokens === 0) ttft.push(now - started);
          else itl.push(now - last);
          last = now;
          tokens++;
        }
      });
      res.on('end', () => resolve(tokens));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function servedPoint(
  server: ServerHandle,
  model: string,
  batching: 'on' | 'off',
  concurrency: number,
  seconds: number,
  maxNewTokens: number,
): Promise<Omit<ServedPoint, 'raw'>> {
  const ttft: number[] = [];
  const itl: number[] = [];
  let tokens = 0;
  let requests = 0;
  let errors = 0;
  let next = 0;
  await scrape(server.url); // starts a fresh event-loop delay window (prom-client resets it on every scrape)
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const prompt = CORPUS[next++ % CORPUS.length]!;
        try {
          const n = await streamOne(`${server.url}/models/${model}`, prompt, maxNewTokens, ttft, itl);
          tokens += n;
          requests++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const after = await scrape(server.url);
  return {
    model,
    batching,
    concurrency,
    requests,
    errors,
    tokensPerSec: tokens / elapsed,
    ttftMs: { p50: percentile(ttft, 0.5), p99: percentile(ttft, 0.99) },
    itlMs: { p50: percentile(itl, 0.5), p99: percentile(itl, 0.99) },
    loopP99Ms: metric(after, 'nodejs_eventloop_lag_p99_seconds') * 1000,
  };
}

/**
 * The KV layout decision, measured: the scheduler in this process at batch 16, feeding onnxruntime's `present`
 * back and repacking only when rows change (what it does) versus copying every row's cache into a new batch every
 * step (what a per-sequence cache concatenated each step costs).
 */
async function compareKvLayouts(modelDir: string, model: string, maxNewTokens: number): Promise<{ onChange: number; everyStep: number }> {
  env.allowRemoteModels = false;
  env.localModelPath = path.dirname(path.dirname(modelDir)) + path.sep;
  const pipe = (await pipeline('text-generation', model, { dtype: 'fp32' })) as unknown as Pipe;
  const prompts = CORPUS.slice(0, 16).map((p) => Array.from(pipe.tokenizer(p).input_ids.data as BigInt64Array, Number));
  const rate = async (repackEveryStep: boolean) => {
    const scheduler = createScheduler(pipe, { options: { maxBatchSize: 64, repackEveryStep } })!;
    const settings = settingsFromParams({ max_new_tokens: maxNewTokens }, {}, 0);
    await Promise.all(prompts.slice(0, 2).map((ids) => scheduler.generate(ids, settings))); // warm-up
    const t0 = performance.now();
    const results = await Promise.all(prompts.map((ids) => scheduler.generate(ids, settings)));
    return results.reduce((n, r) => n + r.tokens.length, 0) / ((performance.now() - t0) / 1000);
  };
  const onChange = await rate(false);
  const everyStep = await rate(true);
  await (pipe as unknown as { dispose(): Promise<void> }).dispose();
  return { onChange, everyStep };
}

/**
 * Cancellation frees slots: 32 greedy streams, of which 16 are closed once every stream has its first tokens;
 * the mean gap between tokens of the 16 others before and after.
 */
async function cancelPhase(server: ServerHandle, model: string, maxNewTokens: number): Promise<{ beforeMs: number; afterMs: number }> {
  const gaps: { at: number; gap: number }[][] = Array.from({ length: 32 }, () => []);
  const ctrls = Array.from({ length: 32 }, () => new AbortController());
  let started = 0;
  let allStarted!: () => void;
  const ready = new Promise<void>((resolve) => (allStarted = resolve));
  const streams = ctrls.map(async (ctrl, i) => {
    const res = await fetch(`${server.url}/models/${model}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: CORPUS[i % CORPUS.length], stream: true, parameters: { max_new_tokens: maxNewTokens * 2, do_sample: false } }),
      signal: ctrl.signal,
    });
    const reader = res.body!.getReader();
    let last = 0;
    let count = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const now = performance.now();
      const events = new TextDecoder().decode(value).split('data:').length - 1;
      if (count > 0) gaps[i]!.push({ at: now, gap: (now - last) / events });
      last = now;
      count += events;
      if (count >= 4 && count - events < 4 && ++started === 32) allStarted();
    }
  });
  const settled = Promise.allSettled(streams);
  await ready;
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const cancelledAt = performance.now();
  ctrls.forEach((c, i) => i % 2 === 0 && c.abort());
  await settled;
  const survivors = gaps.filter((_, i) => i % 2 === 1).flat();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    beforeMs: mean(survivors.filter((g) => g.at < cancelledAt).map((g) => g.gap)),
    afterMs: mean(survivors.filter((g) => g.at > cancelledAt + 500).map((g) => g.gap)),
  };
}

interface FamilyResult {
  model: string;
  dims: Record<string, number>;
  kv?: { onChange: number; everyStep: number };
  served: ServedPoint[];
  cancel?: { beforeMs: number; afterMs: number };
}

function buildBench(family: Family, opts: Options) {
  const common = { hidden: opts.hidden, layers: opts.layers, heads: opts.heads, positions: 1024 };
  if (family === 'gpt2') {
    const dims = { ...common, intermediate: 4 * opts.hidden };
    return { dims, built: buildGpt2Sized(FAMILIES.gpt2.id, dims) };
  }
  // Llama proportions: head size 64, a quarter as many key/value heads, SwiGLU width about 8/3 of hidden.
  const dims = { ...common, headDim: opts.hidden / opts.heads, kvHeads: Math.max(1, opts.heads / 4), intermediate: Math.round((8 * opts.hidden) / 3 / 64) * 64 };
  return { dims, built: buildLlamaSized(FAMILIES.llama.id, dims) };
}

async function benchFamily(family: Family, opts: Options, concurrency: number[], duration: number, modes: ('on' | 'off')[]): Promise<FamilyResult> {
  const model = FAMILIES[family].id;
  const modelsDir = path.join(root, '.cache', 'bench-models');
  const { dims, built } = buildBench(family, opts);
  const modelDir = await writeModelFolder(modelsDir, built, stampFor(model, JSON.stringify(dims)));
  const vocab = (built.files['config.json'] as { vocab_size: number }).vocab_size;
  say(`\n######## ${model}: ${FAMILIES[family].shape}, ${JSON.stringify(dims)}, vocab ${vocab}`);

  // The raw steps run over the same cache lengths as served generations: from the corpus's longest prompt (batched
  // rows are left-padded to it) through max_new_tokens steps.
  env.allowRemoteModels = false;
  env.localModelPath = modelsDir + path.sep;
  const tokenizer = await AutoTokenizer.from_pretrained(model);
  const promptLengths = CORPUS.map((p) => tokenizer(p).input_ids.dims[1] as number);
  const promptTokens = Math.max(...promptLengths);
  say(`prompts: ${CORPUS.length} corpus sentences, ${Math.min(...promptLengths)}-${promptTokens} tokens`);
  // Three passes, the fastest kept: a limit is the best the step does.
  const rawAt = async (c: number) => (await runRawDecodeIsolated(modelDir, [c, c, c], promptTokens, opts.maxNewTokens, vocab)).reduce((a, b) => (b.tokensPerSec > a.tokensPerSec ? b : a));
  say(`raw decoder steps run over a cache from ${promptTokens} positions through ${opts.maxNewTokens} steps, in a fresh process right before each served point (fastest of 3 passes)`);

  let kv: { onChange: number; everyStep: number } | undefined;
  if (opts.kvCompare) {
    kv = await compareKvLayouts(modelDir, model, opts.maxNewTokens);
    say(`\nKV layout, 16 sequences in this process: repack on change ${fmt(kv.onChange)} tokens/s, copy every step ${fmt(kv.everyStep)} tokens/s`);
  }

  const served: ServedPoint[] = [];
  let cancel: { beforeMs: number; afterMs: number } | undefined;
  for (const mode of modes) {
    const args = ['--models-dir', modelsDir, '--preload', model, '--no-builtin-models', '--cache-entries', '0', '--auth', 'off', '--log-level', 'warn', '--max-batch-size', mode === 'on' ? '64' : '1'];
    say(`\nserved, continuous batching ${mode}: modelhost serve ${args.join(' ')}`);
    const server = await startServer(root, args);
    try {
      await servedPoint(server, model, mode, Math.max(...concurrency), Math.min(3, duration), opts.maxNewTokens); // warm-up
      for (const c of concurrency) {
        const raw = await rawAt(c);
        const p = { ...(await servedPoint(server, model, mode, c, duration, opts.maxNewTokens)), raw };
        served.push(p);
        say(
          `  c=${String(c).padStart(2)}: ${fmt(p.tokensPerSec)} tokens/s, TTFT P50 ${fmt(p.ttftMs.p50)} P99 ${fmt(p.ttftMs.p99)} ms, ` +
            `ITL P50 ${fmt(p.itlMs.p50)} P99 ${fmt(p.itlMs.p99)} ms, loop P99 ${fmt(p.loopP99Ms)} ms, ${p.requests} requests; ` +
            `raw batch ${c}: ${fmt(raw.tokensPerSec)} tokens/s (${fmt(raw.msPerStep, 1)} ms/step)` +
            (p.errors ? `, ${p.errors} errors` : ''),
        );
      }
      if (mode === 'on') {
        cancel = await cancelPhase(server, model, opts.maxNewTokens);
        say(`  cancelling 16 of 32 streams: the other 16's mean inter-token gap ${fmt(cancel.beforeMs)} ms before, ${fmt(cancel.afterMs)} ms after`);
      }
    } finally {
      await server.stop();
    }
  }

  return { model, dims, ...(kv ? { kv } : {}), served, ...(cancel ? { cancel } : {}) };
}

function report(r: FamilyResult, maxNewTokens: number): void {
  const rawOf = (p: ServedPoint) => p.raw.tokensPerSec;
  say(`\n== ${r.model}: greedy, ${maxNewTokens} new tokens per request, TGI stream ==`);
  say(
    table(
      ['batching', 'conc', 'tokens/s', 'TTFT P50', 'TTFT P99', 'ITL P50', 'ITL P99', 'loop P99', 'raw tokens/s', '% of raw'],
      r.served.map((p) => [
        p.batching,
        String(p.concurrency),
        fmt(p.tokensPerSec),
        fmt(p.ttftMs.p50),
        fmt(p.ttftMs.p99),
        fmt(p.itlMs.p50),
        fmt(p.itlMs.p99),
        fmt(p.loopP99Ms),
        fmt(rawOf(p)),
        `${fmt((100 * p.tokensPerSec) / rawOf(p), 0)}%`,
      ]),
    ),
  );
  say('(latencies in ms; raw = onnxruntime decoder step alone at batch = concurrency, measured right before the point)');
  if (r.kv) say(`KV layout: repack on change ${fmt(r.kv.onChange)} tokens/s, copy every step ${fmt(r.kv.everyStep)} tokens/s`);
  if (r.cancel) say(`cancelling 16 of 32 streams: the other 16's inter-token gap ${fmt(r.cancel.beforeMs)} ms before, ${fmt(r.cancel.afterMs)} ms after`);

  const on = r.served.filter((p) => p.batching === 'on');
  const at = (c: number) => on.find((p) => p.concurrency === c);
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  say('Targets (continuous batching on):');
  const shares = on.map((p) => p.tokensPerSec / rawOf(p));
  say(`  >= ${TARGETS.shareOfRaw * 100}% of raw at the same batch size: ${verdict(shares.every((x) => x >= TARGETS.shareOfRaw))} (${shares.map((x) => `${fmt(100 * x, 0)}%`).join(', ')})`);
  const c1 = at(1);
  const c16 = at(16);
  if (c1 && c16) {
    const gain = c16.tokensPerSec / c1.tokensPerSec;
    const rawGain = rawOf(c16) / rawOf(c1);
    const needed = rawGain >= TARGETS.gain16 ? TARGETS.gain16 : TARGETS.shareOfRawGain * rawGain;
    say(`  tokens/s c16 / c1 >= ${fmt(needed, 2)}x (5x, or 80% of the raw step's own gain ${fmt(rawGain, 2)}x when that is below 5x): ${verdict(gain >= needed)} (${fmt(gain, 2)}x)`);
    const itl = c16.itlMs.p99 / c1.itlMs.p99;
    say(`  ITL P99 c16 <= 3 x c1: ${verdict(itl <= TARGETS.itlP99Ratio)} (${fmt(itl, 2)}x; the raw step alone takes ${fmt(c16.raw.msPerStep / c1.raw.msPerStep, 2)}x as long at batch 16 as at batch 1)`);
  }
  const loop = Math.max(...r.served.map((p) => p.loopP99Ms));
  say(`  event loop delay P99 < ${TARGETS.loopP99Ms} ms throughout: ${verdict(loop < TARGETS.loopP99Ms)} (worst ${fmt(loop)} ms)`);
}

async function main() {
  const opts = program.parse().opts<Options>();
  const concurrency = opts.quick ? [1, 16] : opts.concurrency;
  const duration = opts.quick ? 3 : opts.duration;
  const modes = opts.modes.split(',').map((m) => m.trim()) as ('on' | 'off')[];
  const families = opts.families.split(',').map((f) => f.trim());
  for (const f of families) if (!(f in FAMILIES)) throw new InvalidArgumentError(`unknown family ${f} (gpt2, llama)`);
  const loadBefore = os.loadavg();
  say(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`);
  const results: FamilyResult[] = [];
  for (const f of families as Family[]) results.push(await benchFamily(f, opts, concurrency, duration, modes));
  for (const r of results) report(r, opts.maxNewTokens);
  say(`\nload average: ${loadBefore.map((x) => x.toFixed(2)).join(' ')} at the start, ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at the end`);

  const out = path.join(root, 'perf', 'results');
  await mkdir(out, { recursive: true });
  const file = path.join(out, `generation-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify({ options: opts, machine: { cores: os.cpus().length, loadBefore, loadAfter: os.loadavg() }, results }, null, 2));
  say(`\nwrote ${path.relative(root, file)}`);
}

await main();
