/**
 * The JSON the Hub gives for files and folders: tree and paths-info entries, and model-info `siblings`
 * (shared/docs/hub-protocol.md 2.1-2.3). huggingface_hub reads `path`, `size`, `oid` and, for LFS files,
 * `lfs.oid`, `lfs.size` and `lfs.pointerSize` without defaults, so all of them are always present. No
 * `xetHash`: that would send clients to Xet storage instead of this server.
 */
import { badRequest } from './errors.ts';
import type { HubFile, RepoSnapshot } from './snapshot.ts';

export interface TreeEntry {
  type: 'file' | 'directory';
  oid: string;
  size: number;
  path: string;
  lfs?: { oid: string; size: number; pointerSize: number };
  lastCommit?: { id: string; title: string; date: string };
}

/** With `expand`, entries name the commit they were last changed in; here that is the commit being served. */
function lastCommit(snapshot: RepoSnapshot) {
  return { id: snapshot.commit, title: 'modelhost snapshot', date: snapshot.lastModified.toISOString() };
}

function fileEntry(f: HubFile, snapshot: RepoSnapshot, expand: boolean): TreeEntry {
  return {
    type: 'file',
    oid: f.oid,
    size: f.size,
    path: f.path,
    ...(f.lfs ? { lfs: { oid: f.lfs.sha256, size: f.lfs.size, pointerSize: f.lfs.pointerSize } } : {}),
    ...(expand ? { lastCommit: lastCommit(snapshot) } : {}),
  };
}

function dirEntry(folder: string, oid: string, snapshot: RepoSnapshot, expand: boolean): TreeEntry {
  return { type: 'directory', oid, size: 0, path: folder, ...(expand ? { lastCommit: lastCommit(snapshot) } : {}) };
}

/** The entry of one path (file or folder), or undefined when the revision has none. */
export function pathEntry(snapshot: RepoSnapshot, p: string, expand: boolean): TreeEntry | undefined {
  const file = snapshot.byPath.get(p);
  if (file) return fileEntry(file, snapshot, expand);
  const dir = snapshot.dirs.get(p);
  return dir && p !== '' ? dirEntry(p, dir, snapshot, expand) : undefined;
}

/** Entries under `folder` (`''`: the root): its children, or with `recursive` everything below it. Undefined if no such folder. */
export function treeEntries(snapshot: RepoSnapshot, folder: string, recursive: boolean, expand: boolean): TreeEntry[] | undefined {
  if (!snapshot.dirs.has(folder)) return undefined;
  const prefix = folder === '' ? '' : `${folder}/`;
  const below = (p: string) => p.startsWith(prefix) && p !== folder && (recursive || !p.slice(prefix.length).includes('/'));
  const dirs = [...snapshot.dirs].filter(([p]) => p !== '' && below(p)).map(([p, oid]) => dirEntry(p, oid, snapshot, expand));
  const files = snapshot.files.filter((f) => below(f.path)).map((f) => fileEntry(f, snapshot, expand));
  return [...dirs, ...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** `siblings` of model info: names only, or with `blobs=true` sizes, blob ids and LFS details. */
export function siblings(snapshot: RepoSnapshot, blobs: boolean) {
  return snapshot.files.map((f) =>
    blobs
      ? { rfilename: f.path, size: f.size, blobId: f.oid, ...(f.lfs ? { lfs: { sha256: f.lfs.sha256, size: f.lfs.size, pointerSize: f.lfs.pointerSize } } : {}) }
      : { rfilename: f.path },
  );
}

/** Largest tree page, and the default: the Hub's page size for listings without `expand`. */
export const MAX_PAGE = 1000;

/** A page of `entries` from an opaque cursor (the offset, base64url), and the cursor of the next page. */
export function page<T>(entries: T[], cursor: string | undefined, limit: number): { items: T[]; next?: string } {
  let start = 0;
  if (cursor !== undefined) {
    start = Number(Buffer.from(cursor, 'base64url').toString());
    if (!Number.isSafeInteger(start) || start < 0 || start > entries.length) throw badRequest('Invalid cursor: use the next page link given in the Link header.');
  }
  const end = start + limit;
  return { items: entries.slice(start, end), ...(end < entries.length ? { next: Buffer.from(String(end)).toString('base64url') } : {}) };
}
