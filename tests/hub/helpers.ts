import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One request with the path sent exactly as given (fetch would normalise `..` and re-encode it), as an attacker
 * or a hand-rolled client would send it.
 */
export function rawRequest(base: string, rawPath: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: rawPath, method: opts.method ?? 'GET', headers: opts.headers, insecureHTTPParser: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every file under `dir`, relative, `/`-separated, dotfiles left out (as a models-dir folder is served). */
export function filesOf(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.'))
    .flatMap((e) => {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      return e.isDirectory() ? filesOf(path.join(dir, e.name), rel) : [rel];
    })
    .sort();
}

export const gitBlobSha1 = (bytes: Buffer) => createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
export const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * Writes `srcDir` into an HF hub cache as huggingface_hub lays it out, independently of modelhost's code:
 * `models--org--name/blobs/<etag>` (SHA-256 for ONNX weights, as the Hub keeps them in LFS; git SHA-1 for the
 * rest), `snapshots/<commit>/<path>` as relative symlinks, and `refs/main`.
 */
export function writeHfCacheRepo(cacheDir: string, id: string, srcDir: string, commit: string, opts: { refs?: boolean; copy?: boolean } = {}): string {
  const repoDir = path.join(cacheDir, `models--${id.replace('/', '--')}`);
  mkdirSync(path.join(repoDir, 'blobs'), { recursive: true });
  for (const rel of filesOf(srcDir)) {
    const bytes = readFileSync(path.join(srcDir, rel));
    const etag = rel.endsWith('.onnx') ? sha256(bytes) : gitBlobSha1(bytes);
    writeFileSync(path.join(repoDir, 'blobs', etag), bytes);
    const link = path.join(repoDir, 'snapshots', commit, ...rel.split('/'));
    mkdirSync(path.dirname(link), { recursive: true });
    if (opts.copy) cpSync(path.join(repoDir, 'blobs', etag), link);
    else symlinkSync(path.relative(path.dirname(link), path.join(repoDir, 'blobs', etag)), link);
  }
  if (opts.refs !== false) {
    mkdirSync(path.join(repoDir, 'refs'), { recursive: true });
    writeFileSync(path.join(repoDir, 'refs', 'main'), commit);
  }
  return repoDir;
}
