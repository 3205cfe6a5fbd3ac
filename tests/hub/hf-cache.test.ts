/**
 * Models in an HF hub cache (`models--org--name/{blobs,snapshots/<commit>,refs/main}`, written here the way
 * huggingface_hub writes it) are served under their Hub id: they run with the same answers as from a folder,
 * their files are served by branch and by any cached commit, and a cached repository that cannot run is
 * listed with the reason while its files are still served.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveCommand } from '../../src/cli/serve.ts';
import { loadConfig } from '../../src/config.ts';
import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { gitBlobSha1, sha256, writeHfCacheRepo } from './helpers.ts';

const C1 = 'a'.repeat(40);
const C2 = 'b'.repeat(40);
const C3 = 'c'.repeat(40);
const C4 = 'd'.repeat(40);
const C5 = 'e'.repeat(40);
const C6 = 'f'.repeat(40);

let tmp: string;
let cache: string;
let fromCache: TestServer;
let fromFolder: TestServer;

/** A copy of a tiny model, changed by `edit`, in a scratch folder. */
function variant(id: string, edit: (dir: string) => void): string {
  const dir = path.join(tmp, 'src', id, String(Math.random()).slice(2));
  cpSync(path.join(TEST_MODELS_DIR, id), dir, { recursive: true });
  edit(dir);
  return dir;
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'mh-hf-cache-'));
  cache = path.join(tmp, 'hub');
  // The main model: two commits, refs/main at the first.
  writeHfCacheRepo(cache, 'tiny/bert-sentiment', path.join(TEST_MODELS_DIR, 'tiny/bert-sentiment'), C1);
  const newer = variant('tiny/bert-sentiment', (d) => writeFileSync(path.join(d, 'README.md'), `${readFileSync(path.join(d, 'README.md'), 'utf8')}\nA later commit.\n`));
  writeHfCacheRepo(cache, 'tiny/bert-sentiment', newer, C2, { refs: false });
  // Copied without refs/: its only snapshot is its main.
  writeHfCacheRepo(cache, 'tiny/minilm-embed', path.join(TEST_MODELS_DIR, 'tiny/minilm-embed'), C3, { refs: false });
  // Snapshot files as copies, not links (a cache copied where symlinks are not kept).
  writeHfCacheRepo(cache, 'tiny/bert-mlm', path.join(TEST_MODELS_DIR, 'tiny/bert-mlm'), C4, { copy: true });
  // A model as PyTorch users cache it: no ONNX weights.
  writeHfCacheRepo(cache, 'python/no-onnx', variant('tiny/bert-qa', (d) => rmSync(path.join(d, 'onnx'), { recursive: true })), C5);
  // A task not served here.
  const image = variant('tiny/vit', (d) => writeFileSync(path.join(d, 'README.md'), '---\npipeline_tag: text-to-image\n---\n'));
  writeHfCacheRepo(cache, 'python/diffusion', image, C6);
  fromCache = await startServer({ modelsDir: path.join(tmp, 'no-models'), builtinModels: false, hfCache: cache });
  fromFolder = await startServer({ builtinModels: false });
});
afterAll(async () => {
  await fromCache.close();
  await fromFolder.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('serving the HF cache', () => {
  it('lists the runnable cached models under their Hub ids, and keeps why the others cannot run', async () => {
    const listed = ((await (await fetch(`${fromCache.url}/api/models`)).json()) as { id: string }[]).map((m) => m.id);
    expect(listed).toEqual(['tiny/bert-mlm', 'tiny/bert-sentiment', 'tiny/minilm-embed']);
    const repository = fromCache.composed.deps.repository as unknown as { unrunnable(): { id: string; reason: string }[] };
    const reasons = Object.fromEntries(repository.unrunnable().map((m) => [m.id, m.reason]));
    expect(reasons['python/no-onnx']).toMatch(/ONNX/);
    expect(reasons['python/diffusion']).toMatch(/text-to-image/);
    const info = (await (await fetch(`${fromCache.url}/api/models/python/no-onnx`)).json()) as { sha: string; modelhost: { runnable: boolean; reason: string } };
    expect(info.sha).toBe(C5);
    expect(info.modelhost).toMatchObject({ runnable: false, reason: expect.stringMatching(/ONNX/) });
  });

  it('runs a cached model with the same answers as from its folder', async () => {
    for (const [id, body] of [
      ['tiny/bert-sentiment', { inputs: 'what a lovely day' }],
      ['tiny/minilm-embed', { inputs: 'an embedded sentence' }],
      ['tiny/bert-mlm', { inputs: 'Paris is the [MASK] of France.' }],
    ] as const) {
      const cached = await postJson(`${fromCache.url}/models/${id}`, body);
      const folder = await postJson(`${fromFolder.url}/models/${id}`, body);
      expect(cached.status, id).toBe(200);
      expect(cached.json, id).toEqual(folder.json);
    }
  });

  it('serves the files at refs/main and at every cached commit, with the blob names as ETags', async () => {
    const info = (await (await fetch(`${fromCache.url}/api/models/tiny/bert-sentiment`)).json()) as { sha: string };
    expect(info.sha).toBe(C1);
    const onnx = readFileSync(path.join(TEST_MODELS_DIR, 'tiny/bert-sentiment/onnx/model.onnx'));
    const head = await fetch(`${fromCache.url}/tiny/bert-sentiment/resolve/main/onnx/model.onnx`, { method: 'HEAD' });
    expect([head.headers.get('etag'), head.headers.get('x-linked-size'), head.headers.get('x-repo-commit')]).toEqual([`"${sha256(onnx)}"`, String(onnx.length), C1]);
    const older = await fetch(`${fromCache.url}/tiny/bert-sentiment/resolve/${C1}/README.md`);
    expect(await older.text()).not.toContain('A later commit.');
    const later = await fetch(`${fromCache.url}/tiny/bert-sentiment/resolve/${C2}/README.md`);
    expect(later.headers.get('x-repo-commit')).toBe(C2);
    const text = await later.text();
    expect(text).toContain('A later commit.');
    expect(later.headers.get('etag')).toBe(`"${gitBlobSha1(Buffer.from(text))}"`);
    const atC2 = (await (await fetch(`${fromCache.url}/api/models/tiny/bert-sentiment/revision/${C2}`)).json()) as { sha: string };
    expect(atC2.sha).toBe(C2);
    expect((await fetch(`${fromCache.url}/tiny/bert-sentiment/resolve/${'9'.repeat(40)}/README.md`)).headers.get('x-error-code')).toBe('RevisionNotFound');
    // A repository that cannot run still has its files served.
    const config = await fetch(`${fromCache.url}/python/no-onnx/resolve/main/config.json`);
    expect(config.status).toBe(200);
    expect(config.headers.get('x-repo-commit')).toBe(C5);
  });

  it('computes ids for snapshot files that are copies rather than links', async () => {
    const onnx = readFileSync(path.join(TEST_MODELS_DIR, 'tiny/bert-mlm/onnx/model.onnx'));
    const tree = (await (await fetch(`${fromCache.url}/api/models/tiny/bert-mlm/tree/main/onnx`)).json()) as { lfs: { oid: string } }[];
    expect(tree[0]?.lfs.oid).toBe(sha256(onnx));
  });

  it('a folder model wins over a cached one with the same id', async () => {
    const both = await startServer({ builtinModels: false, hfCache: cache });
    try {
      const model = both.composed.deps.repository.get('tiny/bert-sentiment');
      expect(model?.dir).toBe(path.join(TEST_MODELS_DIR, 'tiny/bert-sentiment'));
      expect(model?.hfCache).toBeUndefined();
    } finally {
      await both.close();
    }
  });
});

describe('configuration', () => {
  it('finds the cache where the Hugging Face clients put it, unless turned off', () => {
    expect(loadConfig({}, { HF_HUB_CACHE: '/data/hub' }).hfCache).toBe('/data/hub');
    expect(loadConfig({}, { HF_HOME: '/data/hf' }).hfCache).toBe(path.join('/data/hf', 'hub'));
    expect(loadConfig({}, { HF_HOME: '/data/hf', MODELHOST_HF_CACHE: '/elsewhere' }).hfCache).toBe('/elsewhere');
    expect(loadConfig({}, { HF_HUB_CACHE: '/data/hub', MODELHOST_HF_CACHE: 'off' }).hfCache).toBe(false);
    expect(loadConfig({ hfCache: false }, { HF_HUB_CACHE: '/data/hub' }).hfCache).toBe(false);
    expect(loadConfig({ hfCache: '/flag' }, { HF_HUB_CACHE: '/data/hub' }).hfCache).toBe('/flag');
    const help = serveCommand().helpInformation();
    expect(help).toContain('--hf-cache <dir>');
    expect(help).toContain('--no-hf-cache');
  });
});
