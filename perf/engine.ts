/**
 * `npm run bench:engine`: how close the served text-classification throughput gets to what onnxruntime alone does
 * on the same model and inputs, with dynamic batching on and off; then the same question for object detection
 * (perf/lib/vision-bench.ts) and speech recognition with its real-time factor (perf/lib/asr-bench.ts). `--only` picks
 * parts. See perf/README.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { BENCH_DIMS, BENCH_MODEL_ID, writeBenchModel } from '../tools/tiny-models/index.ts';
import { CORPUS } from './lib/corpus.ts';
import { idleLoop, rotatingBodies, runLoad, type LoadPoint } from './lib/load.ts';
import { combineRaw, runRaw, type RawResult } from './lib/raw.ts';
import { startServer, type ServerHandle } from './lib/server.ts';
import { YOLOS_BENCH_ID, runDetectionBench, type DetectionResult } from './lib/vision-bench.ts';
import { ASR_BENCH_ID, runAsrBench, type AsrResult } from './lib/asr-bench.ts';
import { fmt, table } from './lib/table.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Served throughput must reach this share of the raw limit. */
const TARGET_SHARE_OF_RAW = 0.85;
/** Event-loop delay P99 of the server while the model is saturated must stay under this. */
const TARGET_LOOP_P99_MS = 20;
/** Runs at this concurrency or more keep the model busy all the time (one batch in flight, the next one queued). */
const SATURATED_CONCURRENCY = 8;

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

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

const PARTS = ['text', 'detection', 'asr'] as const;
type Part = (typeof PARTS)[number];

function partList(value: string): Part[] {
  const list = value.split(',').map((s) => s.trim());
  if (list.length === 0 || list.some((p) => !(PARTS as readonly string[]).includes(p))) throw new InvalidArgumentError(`expected a comma-separated list of ${PARTS.join(', ')}`);
  return list as Part[];
}

function modeList(value: string): ('on' | 'off')[] {
  const list = value.split(',').map((s) => s.trim());
  if (list.length === 0 || list.some((m) => m !== 'on' && m !== 'off')) throw new InvalidArgumentError('expected "on", "off" or "on,off"');
  return list as ('on' | 'off')[];
}

interface Options {
  duration: number;
  concurrency: number[];
  quick: boolean;
  rawSeconds?: number;
  rounds: number;
  batchSizes: number[];
  raw: boolean;
  grouped: boolean;
  modes: ('on' | 'off')[];
  maxBatchSize: number;
  serverArgs: string;
  serverRoot: string;
  warmup?: number;
  hidden: number;
  layers: number;
  heads: number;
  intermediate?: number;
  out: string;
  detection: boolean;
  detectionConcurrency: number[];
  detectionBatchSizes: number[];
  detectionInstances: number;
  asr: boolean;
  asrConcurrency: number[];
  asrInFlight: number[];
  only?: Part[];
  /** --json: write the result to this file instead of <out>/engine-<timestamp>.json (npm run bench uses it). */
  json?: string;
}

const program = new Command()
  .name('bench:engine')
  .description(
    `Measures ${BENCH_MODEL_ID} (a BERT encoder classifier written to .cache/bench-models at bench time): first onnxruntime ` +
      'alone on pre-tokenized batches (the raw limit), then the server under autocannon with dynamic batching on and off. ' +
      `Then object detection: ${YOLOS_BENCH_ID} (a YOLOS detector at 224×224, also written at bench time), raw onnxruntime on ` +
      'the same PNG files (decode + processor + run per batch) and on prepared pixel_values vs the server fed 640×480 PNGs at --detection-concurrency. ' +
      `Then speech recognition: ${ASR_BENCH_ID} served (WAV, MP3 and WebM clips as base64 JSON) at --asr-concurrency vs the ` +
      'transformers.js pipeline called in-process on the decoded clips, with the real-time factor (audio seconds per second). ' +
      'Prints tables and PASS/MISS for the targets, and writes JSON to <out>/engine-<timestamp>.json.',
  )
  .option('--duration <s>', 'seconds of load per concurrency point', positiveNumber, 10)
  .option('--concurrency <list>', 'concurrent connections to try', intList, [1, 8, 32, 64])
  .option('--quick', 'short smoke run: 2 s points at concurrency 1,32, short raw runs', false)
  .option('--raw-seconds <s>', 'seconds per raw batch size, split into --rounds (default 0.6 × duration)', positiveNumber)
  .option('--rounds <n>', 'interleaved rounds of the raw run (items/s is the median round)', positiveInt, 3)
  .option('--batch-sizes <list>', 'raw batch sizes', intList, [1, 2, 4, 8, 16, 32, 64])
  .option('--no-raw', 'skip the raw onnxruntime run (no % of raw)')
  .option('--no-grouped', 'raw run: skip the length-grouped reference variant')
  .option('--modes <list>', 'batching modes to serve: on, off or on,off', modeList, ['on', 'off'] as ('on' | 'off')[])
  .option('--max-batch-size <n>', 'server --max-batch-size when batching is on', positiveInt, 64)
  .option('--server-args <args>', 'extra flags for modelhost serve, space-separated (e.g. "--batch-wait-ms 5")', '')
  .option('--server-root <dir>', 'serve from another checkout of modelhost (its bin/modelhost.js), to compare engine versions', root)
  .option('--warmup <s>', 'seconds of load before the first point of each server, spread over the concurrencies (default 0.3 × duration, at least 2)', positiveNumber)
  .option('--hidden <n>', 'bench model hidden size', positiveInt, BENCH_DIMS.hidden)
  .option('--layers <n>', 'bench model layers', positiveInt, BENCH_DIMS.layers)
  .option('--heads <n>', 'bench model attention heads (must divide hidden)', positiveInt, BENCH_DIMS.heads)
  .option('--intermediate <n>', 'bench model feed-forward size (default 4 × hidden)', positiveInt)
  .option('--no-detection', `skip the object-detection part (${YOLOS_BENCH_ID}, a YOLOS detector at 224×224, vs raw onnxruntime)`)
  .option('--detection-concurrency <list>', 'object detection: concurrent connections to try', intList, [1, 16])
  .option('--detection-batch-sizes <list>', 'object detection: raw batch sizes', intList, [1, 2, 4, 8, 16])
  .option('--detection-instances <n>', 'object detection: the server\'s --model-instances (copies of the detector, each with its share of the cores)', (v) => Number(v), os.availableParallelism())
  .option('--no-asr', `skip the speech-recognition part (${ASR_BENCH_ID} served vs the transformers.js pipeline in-process, real-time factor)`)
  .option('--asr-concurrency <list>', 'speech recognition: concurrent connections to try (the real-time factor is given at each)', intList, [1, 8, 16])
  .option('--asr-in-flight <list>', 'speech recognition: pipeline calls in flight in the in-process run', intList, [1, 2, 4])
  .option('--only <parts>', `run only these parts: ${PARTS.join(', ')} (comma-separated; default all)`, partList)
  .option('--out <dir>', 'folder for the JSON results', path.join(root, 'perf', 'results'))
  .option('--json <file>', 'write the JSON result to this file instead of <out>/engine-<timestamp>.json')
  .addHelpText(
    'after',
    '\nExamples:\n' +
      '  npm run bench:engine\n' +
      '  npm run bench:engine -- --quick\n' +
      '  npm run bench:engine -- --only asr --duration 20\n' +
      '  npm run bench:engine -- --duration 20 --concurrency 1,4,16,32,64\n' +
      '  npm run bench:engine -- --hidden 256 --layers 2 --modes on --server-args "--batch-wait-ms 5"',
  );

interface ServedPoint extends LoadPoint {
  batching: 'on' | 'off';
  /** reqPerSec / raw limit. */
  shareOfRaw: number;
}

const say = (line = '') => process.stdout.write(`${line}\n`);

let current: ServerHandle | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  const opts = program.parse().opts<Options>();
  const quick = opts.quick;
  const duration = quick ? 2 : opts.duration;
  const concurrency = quick ? [1, 32] : opts.concurrency;
  const rounds = quick ? 1 : opts.rounds;
  const rawSeconds = quick ? 0.5 : (opts.rawSeconds ?? Math.max(1, 0.6 * duration));
  const warmup = quick ? 1 : (opts.warmup ?? Math.max(2, 0.3 * duration));
  const dims = { hidden: opts.hidden, layers: opts.layers, heads: opts.heads, intermediate: opts.intermediate ?? 4 * opts.hidden };
  const started = new Date();
  const load0 = os.loadavg();

  say(`bench:engine  ${started.toISOString()}  node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${load0.map((l) => l.toFixed(2)).join(' ')}`);
  const parts = new Set<Part>(opts.only ?? PARTS);
  const text = parts.has('text');
  let modelDir = '';
  if (text) {
    modelDir = await writeBenchModel(path.join(root, '.cache', 'bench-models'), dims);
    say(`model ${BENCH_MODEL_ID}: hidden ${dims.hidden}, ${dims.layers} layers, ${dims.heads} heads, intermediate ${dims.intermediate} (${path.relative(root, modelDir)})`);
  }

  let raw: RawResult | undefined;
  if (opts.raw && text) {
    say(`\nraw onnxruntime, ${rawSeconds} s per batch size in ${rounds} round(s):`);
    raw = await runRaw(modelDir, CORPUS, opts.batchSizes, rawSeconds, rounds, opts.grouped ? ['padded', 'grouped'] : ['padded'], say);
  }
  // The limit is onnxruntime's best, whichever way the batch is cut: padded whole, or in the length-sorted passes the
  // engine itself runs (otherwise the server could beat "the limit" by doing less work than it).
  let rawDrift: { min: number; max: number } | undefined;
  let limitPoint = raw ? [raw.best, raw.bestGrouped].filter((x) => x !== undefined).reduce((a, b) => (b.itemsPerSec > a.itemsPerSec ? b : a)) : undefined;
  let limit = limitPoint?.itemsPerSec ?? NaN;

  const served: ServedPoint[] = [];
  const idle: Record<string, { p99Ms: number; maxMs: number }> = {};
  const modelPath = `/models/${BENCH_MODEL_ID}`;
  for (const mode of text ? opts.modes : []) {
    const args = [
      '--models-dir',
      path.dirname(path.dirname(modelDir)),
      '--preload',
      BENCH_MODEL_ID,
      '--no-builtin-models',
      '--cache-entries',
      '0',
      // The engine is measured here, not tokens and limits (the gateway bench's subject): without this the anonymous
      // tier's 60 requests/minute would refuse almost every request.
      '--auth',
      'off',
      '--log-level',
      'warn',
      '--max-batch-size',
      String(mode === 'on' ? opts.maxBatchSize : 1),
      ...opts.serverArgs.split(/\s+/).filter(Boolean),
    ];
    say(`\nserved, batching ${mode}: modelhost serve ${args.join(' ')}`);
    current = await startServer(path.resolve(opts.serverRoot), args);
    try {
      idle[mode] = await idleLoop(current);
      const nextBody = rotatingBodies(CORPUS);
      // Warm-up at every concurrency: onnxruntime's first pass at each input shape is slow, and each concurrency makes its own shapes.
      for (const c of [...concurrency].reverse()) await runLoad(current, modelPath, c, Math.max(1, warmup / concurrency.length), nextBody);
      for (const c of concurrency) {
        const p = await runLoad(current, modelPath, c, duration, nextBody);
        served.push({ ...p, batching: mode, shareOfRaw: p.reqPerSec / limit });
        say(
          `  c=${String(c).padStart(2)}: ${fmt(p.reqPerSec)} req/s, P50 ${fmt(p.latencyMs.p50)} ms, P99 ${fmt(p.latencyMs.p99)} ms, ` +
            `mean batch ${fmt(p.meanBatch)}, loop P99 ${fmt(p.loopP99Ms)} ms, cores: server ${fmt(p.serverCores, 2)} bench ${fmt(p.clientCores, 2)} other ${fmt(p.otherCores, 2)}` +
            (p.errors + p.non2xx > 0 ? `, ${p.errors} errors, ${p.non2xx} non-2xx` : ''),
        );
      }
    } finally {
      await current.stop();
      current = undefined;
    }
  }

  if (raw) {
    // The machine's speed drifts (other tenants of the host): measure the limit again and compare with the mean.
    say(`\nraw onnxruntime again, after the served runs (drift check):`);
    const after = await runRaw(modelDir, CORPUS, opts.batchSizes, rawSeconds, rounds, opts.grouped ? ['padded', 'grouped'] : ['padded'], say);
    const combined = combineRaw(raw, after);
    raw = combined;
    const ratios = combined.drift.map((d) => d.ratio);
    rawDrift = { min: Math.min(...ratios), max: Math.max(...ratios) };
    const newLimit = [raw.best, raw.bestGrouped].filter((x) => x !== undefined).reduce((a, b) => (b.itemsPerSec > a.itemsPerSec ? b : a));
    limitPoint = newLimit;
    limit = newLimit.itemsPerSec;
    for (const p of served) p.shareOfRaw = p.reqPerSec / limit;
  }

  // What the detection and speech parts share: where the server and models are, and the load's timing.
  const partOptions = {
    serverRoot: path.resolve(opts.serverRoot),
    benchDir: path.join(root, '.cache', 'bench-models'),
    duration,
    rawSeconds,
    rounds,
    warmup,
    maxBatchSize: opts.maxBatchSize,
    serverArgs: opts.serverArgs.split(/\s+/).filter(Boolean),
  };
  let detection: DetectionResult | undefined;
  if (opts.detection && parts.has('detection')) {
    detection = await runDetectionBench(
      { ...partOptions, concurrency: quick ? [1, 16] : opts.detectionConcurrency, batchSizes: opts.detectionBatchSizes, instances: opts.detectionInstances },
      say,
      (s) => (current = s),
    );
  }

  let asr: AsrResult | undefined;
  if (opts.asr && parts.has('asr')) {
    asr = await runAsrBench(
      { ...partOptions, concurrency: quick ? [1, 8] : opts.asrConcurrency, inFlight: quick ? [1] : opts.asrInFlight },
      say,
      (s) => (current = s),
    );
  }

  // ---- Report ----
  if (text) {
    say('\n== Served (POST /models/tiny/bert-bench, one sentence per request) ==');
    say(
      table(
        ['batching', 'conc', 'req/s', 'avg ms', 'P50 ms', 'P95 ms', 'P99 ms', 'mean batch', 'loop P99 ms', '% of raw', 'errors', 'other cores'],
        served.map((p) => [
          p.batching,
          String(p.concurrency),
          fmt(p.reqPerSec),
          fmt(p.latencyMs.avg),
          fmt(p.latencyMs.p50),
          fmt(p.latencyMs.p95),
          fmt(p.latencyMs.p99),
          fmt(p.meanBatch),
          fmt(p.loopP99Ms),
          Number.isFinite(p.shareOfRaw) ? `${fmt(100 * p.shareOfRaw, 0)}%` : '-',
          String(p.errors + p.non2xx),
          fmt(p.otherCores, 2),
        ]),
      ),
    );
  }
  if (raw) {
    say('\n== Raw onnxruntime (same model file, same session options, pre-tokenized; mean of the runs before and after) ==');
    say('padded: each batch padded to its longest item (the raw limit); grouped: the same batches cut into length-sorted passes as the engine does');
    say(
      table(
        ['variant', 'batch', 'items/s', 'ms/batch', 'passes', 'tokens/item', 'other cores'],
        raw.points.map((p) => [
          p.variant,
          String(p.batchSize),
          fmt(p.itemsPerSec),
          fmt(p.msPerBatch),
          fmt(p.passesPerBatch),
          fmt(p.paddedLength),
          fmt(p.otherCores, 2),
        ]),
      ),
    );
    const lengths = raw.tokenLengths;
    say(
      `corpus: ${CORPUS.length} sentences, ${Math.min(...lengths)}–${Math.max(...lengths)} tokens (mean ${fmt(lengths.reduce((a, b) => a + b, 0) / lengths.length)}); ` +
        `session options ${JSON.stringify(raw.sessionOptions)}, onnxruntime started ${raw.ortThreadsStarted} extra thread(s)`,
    );
  }

  if (detection) {
    say(`\n== Object detection (POST /models/${YOLOS_BENCH_ID}, one 640×480 PNG per request, base64 JSON, threshold 0.5) ==`);
    say(
      table(
        ['conc', 'req/s', 'P50 ms', 'P99 ms', 'mean batch', '% of raw (files)', '% of raw (tensors)', 'errors', 'other cores'],
        detection.served.map((p) => [
          String(p.concurrency),
          fmt(p.reqPerSec),
          fmt(p.latencyMs.p50),
          fmt(p.latencyMs.p99),
          fmt(p.meanBatch),
          `${fmt(100 * p.shareOfRaw, 0)}%`,
          `${fmt(100 * p.shareOfTensors, 0)}%`,
          String(p.errors + p.non2xx),
          fmt(p.otherCores, 2),
        ]),
      ),
    );
    say('raw onnxruntime (mean of the runs before and after): on the same files, each batch decoding its PNGs and running the processor; on tensors the processor made beforehand:');
    say(
      table(
        ['batch', 'files: images/s', 'files: ms/batch', 'tensors: images/s', 'tensors: ms/batch', 'other cores'],
        detection.raw.points.map((p, i) => {
          const t = detection!.rawTensors.points[i]!;
          return [String(p.batchSize), fmt(p.itemsPerSec), fmt(p.msPerBatch), fmt(t.itemsPerSec), fmt(t.msPerBatch), fmt(Math.max(p.otherCores, t.otherCores), 2)];
        }),
      ),
    );
    const s = detection.rawSessions;
    if (s) {
      say(
        `raw onnxruntime on the same files with the server's parallelism (${s.sessions} sessions of ${s.threads} thread(s) in ${s.sessions} processes, batch ${s.batchSize}): ` +
          `${fmt(s.itemsPerSec)} images/s; served gives ${fmt(100 * detection.shareOfSessions!, 0)}% of it`,
      );
    }
  }

  if (asr) {
    say(`\n== Speech recognition (POST /models/${ASR_BENCH_ID}, one clip per request, base64 JSON; clips of ${asr.clips.map((c) => `${c.seconds.toFixed(1)} s`).join(', ')}) ==`);
    say('real-time ×N: N seconds of audio transcribed per second of wall-clock time (per CPU: per CPU-second of the server)');
    say(
      table(
        ['conc', 'req/s', 'real-time', 'per CPU', 'P50 ms', 'P99 ms', 'mean batch', '% of in-process', 'errors', 'other cores'],
        asr.served.map((p) => [String(p.concurrency), fmt(p.reqPerSec), `×${fmt(p.realTime)}`, `×${fmt(p.realTimePerCpu)}`, fmt(p.latencyMs.p50), fmt(p.latencyMs.p99), fmt(p.meanBatch), `${fmt(100 * p.shareOfRaw, 0)}%`, String(p.errors + p.non2xx), fmt(p.otherCores, 2)]),
      ),
    );
    say('transformers.js pipeline in the bench process on the decoded clips (mean of the runs before and after):');
    say(table(['in flight', 'clips/s', 'real-time', 'per CPU', 'other cores'], asr.raw.points.map((p) => [String(p.inFlight), fmt(p.clipsPerSec), `×${fmt(p.realTime)}`, `×${fmt(p.realTimePerCpu)}`, fmt(p.otherCores, 2)])));
    say(`drift: the in-process run after the served one gave ${fmt(100 * asr.drift.min, 0)}–${fmt(100 * asr.drift.max, 0)}% of the one before`);
  }

  say('\n== Summary ==');
  const at = (mode: 'on' | 'off', c: number) => served.find((p) => p.batching === mode && p.concurrency === c);
  const gainAt = concurrency.includes(32) ? 32 : Math.max(...concurrency);
  const on = at('on', gainAt);
  const off = at('off', gainAt);
  let gain: number | undefined;
  if (on && off) {
    gain = on.reqPerSec / off.reqPerSec;
    say(`Batching gain at concurrency ${gainAt}: ${fmt(on.reqPerSec)} req/s with batching vs ${fmt(off.reqPerSec)} without = ${fmt(gain, 2)}× (P99 ${fmt(on.latencyMs.p99)} vs ${fmt(off.latencyMs.p99)} ms).`);
  }
  const bestServed = served.reduce<ServedPoint | undefined>((a, p) => (!a || p.reqPerSec > a.reqPerSec ? p : a), undefined);
  const targets: Record<string, { pass: boolean; value: number; target: number; detail: string }> = {};
  if (raw && bestServed) {
    const share = bestServed.reqPerSec / limit;
    say(
      `Served / raw: best served ${fmt(bestServed.reqPerSec)} req/s (batching ${bestServed.batching}, concurrency ${bestServed.concurrency}) / raw limit ` +
        `${fmt(limit)} items/s (${limitPoint!.variant}, batch ${limitPoint!.batchSize}) = ${fmt(100 * share, 0)}%.`,
    );
    say(
      `  For reference: onnxruntime on whole padded batches peaks at ${fmt(raw.best.itemsPerSec)} items/s (batch ${raw.best.batchSize}); ` +
        `best served is ${fmt((100 * bestServed.reqPerSec) / raw.best.itemsPerSec, 0)}% of that.`,
    );
    targets.throughput = {
      pass: share >= TARGET_SHARE_OF_RAW,
      value: share,
      target: TARGET_SHARE_OF_RAW,
      detail: `served ≥ ${100 * TARGET_SHARE_OF_RAW}% of raw at its best batch size`,
    };
  }
  if (detection) {
    targets.detectionThroughput = {
      pass: detection.share >= TARGET_SHARE_OF_RAW,
      value: detection.share,
      target: TARGET_SHARE_OF_RAW,
      detail:
        `object detection served ≥ ${100 * TARGET_SHARE_OF_RAW}% of raw on the same files at its best batch size (${fmt(detection.raw.best.itemsPerSec)} images/s at batch ${detection.raw.best.batchSize}; ` +
        `on prepared tensors the model alone gives ${fmt(detection.rawTensors.best.itemsPerSec)} images/s, served ${fmt(100 * detection.shareOfTensors, 0)}% of it` +
        (detection.rawSessions ? `; ${detection.rawSessions.sessions} raw sessions in parallel give ${fmt(detection.rawSessions.itemsPerSec)} images/s, served ${fmt(100 * detection.shareOfSessions!, 0)}% of it)` : ')'),
    };
  }
  const saturated = served.filter((p) => p.concurrency >= SATURATED_CONCURRENCY);
  if (saturated.length > 0) {
    const worst = saturated.reduce((a, p) => (p.loopP99Ms > a.loopP99Ms ? p : a));
    targets.eventLoop = {
      pass: worst.loopP99Ms < TARGET_LOOP_P99_MS,
      value: worst.loopP99Ms,
      target: TARGET_LOOP_P99_MS,
      detail: `event-loop delay P99 < ${TARGET_LOOP_P99_MS} ms while saturated (worst of concurrency ≥ ${SATURATED_CONCURRENCY}: batching ${worst.batching}, c=${worst.concurrency})`,
    };
  }
  if (asr) {
    targets.asrThroughput = {
      pass: asr.share >= TARGET_SHARE_OF_RAW,
      value: asr.share,
      target: TARGET_SHARE_OF_RAW,
      detail: `speech recognition served ≥ ${100 * TARGET_SHARE_OF_RAW}% of the in-process pipeline at its best (${fmt(asr.raw.best.clipsPerSec)} clips/s with ${asr.raw.best.inFlight} in flight)`,
    };
  }
  for (const t of Object.values(targets)) say(`${t.pass ? 'PASS' : 'MISS'}  ${t.detail}: ${t.target < 1 ? `${fmt(100 * t.value, 0)}%` : `${fmt(t.value)} ms`}`);
  const others = [
    ...served.map((p) => p.otherCores),
    ...(raw?.points.map((p) => p.otherCores) ?? []),
    ...(detection ? [...detection.served, ...detection.raw.points].map((p) => p.otherCores) : []),
    ...(asr ? [...asr.served, ...asr.raw.points].map((p) => p.otherCores) : []),
  ];
  const load1 = os.loadavg();
  say(
    `Noise: other processes used up to ${fmt(Math.max(...others), 2)} cores (mean ${fmt(others.reduce((a, b) => a + b, 0) / Math.max(1, others.length), 2)}) ` +
      `of ${os.cpus().length} during measurements; load average now ${load1.map((l) => l.toFixed(2)).join(' ')}.`,
  );
  if (rawDrift) {
    say(
      `Drift: the raw limit measured after the served runs was ${fmt(100 * rawDrift.min, 0)}–${fmt(100 * rawDrift.max, 0)}% of the one before ` +
        `(the tables use their mean); a spread beyond ±10% means this machine's speed changed during the run.`,
    );
  }

  await mkdir(opts.json ? path.dirname(path.resolve(opts.json)) : opts.out, { recursive: true });
  const file = opts.json ? path.resolve(opts.json) : path.join(opts.out, `engine-${started.toISOString().replace(/:/g, '-')}.json`);
  const report = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { node: process.version, platform: `${process.platform} ${process.arch}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGb: os.totalmem() / 1024 ** 3, loadavgBefore: load0, loadavgAfter: load1 },
    settings: {
      duration,
      concurrency,
      rawSeconds,
      rounds,
      warmup,
      batchSizes: opts.batchSizes,
      modes: opts.modes,
      maxBatchSize: opts.maxBatchSize,
      serverArgs: opts.serverArgs,
      serverRoot: path.resolve(opts.serverRoot),
      quick,
    },
    model: { id: BENCH_MODEL_ID, dims },
    corpus: { sentences: CORPUS.length, tokenLengths: raw?.tokenLengths },
    raw: raw && { sessionOptions: raw.sessionOptions, ortThreadsStarted: raw.ortThreadsStarted, best: raw.best, bestGrouped: raw.bestGrouped, points: raw.points },
    served,
    idleLoop: idle,
    detection,
    asr,
    summary: { rawDrift, batchingGain: gain === undefined ? undefined : { concurrency: gainAt, factor: gain }, bestServed, rawLimit: limitPoint, rawPaddedBest: raw?.best, targets },
  };
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  say(`\nwrote ${path.relative(process.cwd(), file)}`);
}

main().catch(async (e: unknown) => {
  await current?.stop();
  process.stderr.write(`bench:engine failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
