/**
 * Hashing a download as it arrives, off the event loop for large files: SHA-256 runs at about the speed bytes
 * arrive over loopback, so on the main thread it would halve a pull's throughput. A worker thread (plain
 * JavaScript, evaluated inline, so it needs no TypeScript loader) hashes the bytes already on disk when a
 * download resumes, then each megabyte handed to it, zero-copy. Small files are hashed in place.
 *
 * A file fetched in parts arrives out of order, so its hash cannot be fed chunk by chunk: `followFile` starts a
 * worker that reads the file itself (from the page cache, where the bytes were just written), up to the end of
 * its complete prefix, which the downloader moves forward through shared memory as parts fill in. Nothing is
 * copied or posted per chunk, and the hash is nearly done when the last byte lands.
 */
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

export interface Digest {
  update(chunk: Buffer): void;
  /** The hex digest; the hasher cannot be used after. */
  digest(): Promise<string>;
  /** Frees the worker without a digest (a failed download). */
  dispose(): void;
}

/** Below this many bytes a worker's start-up costs more than it saves. */
const WORKER_MIN_BYTES = 8 * 1024 * 1024;
const BATCH_BYTES = 1024 * 1024;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const hash = createHash(workerData.algorithm);
if (workerData.prefix) hash.update(workerData.prefix);
if (workerData.length > 0) {
  const fd = fs.openSync(workerData.file, 'r');
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  for (let at = 0; at < workerData.length; ) {
    const n = fs.readSync(fd, buf, 0, Math.min(buf.length, workerData.length - at), at);
    if (n <= 0) break;
    hash.update(buf.subarray(0, n));
    at += n;
  }
  fs.closeSync(fd);
}
parentPort.on('message', (m) => {
  if (m === 'digest') parentPort.postMessage(hash.digest('hex'));
  else hash.update(m);
});
`;

class InPlace implements Digest {
  constructor(private readonly hash: Hash) {}
  update(chunk: Buffer): void {
    this.hash.update(chunk);
  }
  async digest(): Promise<string> {
    return this.hash.digest('hex');
  }
  dispose(): void {}
}

class InWorker implements Digest {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly failed: Promise<never>;

  constructor(private readonly worker: Worker) {
    this.failed = new Promise((_, reject) => worker.once('error', reject));
    this.failed.catch(() => undefined);
  }

  update(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= BATCH_BYTES) this.flush();
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    // A copy of its own, whose memory moves to the worker (the chunks themselves go on to the file).
    const batch = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    const owned = batch.byteOffset === 0 && batch.byteLength === batch.buffer.byteLength;
    this.worker.postMessage(batch, owned ? [batch.buffer as ArrayBuffer] : []);
  }

  async digest(): Promise<string> {
    this.flush();
    const answer = new Promise<string>((resolve) => this.worker.once('message', resolve));
    this.worker.postMessage('digest');
    try {
      return await Promise.race([answer, this.failed]);
    } finally {
      void this.worker.terminate();
    }
  }

  dispose(): void {
    void this.worker.terminate();
  }
}

/**
 * A hasher for a file of `size` bytes whose first `onDisk` bytes are already in `partial`: SHA-256, or git's
 * SHA-1 (`blob <size>\0` + content) for files outside LFS.
 */
export async function digestFor(algorithm: 'sha256' | 'sha1', size: number, partial: string, onDisk: number): Promise<Digest> {
  const prefix = algorithm === 'sha1' ? `blob ${size}\0` : '';
  if (size >= WORKER_MIN_BYTES) {
    return new InWorker(new Worker(WORKER_SOURCE, { eval: true, workerData: { algorithm, prefix, file: partial, length: onDisk } }));
  }
  const hash = createHash(algorithm).update(prefix);
  if (onDisk > 0) {
    const { createReadStream } = await import('node:fs');
    for await (const chunk of createReadStream(partial, { end: onDisk - 1 })) hash.update(chunk as Buffer);
  }
  return new InPlace(hash);
}

const FOLLOW_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
// [0]: bytes of the file that are complete from its start; [1]: the file's size once every byte is there;
// [2]: bumped on every change, what the worker sleeps on (read first, so no change is missed).
const shared = new BigInt64Array(workerData.shared);
const hash = createHash(workerData.algorithm);
if (workerData.prefix) hash.update(workerData.prefix);
const fd = fs.openSync(workerData.file, 'r');
const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
let at = 0;
for (;;) {
  const change = Atomics.load(shared, 2);
  const complete = Number(Atomics.load(shared, 0));
  if (at < complete) {
    const n = fs.readSync(fd, buf, 0, Math.min(buf.length, complete - at), at);
    if (n <= 0) throw new Error('the file is shorter than its complete prefix');
    hash.update(buf.subarray(0, n));
    at += n;
    continue;
  }
  const final = Number(Atomics.load(shared, 1));
  if (final >= 0 && at >= final) break;
  Atomics.wait(shared, 2, change, 1000);
}
fs.closeSync(fd);
parentPort.postMessage(hash.digest('hex'));
`;

/** The hash of a file written out of order, read in order by a worker as its complete prefix grows. */
export interface FollowingDigest {
  /** The first `bytes` bytes of the file are written (never moves back). */
  advance(bytes: number): void;
  /** The hex digest once the whole file (`size` bytes) is written. */
  digest(size: number): Promise<string>;
  dispose(): void;
}

export function followFile(algorithm: 'sha256' | 'sha1', size: number, file: string): FollowingDigest {
  const shared = new BigInt64Array(new SharedArrayBuffer(24));
  shared[1] = -1n;
  const prefix = algorithm === 'sha1' ? `blob ${size}\0` : '';
  const worker = new Worker(FOLLOW_SOURCE, { eval: true, workerData: { algorithm, prefix, file, shared: shared.buffer } });
  const result = new Promise<string>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the hashing worker stopped (exit code ${code})`)));
  });
  result.catch(() => undefined);
  const wake = () => {
    Atomics.add(shared, 2, 1n);
    Atomics.notify(shared, 2);
  };
  let complete = 0;
  const advance = (bytes: number) => {
    if (bytes <= complete) return;
    complete = bytes;
    Atomics.store(shared, 0, BigInt(bytes));
    wake();
  };
  return {
    advance,
    async digest(total: number): Promise<string> {
      Atomics.store(shared, 1, BigInt(total));
      Atomics.store(shared, 0, BigInt(Math.max(complete, total)));
      wake();
      try {
        return await result;
      } finally {
        void worker.terminate();
      }
    },
    dispose: () => void worker.terminate(),
  };
}
