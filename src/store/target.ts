/** Turns `--database` / `--data-dir` into the backend to open, rejecting what cannot be right early. */
import path from 'node:path';
import type { StoreOptions } from './types.ts';
import { redactUrl } from './redact.ts';

export type DatabaseTarget = { kind: 'postgres'; url: string } | { kind: 'sqlite'; file: string };

export const DEFAULT_SQLITE_FILE = 'modelhost.db';

export function resolveTarget(opts: StoreOptions): DatabaseTarget {
  const database = opts.database?.trim();
  if (!database) return { kind: 'sqlite', file: path.resolve(opts.dataDir, DEFAULT_SQLITE_FILE) };
  if (/^postgres(ql)?:\/\//i.test(database)) return { kind: 'postgres', url: checkPostgresUrl(database) };
  if (/^sqlite:/i.test(database)) return { kind: 'sqlite', file: sqlitePath(database.slice('sqlite:'.length)) };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(database)?.[1];
  if (scheme) {
    throw new Error(
      `Unsupported database URL scheme "${scheme}:" in ${redactUrl(database)}. ` +
        'Use postgres://user:password@host:5432/database, or a file path (or sqlite:<path>) for SQLite.',
    );
  }
  return { kind: 'sqlite', file: sqlitePath(database) };
}

function checkPostgresUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(
      `Invalid PostgreSQL URL ${redactUrl(url)}: expected postgres://user:password@host:5432/database ` +
        '(percent-encode special characters in the user name and password).',
    );
  }
  if (!parsed.hostname) {
    throw new Error(`Invalid PostgreSQL URL ${redactUrl(url)}: it names no host; expected postgres://user:password@host:5432/database.`);
  }
  return url;
}

function sqlitePath(rest: string): string {
  if (rest === ':memory:') return rest;
  // `sqlite:///abs/path` (URL form) and `sqlite:relative/path` both name a file.
  const file = rest.startsWith('//') ? rest.slice(2) : rest;
  if (!file) throw new Error('The SQLite database path is empty: use sqlite:<path> or a plain file path.');
  return path.resolve(file);
}
