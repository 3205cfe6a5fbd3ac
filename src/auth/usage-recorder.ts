/**
 * Records every call without slowing it: records wait in memory and are written in one transaction every
 * `flushMs` (or sooner when `batchSize` are waiting). A record counts once its batch is committed; a batch
 * that fails is kept and retried, and only beyond `maxBuffered` are the oldest dropped (with a log line).
 */
import type { UsageRecord, UsageStore } from '../store/types.ts';

export interface RecorderOptions {
  flushMs?: number;
  batchSize?: number;
  maxBuffered?: number;
  log?: (level: 'warn' | 'error', message: string) => void;
}

export class UsageRecorder {
  private buffer: UsageRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** Records committed since start (for tests and metrics). */
  committed = 0;
  dropped = 0;

  constructor(
    private readonly store: UsageStore,
    private readonly opts: RecorderOptions = {},
  ) {}

  record(r: UsageRecord): void {
    this.buffer.push(r);
    const max = this.opts.maxBuffered ?? 100_000;
    if (this.buffer.length > max) {
      const excess = this.buffer.length - max;
      this.buffer.splice(0, excess);
      this.dropped += excess;
      this.opts.log?.('error', `usage: the database is not taking records; dropped the ${excess} oldest`);
    }
    if (this.buffer.length >= (this.opts.batchSize ?? 500)) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.opts.flushMs ?? 200);
      this.timer.unref();
    }
  }

  /** Writes what is waiting; resolves when it is committed (or has failed and been put back). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.flushing) await this.flushing;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.store.insertMany(batch).then(
      () => {
        this.committed += batch.length;
      },
      (e: unknown) => {
        this.buffer = batch.concat(this.buffer);
        this.opts.log?.('warn', `usage: could not write ${batch.length} records (${(e as Error).message}); retrying`);
        if (!this.timer) {
          this.timer = setTimeout(() => void this.flush(), 1000);
          this.timer.unref();
        }
      },
    );
    await this.flushing;
    this.flushing = undefined;
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.timer) clearTimeout(this.timer);
  }
}
