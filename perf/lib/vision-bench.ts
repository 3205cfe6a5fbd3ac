/**
 * The object-detection part of bench:engine: `tiny/yolos-bench` (the factory's YOLOS detector at a realistic size,
 * written to .cache/bench-models at bench time), the pictures the load sends, and two raw onnxruntime limits on the
 * same model file, one InferenceSession each:
 * - on the same files: every batch decodes its PNGs and runs the model's own image processor, then `session.run`
 *   (what a program calling onnxruntime itself on these files must do; the target is measured against this one);
 * - on tensors: pixel_values the processor made once beforehand, only `session.run` timed (the model alone; on this
 *   tiny detector decoding and resizing a 640×480 PNG costs about twice the forward pass, so served requests, which
 *   pay for it, cannot come near this one).
 */
import path from 'node:path';
import { AutoProcessor, RawImage, env } from '@huggingface/transformers';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { readStamp, stampFor, writeModelFolder } from '../../tools/tiny-models/files.ts';
import type { VitDims } from '../../tools/tiny-models/vision.ts';
import { buildYolos } from '../../tools/tiny-models/yolos.ts';
import { cpuWindow } from './cpu.ts';
import { runLoad, type LoadPoint } from './load.ts';
import { SERVER_SESSION_OPTIONS } from './raw.ts';
import { runRawVisionSessions } from './raw-vision-sessions.ts';

/** The session options the server's transformers runtime gives image tasks: onnxruntime's threads do not spin. */
export const VISION_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { ...SERVER_SESSION_OPTIONS, extra: { session: { intra_op: { allow_spinning: '0' } } } };
import { startServer, type ServerHandle } from './server.ts';

export const YOLOS_BENCH_ID = 'tiny/yolos-bench';

/** About YOLOS-tiny's encoder at 224×224 with 4 of its 12 layers: a few hundred MFLOP per image, tens of images/s per core. */
export const YOLOS_BENCH_DIMS: VitDims = { image: 224, patch: 16, channels: 3, hidden: 192, layers: 4, heads: 3, intermediate: 768 };

export async function writeYolosBenchModel(outDir: string): Promise<string> {
  const stamp = stampFor(YOLOS_BENCH_ID, JSON.stringify(YOLOS_BENCH_DIMS));
  const dir = path.join(outDir, YOLOS_BENCH_ID);
  if ((await readStamp(dir)) !== stamp) await writeModelFolder(outDir, buildYolos(YOLOS_BENCH_DIMS, YOLOS_BENCH_ID), stamp);
  return dir;
}

/** Eight photos-sized PNGs (640×480 and 480×640 gradients with shapes): what a detector is typically sent. */
export async function benchPictures(): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let k = 0; k < 8; k++) {
    const [w, h] = k % 2 ? [480, 640] : [640, 480];
    const data = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 3;
        const inside = (x - w / 2 - k * 20) ** 2 + (y - h / 2) ** 2 < (60 + k * 10) ** 2;
        data[i] = inside ? 230 : (x * (k + 1)) & 255;
        data[i + 1] = inside ? 160 : (y * (k + 2)) & 255;
        data[i + 2] = inside ? 40 : ((x + y) * 3) & 255;
      }
    }
    out.push(await sharp(data, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer());
  }
  return out;
}

/** Request bodies `{inputs: base64, parameters: {threshold: 0.5}}`, handed out in turn. */
export function pictureBodies(pictures: Buffer[]): () => string {
  const bodies = pictures.map((p) => JSON.stringify({ inputs: p.toString('base64'), parameters: { threshold: 0.5 } }));
  let next = 0;
  return () => bodies[next++ % bodies.length]!;
}

export interface RawVisionPoint {
  batchSize: number;
  itemsPerSec: number;
  rounds: number[];
  msPerBatch: number;
  otherCores: number;
}

/** The raw limit: every batch size for `secondsPerSize` in `rounds` interleaved rounds; items/s is the median round. */
export async function runRawVision(
  modelDir: string,
  pictures: Buffer[],
  batchSizes: number[],
  secondsPerSize: number,
  rounds: number,
  log: (line: string) => void,
  fromFiles = false,
  threads?: number,
): Promise<{ points: RawVisionPoint[]; best: RawVisionPoint }> {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  const root = path.dirname(path.dirname(modelDir));
  env.localModelPath = root + path.sep;
  const processor = await AutoProcessor.from_pretrained(path.relative(root, modelDir).split(path.sep).join('/'));
  const images = await Promise.all(pictures.map((p) => RawImage.fromBlob(new Blob([new Uint8Array(p)]))));
  const options = threads ? { ...VISION_SESSION_OPTIONS, intraOpNumThreads: threads, interOpNumThreads: 1 } : VISION_SESSION_OPTIONS;
  const session = await ort.InferenceSession.create(path.join(modelDir, 'onnx', 'model.onnx'), options);
  const feeds = new Map<number, ort.Tensor>();
  for (const size of batchSizes) {
    const batch = Array.from({ length: size }, (_, i) => images[i % images.length]!);
    const { pixel_values } = (await processor(batch)) as { pixel_values: { data: Float32Array; dims: number[] } };
    feeds.set(size, new ort.Tensor('float32', pixel_values.data, pixel_values.dims));
    await session.run({ pixel_values: feeds.get(size)! }); // first pass at a shape is slow
  }
  let turn = 0;
  // On the same files: each batch decodes and preprocesses its own pictures, in turn, as the server must.
  const batchOf = async (size: number): Promise<ort.Tensor> => {
    if (!fromFiles) return feeds.get(size)!;
    const blobs = Array.from({ length: size }, () => pictures[turn++ % pictures.length]!);
    const decoded = await Promise.all(blobs.map((p) => RawImage.fromBlob(new Blob([new Uint8Array(p)]))));
    const { pixel_values } = (await processor(decoded)) as { pixel_values: { data: Float32Array; dims: number[] } };
    return new ort.Tensor('float32', pixel_values.data, pixel_values.dims);
  };
  const perRound = new Map<number, number[]>(batchSizes.map((b) => [b, []]));
  const others = new Map<number, number[]>(batchSizes.map((b) => [b, []]));
  for (let r = 0; r < rounds; r++) {
    for (const size of batchSizes) {
      const cpu = cpuWindow(['self']);
      const started = performance.now();
      let batches = 0;
      while (performance.now() - started < (secondsPerSize * 1000) / rounds) {
        await session.run({ pixel_values: await batchOf(size) });
        batches++;
      }
      perRound.get(size)!.push((batches * size) / ((performance.now() - started) / 1000));
      others.get(size)!.push(cpu().others);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const points = batchSizes.map((size) => {
    const itemsPerSec = median(perRound.get(size)!);
    const point = { batchSize: size, itemsPerSec, rounds: perRound.get(size)!, msPerBatch: (1000 * size) / itemsPerSec, otherCores: Math.max(...others.get(size)!) };
    log(`  batch ${String(size).padStart(2)}: ${itemsPerSec.toFixed(1)} images/s (${point.msPerBatch.toFixed(1)} ms/batch)`);
    return point;
  });
  await session.release();
  return { points, best: points.reduce((a, b) => (b.itemsPerSec > a.itemsPerSec ? b : a)) };
}

export interface DetectionResult {
  /** On the same files: decode + processor + session.run per batch (the target's reference). */
  raw: { points: RawVisionPoint[]; best: RawVisionPoint };
  /** On tensors prepared beforehand: session.run alone. */
  rawTensors: { points: RawVisionPoint[]; best: RawVisionPoint };
  served: (LoadPoint & { shareOfRaw: number; shareOfTensors: number })[];
  /** Best served req/s over the raw limit on the same files. */
  share: number;
  /** Best served req/s over the limit on prepared tensors. */
  shareOfTensors: number;
  /** On the same files with the server's parallelism: one session per instance, each in its own process, at once. */
  rawSessions?: { sessions: number; threads: number; batchSize: number; itemsPerSec: number };
  /** Best served req/s over rawSessions. */
  shareOfSessions?: number;
  /** Raw items/s after the served run over before, lowest and highest over the batch sizes. */
  drift: { min: number; max: number };
}

/**
 * Serves tiny/yolos-bench (batching on) and loads it at each concurrency with the pictures, between two raw runs
 * (their mean is the limit, as the text part does, so drift of the machine's speed shows).
 */
export async function runDetectionBench(
  o: {
    serverRoot: string;
    benchDir: string;
    concurrency: number[];
    batchSizes: number[];
    instances: number;
    duration: number;
    rawSeconds: number;
    rounds: number;
    warmup: number;
    maxBatchSize: number;
    serverArgs: string[];
  },
  say: (line: string) => void,
  onServer: (s: ServerHandle | undefined) => void,
): Promise<DetectionResult> {
  const modelDir = await writeYolosBenchModel(o.benchDir);
  const pictures = await benchPictures();
  say(`\nobject detection: ${YOLOS_BENCH_ID} (${JSON.stringify(YOLOS_BENCH_DIMS)}), ${pictures.length} PNGs of 640×480 / 480×640`);
  const rawRuns = async () => {
    say(`raw onnxruntime on the same files (decode + processor + run), ${o.rawSeconds} s per batch size in ${o.rounds} round(s):`);
    const files = await runRawVision(modelDir, pictures, o.batchSizes, o.rawSeconds, o.rounds, say, true);
    say(`raw onnxruntime on prepared tensors (run alone), ${o.rawSeconds} s per batch size in ${o.rounds} round(s):`);
    const tensors = await runRawVision(modelDir, pictures, o.batchSizes, o.rawSeconds, o.rounds, say);
    return { files, tensors };
  };
  const before = await rawRuns();
  let rawSessions: DetectionResult['rawSessions'];
  if (o.instances > 1) {
    const batchSize = before.files.best.batchSize;
    rawSessions = await runRawVisionSessions(modelDir, o.instances, batchSize, o.rawSeconds);
    say(
      `raw onnxruntime on the same files, ${o.instances} sessions of ${rawSessions.threads} thread(s), each in its own process, at batch ${batchSize}: ` +
        `${rawSessions.itemsPerSec.toFixed(1)} images/s (the server's --model-instances ${o.instances} without the server)`,
    );
  }
  const args = ['--models-dir', o.benchDir, '--preload', YOLOS_BENCH_ID, '--no-builtin-models', '--cache-entries', '0', '--auth', 'off', '--log-level', 'warn', '--max-batch-size', String(o.maxBatchSize), '--model-instances', String(o.instances), ...o.serverArgs];
  say(`served, batching on: modelhost serve ${args.join(' ')}`);
  const server = await startServer(o.serverRoot, args);
  onServer(server);
  const served: LoadPoint[] = [];
  try {
    const nextBody = pictureBodies(pictures);
    for (const c of [...o.concurrency].reverse()) await runLoad(server, `/models/${YOLOS_BENCH_ID}`, c, Math.max(1, o.warmup / o.concurrency.length), nextBody);
    for (const c of o.concurrency) {
      const p = await runLoad(server, `/models/${YOLOS_BENCH_ID}`, c, o.duration, nextBody);
      served.push(p);
      say(`  c=${String(c).padStart(2)}: ${p.reqPerSec.toFixed(1)} req/s, P50 ${p.latencyMs.p50.toFixed(0)} ms, mean batch ${p.meanBatch.toFixed(1)}, other cores ${p.otherCores.toFixed(2)}${p.errors + p.non2xx > 0 ? `, ${p.errors + p.non2xx} errors` : ''}`);
    }
  } finally {
    await server.stop();
    onServer(undefined);
  }
  say('raw onnxruntime again (drift check):');
  const after = await rawRuns();
  const merge = (a: RawVisionPoint[], b: RawVisionPoint[]) =>
    a.map((p, i) => {
      const later = b[i]!;
      const itemsPerSec = (p.itemsPerSec + later.itemsPerSec) / 2;
      return { ...p, itemsPerSec, msPerBatch: (1000 * p.batchSize) / itemsPerSec, rounds: [...p.rounds, ...later.rounds], otherCores: Math.max(p.otherCores, later.otherCores) };
    });
  const bestOf = (points: RawVisionPoint[]) => points.reduce((a, b) => (b.itemsPerSec > a.itemsPerSec ? b : a));
  const files = merge(before.files.points, after.files.points);
  const tensors = merge(before.tensors.points, after.tensors.points);
  const ratios = [...before.files.points.map((p, i) => after.files.points[i]!.itemsPerSec / p.itemsPerSec), ...before.tensors.points.map((p, i) => after.tensors.points[i]!.itemsPerSec / p.itemsPerSec)];
  say(`drift: the raw runs after the served one gave ${Math.round(100 * Math.min(...ratios))}–${Math.round(100 * Math.max(...ratios))}% of the ones before (the tables use their mean; beyond ±10% the machine's speed changed during the run)`);
  const best = bestOf(files);
  const bestTensors = bestOf(tensors);
  const withShare = served.map((p) => ({ ...p, shareOfRaw: p.reqPerSec / best.itemsPerSec, shareOfTensors: p.reqPerSec / bestTensors.itemsPerSec }));
  return {
    raw: { points: files, best },
    rawTensors: { points: tensors, best: bestTensors },
    served: withShare,
    share: Math.max(...withShare.map((p) => p.shareOfRaw)),
    shareOfTensors: Math.max(...withShare.map((p) => p.shareOfTensors)),
    ...(rawSessions ? { rawSessions, shareOfSessions: Math.max(...served.map((p) => p.reqPerSec)) / rawSessions.itemsPerSec } : {}),
    drift: { min: Math.min(...ratios), max: Math.max(...ratios) },
  };
}
