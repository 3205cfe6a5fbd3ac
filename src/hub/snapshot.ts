/**
 * A repository at one commit, as the Hub file API describes it: every file with its size and ids, every folder
 * with its git tree id, and the commit id. For an HF-cache snapshot the commit is the snapshot's name and file
 * ids are the blob names; for a folder the ids are hashed (src/hub/hashes.ts) and the commit is derived from
 * the root tree, so it is stable while the files are unchanged and changes when any file does.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { digestFromBlobName, gitObjectId, type FileDigest, type FileHasher } from './hashes.ts';
import { isLfsFile } from './lfs.ts';

export interface HubFile extends FileDigest {
  /** Path inside the repository, `/`-separated. */
  path: string;
  /** Where the bytes are on disk. */
  abs: string;
  size: number;
  mtimeMs: number;
}

export interface RepoSnapshot {
  commit: string;
  /** Sorted by path. */
  files: HubFile[];
  byPath: Map<string, HubFile>;
  /** Folder path (`''` for the root) → git tree id. */
  dirs: Map<string, string>;
  lastModified: Date;
}

/**
 * Reads the files of `dir` (paths relative to it). `commit` is given for HF-cache snapshots, whose blob names
 * are their ids; without it the commit is computed. Files that vanished since the list was made are left out.
 */
export async function readSnapshot(dir: string, files: string[], hasher: FileHasher, commit?: string): Promise<RepoSnapshot> {
  const described = await Promise.all(
    files.map(async (rel): Promise<HubFile | undefined> => {
      const abs = path.join(dir, ...rel.split('/'));
      const st = await stat(abs).catch(() => undefined);
      if (!st?.isFile()) return undefined;
      const fromName = commit ? digestFromBlobName(await realpath(abs), st.size) : undefined;
      const digest = fromName ?? (await hasher.digest(abs, { size: st.size, mtimeMs: st.mtimeMs, lfs: isLfsFile(rel, st.size) }));
      return { path: rel, abs, size: st.size, mtimeMs: st.mtimeMs, ...digest };
    }),
  );
  const present = described.filter((f): f is HubFile => f !== undefined).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const dirs = treeIds(present);
  const root = dirs.get('') ?? gitObjectId('tree', '');
  return {
    // A commit object holding only the tree: deterministic, and a 40-hex id the clients accept as a commit.
    commit: commit ?? gitObjectId('commit', `tree ${root}\n`),
    files: present,
    byPath: new Map(present.map((f) => [f.path, f])),
    dirs,
    lastModified: new Date(Math.max(0, ...present.map((f) => f.mtimeMs))),
  };
}

interface TreeEntry {
  name: string;
  mode: '100644' | '40000';
  oid: string;
}

/** Git tree ids of every folder, computed bottom-up as git does (entries sorted with folders as `name/`). */
function treeIds(files: HubFile[]): Map<string, string> {
  const entries = new Map<string, TreeEntry[]>([['', []]]);
  for (const f of files) {
    const parts = f.path.split('/');
    for (let i = 0; i < parts.length - 1; i++) {
      const folder = parts.slice(0, i + 1).join('/');
      if (!entries.has(folder)) entries.set(folder, []);
    }
    entries.get(parts.slice(0, -1).join('/'))?.push({ name: parts[parts.length - 1] ?? '', mode: '100644', oid: f.oid });
  }
  const ids = new Map<string, string>();
  const deepestFirst = [...entries.keys()].sort((a, b) => depth(b) - depth(a));
  for (const folder of deepestFirst) {
    const own = entries.get(folder) ?? [];
    const key = (e: TreeEntry) => (e.mode === '40000' ? `${e.name}/` : e.name);
    own.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    const body = Buffer.concat(own.flatMap((e) => [Buffer.from(`${e.mode} ${e.name}\0`), Buffer.from(e.oid, 'hex')]));
    const id = gitObjectId('tree', body);
    ids.set(folder, id);
    if (folder !== '') {
      const parent = folder.includes('/') ? folder.slice(0, folder.lastIndexOf('/')) : '';
      entries.get(parent)?.push({ name: folder.slice(folder.lastIndexOf('/') + 1), mode: '40000', oid: id });
    }
  }
  return ids;
}

function depth(folder: string): number {
  return folder === '' ? 0 : folder.split('/').length;
}

/** Every file under `dir` (symlinks to files included, as in HF-cache snapshots; dotfiles such as .gitattributes too). */
export async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(path.join(dir, entry.name), rel)));
    else out.push(rel);
  }
  return out;
}
