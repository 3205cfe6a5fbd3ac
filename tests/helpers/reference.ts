import { env, pipeline } from '@huggingface/transformers';
import { TEST_MODELS_DIR } from './paths.ts';

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.useFSCache = false;
env.localModelPath = `${TEST_MODELS_DIR}/`;

type AnyPipe = (...args: unknown[]) => Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const cache = new Map<string, Promise<AnyPipe & { tokenizer: any; model: any }>>(); // eslint-disable-line @typescript-eslint/no-explicit-any

/** transformers.js itself, in the test process: the reference every served answer is compared with. */
export function reference(task: string, modelId: string) {
  const key = `${task}|${modelId}`;
  if (!cache.has(key)) cache.set(key, pipeline(task as 'text-classification', modelId, { dtype: 'fp32' }) as never);
  return cache.get(key)!;
}

/** Deep comparison of numbers within a tolerance (and everything else exactly). */
export function expectClose(actual: unknown, expected: unknown, tol = 1e-4, path = '$'): void {
  if (typeof expected === 'number') {
    if (typeof actual !== 'number' || !(Math.abs(actual - expected) <= tol)) {
      throw new Error(`${path}: expected ${expected} ± ${tol}, got ${String(actual)}`);
    }
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      throw new Error(`${path}: expected an array of ${expected.length}, got ${JSON.stringify(actual)?.slice(0, 200)}`);
    }
    expected.forEach((e, i) => expectClose(actual[i], e, tol, `${path}[${i}]`));
    return;
  }
  if (expected && typeof expected === 'object') {
    if (!actual || typeof actual !== 'object') throw new Error(`${path}: expected an object, got ${JSON.stringify(actual)}`);
    for (const [k, v] of Object.entries(expected)) expectClose((actual as Record<string, unknown>)[k], v, tol, `${path}.${k}`);
    return;
  }
  if (actual !== expected) throw new Error(`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}
