/**
 * With `--redis`, queued predictions are handed out through BullMQ, so every instance takes work and a job
 * submitted to one may run on another. BullMQ only carries ids: the prediction's state stays in the database,
 * where claims are conditional, so a job delivered twice (a stalled worker, a re-push) runs once. Stalled jobs
 * are not retried by BullMQ (maxStalledCount 0): whether a prediction whose instance died is retried is the
 * database's recovery sweep's decision (workers.ts), which pushes it again.
 */
import { Queue, Worker } from 'bullmq';
import type { Dispatch } from './workers.ts';

export interface BullOptions {
  redisUrl: string;
  /** Queue name; instances sharing one Redis and one database must use the same. */
  name: string;
  concurrency: number;
}

function connection(url: string) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    // BullMQ's workers block on Redis; they must not give up on a slow command.
    maxRetriesPerRequest: null,
  };
}

export class BullDispatch implements Dispatch {
  private readonly queue: Queue;
  private worker: Worker | undefined;

  constructor(private readonly o: BullOptions) {
    this.queue = new Queue(o.name, { connection: connection(o.redisUrl) });
    this.queue.on('error', () => undefined);
  }

  async push(id: string, attempt: number): Promise<void> {
    // One job id per attempt: a second push of the same attempt while the first waits is a no-op.
    await this.queue.add('predict', { id }, { jobId: `${id}-${attempt}`, removeOnComplete: true, removeOnFail: true });
  }

  start(take: (id: string) => Promise<void>): void {
    this.worker = new Worker(this.o.name, async (job) => take((job.data as { id: string }).id), {
      connection: connection(this.o.redisUrl),
      concurrency: this.o.concurrency,
      maxStalledCount: 0,
    });
    this.worker.on('error', () => undefined);
  }

  async close(): Promise<void> {
    await this.worker?.close(true).catch(() => undefined);
    await this.queue.close().catch(() => undefined);
  }
}
