/**
 * `modelhost pull` through a fault-injecting proxy between the puller and modelhost instance A: a cut
 * connection resumes, a flipped byte is caught, a Hub that is down is one line, and a pull killed with SIGKILL
 * continues without fetching its completed files again.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.ts';
import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';
import { modelhost, tempCache } from './pull-helpers.ts';

const REPO = 'faults/big';
const WEIGHTS = randomBytes(3_000_000);

/** A repo whose weights are large enough to cut, throttle and kill in the middle of (A only serves its files). */
function writeBigModel(root: string): void {
  const dir = path.join(root, REPO);
  mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
    writeFileSync(path.join(dir, f), readFileSync(path.join(TEST_MODELS_DIR, 'tiny/bert-sentiment', f)));
  }
  writeFileSync(path.join(dir, 'README.md'), '---\npipeline_tag: text-classification\nlibrary_name: transformers.js\n---\n# big\n');
  writeFileSync(path.join(dir, 'onnx', 'model.onnx'), WEIGHTS);
}

function blobsOf(cacheDir: string): string[] {
  const dir = path.join(cacheDir, 'models--faults--big', 'blobs');
  return existsSync(dir) ? readdirSync(dir) : [];
}

const weightRequests = (proxy: FaultProxy) => proxy.requests.filter((r) => r.path.endsWith('/onnx/model.onnx'));

describe('modelhost pull through faults', () => {
  let a: TestServer;
  let proxy: FaultProxy;

  beforeAll(async () => {
    const models = mkdtempSync(path.join(tmpdir(), 'modelhost-faults-'));
    writeBigModel(models);
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

  it('resumes a connection cut in the middle of a file with a Range request, and completes', async () => {
    const cacheDir = tempCache();
    proxy.faults = { cut: { path: 'onnx/model.onnx', afterBytes: 1_000_000 } };
    const run = await modelhost(['pull', REPO, '--endpoint', proxy.url, '--no-progress'], cacheDir);
    expect(run.code, run.stderr).toBe(0);
    const gets = weightRequests(proxy);
    expect(gets).toHaveLength(2);
    expect(gets[0]).toMatchObject({ status: 200, bytes: 1_000_000 });
    expect(gets[1]).toMatchObject({ status: 206, range: 'bytes=1000000-', bytes: WEIGHTS.length - 1_000_000 });
    const snapshot = path.join(run.stdout.split('\n')[0]!, 'onnx', 'model.onnx');
    expect(readFileSync(snapshot).equals(WEIGHTS)).toBe(true);
  });

  it('detects a corrupted byte, deletes the download and fails naming the file', async () => {
    const cacheDir = tempCache();
    proxy.faults = { flip: { path: 'onnx/model.onnx', offset: 2_000_000 } };
    const run = await modelhost(['pull', REPO, '--endpoint', proxy.url, '--no-progress'], cacheDir);
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^modelhost pull: onnx\/model\.onnx: SHA-256 mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\); the download was deleted$/);
    // Neither a blob nor a partial file of the weights is left; the snapshot does not name the commit.
    expect(blobsOf(cacheDir).filter((b) => b.length >= 64)).toEqual([]);
    expect(existsSync(path.join(cacheDir, 'models--faults--big', 'refs', 'main'))).toBe(false);
  });

  it('says in one line that the Hub is down', async () => {
    proxy.faults = { refuse: true };
    const run = await modelhost(['pull', REPO, '--endpoint', proxy.url, '--no-progress'], tempCache());
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toMatch(new RegExp(`^modelhost pull: cannot reach ${proxy.url.replace(/[.]/g, '\\.')}: .+$`));
    const closed = await modelhost(['pull', REPO, '--endpoint', 'http://127.0.0.1:9', '--no-progress'], tempCache());
    expect(closed.stderr.trim()).toBe('modelhost pull: cannot reach http://127.0.0.1:9: connection refused');
  });

  it('continues a pull killed with SIGKILL without fetching its completed files again', async () => {
    const cacheDir = tempCache();
    proxy.faults = { throttleBytesPerSecond: 400_000 };
    const partial = () => blobsOf(cacheDir).find((b) => b.endsWith('.incomplete'));
    const killed = await modelhost(['pull', REPO, '--endpoint', proxy.url, '--no-progress'], cacheDir, {
      onStart: (child) => {
        void (async () => {
          // Kill once the small files are in and the weights are partly on disk.
          for (let i = 0; i < 300; i++) {
            const p = partial();
            const small = blobsOf(cacheDir).filter((b) => !b.endsWith('.incomplete')).length;
            if (p && small >= 5 && statSync(path.join(cacheDir, 'models--faults--big', 'blobs', p)).size > 500_000) break;
            await sleep(50);
          }
          child.kill('SIGKILL');
        })();
      },
    });
    expect(killed.signal).toBe('SIGKILL');
    const kept = statSync(path.join(cacheDir, 'models--faults--big', 'blobs', partial()!)).size;
    expect(kept).toBeGreaterThan(500_000);
    expect(kept).toBeLessThan(WEIGHTS.length);

    proxy.faults = {};
    proxy.requests.length = 0;
    const resumed = await modelhost(['pull', REPO, '--endpoint', proxy.url, '--no-progress'], cacheDir);
    expect(resumed.code, resumed.stderr).toBe(0);
    const files = proxy.requests.filter((r) => r.path.includes('/resolve/'));
    // Only the weights were asked for again, from where the killed pull stopped (or later: bytes still in flight).
    expect(files.map((r) => r.path.split('/').slice(-2).join('/'))).toEqual(['onnx/model.onnx']);
    const from = Number(/bytes=(\d+)-/.exec(files[0]!.range ?? '')?.[1]);
    expect(from).toBeGreaterThanOrEqual(kept);
    expect(files[0]!.bytes).toBe(WEIGHTS.length - from);
    expect(resumed.stdout).toMatch(/5 already here/);
    expect(readFileSync(path.join(resumed.stdout.split('\n')[0]!, 'onnx', 'model.onnx')).equals(WEIGHTS)).toBe(true);
  });
});

describe('modelhost pull against a Hub that gates a repo (a fake Hub: modelhost does not gate)', () => {
  const files = { 'config.json': Buffer.from('{"model_type": "bert"}'), 'README.md': Buffer.from('# gated\n'), 'onnx/model.onnx': randomBytes(50_000) };

  it('says in one line that a token is needed, refuses a token without access, and pulls with the right one', async () => {
    const { startFakeHub } = await import('./hub-fake.ts');
    const hub = await startFakeHub({ repo: 'org/gated', files, gated: { token: 'hf_granted' } });
    try {
      const cacheDir = tempCache();
      const none = await modelhost(['pull', 'org/gated', '--endpoint', hub.url, '--no-progress'], cacheDir);
      expect(none.code).toBe(1);
      expect(none.stderr.trim()).toBe('modelhost pull: org/gated is gated: accept its terms on the Hub, then set HF_TOKEN (or --token-env) to a token of that account');
      const wrong = await modelhost(['pull', 'org/gated', '--endpoint', hub.url, '--no-progress'], cacheDir, { env: { HF_TOKEN: 'hf_other' } });
      expect(wrong.stderr.trim()).toMatch(/^modelhost pull: org\/gated is gated and this token has not been granted access/);
      const granted = await modelhost(['pull', 'org/gated', '--endpoint', hub.url, '--token-env', 'MY_TOKEN', '--no-progress'], cacheDir, { env: { MY_TOKEN: 'hf_granted' } });
      expect(granted.code, granted.stderr).toBe(0);
      expect(readFileSync(path.join(granted.stdout.split('\n')[0]!, 'onnx', 'model.onnx')).equals(files['onnx/model.onnx'])).toBe(true);
    } finally {
      await hub.close();
    }
  });

  it('refuses bytes whose SHA-256 differs from what the Hub lists', async () => {
    const { startFakeHub } = await import('./hub-fake.ts');
    const hub = await startFakeHub({ repo: 'org/liar', files, lieAbout: 'onnx/model.onnx' });
    try {
      const run = await modelhost(['pull', 'org/liar', '--endpoint', hub.url, '--no-progress'], tempCache());
      expect(run.code).toBe(1);
      expect(run.stderr.trim()).toMatch(/^modelhost pull: onnx\/model\.onnx: the Hub's X-Linked-Etag \([0-9a-f]{64}\) differs from its tree listing \(b{64}\); nothing was kept$/);
    } finally {
      await hub.close();
    }
  });
});
