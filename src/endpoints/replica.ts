/**
 * modelhost's side of one replica process: starts it, sends it runs, and tells its owner when it is ready,
 * could not load, or went away. Requests in flight on a replica that dies are rejected with `ReplicaLostError`,
 * which says whether the request may safely run again elsewhere (nothing of its answer was sent yet).
 */
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { ModelhostError, reviveError, type SerializedError } from '../core/errors.ts';
import type { ModelInfo } from '../core/model.ts';
import type { TaskId } from '../core/tasks/index.ts';
import type { CancelSignal, SchedulerStats } from '../engine/generation/index.ts';
import { REPLICA_NICE, type ReplicaLauncher } from './replica-launcher.ts';
import type { FromReplica, ToReplica } from './replica-protocol.ts';

export type ReplicaState = 'starting' | 'ready' | 'draining' | 'stopped';

export class ReplicaLostError extends ModelhostError {
  constructor(
    message: string,
    /** Nothing of the answer reached the caller: running it again on another replica is safe. */
    readonly retryable: boolean,
  ) {
    super('replica_lost', 503, message);
  }
}

export interface ReplicaHooks {
  ready(replica: Replica, loadMs: number): void;
  loadFailed(replica: Replica, error: ModelhostError): void;
  /** The process ended without being asked to (crash, SIGKILL, memory budget). */
  lost(replica: Replica, why: string): void;
  /** Every replica's output and lifecycle lines, for the endpoint's logs. */
  log(replica: Replica, line: string): void;
  /** A run finished on this replica (its in-flight count went down). */
  idle(replica: Replica): void;
}

export interface ReplicaOptions {
  id: string;
  model: ModelInfo;
  threads: number;
  memoryBytes: number;
  maxBatchSize: number;
  /** Which spec generation this replica runs (rolling updates tell old from new by it). */
  generation: number;
  /** Where its process comes from (a spare started ahead, or a new one). */
  launcher: Pick<ReplicaLauncher, 'launch'>;
}

interface Pending {
  resolve: (outputs: unknown[]) => void;
  reject: (e: Error) => void;
  onEvent?: (event: unknown) => void;
  sentEvents: boolean;
}

const BUSY_REPLICA_NICE = 10;

export class Replica {
  state: ReplicaState = 'starting';
  readonly startedAt = performance.now();
  readyAt = 0;
  rssBytes = 0;
  /** The model's generation scheduler as last reported (a text-generation model that has generated). */
  generation: SchedulerStats | undefined;
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private expectedExit = false;
  /** Why modelhost killed it, when it did (over its memory budget). */
  private killReason: string | undefined;
  private exited: Promise<void>;

  constructor(
    readonly opts: ReplicaOptions,
    private readonly hooks: ReplicaHooks,
  ) {
    // The replica's name in its arguments (or, for a spare, its title): `ps` shows which endpoint a process serves.
    this.child = opts.launcher.launch(opts.model, opts.id);
    // Replicas compute below modelhost's own priority: the process that routes every endpoint's requests must not
    // queue behind one endpoint's saturated model (measured: tests/endpoints/isolation.test.ts).
    this.setNice(REPLICA_NICE);
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => this.hooks.log(this, line));
    }
    this.child.on('message', (msg: FromReplica) => this.onMessage(msg));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      this.onExit(code, signal);
      resolve();
    }));
    // An error event (spawn failure, IPC send on a closed channel) is followed by 'exit' when the process ran.
    this.child.on('error', (e) => this.hooks.log(this, `process error: ${e.message}`));
    this.post({ type: 'load', id: opts.id, model: opts.model, maxBatchSize: opts.maxBatchSize, threads: opts.threads });
    this.hooks.log(this, `started (pid ${this.child.pid}, ${opts.threads} thread(s), memory budget ${Math.round(opts.memoryBytes / 1024 ** 2)} MB)`);
  }

  private nice = 0;

  /**
   * A replica with a queue is throughput-bound: it yields the CPU to replicas that answer single requests (their
   * latency is what a queue would hurt), and still gets every cycle nobody else wants.
   */
  setBusy(busy: boolean): void {
    this.setNice(busy ? BUSY_REPLICA_NICE : REPLICA_NICE);
  }

  private setNice(nice: number): void {
    if (this.nice === nice || this.child.pid === undefined) return;
    try {
      os.setPriority(this.child.pid, nice);
      this.nice = nice;
    } catch {
      /* not permitted here, or the process is gone: it runs at its current priority */
    }
  }

  get id(): string {
    return this.opts.id;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get inflight(): number {
    return this.pending.size;
  }

  private post(msg: ToReplica): void {
    if (this.child.connected) this.child.send(msg);
  }

  private onMessage(msg: FromReplica): void {
    switch (msg.type) {
      case 'ready':
        if (this.state !== 'starting') return;
        this.state = 'ready';
        this.readyAt = performance.now();
        this.hooks.log(this, `ready: model loaded in ${msg.ms.toFixed(0)} ms`);
        return this.hooks.ready(this, msg.ms);
      case 'load-failed':
        this.hooks.log(this, `could not load the model: ${msg.error.message}`);
        void this.stop(0);
        return this.hooks.loadFailed(this, revive(msg.error, `Model ${this.opts.model.id} could not be loaded; see the endpoint's logs`));
      case 'spare-ready':
        return;
      case 'generation':
        this.generation = msg.stats;
        return;
      case 'stats':
        this.rssBytes = msg.rssBytes;
        if (msg.rssBytes > this.opts.memoryBytes) {
          this.killReason = `used ${Math.round(msg.rssBytes / 1024 ** 2)} MB, over its memory budget of ${Math.round(this.opts.memoryBytes / 1024 ** 2)} MB (compute.memoryMb)`;
          this.hooks.log(this, `${this.killReason}: stopping it`);
          this.child.kill('SIGKILL');
        }
        return;
      case 'event': {
        const p = this.pending.get(msg.id);
        if (!p) return;
        p.sentEvents = true;
        return p.onEvent?.(msg.event);
      }
      case 'result':
      case 'failed': {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.type === 'result') p.resolve(msg.outputs);
        else p.reject(revive(msg.error, 'The model failed on this input'));
        return this.hooks.idle(this);
      }
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    const was = this.state;
    this.state = 'stopped';
    const why = this.killReason ?? (signal ? `killed by ${signal}` : `exited with code ${code}`);
    for (const p of this.pending.values()) {
      p.reject(new ReplicaLostError(`The replica serving this request stopped (${why})`, !p.sentEvents));
    }
    this.pending.clear();
    if (this.expectedExit) return this.hooks.log(this, 'stopped');
    this.hooks.log(this, `${why} while ${was}`);
    this.hooks.lost(this, why);
  }

  /** When `signal` aborts (the caller has gone), the replica is told: a generation stops at its next step. */
  run(task: TaskId, inputs: unknown[], params: Record<string, unknown>, onEvent?: (event: unknown) => void, signal?: CancelSignal): Promise<unknown[]> {
    const id = this.nextId++;
    const cancel = () => {
      if (this.pending.has(id)) this.post({ type: 'cancel', id });
    };
    signal?.addEventListener('abort', cancel);
    return new Promise<unknown[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onEvent, sentEvents: false });
      this.post({ type: 'run', id, task, inputs, params, stream: !!onEvent });
      if (signal?.aborted) cancel();
    }).finally(() => signal?.removeEventListener('abort', cancel));
  }

  /** Stops taking work, lets what is in flight finish (up to `graceMs`), then ends the process. */
  async stop(graceMs: number): Promise<void> {
    if (this.state === 'stopped') return;
    this.expectedExit = true;
    this.state = 'draining';
    const deadline = performance.now() + graceMs;
    while (this.pending.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.child.kill('SIGTERM');
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await this.exited;
    clearTimeout(killer);
  }

  /** For tests and operators: what a crash looks like. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
  }
}

function revive(error: SerializedError, internalMessage: string): ModelhostError {
  return error.extra?.internal ? new ModelhostError('inference_failed', 500, internalMessage) : reviveError(error);
}
