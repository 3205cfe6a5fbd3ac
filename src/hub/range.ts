/**
 * One `Range: bytes=...` request header against a file of `size` bytes (RFC 9110 14.1.2): `a-b`, `a-` and the
 * suffix `-n`. Two clients probe every file with `bytes=0-0` and downloaders resume with `bytes=<done>-`, so
 * single ranges are what matters; a multi-range or malformed header is ignored (the whole file is sent, as
 * the RFC allows), and a range that starts past the end is unsatisfiable (416).
 */
export type RangeAnswer = { kind: 'whole' } | { kind: 'part'; start: number; end: number } | { kind: 'unsatisfiable' };

const SINGLE = /^bytes=(\d*)-(\d*)$/;

export function parseRange(header: string | undefined, size: number): RangeAnswer {
  const m = header === undefined ? null : SINGLE.exec(header.trim());
  if (!m) return { kind: 'whole' };
  const [, from = '', to = ''] = m;
  if (from === '' && to === '') return { kind: 'whole' };
  if (from === '') {
    // The last n bytes.
    const n = Number(to);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'part', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(from);
  const end = to === '' ? size - 1 : Number(to);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return { kind: 'whole' };
  if (start >= size) return { kind: 'unsatisfiable' };
  if (end < start) return { kind: 'whole' };
  return { kind: 'part', start, end: Math.min(end, size - 1) };
}
