/**
 * Downloads one file into the cache: resumable, verified, atomic. Files from 16 MB up are fetched in parts
 * over several connections (parts.ts); this module fetches the smaller ones, and any file from a server that
 * does not answer ranges, in one stream.
 *
 * Bytes grow in `blobs/<etag>.incomplete`, which outlives the process, so a pull killed at any point continues
 * from its length with `Range: bytes=<n>-` (huggingface_hub before 1.18 did the same; hub-protocol.md §4.4). A
 * server that answers the Range with 200 restarts the file. Within one run a cut connection is retried a few
 * times, each retry resuming. The content is hashed as it arrives, SHA-256 for LFS files (the Hub's
 * `X-Linked-Etag` / `lfs.oid`), git SHA-1 for regular ones (the `ETag` / tree `oid`), and is renamed into
 * `blobs/` only when size and hash match; a mismatch deletes the partial file and fails naming the file.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PullError } from './errors.ts';
import { etagOf, retrying, sizeOf, type FileJob } from './file-job.ts';
import { normalizeEtag, type TreeFile } from './hub-client.ts';
import { withLock } from './lock.ts';
import { digestFor, type Digest } from './hasher.ts';
import { fetchInParts, IN_PARTS_FROM_BYTES } from './parts.ts';

export { etagOf, sizeOf, type FileJob, type FileProgress } from './file-job.ts';

const WRITE_BUFFER = 8 * 1024 * 1024;

async function fileSize(p: string): Promise<number> {
  try {
    return (await stat(p)).size;
  } catch {
    return 0;
  }
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** A hasher fed with the first `length` bytes already on disk. */
function hasherFor(file: TreeFile, partial: string, length: number): Promise<Digest> {
  return digestFor(file.lfs ? 'sha256' : 'sha1', sizeOf(file), partial, length);
}

/** Fetches the file into `blobs/` (unless there already) and links it into `snapshots/<sha>/`. Returns the bytes fetched. */
export async function downloadFile(job: FileJob): Promise<number> {
  const { cache, file } = job;
  const etag = etagOf(file);
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(etag)) throw new PullError('upstream', `the Hub gave no usable id for ${file.path} (oid "${etag}")`);
  const blob = cache.blob(etag);
  let fetched = 0;
  if (!(await exists(blob))) {
    fetched = await withLock(
      cache.lock(etag),
      // Another process may have finished it while this one waited for the lock.
      async () => ((await exists(blob)) ? 0 : fetchBlob(job)),
      job.signal,
    );
  }
  job.progress.onBytes(sizeOf(file), 0);
  await cache.link(job.sha, file.path, etag);
  return fetched;
}

async function fetchBlob(job: FileJob): Promise<number> {
  const { cache, file } = job;
  const size = sizeOf(file);
  const partial = cache.incomplete(etagOf(file));
  await mkdir(path.dirname(partial), { recursive: true });
  if (size >= IN_PARTS_FROM_BYTES) {
    const fetched = await fetchInParts(job);
    if (fetched !== undefined) return fetched;
    // The server does not answer ranges: the whole file in one stream.
  }
  const fetched = { bytes: 0 };
  return retrying(job.client.resolveUrl(cache.repo, job.sha, file.path), job.signal, async () => {
    let offset = await fileSize(partial);
    if (offset > size) {
      await rm(partial, { force: true });
      offset = 0;
    }
    const hash = offset < size || size === 0 ? await job.slots.with(() => fetchFrom(job, partial, offset, fetched)) : undefined;
    await verify(file, partial, hash);
    await rename(partial, cache.blob(etagOf(file)));
    return fetched.bytes;
  });
}

/** One GET (ranged when `offset` > 0), appended to the partial file; returns the hasher fed with the whole file. */
async function fetchFrom(job: FileJob, partial: string, offset: number, fetched: { bytes: number }): Promise<Digest> {
  const { client, cache, sha, file, progress, signal } = job;
  const url = client.resolveUrl(cache.repo, sha, file.path);
  const { res, first } = await client.send(url, offset > 0 ? { range: `bytes=${offset}-` } : {}, signal);
  if (res.statusCode !== 200 && res.statusCode !== 206) {
    await res.body.dump();
    // A partial file the server cannot continue (416) is useless: the next attempt starts over.
    if (res.statusCode === 416) {
      await rm(partial, { force: true });
      throw new PullError('upstream', `${file.path}: the server refused to resume (HTTP 416)`);
    }
    throw client.fileError(res.statusCode, res.headers, cache.repo, sha, file.path);
  }
  const linked = normalizeEtag(String(first['x-linked-etag'] ?? '')) ?? normalizeEtag(String(res.headers['x-linked-etag'] ?? ''));
  if (file.lfs && linked && linked !== file.lfs.oid) {
    await res.body.dump();
    throw new PullError('integrity', `${file.path}: the Hub's X-Linked-Etag (${linked}) differs from its tree listing (${file.lfs.oid}); nothing was kept`);
  }
  let start = offset;
  if (res.statusCode === 206) {
    const range = /bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
    if (!range || Number(range[1]) !== offset) {
      await res.body.dump();
      throw new PullError('upstream', `${file.path}: the server answered another range than the one asked (${String(res.headers['content-range'])})`);
    }
  } else start = 0; // a 200 to a Range request sends the whole file again
  const hash = await hasherFor(file, partial, start);
  let onDisk = start;
  try {
    await pipeline(
      res.body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          onDisk += chunk.length;
          fetched.bytes += chunk.length;
          progress.onBytes(onDisk, chunk.length);
          yield chunk;
        }
      },
      // A deep write buffer: with fs's 16 kB default every chunk waits on a disk write and the socket stalls.
      createWriteStream(partial, { flags: start > 0 ? 'a' : 'w', highWaterMark: WRITE_BUFFER }),
      { signal },
    );
  } catch (e) {
    hash.dispose();
    throw e;
  }
  return hash;
}

/** Size and hash against the tree listing; a mismatch deletes the partial file (it can never become right). */
async function verify(file: TreeFile, partial: string, fed?: Digest): Promise<void> {
  const size = sizeOf(file);
  const onDisk = await fileSize(partial);
  if (onDisk < size) throw new PullError('network', `${file.path}: the transfer ended early (${onDisk} of ${size} bytes)`);
  if (onDisk > size) {
    await rm(partial, { force: true });
    throw new PullError('integrity', `${file.path}: got ${onDisk} bytes where the Hub lists ${size}; the download was deleted`);
  }
  const got = await (fed ?? (await hasherFor(file, partial, onDisk))).digest();
  const expected = etagOf(file);
  if (got !== expected) {
    await rm(partial, { force: true });
    throw new PullError('integrity', `${file.path}: ${file.lfs ? 'SHA-256' : 'git SHA-1'} mismatch (expected ${expected}, got ${got}); the download was deleted`);
  }
}
