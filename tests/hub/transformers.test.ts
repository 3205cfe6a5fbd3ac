/**
 * transformers.js downloads models from modelhost unchanged (`env.remoteHost`, remote models on, local files
 * off) and its pipelines answer exactly as when they load the same models from local files.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { env, pipeline, RawImage } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

/** A deterministic 32×32 RGB picture. */
function picture(): RawImage {
  const data = new Uint8ClampedArray(32 * 32 * 3).map((_, i) => (i * 37 + (i >> 5) * 11) & 255);
  return new RawImage(data, 32, 32, 3);
}

const CASES: { task: string; id: string; input: () => unknown }[] = [
  { task: 'text-classification', id: 'tiny/bert-sentiment', input: () => 'I love this, it is great' },
  { task: 'token-classification', id: 'tiny/bert-ner', input: () => 'Sarah lives in London' },
  { task: 'fill-mask', id: 'tiny/bert-mlm', input: () => 'The capital of France is [MASK].' },
  { task: 'feature-extraction', id: 'tiny/minilm-embed', input: () => 'A sentence to embed' },
  { task: 'image-classification', id: 'tiny/vit', input: picture },
];

let server: TestServer;
let cacheDir: string;

beforeAll(async () => {
  server = await startServer();
  cacheDir = mkdtempSync(path.join(tmpdir(), 'mh-tjs-cache-'));
});
afterAll(async () => {
  await server.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

type Pipe = (input: unknown) => Promise<unknown>;

/** Plain data from a pipeline's answer (feature-extraction answers a Tensor). */
async function run(task: string, id: string, input: unknown): Promise<unknown> {
  const pipe = (await pipeline(task as 'text-classification', id, { dtype: 'fp32' })) as unknown as Pipe & { dispose(): Promise<void> };
  try {
    const out = (await pipe(input)) as { tolist?: () => unknown };
    return typeof out?.tolist === 'function' ? out.tolist() : out;
  } finally {
    await pipe.dispose();
  }
}

/** env is a global of the library: each load sets every setting it depends on. */
function fromServer() {
  Object.assign(env, { allowRemoteModels: true, allowLocalModels: false, remoteHost: `${server.url}/`, cacheDir, useFSCache: true, useBrowserCache: false });
}
function fromFiles() {
  Object.assign(env, { allowRemoteModels: false, allowLocalModels: true, localModelPath: `${TEST_MODELS_DIR}/`, useFSCache: false });
}

describe('transformers.js with env.remoteHost = modelhost', () => {
  for (const { task, id, input } of CASES) {
    it(`${task} (${id}) answers as from local files`, async () => {
      fromServer();
      const remote = await run(task, id, input());
      fromFiles();
      const local = await run(task, id, input());
      expect(remote).toEqual(local);
      expect(JSON.stringify(remote)).toMatch(/\d\.\d/);
      // The weights really came over HTTP: transformers.js cached what the server sent.
      const fetched = readFileSync(path.join(cacheDir, id, 'onnx', 'model.onnx'));
      expect(fetched.equals(readFileSync(path.join(TEST_MODELS_DIR, id, 'onnx', 'model.onnx')))).toBe(true);
    });
  }

  it('is told when a repository is not served here', async () => {
    fromServer();
    const failure = await run('text-classification', 'tiny/no-such-model', 'x').then(
      () => undefined,
      (e: Error & { status?: number }) => e,
    );
    // 4.3.1 reports the 401 the Hub (and modelhost) answers for an unknown repository.
    expect(failure?.message).toMatch(/no-such-model|Unauthorized/);
  });
});
