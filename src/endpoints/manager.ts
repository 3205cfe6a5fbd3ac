/**
 * Dedicated endpoints: create, update, pause, resume, scale to zero and delete them, keep their lifecycle in the
 * store, and bring every one back to its state when modelhost starts. Transitions that make no sense answer a
 * 400 that says what to do instead.
 */
import { ModelhostError } from '../core/errors.ts';
import type { ModelInfo } from '../core/model.ts';
import { tasksServedBy, type TaskId } from '../core/tasks/index.ts';
import { isTaskId } from '../core/tasks/types.ts';
import type { EndpointRow, EndpointStore } from '../store/types.ts';
import { Deployment, defaultScaling, ENDPOINT_STATES, type EndpointState, type ScalingOptions } from './deployment.ts';
import { ReplicaLauncher } from './replica-launcher.ts';
import { Replica } from './replica.ts';
import type { CommandAllowList } from './custom/allow-list.ts';
import { checkCustom } from './custom/check.ts';
import { ServerReplica } from './custom/server-replica.ts';
import { isCustom } from './custom/spec.ts';
import { applyInstanceSize, mergeBody, needsRoll, parseCreate, toBody, type EndpointSpec } from './spec.ts';

export interface Catalogue {
  get(id: string): ModelInfo | undefined;
}

/** What the manager needs of the router: which models it maps and to which providers. */
export interface RoutedCatalogue {
  isRouted(id: string): boolean;
  modelEntry(id: string): { task: string; providers: { provider: string }[] } | undefined;
}

export interface ManagerOptions {
  store: EndpointStore;
  repository: Catalogue;
  /** Models served by hosted providers through the router: an endpoint may name one instead of a local model. */
  router?: RoutedCatalogue;
  /** Base URL endpoints are reached at (`{publicUrl}/endpoints/{name}`). */
  publicUrl: string;
  scaling?: Partial<ScalingOptions>;
  /** Keep a replica process started ahead of need, so a wake skips Node's and the runtime's start (default true). */
  spareReplica?: boolean;
  /** `--endpoint-commands`: the server commands an endpoints-scoped token may start (an admin token may start any). */
  commandAllowList?: CommandAllowList;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export interface Caller {
  name: string;
  /** An admin token: may start any custom server command. */
  admin?: boolean;
}

const LOG_LINES = 2000;

export class EndpointNotFoundError extends ModelhostError {
  constructor(namespace: string, name: string) {
    super('endpoint_not_found', 404, `No endpoint ${name} in namespace ${namespace}. List them with GET /api/endpoints/${namespace}.`);
  }
}

function conflict(message: string): ModelhostError {
  return new ModelhostError('endpoint_conflict', 400, message);
}

/** Opens an endpoint's own port (composition root: an app serving only that endpoint); resolves to its closer. */
export type PortOpener = (name: string, port: number) => Promise<() => Promise<void>>;

interface Entry {
  closePort?: () => Promise<void>;
  deployment: Deployment;
  row: EndpointRow;
  logs: string[];
  saving: Promise<void>;
}

export class EndpointManager {
  private readonly entries = new Map<string, Entry>();
  private readonly scaling: ScalingOptions;
  private portOpener: PortOpener | undefined;
  private readonly launcher: ReplicaLauncher;
  private readonly listeners = {
    request: [] as ((name: string, status: number, seconds: number) => void)[],
    coldStart: [] as ((name: string, seconds: number) => void)[],
  };

  constructor(private readonly opts: ManagerOptions) {
    this.scaling = { ...defaultScaling, ...opts.scaling };
    this.launcher = new ReplicaLauncher({ spare: opts.spareReplica ?? true, log: (message) => this.log('warn', message) });
  }

  /** Set once the HTTP app exists: endpoints with `route.port` get their own listener. */
  setPortOpener(open: PortOpener): void {
    this.portOpener = open;
  }

  private async openPort(entry: Entry): Promise<void> {
    const port = entry.deployment.spec.route?.port;
    const open = this.portOpener;
    if (!port || !open || entry.closePort) return;
    try {
      entry.closePort = await open(entry.row.name, port);
      entry.logs.push(`${new Date().toISOString()} serving on its own port ${port}`);
    } catch (e) {
      this.log('error', `endpoint ${entry.row.name}: cannot listen on port ${port}: ${(e as Error).message}`);
      entry.logs.push(`${new Date().toISOString()} cannot listen on port ${port}: ${(e as Error).message}`);
    }
  }

  private async closePort(entry: Entry): Promise<void> {
    const close = entry.closePort;
    entry.closePort = undefined;
    await close?.().catch(() => undefined);
  }

  /** Every stored endpoint back to its state: running ones start their replicas, the others wait. */
  async restore(): Promise<void> {
    for (const row of await this.opts.store.list()) {
      const state = (ENDPOINT_STATES as readonly string[]).includes(row.state) ? (row.state as EndpointState) : 'failed';
      const spec = row.spec as EndpointSpec;
      const active = (row.activeSpec ?? row.spec) as EndpointSpec;
      const entry = this.track(row, spec, state, row.message, active);
      const d = entry.deployment;
      if (state === 'updateFailed') d.restartReplicas();
      else if (state === 'running' || state === 'initializing' || state === 'pending') d.start('Endpoint is initializing after a restart of modelhost');
      else if (state === 'updating') void d.update(spec, true).catch(() => undefined);
      await this.openPort(entry);
      this.log('info', `endpoint ${row.name}: restored (${state})`);
    }
  }

  private log(level: 'info' | 'warn' | 'error', message: string): void {
    this.opts.log?.(level, message);
  }

  private track(row: EndpointRow, spec: EndpointSpec, state: EndpointState, message: string, active?: EndpointSpec): Entry {
    const entry: Entry = { row, logs: [], saving: Promise.resolve(), deployment: undefined as unknown as Deployment };
    entry.deployment = new Deployment(
      spec,
      row.namespace,
      state,
      message,
      {
        changed: (d) => this.persist(entry, d),
        model: (s) => this.opts.repository.get(s.model.repository),
        launcher: this.launcher,
        routed: (s) => this.isRouted(s),
        coldStart: (name, seconds) => {
          for (const l of this.listeners.coldStart) l(name, seconds);
        },
        log: (_name, line) => {
          entry.logs.push(`${new Date().toISOString()} ${line}`);
          if (entry.logs.length > LOG_LINES) entry.logs.splice(0, entry.logs.length - LOG_LINES);
        },
      },
      this.scaling,
      active,
    );
    this.entries.set(row.name, entry);
    return entry;
  }

  /** Writes the endpoint's row after a change; writes of one endpoint never overtake each other. */
  private persist(entry: Entry, d: Deployment): void {
    const row: EndpointRow = {
      ...entry.row,
      spec: d.spec,
      activeSpec: d.activeSpec === d.spec ? null : d.activeSpec,
      state: d.lifecycle,
      message: d.message,
    };
    const same = row.state === entry.row.state && row.message === entry.row.message && row.spec === entry.row.spec && row.activeSpec === entry.row.activeSpec;
    if (same) return;
    entry.row = row;
    entry.saving = entry.saving
      .then(() => (this.entries.get(row.name) === entry ? this.opts.store.save(row) : undefined))
      .catch((e: unknown) => this.log('error', `endpoint ${row.name}: could not store its state: ${(e as Error).message}`));
  }

  private entry(namespace: string, name: string): Entry {
    const e = this.entries.get(name);
    if (!e || e.row.namespace !== namespace) throw new EndpointNotFoundError(namespace, name);
    return e;
  }

  /** The endpoint serving `/endpoints/{name}`, whatever its namespace. */
  serving(name: string): { deployment: Deployment; namespace: string } | undefined {
    const e = this.entries.get(name);
    return e && { deployment: e.deployment, namespace: e.row.namespace };
  }

  list(namespace: string): unknown[] {
    return [...this.entries.values()].filter((e) => e.row.namespace === namespace).map((e) => this.describe(e));
  }

  all(): { name: string; namespace: string; deployment: Deployment }[] {
    return [...this.entries.values()].map((e) => ({ name: e.row.name, namespace: e.row.namespace, deployment: e.deployment }));
  }

  get(namespace: string, name: string): unknown {
    return this.describe(this.entry(namespace, name));
  }

  private defaultTask = (repository: string): string | undefined =>
    this.opts.repository.get(repository)?.pipelineTag ?? this.opts.router?.modelEntry(repository)?.task;

  /** A model the local repository does not hold but the providers file maps (or a provider is named for). */
  private isRouted(spec: EndpointSpec): boolean {
    if (isCustom(spec)) return false;
    if (this.opts.repository.get(spec.model.repository) && (spec.model.provider === undefined || spec.model.provider === 'local')) return false;
    return !!this.opts.router && (spec.model.provider !== undefined || this.opts.router.isRouted(spec.model.repository));
  }

  /** Checks what the schema cannot: the model exists here (or at a provider) and serves the task. */
  private checkModel(spec: EndpointSpec): void {
    if (this.isRouted(spec)) {
      const entry = this.opts.router!.modelEntry(spec.model.repository);
      const provider = spec.model.provider;
      if (provider !== undefined && provider !== 'local' && entry && !entry.providers.some((p) => p.provider === provider)) {
        throw new ModelhostError('bad_input', 400, `Invalid endpoint: body.model.provider: ${spec.model.repository} is mapped to ${entry.providers.map((p) => p.provider).join(', ')} in the providers file, not ${provider}`);
      }
      if (!spec.model.task) throw new ModelhostError('bad_input', 400, `Invalid endpoint: body.model.task: required for ${spec.model.repository}, which the providers file does not list`);
      return;
    }
    const model = this.opts.repository.get(spec.model.repository);
    if (!model) {
      throw new ModelhostError(
        'bad_input',
        400,
        `Invalid endpoint: body.model.repository: no model ${spec.model.repository} is served here (list them with GET /api/models) nor mapped to a provider in the providers file`,
      );
    }
    const served = tasksServedBy(model.pipelineTag);
    if (!isTaskId(spec.model.task) || !served.includes(spec.model.task as TaskId)) {
      throw new ModelhostError('bad_input', 400, `Invalid endpoint: body.model.task: ${spec.model.repository} serves ${served.join(', ')}, not "${spec.model.task}"`);
    }
  }

  async create(namespace: string, body: unknown, caller: Caller): Promise<unknown> {
    const spec = parseCreate(body, this.defaultTask);
    if (isCustom(spec)) checkCustom(spec, caller, this.opts.commandAllowList);
    else this.checkModel(spec);
    if (this.entries.has(spec.name)) throw new ModelhostError('endpoint_conflict', 409, `An endpoint named ${spec.name} already exists; choose another name.`);
    const now = new Date();
    const row: EndpointRow = { name: spec.name, namespace, spec, activeSpec: null, state: 'pending', message: 'Endpoint is being created', createdAt: now, createdBy: caller.name, updatedAt: now, updatedBy: caller.name };
    try {
      await this.opts.store.create(row);
    } catch (e) {
      if ((e as { code?: string }).code === 'conflict') throw new ModelhostError('endpoint_conflict', 409, `An endpoint named ${spec.name} already exists; choose another name.`);
      throw e;
    }
    const entry = this.track(row, spec, 'pending', row.message);
    entry.deployment.start();
    await this.openPort(entry);
    this.log('info', `endpoint ${spec.name} created in ${namespace} by ${caller.name}`);
    return this.describe(entry);
  }

  async update(namespace: string, name: string, body: unknown, caller: Caller): Promise<unknown> {
    const entry = this.entry(namespace, name);
    const d = entry.deployment;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ModelhostError('bad_input', 400, 'body: expected a JSON object (the fields to change)');
    const update = body as Record<string, unknown>;
    if (update.name !== undefined && update.name !== name) throw new ModelhostError('bad_input', 400, `Invalid endpoint: body.name: an endpoint cannot be renamed (it is ${name})`);
    if (d.lifecycle === 'updating') throw conflict(`Endpoint ${name} is updating; wait until it is running, then update it again.`);
    const merged = mergeBody(toBody(d.spec), update);
    applyInstanceSize(update, merged);
    const next = parseCreate(merged, this.defaultTask);
    // A new model without a task takes the new model's task.
    const newModel = (update.model as Record<string, unknown> | undefined)?.repository;
    if (newModel !== undefined && (update.model as Record<string, unknown>).task === undefined) next.model.task = this.defaultTask(next.model.repository) ?? next.model.task;
    if (isCustom(next) !== isCustom(d.spec)) {
      // Replicas of the two kinds are served differently (engine messages, HTTP forwarding): no rolling between them.
      throw new ModelhostError('bad_input', 400, `Invalid endpoint: body.model.image: endpoint ${name} ${isCustom(d.spec) ? 'runs a custom server' : 'runs a model'} and cannot switch to ${isCustom(d.spec) ? 'a model' : 'a custom server'}; create another endpoint.`);
    }
    if (isCustom(next)) checkCustom(next, caller, this.opts.commandAllowList, d.spec);
    else this.checkModel(next);
    entry.row = { ...entry.row, updatedAt: new Date(), updatedBy: caller.name };
    const roll = needsRoll(d.activeSpec, next);
    void d.update(next, roll).catch((e: unknown) => this.log('error', `endpoint ${name}: update failed: ${(e as Error).message}`));
    this.persist(entry, d);
    if (entry.closePort && next.route?.port !== undefined) await this.closePort(entry);
    if (!next.route?.port) await this.closePort(entry);
    await this.openPort(entry);
    return this.describe(entry);
  }

  async pause(namespace: string, name: string): Promise<unknown> {
    const entry = this.entry(namespace, name);
    const d = entry.deployment;
    if (d.lifecycle === 'paused') throw conflict(`Endpoint ${name} is already paused. Resume it with POST .../${name}/resume.`);
    if (d.lifecycle === 'updating') throw conflict(`Endpoint ${name} is updating; pause it once the update has finished.`);
    void d.pause();
    return this.describe(entry);
  }

  async resume(namespace: string, name: string): Promise<unknown> {
    const entry = this.entry(namespace, name);
    const d = entry.deployment;
    if (['running', 'initializing', 'pending', 'updating', 'updateFailed'].includes(d.lifecycle)) {
      throw conflict(`Endpoint ${name} is already running (state: ${d.lifecycle}).`);
    }
    d.start('Endpoint is resuming');
    return this.describe(entry);
  }

  async scaleToZero(namespace: string, name: string): Promise<unknown> {
    const entry = this.entry(namespace, name);
    const d = entry.deployment;
    const refusals: Partial<Record<EndpointState, string>> = {
      paused: `Endpoint ${name} is paused; resume it first.`,
      scaledToZero: `Endpoint ${name} is already scaled to zero; it wakes on the next request.`,
      failed: `Endpoint ${name} has failed; resume or update it first.`,
      updating: `Endpoint ${name} is updating; scale it to zero once the update has finished.`,
    };
    const refusal = refusals[d.lifecycle];
    if (refusal) throw conflict(refusal);
    void d.scaleToZero();
    return this.describe(entry);
  }

  async delete(namespace: string, name: string): Promise<void> {
    const entry = this.entry(namespace, name);
    this.entries.delete(name);
    await this.closePort(entry);
    await entry.deployment.destroy();
    await entry.saving;
    await this.opts.store.delete(name);
    // The last endpoint gone: nothing is left to wake, so the spare process goes too (the next replica brings it back).
    if (this.entries.size === 0) await this.launcher.release();
    this.log('info', `endpoint ${name} deleted`);
  }

  logs(namespace: string, name: string, tail?: number): string[] {
    const logs = this.entry(namespace, name).logs;
    return tail ? logs.slice(-tail) : [...logs];
  }

  metrics(namespace: string, name: string): unknown {
    const d = this.entry(namespace, name).deployment;
    const s = d.stats;
    const count = (state: string) => d.replicas.filter((r) => r.state === state).length;
    const requests = [...s.byStatus.values()].reduce((a, b) => a + b, 0);
    const errors = [...s.byStatus.entries()].filter(([status]) => status >= 400).reduce((a, [, n]) => a + n, 0);
    return {
      name,
      state: d.lifecycle,
      replicas: { starting: count('starting'), ready: count('ready'), draining: count('draining'), target: d.targetReplica },
      requests: { total: requests, errors, byStatus: Object.fromEntries(s.byStatus) },
      latencySeconds: { count: s.latency.count, sum: s.latency.sum, p50: s.latency.quantile(0.5), p95: s.latency.quantile(0.95), p99: s.latency.quantile(0.99) },
      inFlight: d.pending,
      queueDepth: d.queued,
      coldStarts: { count: s.coldStarts.count, averageSeconds: s.coldStartEstimate() ?? null, recentSeconds: [...s.recentColdStarts] },
      crashes: s.crashes,
      replicaSeconds: Math.round(s.replicaSeconds * 10) / 10,
      replicaList: d.replicas.map((r) => ({
        id: r.id,
        state: r.state,
        pid: r.pid ?? null,
        inFlight: r.inflight,
        rssMb: Math.round(r.rssBytes / 1024 ** 2),
        ...(r instanceof ServerReplica ? { port: r.port } : {}),
        // Continuous batching of a text-generation model: sequences in the batch, waiting, tokens so far.
        ...(r instanceof Replica && r.generation
          ? { generation: { active: r.generation.active, queued: r.generation.queued, batch: r.generation.batch, tokens: r.generation.tokens, tokensPerSecond: r.generation.tokensPerSecond } }
          : {}),
      })),
    };
  }

  onRequest(listener: (name: string, status: number, seconds: number) => void): void {
    this.listeners.request.push(listener);
  }

  onColdStart(listener: (name: string, seconds: number) => void): void {
    this.listeners.coldStart.push(listener);
  }

  /** The serving route reports each answered request here. */
  recordRequest(name: string, status: number, seconds: number): void {
    this.entries.get(name)?.deployment.stats.request(status, seconds);
    for (const l of this.listeners.request) l(name, status, seconds);
  }

  /** The endpoint in the shape of Hugging Face's Inference Endpoints API (hf-protocol.md §5.3). */
  private describe(entry: Entry): unknown {
    const d = entry.deployment;
    const spec = d.spec;
    const running = d.lifecycle === 'running' || d.lifecycle === 'updateFailed' || (d.lifecycle === 'updating' && d.readyReplica > 0);
    return {
      name: spec.name,
      type: spec.type,
      accountId: null,
      provider: spec.provider,
      healthRoute: '/health',
      compute: { ...spec.compute, id: `${spec.compute.instanceType}-${spec.compute.instanceSize}` },
      model: spec.model,
      ...(spec.route ? { route: spec.route } : {}),
      tags: spec.tags,
      status: {
        state: d.lifecycle,
        message: d.message,
        ...(running ? { url: `${this.opts.publicUrl}/endpoints/${spec.name}` } : {}),
        readyReplica: d.readyReplica,
        targetReplica: d.targetReplica,
        private: null,
        createdAt: entry.row.createdAt.toISOString(),
        createdBy: { id: entry.row.createdBy, name: entry.row.createdBy },
        updatedAt: entry.row.updatedAt.toISOString(),
        updatedBy: { id: entry.row.updatedBy, name: entry.row.updatedBy },
      },
    };
  }

  /** Stops every replica, leaving each endpoint's stored state as it is (modelhost restarts it). */
  async close(): Promise<void> {
    await Promise.all([...this.entries.values()].map(async (e) => {
      await this.closePort(e);
      await e.deployment.close();
      await e.saving;
    }));
    await this.launcher.close();
  }

  /** The spare replica process waiting for a model, if any (tests). */
  get sparePid(): number | undefined {
    return this.launcher.sparePid;
  }
}
