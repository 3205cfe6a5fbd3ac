/**
 * Raw onnxruntime limit: one InferenceSession on the bench model's onnx/model.onnx, in this process, fed
 * pre-tokenized batches (the model's own tokenizer, each batch padded to its longest item). Only `session.run` is timed,
 * so this is what the hardware gives with no HTTP, no worker hop, no tokenizer. The 'grouped' variant runs the same
 * batches split into length-sorted forward passes the way the text-classification task does, for reference.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import ort from 'onnxruntime-node';
import { lengthGroups } from '../../src/engine/tasks/text-classification.ts';
import { cpuWindow } from './cpu.ts';

/**
 * The options transformers.js 4.3 passes to `InferenceSession.create` for a local fp32 model on Node:
 * `executionProviders: ['cpu']` (its default device) and `logSeverityLevel: 3` (from its default WARNING log level),
 * then the pipeline's `session_options` (the engine passes none), with the model file given as a path. Everything else,
 * thread counts included, is onnxruntime's default: intra-op threads = physical cores, spinning allowed, sequential
 * execution, all graph optimizations.
 */
export const SERVER_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], logSeverityLevel: 3 };

export interface RawPoint {
  batchSize: number;
  /**
   * 'padded': each batch padded to its longest item (what the text-classification task did before length grouping);
   * 'grouped': each batch split into length-sorted forward passes by the engine's own `lengthGroups`, as the task now runs it.
   */
  variant: 'padded' | 'grouped';
  /** Median over the rounds. */
  itemsPerSec: number;
  /** items/s of each round. */
  rounds: number[];
  msPerBatch: number;
  batches: number;
  /** Padded tokens computed per item (sequence length × batch over items). */
  paddedLength: number;
  /** Forward passes per batch. */
  passesPerBatch: number;
  /** CPU cores this process used, and all other processes used, while this batch size ran. */
  cores: number;
  otherCores: number;
}

export interface RawResult {
  points: RawPoint[];
  /** Best 'padded' point: the raw limit. */
  best: RawPoint;
  /** Best 'grouped' point. */
  bestGrouped?: RawPoint;
  sessionOptions: ort.InferenceSession.SessionOptions;
  /** Threads this process gained when the session was created (onnxruntime's intra-op pool). */
  ortThreadsStarted: number;
  /** Token count of each corpus sentence, [CLS] and [SEP] included. */
  tokenLengths: number[];
}

function threadCount(): number {
  try {
    return readdirSync('/proc/self/task').length;
  } catch {
    return NaN;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

type Feeds = Record<string, ort.Tensor>;
interface Batch {
  passes: Feeds[];
  tokens: number;
}

/**
 * Runs every batch size (and variant) for `secondsPerSize` in total, split into `rounds` interleaved rounds (so a burst
 * of load from other processes hits one round of one size, not a whole size); items/s is the median round.
 */
export async function runRaw(
  modelDir: string,
  corpus: readonly string[],
  batchSizes: number[],
  secondsPerSize: number,
  rounds: number,
  variants: RawPoint['variant'][],
  log: (line: string) => void,
): Promise<RawResult> {
  if (!variants.includes('padded')) throw new Error('the padded variant is the raw limit; it cannot be left out');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.useFSCache = false;
  const root = path.dirname(path.dirname(modelDir));
  env.localModelPath = root + path.sep;
  const tokenizer = await AutoTokenizer.from_pretrained(path.relative(root, modelDir).split(path.sep).join('/'));
  const tokenLengths = corpus.map((s) => tokenizer(s).input_ids.dims[1] ?? 0);

  const before = threadCount();
  const session = await ort.InferenceSession.create(path.join(modelDir, 'onnx', 'model.onnx'), SERVER_SESSION_OPTIONS);
  const ortThreadsStarted = threadCount() - before;

  const encode = (texts: string[]): { feeds: Feeds; length: number } => {
    const enc = tokenizer(texts, { padding: true, truncation: true }) as unknown as Record<string, { data: BigInt64Array; dims: number[] }>;
    const feeds: Feeds = {};
    for (const name of session.inputNames) {
      const t = enc[name];
      if (!t) throw new Error(`the tokenizer gave no ${name}`);
      feeds[name] = new ort.Tensor('int64', t.data, t.dims);
    }
    return { feeds, length: enc.input_ids!.dims[1]! };
  };
  /** One batch as forward passes: all of it padded together, or length groups padded separately. */
  const prepare = (items: number[], variant: RawPoint['variant']): Batch => {
    const groups = variant === 'padded' ? [items.map((_, i) => i)] : lengthGroups(items.map((i) => tokenLengths[i]!));
    const passes = groups.map((g) => encode(g.map((k) => corpus[items[k]!]!)));
    return { passes: passes.map((p) => p.feeds), tokens: passes.reduce((sum, p, k) => sum + p.length * groups[k]!.length, 0) };
  };

  // Consecutive slices of the corpus, wrapping around, until every sentence has been used once.
  // A batch of one is the same either way, so it only runs padded.
  const cases = batchSizes.flatMap((b) =>
    variants.filter((v) => v === 'padded' || b > 1).map((variant) => ({
      batchSize: b,
      variant,
      batches: Array.from({ length: Math.max(1, Math.ceil(corpus.length / b)) }, (_, k) =>
        prepare(
          Array.from({ length: b }, (_, j) => (k * b + j) % corpus.length),
          variant,
        ),
      ),
    })),
  );
  // Warm-up: the first run of each shape allocates.
  for (const c of cases) for (const batch of c.batches) for (const feeds of batch.passes) await session.run(feeds);

  const stats = cases.map(() => ({ rounds: [] as number[], runs: 0, passes: 0, tokens: 0, seconds: 0, cores: 0, others: 0 }));
  for (let round = 0; round < rounds; round++) {
    for (const [i, c] of cases.entries()) {
      const st = stats[i]!;
      const cpu = cpuWindow(['self']);
      let runs = 0;
      const started = performance.now();
      const deadline = started + (secondsPerSize / rounds) * 1000;
      while (performance.now() < deadline || runs < 2) {
        const batch = c.batches[(st.runs + runs) % c.batches.length]!;
        for (const feeds of batch.passes) await session.run(feeds);
        st.tokens += batch.tokens;
        st.passes += batch.passes.length;
        runs++;
      }
      const seconds = (performance.now() - started) / 1000;
      const used = cpu();
      st.rounds.push((runs * c.batchSize) / seconds);
      st.runs += runs;
      st.seconds += seconds;
      st.cores += used.cores[0]! * seconds;
      st.others += used.others * seconds;
    }
  }
  await session.release();

  const points = cases.map((c, i): RawPoint => {
    const st = stats[i]!;
    const point: RawPoint = {
      batchSize: c.batchSize,
      variant: c.variant,
      itemsPerSec: median(st.rounds),
      rounds: st.rounds,
      msPerBatch: (st.seconds * 1000) / st.runs,
      batches: st.runs,
      paddedLength: st.tokens / (st.runs * c.batchSize),
      passesPerBatch: st.passes / st.runs,
      cores: st.cores / st.seconds,
      otherCores: st.others / st.seconds,
    };
    log(
      `  raw ${c.variant.padEnd(7)} batch ${String(c.batchSize).padStart(2)}: ${point.itemsPerSec.toFixed(1)} items/s ` +
        `(rounds ${st.rounds.map((r) => r.toFixed(0)).join('/')}, ${point.msPerBatch.toFixed(1)} ms/batch, other processes ${point.otherCores.toFixed(2)} cores)`,
    );
    return point;
  });
  return { ...withBest(points), sessionOptions: SERVER_SESSION_OPTIONS, ortThreadsStarted, tokenLengths };
}

function withBest(points: RawPoint[]): Pick<RawResult, 'points' | 'best' | 'bestGrouped'> {
  const bestOf = (variant: RawPoint['variant']) =>
    points.filter((p) => p.variant === variant).reduce<RawPoint | undefined>((a, p) => (!a || p.itemsPerSec > a.itemsPerSec ? p : a), undefined);
  return { points, best: bestOf('padded')!, bestGrouped: bestOf('grouped') };
}

/**
 * Two raw runs (before and after the served runs) as one: each point's items/s is the mean of both, so a machine
 * whose speed drifts during the bench is compared with what it gave on average. `drift` is after / before per point.
 */
export function combineRaw(before: RawResult, after: RawResult): RawResult & { drift: { variant: string; batchSize: number; ratio: number }[] } {
  const drift: { variant: string; batchSize: number; ratio: number }[] = [];
  const points = before.points.map((b) => {
    const a = after.points.find((p) => p.variant === b.variant && p.batchSize === b.batchSize);
    if (!a) return b;
    drift.push({ variant: b.variant, batchSize: b.batchSize, ratio: a.itemsPerSec / b.itemsPerSec });
    return { ...b, itemsPerSec: (a.itemsPerSec + b.itemsPerSec) / 2, rounds: [...b.rounds, ...a.rounds], otherCores: Math.max(a.otherCores, b.otherCores) };
  });
  return { ...before, ...withBest(points), drift };
}
