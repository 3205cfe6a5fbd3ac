/**
 * A minimal Hub for what a modelhost instance cannot play: a gated repository (401/403 `GatedRepo`), and a
 * Hub whose tree listing lies about a file's hash. It serves one repo from a map of files, with the
 * headers of shared/docs/hub-protocol.md §1.2 and single Range requests; files under onnx/ are LFS files.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeHubOptions {
  repo: string;
  files: Record<string, Buffer>;
  /** Answer 401 GatedRepo without a token, 403 with any token but `token`. */
  gated?: { token: string };
  /** Tree entries whose lfs.oid is replaced by this value (a Hub whose metadata disagrees with its bytes). */
  lieAbout?: string;
}

const SHA = 'a'.repeat(40);

function entry(path: string, data: Buffer, lie?: boolean) {
  const oid = createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
  const sha256 = lie ? 'b'.repeat(64) : createHash('sha256').update(data).digest('hex');
  return { type: 'file', path, size: data.length, oid, ...(path.startsWith('onnx/') ? { lfs: { oid: sha256, size: data.length, pointerSize: 130 } } : {}) };
}

export async function startFakeHub(opts: FakeHubOptions): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const fail = (status: number, code: string) => res.writeHead(status, { 'x-error-code': code, 'content-type': 'application/json' }).end(JSON.stringify({ error: code }));
    if (!url.pathname.includes(opts.repo)) return fail(401, 'RepoNotFound');
    const auth = req.headers.authorization;
    if (opts.gated && auth !== `Bearer ${opts.gated.token}`) return fail(auth ? 403 : 401, 'GatedRepo');
    const entries = Object.entries(opts.files).map(([p, d]) => entry(p, d, p === opts.lieAbout));
    if (url.pathname.startsWith(`/api/models/${opts.repo}/revision/`)) {
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: opts.repo, sha: SHA, gated: opts.gated ? 'manual' : false, siblings: entries.map((e) => ({ rfilename: e.path })) }));
    }
    if (url.pathname === `/api/models/${opts.repo}/tree/${SHA}`) return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(entries));
    const prefix = `/${opts.repo}/resolve/${SHA}/`;
    const file = url.pathname.startsWith(prefix) ? decodeURIComponent(url.pathname.slice(prefix.length)) : undefined;
    const data = file ? opts.files[file] : undefined;
    if (!file || !data) return fail(404, 'EntryNotFound');
    const e = entry(file, data);
    const start = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
    res.writeHead(start ? 206 : 200, {
      'x-repo-commit': SHA,
      etag: `"${e.lfs?.oid ?? e.oid}"`,
      ...(e.lfs ? { 'x-linked-etag': `"${e.lfs.oid}"`, 'x-linked-size': String(data.length) } : {}),
      'content-length': String(data.length - start),
      ...(start ? { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}),
    });
    res.end(data.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
