/**
 * Messages between the cluster primary and its workers over Node's IPC channel (`process.send`). A worker asks
 * (`req` → `res`), tells (`note`, no answer), and hears what the primary tells every worker (`cast`). Messages on
 * one channel arrive in the order they were sent, so a note sent before a request is handled before it.
 */
export interface Request {
  mh: 'req';
  id: number;
  op: string;
  args: unknown;
}
export interface Note {
  mh: 'note';
  op: string;
  args: unknown;
}
export interface Reply {
  mh: 'res';
  id: number;
  value?: unknown;
  error?: string;
}
export interface Cast {
  mh: 'cast';
  op: string;
  args: unknown;
}
export type ToPrimary = Request | Note;
export type ToWorker = Reply | Cast;

export function isMessage<T extends { mh: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { mh?: unknown }).mh === 'string';
}

interface Port {
  send?(message: unknown): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  connected?: boolean;
}

/** A worker's end of the channel. */
export class WorkerChannel {
  private next = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  private readonly listeners = new Map<string, ((args: unknown) => void)[]>();

  constructor(
    private readonly port: Port = process,
    /** An answer later than this is an error (the primary is gone or stuck). */
    private readonly timeoutMs = 10_000,
  ) {
    port.on('message', (m) => {
      if (!isMessage<ToWorker>(m)) return;
      if (m.mh === 'res') {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.error !== undefined) p.reject(new Error(m.error));
        else p.resolve(m.value);
      } else if (m.mh === 'cast') {
        for (const fn of this.listeners.get(m.op) ?? []) fn(m.args);
      }
    });
  }

  request<T>(op: string, args: unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.next++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the cluster primary did not answer ${op} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.post({ mh: 'req', id, op, args } satisfies Request, (e) => {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  note(op: string, args: unknown): void {
    this.post({ mh: 'note', op, args } satisfies Note, () => undefined);
  }

  on(op: string, fn: (args: unknown) => void): void {
    const list = this.listeners.get(op) ?? [];
    list.push(fn);
    this.listeners.set(op, list);
  }

  private post(message: ToPrimary, failed: (e: Error) => void) {
    if (!this.port.send || this.port.connected === false) return failed(new Error('no channel to the cluster primary'));
    try {
      this.port.send(message);
    } catch (e) {
      failed(e as Error);
    }
  }
}
