/**
 * Hashing a download as it arrives, off the event loop for large files: SHA-256 runs at about the speed bytes
 * arrive over loopback, so on the main thread it would halve a pull's throughput. A worker thread (plain
 * JavaScript, evaluated inline, so it needs no TypeScript loader) hashes the bytes already on disk when a
 * download resumes, then each megabyte handed to it, zero-copy. Small files are hashed in place.
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
