/**
 * A prediction's `logs`, as Replicate shows them: plain lines of what happened to it (queued and started where,
 * cold starts, progress, the error). Bounded: past `maxChars` the oldest lines give way to one line saying how
 * many were dropped, so a long generation's progress lines cannot grow a row without limit. Lines written by
 * an earlier attempt (a run whose instance died) are kept: the log carries across attempts.
 */

/** Most characters a prediction's logs keep (about 500 lines). */
export const MAX_LOG_CHARS = 32 * 1024;

const DROPPED = /^\[(\d+) earlier lines? dropped\]$/;

export class PredictionLog {
  private lines: string[];
  private chars: number;
  private dropped = 0;

  /** `previous`: the logs stored so far (an earlier attempt's). */
  constructor(
    previous = '',
    private readonly maxChars = MAX_LOG_CHARS,
  ) {
    this.lines = previous ? previous.replace(/\n$/, '').split('\n') : [];
    const marker = DROPPED.exec(this.lines[0] ?? '');
    if (marker) {
      this.dropped = Number(marker[1]);
      this.lines.shift();
    }
    this.chars = this.lines.reduce((n, l) => n + l.length + 1, 0);
    this.trim();
  }

  /** Adds one line (newlines inside become spaces: one event, one line). */
  add(line: string): void {
    const clean = line.replace(/\s*\n\s*/g, ' ').slice(0, this.maxChars / 4);
    this.lines.push(clean);
    this.chars += clean.length + 1;
    this.trim();
  }

  text(): string {
    if (this.lines.length === 0) return '';
    const head = this.dropped ? `[${this.dropped} earlier line${this.dropped === 1 ? '' : 's'} dropped]\n` : '';
    return `${head}${this.lines.join('\n')}\n`;
  }

  private trim(): void {
    while (this.chars > this.maxChars && this.lines.length > 1) {
      this.chars -= this.lines.shift()!.length + 1;
      this.dropped++;
    }
  }
}

/** `1.23 s` / `45 ms`: durations in log lines. */
export function duration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

/** `12.3 kB` / `4.5 MB`: sizes in log lines. */
export function size(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
