/**
 * Tiny-model factory API.
 *
 * writeTinyModels(outDir) writes deterministic tiny ONNX models in Hugging Face layout
 * (`<outDir>/tiny/<name>/{config.json, tokenizer files, onnx/model.onnx, README.md, ...}`) that
 * @huggingface/transformers loads from local files with dtype 'fp32'.
 */
import { join } from 'node:path';
import type { EncoderDims } from './bert.ts';
import { readStamp, stampFor, writeModelFolder } from './files.ts';
import { BENCH_DIMS, TINY_MODELS, benchSpec } from './models.ts';
import type { ModelSpec } from './spec.ts';

export { BENCH_DIMS, BENCH_MODEL_ID, TINY_MODELS } from './models.ts';
export { FACTORY_VERSION } from './files.ts';

/** Ids of all tiny models (not the bench model). */
export const TINY_MODEL_IDS: readonly string[] = TINY_MODELS.map((m) => m.id);

export interface WriteOptions {
  /** Only these ids (default: all tiny models). */
  only?: string[];
  /** Rewrite even when the folder's `.factory-version` stamp is current. */
  force?: boolean;
}

/** Writes one spec unless it is up to date; returns whether it was written. */
async function writeSpec(outDir: string, spec: ModelSpec, force: boolean): Promise<boolean> {
  const stamp = stampFor(spec.id, spec.stampKey);
  if (!force && (await readStamp(join(outDir, spec.id))) === stamp) return false;
  await writeModelFolder(outDir, spec.build(), stamp);
  return true;
}

/**
 * Writes the tiny models into `outDir` and returns the ids written (skipped, up-to-date models are
 * not listed). Throws on an unknown id in `only`.
 */
export async function writeTinyModels(outDir: string, opts: WriteOptions = {}): Promise<string[]> {
  let specs: readonly ModelSpec[] = TINY_MODELS;
  if (opts.only && opts.only.length > 0) {
    const unknown = opts.only.filter((id) => !TINY_MODEL_IDS.includes(id));
    if (unknown.length > 0) throw new Error(`unknown tiny model id(s): ${unknown.join(', ')} (known: ${TINY_MODEL_IDS.join(', ')})`);
    specs = TINY_MODELS.filter((m) => opts.only?.includes(m.id));
  }
  const written: string[] = [];
  // Sequential on purpose: building is CPU-bound and the machine is shared.
  for (const spec of specs) {
    if (await writeSpec(outDir, spec, opts.force ?? false)) written.push(spec.id);
  }
  return written;
}

/**
 * Writes `tiny/bert-bench` (encoder classifier at realistic size, default hidden 512, 4 layers,
 * 8 heads, intermediate 2048) and returns its folder path. Skipped when already current.
 */
export async function writeBenchModel(outDir: string, dims: Partial<EncoderDims> = {}, opts: { force?: boolean } = {}): Promise<string> {
  const spec = benchSpec({ ...BENCH_DIMS, ...dims });
  await writeSpec(outDir, spec, opts.force ?? false);
  return join(outDir, spec.id);
}
