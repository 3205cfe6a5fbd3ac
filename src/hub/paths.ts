/**
 * What a caller may name: repository ids, revisions and file paths, checked before anything touches the disk.
 * A path is only ever served after it is found in the repository's own file list (src/hub/snapshot.ts), so
 * these checks are the first of two walls: they turn traversal attempts (`..`, absolute, backslash, NUL,
 * encoded forms that survive the router's one decoding) into a clear 400 rather than a quiet 404.
 */
import { badRequest } from './errors.ts';

/** One part of a repo id, as the Hub allows it (and transformers.js checks before any request). */
const ID_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
/** Longest file path accepted (bytes); the Hub's own limit is of this order. */
export const MAX_PATH_BYTES = 1024;
const MAX_REVISION_BYTES = 256;
/** Control characters, NUL included. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
/** Encoded `.`, `/`, `\` or NUL still present after the router decoded the URL once: a double-encoding trick. */
const ENCODED = /%(2e|2f|5c|00)/i;

/** `org/name`, or a 400 that says what an id looks like. */
export function checkRepoId(org: string, name: string): string {
  for (const part of [org, name]) {
    if (!ID_PART.test(part) || part.includes('..') || part.includes('--') || part.endsWith('.git')) {
      throw badRequest(`Invalid repository id "${printable(`${org}/${name}`)}": expected org/name, each of letters, digits, ".", "_" or "-" (at most 96, no ".." or "--").`);
    }
  }
  return `${org}/${name}`;
}

/** A relative path inside a repository: slash-separated, no empty, `.` or `..` segment, nothing encoded. */
export function checkFilePath(file: string, what = 'path'): string {
  const problem =
    Buffer.byteLength(file) > MAX_PATH_BYTES
      ? `is longer than ${MAX_PATH_BYTES} bytes`
      : CONTROL.test(file)
        ? 'contains a control character'
        : file.includes('\\')
          ? 'contains a backslash'
          : file.startsWith('/') || /^[A-Za-z]:/.test(file)
            ? 'is absolute'
            : ENCODED.test(file)
              ? 'contains an encoded ".", "/", "\\" or NUL'
              : file.split('/').some((s) => s === '' || s === '.' || s === '..')
                ? 'has an empty, "." or ".." segment'
                : undefined;
  if (problem) throw badRequest(`Invalid ${what} "${printable(file)}": it ${problem}. Paths are relative to the repository root, as listed by its tree.`);
  return file;
}

/** A branch name or commit; `refs/pr/1` style names may hold slashes but nothing that climbs out. */
export function checkRevision(revision: string): string {
  if (revision === '' || Buffer.byteLength(revision) > MAX_REVISION_BYTES || CONTROL.test(revision) || revision.includes('\\') || ENCODED.test(revision) || revision.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw badRequest(`Invalid revision "${printable(revision)}": use a branch name such as main, or a 40-character commit id.`);
  }
  return revision;
}

/** A caller's text, shortened and with control characters escaped, fit to quote in an error. */
function printable(text: string): string {
  const short = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return JSON.stringify(short).slice(1, -1);
}
