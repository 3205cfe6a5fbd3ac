/**
 * One dedicated endpoint while modelhost runs: its replica processes, the requests waiting for them, its
 * lifecycle state and its autoscaling. It answers the HTTP layer as an engine (`EngineApi`) for its one model,
 * so the serverless routes' payloads, streaming and errors serve endpoints unchanged.
 */
import { ModelhostError, OverloadedError } from '../core/errors.ts';
import type { ModelInfo } from '../core/model.ts';
import type { TaskId } from '../core/tasks/index.ts';
import type { EngineApi, ModelState } from '../engine/engine.ts';
import type { CancelSignal } from '../engine/generation/index.ts';
import { Replica, ReplicaLostError, type ReplicaOptions } from './replica.ts';
import { ServerReplica } from './custom/server-replica.ts';
import { customOf, isCustom } from './custom/spec.ts';
import type { EndpointSpec } from './spec.ts';
import { EndpointStats } from './stats.ts';

export const ENDPOINT_STATES = ['pending', 'initializing', 'updating', 'updateFailed', 'running', 'paused', 'failed', 'scaledToZero'] as const;
export type EndpointState = (typeof ENDPOINT_STATES)[number];

const CRASH_LOOP_WINDOW_MS = 60_000;
const MAX_CRASH_BACKOFF_MS = 30_000;

export interface ScalingOptions {
  /** How often load is sampled and scaling decided. */
  tickMs: number;
  /** Load is averaged over this window before scaling up (HF: 20 s). */
  scaleUpWindowMs: number;
  /** A replica beyond the minimum is removed after this long without the load that needed it. */
  scaleDownAfterMs: number;
  /** Longest a request is held for a replica (waking, replacing a crashed one) before a 503. */
  maxHoldMs: number;
  /** In-flight work a stopping replica may finish. */
  drainMs: number;
  /** Replica starts that fail in a row before the endpoint is marked failed. */
  maxStartFailures: number;
  maxBatchSize: number;
}

export const defaultScaling: ScalingOptions = {
  tickMs: 250,
  scaleUpWindowMs: 10_000,
  scaleDownAfterMs: 60_000,
  maxHoldMs: 120_000,
  drainMs: 30_000,
  maxStartFailures: 3,
  maxBatchSize: 32,
};

export interface DeploymentHooks {
  /** The state, message or replica counts changed: store them. */
  changed(d: Deployment): void;
  model(spec: EndpointSpec): ModelInfo | undefined;
  /** The spec's model is served by the router (a hosted provider), not by replica processes. */
  routed(spec: EndpointSpec): boolean;
  log(name: string, line: string): void;
  /** A replica became ready where none was: the time since the endpoint started, resumed or woke. */
  coldStart(name: string, seconds: number): void;
  /** Starts replica processes (the manager's, which keeps a spare ready). */
  launcher: ReplicaOptions['launcher'];
}

/** An engine replica (a model in a replica process) or a custom server's process (custom/server-replica.ts). */
export type AnyReplica = Replica | ServerReplica;

interface Held {
  task: TaskId;
  items: unknown[];
  params: Record<string, unknown>;
  onEvent?: (event: unknown) => void;
  /** Aborts when the caller has gone: passed to the replica, whose generation then stops at its next step. */
  signal?: CancelSignal;
  resolve: (outputs: unknown[]) => void;
  reject: (e: Error) => void;
  retried: boolean;
  timer: NodeJS.Timeout;
}

export class Deployment implements EngineApi {
  /** The endpoint's lifecycle state (`state()` is the engine view of its model). */
  lifecycle: EndpointState;
  message: string;
  /** The spec replicas run; differs from `spec` only while updating or after an update failed. */
  activeSpec: EndpointSpec;
  replicas: AnyReplica[] = [];
  readonly stats = new EndpointStats();
  readonly counters = { batches: 0, items: 0, loads: 0, unloads: 0, cancelled: 0 };
  private held: Held[] = [];
  private outstanding = 0;
  private generation = 0;
  private replicaSeq = 0;
  private startFailures = 0;
  private lastRequestAt = Date.now();
  private lastNeededAt = Date.now();
  private samples: { at: number; load: number }[] = [];
  private tick: NodeJS.Timeout;
  private wakeStartedAt: number | undefined;
  private readyWaiters = new Set<() => void>();
  private rolling = false;
  private crashTimes: number[] = [];
  private backoff: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    public spec: EndpointSpec,
    readonly namespace: string,
    state: EndpointState,
    message: string,
    private readonly hooks: DeploymentHooks,
    private readonly opts: ScalingOptions,
    activeSpec?: EndpointSpec,
  ) {
    this.lifecycle = state;
    this.message = message;
    this.activeSpec = activeSpec ?? spec;
    this.tick = setInterval(() => this.autoscale(), opts.tickMs);
    this.tick.unref();
  }

  get name(): string {
    return this.spec.name;
  }

  /** Served through the router by a hosted provider: no replica processes, one virtual replica while running. */
  get routed(): boolean {
    return this.hooks.routed(this.activeSpec);
  }

  get readyReplica(): number {
    if (this.routed) return this.lifecycle === 'running' || this.lifecycle === 'updateFailed' ? 1 : 0;
    return this.replicas.filter((r) => r.state === 'ready').length;
  }

  /** Replicas this endpoint means to have now. */
  get targetReplica(): number {
    if (this.lifecycle === 'paused' || this.lifecycle === 'scaledToZero' || this.lifecycle === 'failed') return 0;
    if (this.routed) return 1;
    return Math.max(this.live().length, this.floor());
  }

  private floor(): number {
    return Math.max(1, this.activeSpec.compute.scaling.minReplica);
  }

  /** Replicas that serve or will: not draining, not stopped. */
  private live(): AnyReplica[] {
    return this.replicas.filter((r) => r.state === 'starting' || r.state === 'ready');
  }

  private log(line: string): void {
    this.hooks.log(this.name, line);
  }

  private set(state: EndpointState, message: string): void {
    if (this.lifecycle === state && this.message === message) return;
    if (state !== this.lifecycle) this.log(`state ${this.lifecycle} → ${state}: ${message}`);
    this.lifecycle = state;
    this.message = message;
    this.hooks.changed(this);
  }

  // ---------- lifecycle ----------

  /** Starts (or restarts) serving: the minimum number of replicas, at least one. */
  start(message = 'Endpoint is initializing'): void {
    if (this.routed) {
      const provider = this.activeSpec.model.provider;
      return this.set('running', `Endpoint is running (served by ${provider ? `provider ${provider}` : 'the router'})`);
    }
    this.startFailures = 0;
    this.wakeStartedAt = performance.now();
    this.set('initializing', message);
    while (this.live().length < this.floor()) if (!this.spawn(this.activeSpec)) return;
  }

  /** Starts the minimum of replicas without a state change (an endpoint restored as updateFailed still serves). */
  restartReplicas(): void {
    if (this.routed) return;
    this.wakeStartedAt = performance.now();
    while (this.live().length < this.floor()) if (!this.spawn(this.activeSpec)) return;
  }

  private spawn(spec: EndpointSpec): AnyReplica | undefined {
    if (this.closed) return undefined; // deleted or shutting down: a late event must not start a process
    if (isCustom(spec)) return this.spawnServer(spec);
    const model = this.hooks.model(spec);
    if (!model) {
      this.set('failed', `Model ${spec.model.repository} is no longer in the model repository`);
      return undefined;
    }
    const replica = new Replica(
      {
        id: `${this.name}-${++this.replicaSeq}`,
        model,
        threads: spec.compute.threads,
        memoryBytes: spec.compute.memoryMb * 1024 ** 2,
        maxBatchSize: this.opts.maxBatchSize,
        generation: this.generation,
        launcher: this.hooks.launcher,
      },
      {
        ready: (r, ms) => this.onReady(r, ms),
        loadFailed: (r, e) => this.onStartFailed(r, e.message),
        lost: (r, why) => this.onLost(r, why),
        log: (r, line) => this.hooks.log(this.name, `[${r.id}] ${line}`),
        idle: () => this.dispatchHeld(),
      },
    );
    this.replicas.push(replica);
    this.counters.loads++;
    this.hooks.changed(this);
    return replica;
  }

  /** A replica of a custom server command: supervised the same way, served by forwarding (custom/forward.ts). */
  private spawnServer(spec: EndpointSpec): AnyReplica | undefined {
    const custom = customOf(spec);
    if (!custom) {
      this.set('failed', 'The stored custom server spec (model.image.custom) is no longer valid; update the endpoint');
      return undefined;
    }
    const replica = new ServerReplica(
      { id: `${this.name}-${++this.replicaSeq}`, custom, threads: spec.compute.threads, memoryBytes: spec.compute.memoryMb * 1024 ** 2, generation: this.generation },
      {
        ready: (r, ms) => this.onReady(r, ms),
        loadFailed: (r, e) => this.onStartFailed(r, e.message),
        lost: (r, why) => this.onLost(r, why),
        log: (r, line) => this.hooks.log(this.name, `[${r.id}] ${line}`),
        idle: () => this.dispatchHeld(),
      },
    );
    this.replicas.push(replica);
    this.counters.loads++;
    this.hooks.changed(this);
    return replica;
  }

  private onReady(replica: AnyReplica, loadMs: number): void {
    this.startFailures = 0;
    if (this.wakeStartedAt !== undefined) {
      // Idle time counts from when the endpoint could first serve, not from when it began starting.
      this.lastRequestAt = Math.max(this.lastRequestAt, Date.now());
      const seconds = (performance.now() - this.wakeStartedAt) / 1000;
      this.stats.coldStart(seconds);
      this.hooks.coldStart(this.name, seconds);
      this.wakeStartedAt = undefined;
    }
    this.log(`replica ${replica.id} ready (${replica instanceof ServerReplica ? 'health route answered' : 'model loaded'} in ${loadMs.toFixed(0)} ms)`);
    if (!this.rolling && (this.lifecycle === 'initializing' || this.lifecycle === 'running')) this.set('running', 'Endpoint is running');
    this.hooks.changed(this);
    for (const wake of this.readyWaiters) wake();
    this.readyWaiters.clear();
    this.dispatchHeld();
  }

  private onStartFailed(replica: AnyReplica, why: string): void {
    this.remove(replica);
    this.startFailures++;
    if (this.rolling) return; // the rolling update decides
    if (this.startFailures >= this.opts.maxStartFailures) {
      this.failAll(`Endpoint failed to start: ${why}`);
      return;
    }
    this.log(`replica ${replica.id} failed to start (${why}); trying again`);
    this.replace();
  }

  private onLost(replica: AnyReplica, why: string): void {
    this.remove(replica);
    this.stats.crash();
    this.log(`replica ${replica.id} ${why}; replacing it`);
    if (this.lifecycle === 'paused' || this.lifecycle === 'scaledToZero' || this.lifecycle === 'failed' || this.closed) return;
    if (replica.readyAt === 0) this.startFailures++;
    if (this.startFailures >= this.opts.maxStartFailures) return this.failAll(`Replicas keep stopping while starting (last: ${why})`);
    // A replica that keeps dying after it started is replaced with a growing delay, not in a tight loop.
    const now = Date.now();
    this.crashTimes = [...this.crashTimes.filter((t) => t > now - CRASH_LOOP_WINDOW_MS), now];
    const delayMs = this.crashTimes.length >= 3 ? Math.min(MAX_CRASH_BACKOFF_MS, 1000 * 2 ** (this.crashTimes.length - 3)) : 0;
    if (delayMs > 0) {
      this.log(`crash loop: ${this.crashTimes.length} replicas lost in the last minute; replacing this one in ${delayMs / 1000} s`);
      clearTimeout(this.backoff);
      this.backoff = setTimeout(() => {
        if (this.lifecycle === 'running' || this.lifecycle === 'initializing' || this.lifecycle === 'updateFailed') this.replace();
      }, delayMs);
    } else this.replace();
    if (this.readyReplica === 0 && this.lifecycle === 'running') this.set('initializing', `Replacing replica ${replica.id} (${why})`);
    else this.hooks.changed(this);
  }

  private replace(): void {
    if (this.rolling) return;
    while (this.live().length < this.floor()) if (!this.spawn(this.activeSpec)) return;
  }

  private remove(replica: AnyReplica): void {
    this.replicas = this.replicas.filter((r) => r !== replica);
    this.hooks.changed(this);
  }

  private failAll(message: string): void {
    this.set('failed', message);
    void this.stopReplicas(this.replicas, 0);
    this.rejectHeld(new ModelhostError('endpoint_unavailable', 503, `Endpoint ${this.name} failed: ${message}`));
  }

  private async stopReplicas(replicas: AnyReplica[], graceMs: number): Promise<void> {
    await Promise.all(replicas.map((r) => r.stop(graceMs)));
    this.replicas = this.replicas.filter((r) => r.state !== 'stopped');
    this.counters.unloads += replicas.length;
    this.hooks.changed(this);
  }

  async pause(): Promise<void> {
    this.set('paused', 'Endpoint is paused');
    this.rejectHeld(this.unavailable());
    await this.stopReplicas(this.replicas, this.opts.drainMs);
  }

  async scaleToZero(message = 'Endpoint scaled to zero'): Promise<void> {
    this.set('scaledToZero', message);
    await this.stopReplicas(this.replicas, this.opts.drainMs);
  }

  /** A request reached a sleeping endpoint: start one replica. */
  private wake(): void {
    this.log('waking up on a request');
    this.start('Endpoint is scaling up from zero');
  }

  /** Applies a new spec: scaling alone adjusts the replica count; a new model or size rolls replicas one by one. */
  async update(next: EndpointSpec, roll: boolean): Promise<void> {
    this.spec = next;
    if (this.routed || this.hooks.routed(next)) {
      // Nothing to roll: a routed endpoint has no replicas (and one switching kinds starts afresh).
      this.activeSpec = next;
      await this.stopReplicas(this.replicas, this.opts.drainMs);
      if (this.lifecycle === 'paused' || this.lifecycle === 'scaledToZero') return this.hooks.changed(this);
      return this.start('Endpoint is initializing with the new configuration');
    }
    const idle = this.lifecycle === 'paused' || this.lifecycle === 'scaledToZero';
    if (!roll || idle || this.live().length === 0) {
      this.activeSpec = next;
      if (this.lifecycle === 'failed' || this.lifecycle === 'updateFailed') this.start('Endpoint is initializing with the new configuration');
      else if (!idle) {
        this.replace();
        // A lower maxReplica applies at once: the newest ready replicas above it drain and stop.
        const extra = this.live().filter((r) => r.state === 'ready').slice(next.compute.scaling.maxReplica);
        if (extra.length > 0) {
          this.log(`scaling down to maxReplica ${next.compute.scaling.maxReplica}: removing ${extra.map((r) => r.id).join(', ')}`);
          void this.stopReplicas(extra, this.opts.drainMs);
        }
        this.set(this.readyReplica > 0 ? 'running' : 'initializing', 'Endpoint is running');
      } else this.hooks.changed(this);
      return;
    }
    await this.rollTo(next);
  }

  private async rollTo(next: EndpointSpec): Promise<void> {
    this.rolling = true;
    this.generation++;
    this.set('updating', `Rolling ${this.live().length} replica(s) to the new configuration`);
    const old = this.live();
    try {
      for (const [i, previous] of old.entries()) {
        const fresh = this.spawn(next);
        if (!fresh) throw new Error('the model of the new configuration is not in the model repository');
        const ok = await this.untilStarted(fresh);
        if (!ok) throw new Error(`a replica of the new configuration could not start (see the logs)`);
        this.log(`update: replica ${fresh.id} replaces ${previous.id} (${i + 1}/${old.length})`);
        // The old replica takes no new request and finishes what it holds.
        await this.stopReplicas([previous], this.opts.drainMs);
      }
      this.activeSpec = next;
      this.rolling = false;
      this.set('running', 'Endpoint is running (updated)');
    } catch (e) {
      this.rolling = false;
      await this.stopReplicas(this.replicas.filter((r) => r.opts.generation === this.generation), 0);
      this.replace();
      this.set('updateFailed', `Update failed: ${(e as Error).message}; the previous configuration still serves`);
    }
  }

  private untilStarted(replica: AnyReplica): Promise<boolean> {
    return new Promise((resolve) => {
      const check = setInterval(() => {
        if (replica.state === 'ready') resolve(true);
        else if (replica.state === 'stopped' || !this.replicas.includes(replica)) resolve(false);
        else return;
        clearInterval(check);
      }, 20);
    });
  }

  /** Stops every replica without changing the stored state: modelhost is shutting down. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.tick);
    clearTimeout(this.backoff);
    this.rejectHeld(new ModelhostError('endpoint_unavailable', 503, 'The server is shutting down'));
    await Promise.all(this.replicas.map((r) => r.stop(Math.min(this.opts.drainMs, 5000))));
  }

  /** Deleting: like close, and the requests in flight end too. */
  async destroy(): Promise<void> {
    await this.close();
  }

  // ---------- serving (EngineApi) ----------

  private unavailable(): ModelhostError {
    if (this.lifecycle === 'paused') return new ModelhostError('endpoint_unavailable', 503, `Endpoint ${this.name} is paused; resume it (POST /api/endpoints/${this.namespace}/${this.name}/resume)`);
    if (this.lifecycle === 'failed') return new ModelhostError('endpoint_unavailable', 503, `Endpoint ${this.name} has failed: ${this.message}`);
    return new ModelhostError('endpoint_unavailable', 503, `Endpoint ${this.name} has no ready replica (${this.lifecycle}: ${this.message}); retry shortly`, {
      estimated_time: this.estimatedSeconds(),
    });
  }

  /** Seconds until a replica should be ready: the last cold starts measured, else a conservative guess. */
  estimatedSeconds(): number {
    return Math.max(0.5, this.stats.coldStartEstimate() ?? 5);
  }

  async ensureReady(_model: ModelInfo, waitMs: number): Promise<void> {
    this.lastRequestAt = Date.now();
    if (this.readyReplica > 0) return;
    if (this.lifecycle === 'paused' || this.lifecycle === 'failed') throw this.unavailable();
    if (this.lifecycle === 'scaledToZero') this.wake();
    const loading = new ModelhostError('model_loading', 503, `Endpoint ${this.name} is starting a replica (${this.message})`, {
      estimated_time: Math.round(this.estimatedSeconds() * 10) / 10,
    });
    if (waitMs <= 0) throw loading;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readyWaiters.delete(done);
        reject(loading);
      }, waitMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.readyWaiters.add(done);
    });
  }

  infer(_model: ModelInfo, task: TaskId, items: unknown[], params: Record<string, unknown>, onEvent?: (event: unknown) => void, signal?: CancelSignal): Promise<unknown[]> {
    this.lastRequestAt = Date.now();
    if (this.lifecycle === 'paused' || this.lifecycle === 'failed') return Promise.reject(this.unavailable());
    const limit = this.activeSpec.compute.scaling.maxConcurrentRequests;
    if (this.outstanding >= limit) {
      return Promise.reject(new OverloadedError(`Endpoint ${this.name} has ${this.outstanding} requests in flight, its limit (compute.scaling.maxConcurrentRequests); retry later`));
    }
    this.outstanding++;
    this.counters.items += items.length;
    this.counters.batches++;
    return new Promise<unknown[]>((resolve, reject) => {
      const held: Held = {
        task,
        items,
        params,
        onEvent,
        ...(signal ? { signal } : {}),
        resolve: (o) => {
          this.outstanding--;
          resolve(o);
        },
        reject: (e) => {
          this.outstanding--;
          reject(e);
        },
        retried: false,
        timer: undefined as unknown as NodeJS.Timeout,
      };
      this.send(held);
    });
  }

  /** Runs on the least busy ready replica, or holds the request until one is ready. */
  private send(h: Held): void {
    let best: AnyReplica | undefined;
    // Engine replicas only: a custom server's replicas are reached by forwarding (custom/forward.ts).
    for (const r of this.replicas) if (r.state === 'ready' && r instanceof Replica && (!best || r.inflight < best.inflight)) best = r;
    if (!best) return this.hold(h);
    best.run(h.task, h.items, h.params, h.onEvent, h.signal).then(h.resolve, (e: Error) => {
      if (e instanceof ReplicaLostError && e.retryable && !h.retried) {
        h.retried = true;
        this.log(`retrying a request of the lost replica ${best.id} on another replica`);
        return this.send(h);
      }
      h.reject(e);
    });
  }

  private hold(h: Held): void {
    if (this.lifecycle === 'scaledToZero') this.wake();
    if (this.live().length === 0 && this.lifecycle !== 'initializing' && this.lifecycle !== 'updating') return h.reject(this.unavailable());
    h.timer = setTimeout(() => {
      this.held = this.held.filter((x) => x !== h);
      h.reject(new ModelhostError('endpoint_unavailable', 503, `Endpoint ${this.name} had no ready replica for ${Math.round(this.opts.maxHoldMs / 1000)} s`, { estimated_time: this.estimatedSeconds() }));
    }, this.opts.maxHoldMs);
    this.held.push(h);
  }

  private dispatchHeld(): void {
    if (this.held.length === 0 || this.readyReplica === 0) return;
    const waiting = this.held;
    this.held = [];
    for (const h of waiting) {
      clearTimeout(h.timer);
      this.send(h);
    }
  }

  private rejectHeld(error: Error): void {
    const waiting = this.held;
    this.held = [];
    for (const h of waiting) {
      clearTimeout(h.timer);
      h.reject(error);
    }
    for (const wake of this.readyWaiters) wake();
    this.readyWaiters.clear();
  }

  state(_modelId: string): ModelState {
    return this.readyReplica > 0 ? 'ready' : this.live().length > 0 ? 'loading' : 'unloaded';
  }

  loadedModels(): { id: string; state: ModelState; queued: number; lastUsed: number }[] {
    return [{ id: this.activeSpec.model.repository, state: this.state(''), queued: this.outstanding, lastUsed: this.lastRequestAt }];
  }

  async preload(): Promise<void> {
    if (this.lifecycle === 'scaledToZero') this.wake();
  }

  unload(): boolean {
    return false;
  }

  /**
   * A request to a routed endpoint: wakes it if it sleeps, refuses it when paused or failed, counts it against
   * the endpoint's concurrency limit. Returns the release to call when it is answered.
   */
  admitRouted(): () => void {
    this.lastRequestAt = Date.now();
    if (this.lifecycle === 'paused' || this.lifecycle === 'failed') throw this.unavailable();
    if (this.lifecycle === 'scaledToZero') this.start('Endpoint woke on a request');
    const limit = this.activeSpec.compute.scaling.maxConcurrentRequests;
    if (this.outstanding >= limit) {
      throw new OverloadedError(`Endpoint ${this.name} has ${this.outstanding} requests in flight, its limit (compute.scaling.maxConcurrentRequests); retry later`);
    }
    this.outstanding++;
    let released = false;
    return () => {
      if (!released) this.outstanding--;
      released = true;
    };
  }

  /** Requests in flight or waiting (the autoscaler's signal). */
  get pending(): number {
    return this.outstanding;
  }

  get queued(): number {
    return this.held.length;
  }

  // ---------- autoscaling ----------

  private autoscale(): void {
    if (this.closed) return;
    const now = Date.now();
    this.stats.sampleReplicaSeconds(this.replicas.length, this.opts.tickMs / 1000);
    this.samples.push({ at: now, load: this.outstanding });
    while (this.samples.length > 0 && this.samples[0]!.at < now - this.opts.scaleUpWindowMs) this.samples.shift();
    // Replicas holding a queue step back in CPU priority (see Replica.setBusy).
    for (const r of this.replicas) if (r.state === 'ready') r.setBusy(r.inflight > 1);
    if (this.lifecycle !== 'running' || this.rolling) return;
    const s = this.activeSpec.compute.scaling;
    if (this.routed) {
      if (s.minReplica === 0 && s.scaleToZeroTimeout && this.outstanding === 0 && now - this.lastRequestAt > s.scaleToZeroTimeout * 60_000) {
        void this.scaleToZero(`Scaled to zero after ${s.scaleToZeroTimeout} minute(s) without requests`);
      }
      return;
    }
    const live = this.live();
    const starting = live.some((r) => r.state === 'starting');
    const avg = this.samples.reduce((n, x) => n + x.load, 0) / Math.max(1, this.samples.length);
    const target = s.measure.pendingRequests;
    // Up: the window's average load per replica is over the target (one replica at a time).
    if (!starting && live.length < s.maxReplica && avg > target * live.length && this.samples.length * this.opts.tickMs >= Math.min(this.opts.scaleUpWindowMs, 1000)) {
      this.log(`scaling up: ${avg.toFixed(1)} pending requests for ${live.length} replica(s) (target ${target} per replica)`);
      this.spawn(this.activeSpec);
      this.lastNeededAt = now;
      return;
    }
    if (avg > target * Math.max(0, live.length - 1)) this.lastNeededAt = now;
    // Down: the load has fit in one replica fewer for a while; never a replica that is still starting.
    if (!starting && live.length > Math.max(1, s.minReplica) && now - this.lastNeededAt > this.opts.scaleDownAfterMs) {
      const victim = [...live].reverse().find((r) => r.state === 'ready');
      if (victim) {
        this.log(`scaling down: removing replica ${victim.id} (idle for ${Math.round((now - this.lastNeededAt) / 1000)} s)`);
        this.lastNeededAt = now;
        void this.stopReplicas([victim], this.opts.drainMs);
      }
      return;
    }
    // To zero: minReplica 0, nothing in flight, no request for scaleToZeroTimeout minutes.
    if (s.minReplica === 0 && s.scaleToZeroTimeout && this.outstanding === 0 && !starting && now - this.lastRequestAt > s.scaleToZeroTimeout * 60_000) {
      void this.scaleToZero(`Scaled to zero after ${s.scaleToZeroTimeout} minute(s) without requests`);
    }
  }
}
