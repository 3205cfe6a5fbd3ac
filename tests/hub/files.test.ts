/**
 * The Hub file API as a client without a library sees it (curl-like): headers, ranges, ETags, error codes,
 * tree pages and paths-info, against a real server on loopback over a copy of a tiny model.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { filesOf, gitBlobSha1, sha256 } from './helpers.ts';

const ID = 'tiny/bert-sentiment';
let server: TestServer;
let models: string;
let modelDir: string;
let sha: string;

const file = (rel: string) => readFileSync(path.join(modelDir, rel));
const get = (p: string, init: RequestInit = {}) => fetch(`${server.url}${p}`, init);

beforeAll(async () => {
  models = mkdtempSync(path.join(tmpdir(), 'mh-hub-files-'));
  modelDir = path.join(models, ID);
  cpSync(path.join(TEST_MODELS_DIR, ID), modelDir, { recursive: true });
  server = await startServer({ modelsDir: models, builtinModels: false });
  sha = ((await (await get(`/api/models/${ID}`)).json()) as { sha: string }).sha;
});
afterAll(async () => {
  await server.close();
  rmSync(models, { recursive: true, force: true });
});

describe('model info', () => {
  it('gives a commit sha and siblings, with sizes and LFS details when blobs=true', async () => {
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    const info = (await (await get(`/api/models/${ID}?blobs=true`)).json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(info).toMatchObject({ id: ID, sha, private: false, gated: false, disabled: false });
    expect(Date.parse(info.lastModified)).toBeGreaterThan(0);
    const byName = new Map(info.siblings.map((s: { rfilename: string }) => [s.rfilename, s]));
    expect([...byName.keys()].sort()).toEqual(filesOf(modelDir));
    const onnx = file('onnx/model.onnx');
    expect(byName.get('onnx/model.onnx')).toMatchObject({ size: onnx.length, lfs: { sha256: sha256(onnx), size: onnx.length } });
    expect(byName.get('config.json')).toEqual({ rfilename: 'config.json', size: file('config.json').length, blobId: gitBlobSha1(file('config.json')) });
    // Without blobs=true, names only (what the inference client and the console read).
    const plain = (await (await get(`/api/models/${ID}`)).json()) as { siblings: object[] };
    expect(plain.siblings).toContainEqual({ rfilename: 'config.json' });
  });

  it('answers at a revision: HEAD and main are the default branch, the sha is that commit', async () => {
    for (const rev of ['HEAD', 'main', sha]) {
      const res = await get(`/api/models/${ID}/revision/${rev}?expand=sha&expand=siblings`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { sha: string }).sha).toBe(sha);
    }
    const badRev = await get(`/api/models/${ID}/revision/${'0'.repeat(40)}`);
    expect([badRev.status, badRev.headers.get('x-error-code')]).toEqual([404, 'RevisionNotFound']);
    const badRepo = await get('/api/models/nobody/nothing/revision/main');
    expect([badRepo.status, badRepo.headers.get('x-error-code')]).toEqual([401, 'RepoNotFound']);
    // The plain info route keeps its 404, with the Hub's code.
    const plain = await get('/api/models/nobody/nothing');
    expect([plain.status, plain.headers.get('x-error-code')]).toEqual([404, 'RepoNotFound']);
  });
});

describe('resolve and raw', () => {
  it('HEAD gives the Hub headers: commit, ETag (git SHA-1), exact length, no compression', async () => {
    const res = await get(`/${ID}/resolve/main/config.json`, { method: 'HEAD', headers: { 'accept-encoding': 'gzip, br' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-repo-commit')).toBe(sha);
    expect(res.headers.get('etag')).toBe(`"${gitBlobSha1(file('config.json'))}"`);
    expect(res.headers.get('content-length')).toBe(String(file('config.json').length));
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(res.headers.get('x-linked-etag')).toBeNull();
    expect(res.headers.get('content-type')).not.toContain('xet');
  });

  it('an LFS file carries its SHA-256 as ETag and X-Linked-Etag, and X-Linked-Size', async () => {
    const onnx = file('onnx/model.onnx');
    const res = await get(`/${ID}/resolve/main/onnx/model.onnx`, { method: 'HEAD' });
    expect(res.headers.get('etag')).toBe(`"${sha256(onnx)}"`);
    expect(res.headers.get('x-linked-etag')).toBe(`"${sha256(onnx)}"`);
    expect(res.headers.get('x-linked-size')).toBe(String(onnx.length));
    expect(res.headers.get('content-length')).toBe(String(onnx.length));
  });

  it('GET gives the bytes, the same at main and at the commit', async () => {
    for (const rev of ['main', sha]) {
      const res = await get(`/${ID}/resolve/${rev}/onnx/model.onnx`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-repo-commit')).toBe(sha);
      expect(Buffer.from(await res.arrayBuffer()).equals(file('onnx/model.onnx'))).toBe(true);
    }
  });

  it('answers ranges with 206 and Content-Range, and an unsatisfiable one with 416', async () => {
    const bytes = file('tokenizer.json');
    const size = bytes.length;
    const cases: [string, number, number][] = [
      ['bytes=0-0', 0, 0],
      ['bytes=10-19', 10, 19],
      ['bytes=-5', size - 5, size - 1],
      ['bytes=100-', 100, size - 1],
      [`bytes=5-${size + 1000}`, 5, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await get(`/${ID}/resolve/main/tokenizer.json`, { headers: { range } });
      expect(res.status, range).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${size}`);
      expect(res.headers.get('x-repo-commit')).toBe(sha);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(start, end + 1)), range).toBe(true);
    }
    const past = await get(`/${ID}/resolve/main/tokenizer.json`, { headers: { range: `bytes=${size}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${size}`);
    expect(((await past.json()) as { error: string }).error).toMatch(/outside/);
    // Several ranges at once are not served piecewise: the whole file, as the RFC allows.
    const multi = await get(`/${ID}/resolve/main/tokenizer.json`, { headers: { range: 'bytes=0-1,5-6' } });
    expect(multi.status).toBe(200);
    expect((await multi.arrayBuffer()).byteLength).toBe(size);
  });

  it('answers If-None-Match with the current ETag with 304', async () => {
    const etag = `"${gitBlobSha1(file('config.json'))}"`;
    const res = await get(`/${ID}/resolve/main/config.json`, { headers: { 'if-none-match': etag } });
    expect(res.status).toBe(304);
    const stale = await get(`/${ID}/resolve/main/config.json`, { headers: { 'if-none-match': '"0000"' } });
    expect(stale.status).toBe(200);
  });

  it('raw serves regular files as they are and LFS files as their pointer', async () => {
    const json = await get(`/${ID}/raw/main/config.json`);
    expect(Buffer.from(await json.arrayBuffer()).equals(file('config.json'))).toBe(true);
    const onnx = file('onnx/model.onnx');
    const pointer = await get(`/${ID}/raw/main/onnx/model.onnx`);
    expect(await pointer.text()).toBe(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(onnx)}\nsize ${onnx.length}\n`);
    expect(pointer.headers.get('x-linked-etag')).toBeNull();
    expect((await get(`/${ID}/raw/main/config.json`, { method: 'HEAD' })).status).toBe(200);
    expect((await get(`/${ID}/raw/main/nothing.json`, { method: 'HEAD' })).status).toBe(404);
  });

  it('errors carry the Hub codes the clients read', async () => {
    const entry = await get(`/${ID}/resolve/main/missing.json`);
    expect([entry.status, entry.headers.get('x-error-code'), entry.headers.get('x-repo-commit')]).toEqual([404, 'EntryNotFound', sha]);
    expect(((await entry.json()) as { error: string }).error).toContain('missing.json');
    const rev = await get(`/${ID}/resolve/nobranch/config.json`, { method: 'HEAD' });
    expect([rev.status, rev.headers.get('x-error-code')]).toEqual([404, 'RevisionNotFound']);
    const repo = await get('/tiny/no-such-model/resolve/main/config.json');
    expect([repo.status, repo.headers.get('x-error-code')]).toEqual([401, 'RepoNotFound']);
    expect(repo.headers.get('x-error-message')).toMatch(/not found/);
  });

  it('lets browsers read the Hub headers (CORS)', async () => {
    const res = await get(`/${ID}/resolve/main/config.json`, { headers: { origin: 'http://example.test' } });
    const exposed = (res.headers.get('access-control-expose-headers') ?? '').toLowerCase();
    for (const h of ['x-repo-commit', 'etag', 'x-linked-size', 'x-linked-etag', 'content-range', 'x-error-code']) expect(exposed).toContain(h);
  });

  it('leaves the other routes alone', async () => {
    expect((await get('/health')).status).toBe(200);
    expect((await get('/v1/models')).status).toBe(200);
    expect(((await (await get('/api/models')).json()) as { id: string }[]).map((m) => m.id)).toEqual([ID]);
    const unknown = await get('/api/unknown/route');
    expect(unknown.status).toBe(404);
  });
});

describe('tree and paths-info', () => {
  it('lists a folder, or everything below it, page by page through absolute Link headers', async () => {
    const root = (await (await get(`/api/models/${ID}/tree/main`)).json()) as { path: string; type: string }[];
    expect(root).toContainEqual(expect.objectContaining({ path: 'onnx', type: 'directory', size: 0 }));
    expect(root.map((e) => e.path)).not.toContain('onnx/model.onnx');
    const seen: { path: string; type: string; oid: string; size: number }[] = [];
    let next: string | undefined = `${server.url}/api/models/${ID}/tree/${sha}?recursive=true&limit=2`;
    let pages = 0;
    while (next) {
      const res: Response = await fetch(next);
      expect(res.status).toBe(200);
      seen.push(...((await res.json()) as typeof seen));
      pages += 1;
      next = /<(https?:\/\/[^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
    }
    expect(pages).toBeGreaterThan(2);
    expect(seen.filter((e) => e.type === 'file').map((e) => e.path)).toEqual(filesOf(modelDir));
    for (const e of seen.filter((x) => x.type === 'file' && !x.path.endsWith('.onnx'))) {
      expect(e).toMatchObject({ oid: gitBlobSha1(file(e.path)), size: statSync(path.join(modelDir, e.path)).size });
    }
    const sub = (await (await get(`/api/models/${ID}/tree/main/onnx`)).json()) as { path: string; lfs: object }[];
    expect(sub).toEqual([expect.objectContaining({ path: 'onnx/model.onnx', lfs: expect.objectContaining({ oid: sha256(file('onnx/model.onnx')), pointerSize: 131 }) })]);
    const missing = await get(`/api/models/${ID}/tree/main/nowhere`);
    expect([missing.status, missing.headers.get('x-error-code')]).toEqual([404, 'EntryNotFound']);
    expect((await get(`/api/models/${ID}/tree/main?cursor=bm9wZQ`)).status).toBe(400);
  });

  it('paths-info takes JSON and form bodies, leaves out missing paths, and names the commit with expand', async () => {
    const json = await fetch(`${server.url}/api/models/${ID}/paths-info/main`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ paths: ['config.json', 'onnx', 'absent.txt'], expand: true }),
    });
    const entries = (await json.json()) as { path: string; type: string; lastCommit?: { id: string } }[];
    expect(entries.map((e) => [e.path, e.type])).toEqual([
      ['config.json', 'file'],
      ['onnx', 'directory'],
    ]);
    expect(entries[0]!.lastCommit?.id).toBe(sha);
    const form = await fetch(`${server.url}/api/models/${ID}/paths-info/${sha}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'paths=onnx%2Fmodel.onnx&paths=README.md&expand=false',
    });
    const formEntries = (await form.json()) as { path: string; lastCommit?: object }[];
    expect(formEntries.map((e) => e.path)).toEqual(['onnx/model.onnx', 'README.md']);
    expect(formEntries[0]!.lastCommit).toBeUndefined();
    const bad = await fetch(`${server.url}/api/models/${ID}/paths-info/main`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"paths": 3' });
    expect(bad.status).toBe(400);
  });
});

describe('the commit of a folder', () => {
  it('is stable while the files are, and moves (with the served bytes) when one changes', async () => {
    const again = ((await (await get(`/api/models/${ID}`)).json()) as { sha: string }).sha;
    expect(again).toBe(sha);
    const readme = path.join(modelDir, 'README.md');
    const before = readFileSync(readme);
    writeFileSync(readme, Buffer.concat([before, Buffer.from('\nEdited.\n')]));
    try {
      const moved = ((await (await get(`/api/models/${ID}`)).json()) as { sha: string }).sha;
      expect(moved).toMatch(/^[0-9a-f]{40}$/);
      expect(moved).not.toBe(sha);
      const res = await get(`/${ID}/resolve/main/README.md`);
      expect(res.headers.get('x-repo-commit')).toBe(moved);
      expect(await res.text()).toContain('Edited.');
      expect((await get(`/${ID}/resolve/${sha}/README.md`)).headers.get('x-error-code')).toBe('RevisionNotFound');
    } finally {
      writeFileSync(readme, before);
    }
    // Back to the same content: back to the same commit.
    expect(((await (await get(`/api/models/${ID}`)).json()) as { sha: string }).sha).toBe(sha);
  });
});
