/**
 * Starts replica processes, and keeps one spare started ahead of need: a process that has already paid for Node's
 * start and for importing onnxruntime and transformers.js (together ~250 ms of CPU, more than half of waking a tiny
 * model's endpoint), waiting for a model. A wake from zero or a scale-up hands it its model, so what is left on
 * that path is loading the model and running the request (`npm run bench:endpoints`, README: Waking from zero).
 *
 * The spare exists only once a transformers.js replica has been started (a server without dedicated endpoints
 * never has one), costs ~90 MB of memory while it waits, runs at the replicas' lower CPU priority, and is replaced
 * a moment after it is taken, not during the wake it serves. `--no-endpoint-spare-replica` turns it off.
 */
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { ModelInfo } from '../core/model.ts';
import type { FromReplica } from './replica-protocol.ts';

/** Replicas compute below modelhost's own priority (replica.ts says why). */
export const REPLICA_NICE = 5;
/** The runtime spares have imported: the one nearly every model uses. */
const SPARE_RUNTIME = 'transformers';
/** A taken spare is replaced this long after, so the replacement does not compete with the wake it served. */
const REFILL_DELAY_MS = 1000;
/**
 * What `ps` shows for a spare while it starts; then it calls itself `--replica=(spare, ready)`, and once taken
 * `--replica=<id>` (replica-process.ts). Long, so the process title has room for any replica id.
 */
export const SPARE_ARG = '--replica=(spare, starting: not serving any endpoint yet)';

/**
 * Compiled (dist/, how modelhost runs), the replica is plain JavaScript. Run from the sources (vitest,
 * MODELHOST_FROM_SOURCE=1), it starts from an entry that registers tsx first.
 */
const entry = new URL(import.meta.url.endsWith('.ts') ? './replica-entry.mjs' : './replica-process.js', import.meta.url);

function forkReplica(args: string[]): ChildProcess {
  const child = fork(entry, args, {
    // Not the parent's flags (test runners, inspectors): from the sources, the entry registers tsx itself.
    execArgv: [],
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // libuv's pool only reads model files here (onnxruntime runs on the process's main thread): one thread is plenty,
    // whatever compute.threads is, so a spare fits any endpoint. onnxruntime's threads come with the load message.
    env: { ...process.env, UV_THREADPOOL_SIZE: '1' },
  });
  try {
    if (child.pid !== undefined) os.setPriority(child.pid, REPLICA_NICE);
  } catch {
    /* not permitted here: it runs at modelhost's priority */
  }
  return child;
}

export interface LauncherOptions {
  /** Keep a spare process ready (default true). */
  spare: boolean;
  log?: (message: string) => void;
}

export class ReplicaLauncher {
  private spare: ChildProcess | undefined;
  /** The spare has imported its runtime (until then its event loop is busy, and a wake would wait on it). */
  private spareReady = false;
  private refill: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: LauncherOptions) {}

  /** A process for replica `id` of `model`: the spare when it is ready and fits the model, else a new one. */
  launch(model: ModelInfo, id: string): ChildProcess {
    if (!this.opts.spare || this.closed || model.runtime !== SPARE_RUNTIME) return forkReplica([`--replica=${id}`]);
    const spare = this.spare;
    if (spare && this.spareReady && spare.exitCode === null && spare.signalCode === null && spare.connected) {
      this.spare = undefined;
      this.scheduleRefill(REFILL_DELAY_MS);
      return spare;
    }
    // A spare still starting stays for the next launch; none at all is started a moment after this one.
    if (!spare) this.scheduleRefill(REFILL_DELAY_MS);
    return forkReplica([`--replica=${id}`]);
  }

  /** The spare waiting now (tests, metrics), if any. */
  get sparePid(): number | undefined {
    return this.spare?.pid;
  }

  private scheduleRefill(delayMs: number): void {
    clearTimeout(this.refill);
    this.refill = setTimeout(() => this.startSpare(), delayMs);
    this.refill.unref();
  }

  private startSpare(): void {
    if (this.closed || this.spare) return;
    const child = forkReplica([SPARE_ARG, `--preload=${SPARE_RUNTIME}`]);
    this.spareReady = false;
    child.on('message', (msg: FromReplica) => {
      if (msg.type === 'spare-ready' && this.spare === child) this.spareReady = true;
    });
    child.on('error', (e) => this.opts.log?.(`spare replica process: ${e.message}`));
    child.once('exit', (code, signal) => {
      if (this.spare !== child) return; // taken: its replica watches it now
      this.spare = undefined;
      // Not started again here: a spare that cannot live would otherwise be forked in a loop. The next launch
      // forks a fresh process and schedules a new spare.
      if (!this.closed) this.opts.log?.(`spare replica process ended (${signal ?? `code ${code}`}); the next replica starts cold`);
    });
    this.spare = child;
  }

  /** Stops the spare (modelhost is shutting down, or no endpoint is left) until the next launch. */
  async release(): Promise<void> {
    clearTimeout(this.refill);
    const spare = this.spare;
    this.spare = undefined;
    if (!spare || spare.exitCode !== null || spare.signalCode !== null) return;
    const exited = new Promise((resolve) => spare.once('exit', resolve));
    spare.kill('SIGTERM');
    const killer = setTimeout(() => spare.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(killer);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.release();
  }
}
