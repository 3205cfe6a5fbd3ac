/**
 * A large file fetched in parts over several connections at once, as hf_transfer does: the file is cut into
 * 8 MB parts, up to four connections take parts in order, and each part's bytes are written at their offset in
 * `blobs/<etag>.partial`. On loopback this keeps the sender busy while one connection waits on a disk write or
 * the scheduler; over a real network it is what fills a fast link.
 *
 * Resumable: `<etag>.partial.json` records how many bytes of each part are on disk (saved every second and
 * whenever a part completes, after the bytes were written), so a pull killed at any point asks only for what
 * is missing, from the middle of a part if need be. A contiguous `.incomplete` file (an older pull, or a file
 * this module fell back on) is taken over as its first bytes.
 * Verified: a worker hashes the file in order, following its complete prefix as parts fill in (hasher.ts
 * followFile); the file becomes `blobs/<etag>` only when its size and hash match the tree listing.
 *
 * One request comes first, for the file's first byte: it follows redirects (the Hub sends LFS files to a CDN),
 * checks `X-Linked-Etag` and tells whether the server answers ranges. One that does not gets the whole file
 * in one stream (download.ts).
 */
import { writeSync } from 'node:fs';
import { open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { PullError } from './errors.ts';
import { etagOf, retrying, sizeOf, type FileJob } from './file-job.ts';
import { followFile } from './hasher.ts';
import { normalizeEtag } from './hub-client.ts';
import { getRange, RangeAnswerError } from './range-get.ts';

export const PART_BYTES = 8 * 1024 * 1024;
/** Files from this size up are fetched in parts (smaller ones gain nothing from a second connection). */
export const IN_PARTS_FROM_BYTES = 2 * PART_BYTES;
/** Most connections one file uses at once. */
export const LANES = 4;
const IDLE_MS = 30_000;
const SAVE_EVERY_MS = 1000;

/** What `<etag>.partial.json` holds. */
interface PartsRecord {
  size: number;
  partBytes: number;
  /** Bytes on disk from the start of each part. */
  have: number[];
}

const partLength = (size: number, p: number) => Math.min(PART_BYTES, size - p * PART_BYTES);

/** Where the bytes are (after redirects), or undefined when the server does not answer ranges. */
async function locate(job: FileJob, url: string): Promise<string | undefined> {
  const { client, cache, sha, file, signal } = job;
  const { res, first, url: at } = await job.slots.with(async () => {
    const answer = await client.send(url, { range: 'bytes=0-0' }, signal);
    // A server that ignores the range starts sending the whole file: dump() reads a little, then closes.
    await answer.res.body.dump();
    return answer;
  });
  if (res.statusCode === 200) return undefined;
  if (res.statusCode !== 206) throw client.fileError(res.statusCode, res.headers, cache.repo, sha, file.path);
  const linked = normalizeEtag(String(first['x-linked-etag'] ?? '')) ?? normalizeEtag(String(res.headers['x-linked-etag'] ?? ''));
  if (file.lfs && linked && linked !== file.lfs.oid) {
    throw new PullError('integrity', `${file.path}: the Hub's X-Linked-Etag (${linked}) differs from its tree listing (${file.lfs.oid}); nothing was kept`);
  }
  const range = /^bytes 0-0\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''));
  if (!range) return undefined;
  if (Number(range[1]) !== sizeOf(file)) {
    throw new PullError('integrity', `${file.path}: the server has ${range[1]} bytes where the Hub lists ${sizeOf(file)}; nothing was kept`);
  }
  return at;
}

/** The parts already on disk: from the record, else from a contiguous `.incomplete` file, else none. */
async function restore(job: FileJob, data: string, record: string): Promise<number[]> {
  const size = sizeOf(job.file);
  const parts = Math.ceil(size / PART_BYTES);
  try {
    const r = JSON.parse(await readFile(record, 'utf8')) as PartsRecord;
    const onDisk = (await stat(data)).size;
    const valid =
      r.size === size &&
      r.partBytes === PART_BYTES &&
      Array.isArray(r.have) &&
      r.have.length === parts &&
      r.have.every((n, p) => Number.isInteger(n) && n >= 0 && n <= partLength(size, p) && (n === 0 || p * PART_BYTES + n <= onDisk));
    if (valid) return r.have;
  } catch {
    // no record, or one that cannot be read: start from what else is there
  }
  await rm(record, { force: true });
  const incomplete = job.cache.incomplete(etagOf(job.file));
  const prefix = await stat(incomplete).then((s) => s.size, () => -1);
  if (prefix >= 0 && prefix <= size) await rename(incomplete, data);
  else {
    await rm(incomplete, { force: true });
    await writeFile(data, '');
  }
  return Array.from({ length: parts }, (_, p) => Math.max(0, Math.min(partLength(size, p), prefix - p * PART_BYTES)));
}

/** Saves the record now and then, one write at a time (a temp file renamed, so a kill never leaves half of one). */
function recorder(record: string, size: number, have: number[]) {
  let running: Promise<void> = Promise.resolve();
  let queued = false;
  const save = () => {
    if (queued) return running;
    queued = true;
    running = running.then(async () => {
      queued = false;
      const body = JSON.stringify({ size, partBytes: PART_BYTES, have } satisfies PartsRecord);
      await writeFile(`${record}.tmp`, body);
      await rename(`${record}.tmp`, record);
    });
    return running;
  };
  const timer = setInterval(() => void save().catch(() => undefined), SAVE_EVERY_MS);
  timer.unref();
  /** No more saves; resolves when the last one is written. */
  const stop = () => {
    clearInterval(timer);
    return running.catch(() => undefined);
  };
  return { save, stop };
}

/** A part the server answered wrongly, as a PullError (a 4xx that will not change, or a 5xx that may). */
function answerError(job: FileJob, e: RangeAnswerError): PullError {
  if (e.status >= 200 && e.status < 300) return new PullError('upstream', `${job.file.path}: the server stopped answering ranges (${e.message})`);
  return job.client.fileError(e.status, e.headers, job.cache.repo, job.sha, job.file.path);
}

/** Fetches the file in parts into `blobs/`; undefined when the server does not answer ranges (nothing was fetched). */
export async function fetchInParts(job: FileJob): Promise<number | undefined> {
  const { client, cache, file } = job;
  const size = sizeOf(file);
  const etag = etagOf(file);
  const data = cache.partial(etag);
  const record = `${data}.json`;
  const url = client.resolveUrl(cache.repo, job.sha, file.path);
  const at = await retrying(url, job.signal, () => locate(job, url));
  if (!at) {
    await Promise.all([rm(data, { force: true }), rm(record, { force: true })]);
    return undefined;
  }
  const have = await restore(job, data, record);
  const parts = have.length;
  let onDisk = have.reduce((n, b) => n + b, 0);
  let fetched = 0;
  const hash = followFile(file.lfs ? 'sha256' : 'sha1', size, data);
  let front = 0;
  const advance = () => {
    while (front < parts && have[front] === partLength(size, front)) front++;
    hash.advance(front < parts ? front * PART_BYTES + have[front]! : size);
  };
  advance();

  const handle = await open(data, 'r+');
  const saving = recorder(record, size, have);
  const stop = new AbortController();
  const signal = job.signal ? AbortSignal.any([job.signal, stop.signal]) : stop.signal;
  const todo = have.map((n, p) => (n < partLength(size, p) ? p : -1)).filter((p) => p >= 0);
  let next = 0;
  let failure: { error: unknown } | undefined;

  const fetchPart = (p: number) =>
    getRange({
      url: at,
      start: p * PART_BYTES + have[p]!,
      end: p * PART_BYTES + partLength(size, p) - 1,
      headers: client.headersFor(at),
      // Written before it is counted: the record never names a byte that is not on disk. Synchronously, from the
      // reader's own buffer: async writes through libuv's threads were measured to cost more CPU than they save.
      onData: (chunk, offset) => {
        writeSync(handle.fd, chunk, 0, chunk.length, offset);
        have[p]! += chunk.length;
        onDisk += chunk.length;
        fetched += chunk.length;
        job.progress.onBytes(onDisk, chunk.length);
        if (p === front) advance();
      },
      signal,
      idleMs: IDLE_MS,
      dispatcher: client.pool,
    }).catch((e: unknown) => {
      throw e instanceof RangeAnswerError ? answerError(job, e) : e;
    });

  const lane = async () => {
    while (!failure && next < todo.length) {
      const p = todo[next++]!;
      try {
        await retrying(at, signal, () => job.slots.with(() => fetchPart(p)));
        void saving.save().catch(() => undefined);
      } catch (error) {
        failure ??= { error };
        stop.abort();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(LANES, job.slots.size, todo.length)) }, lane));
  } finally {
    await saving.stop();
    await handle.close();
  }
  if (failure) {
    hash.dispose();
    // What arrived is kept for the next run.
    await saving.save().catch(() => undefined);
    throw failure.error;
  }

  const got = await hash.digest(size);
  const length = (await stat(data)).size;
  if (length !== size || got !== etag) {
    await Promise.all([rm(data, { force: true }), rm(record, { force: true })]);
    const what = length !== size ? `got ${length} bytes where the Hub lists ${size}` : `${file.lfs ? 'SHA-256' : 'git SHA-1'} mismatch (expected ${etag}, got ${got})`;
    throw new PullError('integrity', `${file.path}: ${what}; the download was deleted`);
  }
  await rename(data, cache.blob(etag));
  await rm(record, { force: true });
  return fetched;
}
