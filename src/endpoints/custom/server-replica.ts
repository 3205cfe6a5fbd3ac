/**
 * One replica of a custom server endpoint: a process of the spec's command, supervised as engine replicas are
 * (replica.ts). It gets a loopback port of its own (in `portVariable`), is ready once its health route answers 2xx,
 * and counts as failed to start when it exits or stays silent past `startTimeout` (its last output lines say why).
 * It runs in a process group of its own, below modelhost's CPU priority, with its memory watched; stopping it lets
 * the requests it holds finish, then sends SIGTERM to the group and SIGKILL after `stopTimeout`. Its output goes to
 * the endpoint's logs with passed-through secrets redacted.
 *
 * Requests do not go through this class: they are forwarded over HTTP to `port` (forward.ts), which brackets each
 * one with `begin()` so drains and least-busy picks see them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { ModelhostError } from '../../core/errors.ts';
import { REPLICA_NICE } from '../replica-launcher.ts';
import type { ReplicaState } from '../replica.ts';
import { redactor, replicaEnvironment } from './environment.ts';
import { substitutePort, type CustomServer } from './spec.ts';

export interface ServerReplicaOptions {
  id: string;
  custom: CustomServer;
  threads: number;
  memoryBytes: number;
  /** Which spec generation this replica runs (rolling updates tell old from new by it). */
  generation: number;
}

export interface ServerReplicaHooks {
  ready(replica: ServerReplica, startMs: number): void;
  loadFailed(replica: ServerReplica, error: ModelhostError): void;
  lost(replica: ServerReplica, why: string): void;
  log(replica: ServerReplica, line: string): void;
  idle(replica: ServerReplica): void;
}

const HEALTH_INTERVAL_MS = 100;
const MEMORY_INTERVAL_MS = 1000;
/** Output lines kept for the message of a failed start. */
const RECENT_LINES = 8;
const MAX_LINE_CHARS = 4000;
const BUSY_REPLICA_NICE = 10;

/** A free loopback port (the kernel picks it; the replica binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resident memory of a process, from /proc (Linux); 0 where it cannot be read. */
function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export class ServerReplica {
  state: ReplicaState = 'starting';
  readonly startedAt = performance.now();
  readyAt = 0;
  rssBytes = 0;
  /** Loopback port it serves on (0 until chosen). */
  port = 0;
  private child: ChildProcess | undefined;
  private active = 0;
  private expectedExit = false;
  private killReason: string | undefined;
  private readonly recent: string[] = [];
  private redact: (text: string) => string = (t) => t;
  private timers: NodeJS.Timeout[] = [];
  private nice = 0;
  private readonly exited: Promise<void>;
  private markExited!: () => void;

  constructor(
    readonly opts: ServerReplicaOptions,
    private readonly hooks: ServerReplicaHooks,
  ) {
    this.exited = new Promise((resolve) => (this.markExited = resolve));
    void this.launch();
  }

  get id(): string {
    return this.opts.id;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get inflight(): number {
    return this.active;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private log(line: string): void {
    const clean = this.redact(line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line);
    this.recent.push(clean);
    if (this.recent.length > RECENT_LINES) this.recent.shift();
    this.hooks.log(this, clean);
  }

  private lastLines(): string {
    return this.recent.length ? `; last output: ${this.recent.slice(-4).join(' | ')}` : '; it printed nothing';
  }

  private async launch(): Promise<void> {
    const c = this.opts.custom;
    try {
      this.port = await freePort();
    } catch (e) {
      return this.failStart(`no free port (${(e as Error).message})`);
    }
    if (this.state !== 'starting') return this.markExited(); // stopped before it began
    const { env, secrets } = replicaEnvironment(c, this.port, this.opts.threads);
    this.redact = redactor(secrets);
    const args = c.args.map((a) => substitutePort(a, c.portVariable, this.port));
    const child = spawn(c.command, args, {
      cwd: c.workingDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // A group of its own: stopping it reaches whatever it started (workers, a shell's children).
      detached: true,
    });
    this.child = child;
    child.once('error', (e) => {
      // Spawn failures (no such command, not executable) emit no 'exit'.
      if (child.pid !== undefined) return this.log(`process error: ${e.message}`);
      this.markExited();
      this.failStart(`cannot start ${c.command}: ${(e as NodeJS.ErrnoException).code ?? e.message}`);
    });
    if (child.pid === undefined) return;
    this.setNice(REPLICA_NICE);
    for (const stream of [child.stdout, child.stderr]) if (stream) createInterface({ input: stream }).on('line', (line) => this.log(line));
    child.once('exit', (code, signal) => this.onExit(code, signal));
    this.hooks.log(this, `started ${c.command} (pid ${child.pid}, port ${this.port}, ${this.opts.threads} thread(s), memory budget ${Math.round(this.opts.memoryBytes / 1024 ** 2)} MB)`);
    this.watchMemory();
    this.pollHealth(performance.now() + c.startTimeout * 1000);
  }

  private pollHealth(deadline: number): void {
    const c = this.opts.custom;
    const attempt = async () => {
      if (this.state !== 'starting') return;
      if (performance.now() > deadline) {
        return this.failStart(`did not answer GET ${c.healthRoute} within ${c.startTimeout} s (body.model.image.custom.startTimeout)${this.lastLines()}`);
      }
      try {
        const res = await request(`${this.url}${c.healthRoute}`, { headersTimeout: 2000, bodyTimeout: 2000 });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300 && this.state === 'starting') return this.becomeReady();
      } catch {
        /* not listening yet */
      }
      this.timers.push(setTimeout(attempt, HEALTH_INTERVAL_MS));
    };
    this.timers.push(setTimeout(attempt, HEALTH_INTERVAL_MS));
  }

  private becomeReady(): void {
    this.state = 'ready';
    this.readyAt = performance.now();
    const ms = this.readyAt - this.startedAt;
    this.hooks.log(this, `ready: ${this.opts.custom.healthRoute} answered after ${ms.toFixed(0)} ms`);
    this.hooks.ready(this, ms);
  }

  private watchMemory(): void {
    const t = setInterval(() => {
      const pid = this.child?.pid;
      if (pid === undefined || this.state === 'stopped') return;
      this.rssBytes = rssBytes(pid);
      if (this.rssBytes > this.opts.memoryBytes && !this.killReason) {
        this.killReason = `used ${Math.round(this.rssBytes / 1024 ** 2)} MB, over its memory budget of ${Math.round(this.opts.memoryBytes / 1024 ** 2)} MB (compute.memoryMb)`;
        this.hooks.log(this, `${this.killReason}: stopping it`);
        this.signal('SIGKILL');
      }
    }, MEMORY_INTERVAL_MS);
    t.unref();
    this.timers.push(t);
  }

  private failStart(why: string): void {
    if (this.state === 'stopped') return;
    this.hooks.log(this, `failed to start: ${why}`);
    const error = new ModelhostError('endpoint_unavailable', 503, this.redact(why));
    void this.stop(0);
    this.hooks.loadFailed(this, error);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    const was = this.state;
    this.state = 'stopped';
    for (const t of this.timers) clearTimeout(t);
    // What the leader started dies with it: no orphan keeps the port or the memory.
    this.signal('SIGKILL');
    this.markExited();
    if (this.expectedExit) return this.hooks.log(this, 'stopped');
    const why = this.killReason ?? (signal ? `killed by ${signal}` : `exited with code ${code}`);
    if (was === 'starting') {
      this.expectedExit = true;
      this.hooks.log(this, `${why} while starting`);
      return this.hooks.loadFailed(this, new ModelhostError('endpoint_unavailable', 503, `${why} before answering ${this.opts.custom.healthRoute}${this.lastLines()}`));
    }
    this.hooks.log(this, `${why} while ${was}`);
    this.hooks.lost(this, why);
  }

  /** Signals the replica's whole process group. */
  private signal(sig: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, sig);
    } catch {
      /* the group is gone */
    }
  }

  /** A request is being forwarded to it; call the returned function when it is answered. */
  begin(): () => void {
    this.active++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.active--;
      this.hooks.idle(this);
    };
  }

  setBusy(busy: boolean): void {
    this.setNice(busy ? BUSY_REPLICA_NICE : REPLICA_NICE);
  }

  private setNice(nice: number): void {
    const pid = this.child?.pid;
    if (this.nice === nice || pid === undefined) return;
    try {
      os.setPriority(pid, nice);
      this.nice = nice;
    } catch {
      /* not permitted here, or gone */
    }
  }

  /** Custom servers are reached over HTTP (forward.ts), never through the engine's run messages. */
  run(): Promise<unknown[]> {
    return Promise.reject(new ModelhostError('endpoint_unavailable', 500, `Replica ${this.id} runs a custom server: its requests are forwarded over HTTP`));
  }

  /** Stops taking work, lets what is in flight finish (up to `graceMs`), then SIGTERM, and SIGKILL after `stopTimeout`. */
  async stop(graceMs: number): Promise<void> {
    if (this.state === 'stopped') return;
    this.expectedExit = true;
    this.state = 'draining';
    const deadline = performance.now() + graceMs;
    while (this.active > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (!this.child || this.child.pid === undefined) {
      // Never spawned (stopped while choosing its port, or the command could not start).
      this.state = 'stopped';
      for (const t of this.timers) clearTimeout(t);
      return;
    }
    this.signal('SIGTERM');
    const killer = setTimeout(() => this.signal('SIGKILL'), this.opts.custom.stopTimeout * 1000);
    await this.exited;
    clearTimeout(killer);
  }

  /** For tests and operators: what a crash looks like. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child?.kill(signal);
  }
}
