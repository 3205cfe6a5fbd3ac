/**
 * `modelhost pull` of a file large enough to be fetched in parts over several connections (src/hub/pull/
 * parts.ts), through the fault-injecting proxy in front of modelhost instance A: the parts are ranges that
 * cover the file once, a cut part resumes from its cut, a flipped byte fails the SHA-256 check and leaves
 * nothing behind, a pull killed with SIGKILL asks only for the bytes its record says are missing, and a server
 * that ignores ranges still gets the file whole.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PART_BYTES } from '../../src/hub/pull/parts.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from './fault-proxy.ts';
import { modelhost, tempCache } from './pull-helpers.ts';

const REPO = 'parts/big';
/** Two whole parts and a short last one. */
const WEIGHTS = randomBytes(2 * PART_BYTES + 3_000_000);
const SMALL_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

function writeModel(root: string): void {
  const dir = path.join(root, REPO);
  mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  for (const f of SMALL_FILES) writeFileSync(path.join(dir, f), readFileSync(path.join(TEST_MODELS_DIR, 'tiny/bert-sentiment', f)));
  writeFileSync(path.join(dir, 'README.md'), '---\npipeline_tag: text-classification\nlibrary_name: transformers.js\n---\n# big\n');
  writeFileSync(path.join(dir, 'onnx', 'model.onnx'), WEIGHTS);
}

const blobsDir = (cacheDir: string) => path.join(cacheDir, 'models--parts--big', 'blobs');
const blobsOf = (cacheDir: string) => (existsSync(blobsDir(cacheDir)) ? readdirSync(blobsDir(cacheDir)) : []);
const weightRequests = (proxy: FaultProxy) => proxy.requests.filter((r) => r.path.endsWith('/onnx/model.onnx'));
/** [first, last] byte of a request's Range. */
const rangeOf = (r: ProxiedRequest) => (/^bytes=(\d+)-(\d+)$/.exec(r.range ?? '') ?? []).slice(1).map(Number) as [number, number];
/** The part requests (not the one-byte request that finds the file and checks that ranges are answered). */
const partRequests = (proxy: FaultProxy) => weightRequests(proxy).filter((r) => r.range !== 'bytes=0-0');

describe('modelhost pull of a file in parts', () => {
  let a: TestServer;
  let proxy: FaultProxy;

  beforeAll(async () => {
    const models = mkdtempSync(path.join(tmpdir(), 'modelhost-parts-'));
    writeModel(models);
    a = await startServer({ modelsDir: models, builtinModels: false, hfCache: false });
    proxy = await startFaultProxy(a.url);
  });

  afterAll(async () => {
    await proxy?.close();
    await a?.close();
  });

  beforeEach(() => {
    proxy.faults = {};
    proxy.requests.length = 0;
  });

  it('fetches the weights as ranges that cover the file once, and verifies them', async () => {
    const cacheDir = tempCache();
    const run = await modelhost(['pull', REPO, '--endpoint', proxy.url, '--no-progress'], cacheDir);
    expect(run.code, run.stderr).toBe(0);
    const parts = partRequests(proxy);
    expect(parts.every((r) => r.status === 206)).toBe(true);
    const ranges = parts.map(rangeOf).sort((x, y) => x[0] - y[0]);
    expect(ranges).toEqual([
      [0, PART_BYTES - 1],
      [PART_BYTES, 2 * PART_BYTES - 1],
      [2 * PART_BYTES, WEIGHTS.length - 1],
    ]);
    expect(parts.reduce((n, r) => n + r.bytes, 0)).toBe(WEIGHTS.length);
    expect(readFileSync(path.join(run.stdout.split('\n')[0]!, 'onnx', 'model.onnx')).equals(WEIGHTS)).toBe(true);
    expect(blobsOf(cacheDir).filter((b) => b.includes('.'))).toEqual([]);
  });

  it('resumes a part whose connection was cut from where it was cut, fetching no byte twice', async () => {
    const cacheDir = tempCache();
    proxy.faults = { cut: { path: 'onnx/model.onnx', afterBytes: 3_000_000 } };
    const run = await modelhost(['pull', REPO, '--endpoint', proxy.url, '--no-progress'], cacheDir);
    expect(run.code, run.stderr).toBe(0);
    const parts = partRequests(proxy);
    const cut = parts.find((r) => r.bytes === 3_000_000 && r.status === 206)!;
    expect(cut).toBeDefined();
    const [start, end] = rangeOf(cut);
    const resumed = parts.filter((r) => rangeOf(r)[0] === start + 3_000_000);
    expect(resumed).toHaveLength(1);
    expect(rangeOf(resumed[0]!)[1]).toBe(end);
    expect(parts.reduce((n, r) => n + r.bytes, 0)).toBe(WEIGHTS.length);
    expect(readFileSync(path.join(run.stdout.split('\n')[0]!, 'onnx', 'model.onnx')).equals(WEIGHTS)).toBe(true);
  });

  it('detects a corrupted byte in a part, deletes the download and fails naming the file', async () => {
    const cacheDir = tempCache();
    proxy.faults = { flip: { path: 'onnx/model.onnx', offset: PART_BYTES + 12_345 } };
    const run = await modelhost(['pull', REPO, '--endpoint', proxy.url, '--no-progress'], cacheDir);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toMatch(/^modelhost pull: onnx\/model\.onnx: SHA-256 mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\); the download was deleted$/);
    // No blob, no partial file, no record of one: the next pull starts over.
    expect(blobsOf(cacheDir).filter((b) => b.length >= 64)).toEqual([]);
    expect(existsSync(path.join(cacheDir, 'models--parts--big', 'refs', 'main'))).toBe(false);
  });

  it('continues a pull killed with SIGKILL, asking only for the bytes its record says are missing', async () => {
    const cacheDir = tempCache();
    proxy.faults = { throttleBytesPerSecond: 3_000_000 };
    const recordFile = () => blobsOf(cacheDir).find((b) => b.endsWith('.partial.json'));
    const recorded = (): number[] => JSON.parse(readFileSync(path.join(blobsDir(cacheDir), recordFile()!), 'utf8')).have;
    const killed = await modelhost(['pull', REPO, '--endpoint', proxy.url, '--no-progress'], cacheDir, {
      onStart: (child) => {
        void (async () => {
          // Kill once the record says a few megabytes of the weights are on disk.
          for (let i = 0; i < 600; i++) {
            if (recordFile() && recorded().reduce((n, b) => n + b, 0) > 3_000_000) break;
            await sleep(50);
          }
          child.kill('SIGKILL');
        })();
      },
    });
    expect(killed.signal).toBe('SIGKILL');
    const have = recorded();
    const kept = have.reduce((n, b) => n + b, 0);
    expect(kept).toBeGreaterThan(3_000_000);
    expect(kept).toBeLessThan(WEIGHTS.length);

    proxy.faults = {};
    proxy.requests.length = 0;
    const resumed = await modelhost(['pull', REPO, '--endpoint', proxy.url, '--no-progress'], cacheDir);
    expect(resumed.code, resumed.stderr).toBe(0);
    const parts = partRequests(proxy);
    // Each part is asked for from where the record left it, and only the missing bytes come again.
    for (const r of parts) {
      const [start] = rangeOf(r);
      const p = Math.floor(start / PART_BYTES);
      expect(start).toBe(p * PART_BYTES + have[p]!);
    }
    expect(parts.reduce((n, r) => n + r.bytes, 0)).toBe(WEIGHTS.length - kept);
    expect(readFileSync(path.join(resumed.stdout.split('\n')[0]!, 'onnx', 'model.onnx')).equals(WEIGHTS)).toBe(true);
    expect(blobsOf(cacheDir).filter((b) => b.includes('.partial'))).toEqual([]);
  });
});

describe('modelhost pull of a large file from a Hub that ignores ranges (a fake Hub)', () => {
  it('fetches it whole in one stream and verifies it', async () => {
    const { startFakeHub } = await import('./hub-fake.ts');
    // The fake Hub answers `bytes=0-...` with 200 and the whole file, as a server without range support does.
    const files = { 'config.json': Buffer.from('{"model_type": "bert"}'), 'onnx/model.onnx': WEIGHTS };
    const hub = await startFakeHub({ repo: 'org/noranges', files });
    try {
      const run = await modelhost(['pull', 'org/noranges', '--endpoint', hub.url, '--no-progress'], tempCache());
      expect(run.code, run.stderr).toBe(0);
      expect(readFileSync(path.join(run.stdout.split('\n')[0]!, 'onnx', 'model.onnx')).equals(WEIGHTS)).toBe(true);
    } finally {
      await hub.close();
    }
  });
});
