/**
 * The raw limit of generation: onnxruntime's decoder step alone, in this process, on the bench decoder's
 * onnx/model.onnx with the session options transformers.js uses (SERVER_SESSION_OPTIONS). Each batch size runs
 * greedy-free steps (no sampling, no tokenizer): `steps` decode steps of [batch, 1] new tokens over a cache that
 * starts at `promptTokens` positions and grows by one each step, feeding `present` back as the next past, exactly
 * the work one served decode step does. tokens/s = batch × steps / time of the `session.run` calls.
 *
 * `runRawDecodeIsolated` runs it in a fresh process (this file, run as a script, prints the points as JSON): the
 * bench process carries the garbage of the streams it just measured, and its collections slowed the raw steps by
 * up to 1.6x from one point to the next, which made the served share look better than it was.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { SERVER_SESSION_OPTIONS } from './raw.ts';

export interface RawDecodePoint {
  batchSize: number;
  tokensPerSec: number;
  msPerStep: number;
}

export async function runRawDecode(modelDir: string, batchSizes: number[], promptTokens: number, steps: number, vocab: number): Promise<RawDecodePoint[]> {
  const session = await ort.InferenceSession.create(path.join(modelDir, 'onnx', 'model.onnx'), SERVER_SESSION_OPTIONS);
  const meta = session.inputMetadata.find((m) => m.name === 'past_key_values.0.key') as { shape?: (string | number)[] } | undefined;
  const heads = Number(meta?.shape?.[1]);
  const headDim = Number(meta?.shape?.[3]);
  const layers = session.inputNames.filter((n) => n.endsWith('.key')).length;
  const points: RawDecodePoint[] = [];
  for (const b of batchSizes) {
    // A prompt's worth of cache (its values do not matter for the cost), then decode steps that grow it.
    const past: Record<string, ort.Tensor> = {};
    for (let l = 0; l < layers; l++) {
      for (const kind of ['key', 'value']) {
        past[`past_key_values.${l}.${kind}`] = new ort.Tensor('float32', new Float32Array(b * heads * promptTokens * headDim).fill(0.01), [b, heads, promptTokens, headDim]);
      }
    }
    const run = async (length: number, feeds: Record<string, ort.Tensor>) => {
      const out = await session.run({
        input_ids: new ort.Tensor('int64', BigInt64Array.from({ length: b }, (_, i) => BigInt((i * 7919) % vocab)), [b, 1]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(b * (length + 1)).fill(1n), [b, length + 1]),
        position_ids: new ort.Tensor('int64', new BigInt64Array(b).fill(BigInt(length)), [b, 1]),
        ...feeds,
      });
      const next: Record<string, ort.Tensor> = {};
      for (let l = 0; l < layers; l++) {
        next[`past_key_values.${l}.key`] = out[`present.${l}.key`]!;
        next[`past_key_values.${l}.value`] = out[`present.${l}.value`]!;
      }
      return next;
    };
    // Warm-up: a few steps (first runs at a shape allocate).
    let feeds = past;
    for (let s = 0; s < 3; s++) feeds = await run(promptTokens + s, feeds);
    feeds = past;
    let busy = 0;
    for (let s = 0; s < steps; s++) {
      const t0 = performance.now();
      feeds = await run(promptTokens + s, feeds);
      busy += performance.now() - t0;
    }
    points.push({ batchSize: b, tokensPerSec: (b * steps) / (busy / 1000), msPerStep: busy / steps });
  }
  await session.release();
  return points;
}

/** runRawDecode in a fresh node process. */
export function runRawDecodeIsolated(modelDir: string, batchSizes: number[], promptTokens: number, steps: number, vocab: number): Promise<RawDecodePoint[]> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', fileURLToPath(import.meta.url), JSON.stringify({ modelDir, batchSizes, promptTokens, steps, vocab })];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && line.startsWith('[')) resolve(JSON.parse(line) as RawDecodePoint[]);
      else reject(new Error(`raw decode process exited with ${code}: ${out.slice(-500)}`));
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const a = JSON.parse(process.argv[2]!) as { modelDir: string; batchSizes: number[]; promptTokens: number; steps: number; vocab: number };
  console.log(JSON.stringify(await runRawDecode(a.modelDir, a.batchSizes, a.promptTokens, a.steps, a.vocab)));
}
