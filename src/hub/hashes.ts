/**
 * Content ids the Hub gives files: the git blob SHA-1 (`sha1("blob <size>\0" + bytes)`, the ETag and tree
 * `oid` of regular files) and, for LFS files, the SHA-256 of the content (ETag, `X-Linked-Etag`, `lfs.oid`)
 * with the git oid of its pointer as the tree `oid`. Hashing a big file takes seconds, so each digest is kept
 * per path and recomputed only when the file's size or mtime changes; a file is read once even when several
 * requests ask at the same time. HF-cache blobs are named by their id, so they are never read for it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { lfsPointer } from './lfs.ts';

export interface FileDigest {
  /** Git blob id of what git stores: the content, or for an LFS file its pointer. */
  oid: string;
  /** LFS files only. */
  lfs?: { sha256: string; size: number; pointerSize: number };
}

/** The git id of an object of this type and content (`blob`, `tree`, `commit`). */
export function gitObjectId(type: string, content: Buffer | string): string {
  const body = typeof content === 'string' ? Buffer.from(content) : content;
  return createHash('sha1').update(`${type} ${body.length}\0`).update(body).digest('hex');
}

/** The digest of an LFS file whose SHA-256 and size are known. */
export function lfsDigest(sha256: string, size: number): FileDigest {
  const pointer = lfsPointer(sha256, size);
  return { oid: gitObjectId('blob', pointer), lfs: { sha256, size, pointerSize: Buffer.byteLength(pointer) } };
}

/** The digest an HF-cache blob's name gives (`blobs/<sha1>` or `blobs/<sha256>`), or undefined for other names. */
export function digestFromBlobName(blobPath: string, size: number): FileDigest | undefined {
  const name = path.basename(blobPath);
  if (/^[0-9a-f]{64}$/.test(name)) return lfsDigest(name, size);
  if (/^[0-9a-f]{40}$/.test(name)) return { oid: name };
  return undefined;
}

interface Stamp {
  size: number;
  mtimeMs: number;
  lfs: boolean;
}

/** Digests of folder files, computed by streaming each file once and kept while the file stays unchanged. */
export class FileHasher {
  private readonly known = new Map<string, { stamp: Stamp; digest: Promise<FileDigest> }>();

  /** The digest of `file` as it is now (`stamp` from a fresh stat); reads the file only when it changed. */
  digest(file: string, stamp: Stamp): Promise<FileDigest> {
    const kept = this.known.get(file);
    if (kept && kept.stamp.size === stamp.size && kept.stamp.mtimeMs === stamp.mtimeMs && kept.stamp.lfs === stamp.lfs) return kept.digest;
    const digest = hashFile(file, stamp.size, stamp.lfs);
    this.known.set(file, { stamp, digest });
    // A failed read is not kept: the next request tries again.
    digest.catch(() => this.known.delete(file));
    return digest;
  }

  /** How many files have a digest kept (for tests and the log). */
  get size(): number {
    return this.known.size;
  }
}

/** Streams the file once: SHA-1 as a git blob, or for an LFS file SHA-256 (its git oid is its pointer's). */
function hashFile(file: string, size: number, lfs: boolean): Promise<FileDigest> {
  return new Promise((resolve, reject) => {
    const hash = lfs ? createHash('sha256') : createHash('sha1').update(`blob ${size}\0`);
    let read = 0;
    createReadStream(file)
      .on('data', (chunk) => {
        read += chunk.length;
        hash.update(chunk);
      })
      .on('error', reject)
      .on('end', () => {
        // The file changed while it was read: its stamp is stale, and so would the digest be.
        if (read !== size) return reject(new Error(`${file} changed while it was hashed`));
        resolve(lfs ? lfsDigest(hash.digest('hex'), size) : { oid: hash.digest('hex') });
      });
  });
}
