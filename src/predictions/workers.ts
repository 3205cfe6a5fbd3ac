/**
 * Runs predictions: takes queued ones (from the database, or from BullMQ with `--redis`) within the per-model
 * concurrency, runs each through the Runner, and writes its end once. Keeps this instance's running rows
 * alive (a heartbeat); a row whose instance stopped beating is retried while it has attempts left, then failed
 * with a reason (the recovery sweep, which any instance runs). Cancels asked through another instance are
 * seen at the next heartbeat.
 */
import { EventEmitter } from 'node:events';
import { meterBody } from '../auth/metering.ts';
import type { FinishFields, PredictionStore } from '../store/predictions.ts';
import type { UsageRecord } from '../store/types.ts';
import type { Admission, Catalog } from './service.ts';
import { PredictionService } from './service.ts';
import { taskPayload } from './input.ts';
import { duration, PredictionLog } from './logs.ts';
import type { RunOutcome, Runner } from './runner.ts';
import type { Webhooks } from './webhooks.ts';
import type { PredictionRow } from './types.ts';

/** Where queued work comes from when it is not the database (BullMQ). */
export interface Dispatch {
  push(id: string, attempt: number): Promise<void>;
  start(take: (id: string) => Promise<void>): void;
  close(): Promise<void>;
}

export interface WorkerOptions {
  instance: string;
  publicUrl: () => string;
  concurrencyPerModel: number;
  /** Most predictions this instance runs at once over all models. */
  maxRunning: number;
  pollMs: number;
  heartbeatMs: number;
  /** A running row whose heartbeat is older than this is taken for dead. */
  staleMs: number;
  /** Output/logs written to the database at most this often while a prediction runs (the first time after this long). */
  progressMs: number;
  /** A long generation logs its token count at most this often. */
  logProgressMs: number;
  /** Record usage rows (off with `--auth off`). */
  recordUsage: boolean;
}

interface Running {
  row: PredictionRow;
  ctrl: AbortController;
  tokens: string[];
  /** Why it was aborted: the owner's cancel, or this instance shutting down. */
  why?: 'cancel' | 'shutdown';
}

export class Workers {
  private readonly running = new Map<string, Running>();
  private readonly perModel = new Map<string, number>();
  private readonly admissions = new Map<string, Admission>();
  private readonly bus = new EventEmitter().setMaxListeners(0);
  private pumping = false;
  private pumpAgain = false;
  private closed = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly store: PredictionStore,
    private readonly runner: Runner,
    private readonly webhooks: Webhooks,
    private readonly catalog: Catalog,
    private readonly o: WorkerOptions,
    private readonly dispatch?: Dispatch,
    private readonly log: (message: string) => void = () => undefined,
  ) {}

  start(): void {
    if (this.dispatch) this.dispatch.start((id) => this.take(id));
    else this.timers.push(setInterval(() => void this.pump(), this.o.pollMs));
    this.timers.push(setInterval(() => void this.beat(), this.o.heartbeatMs));
    void this.beat();
    void this.pump();
  }

  /** Stops taking work; running predictions go back to the queue without using up an attempt. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.dispatch?.close();
    for (const r of this.running.values()) {
      r.why = 'shutdown';
      r.ctrl.abort();
    }
    await Promise.allSettled([...this.inflight]);
  }

  holdAdmission(id: string, admission: Admission): void {
    this.admissions.set(id, admission);
  }

  async submitted(row: PredictionRow): Promise<void> {
    if (this.dispatch) {
      // Stored is accepted: if the queue cannot take it now, the heartbeat's sweep hands it over later.
      await this.dispatch.push(row.id, row.attempt).catch((e: Error) => this.log(`prediction ${row.id}: queue unavailable (${e.message}); it is handed over later`));
    }
    // Only when it could start now: a burst of submissions for a busy model must not turn into a scan each.
    else if (this.hasRoom(row.model)) void this.pump();
  }

  /** Resolves when the prediction ends here, or after `ms`. */
  ended(id: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.bus.off(`end:${id}`, done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.bus.on(`end:${id}`, done);
    });
  }

  /** The tokens so far of a prediction running here, and each next one until it ends; undefined if not here. */
  follow(id: string, onToken: (t: string) => void, onEnd: () => void): { sofar: string[]; stop: () => void } | undefined {
    const r = this.running.get(id);
    if (!r) return undefined;
    const end = () => onEnd();
    this.bus.on(`token:${id}`, onToken);
    this.bus.once(`end:${id}`, end);
    return {
      sofar: [...r.tokens],
      stop: () => {
        this.bus.off(`token:${id}`, onToken);
        this.bus.off(`end:${id}`, end);
      },
    };
  }

  async cancel(row: PredictionRow): Promise<void> {
    if (row.status === 'starting') {
      const at = Date.now();
      const won = await this.store.finish(
        row.id,
        { from: 'starting' },
        { status: 'canceled', output: null, error: null, logs: logged(row.logs, 'canceled before it started'), metrics: { total_time: (at - row.createdAt) / 1000 }, completedAt: at },
        this.o.recordUsage ? PredictionService.queuedUsage(row, at) : undefined,
      );
      if (won) return this.ended_(row.id);
    }
    await this.store.requestCancel(row.id);
    const local = this.running.get(row.id);
    if (local) {
      local.why = 'cancel';
      local.ctrl.abort();
    }
  }

  private hasRoom(model: string): boolean {
    return this.running.size < this.o.maxRunning && (this.perModel.get(model) ?? 0) < this.o.concurrencyPerModel;
  }

  /** Takes what the database has queued, within the concurrency limits. */
  private async pump(): Promise<void> {
    if (this.closed || this.dispatch) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        if (this.running.size >= this.o.maxRunning) break;
        const queued = await this.store.queued(64);
        for (const q of queued) {
          if (this.closed || this.running.size >= this.o.maxRunning) break;
          if (!this.hasRoom(q.model)) continue;
          const row = await this.store.claim(q.id, this.o.instance, Date.now());
          if (row) this.track(this.execute(row));
        }
      } while (this.pumpAgain && !this.closed);
    } catch (e) {
      this.log(`predictions queue: ${(e as Error).message}`);
    } finally {
      this.pumping = false;
    }
  }

  /** One job from BullMQ: waits for a slot of its model, then runs it if it is still queued. */
  private async take(id: string): Promise<void> {
    const row = await this.store.get(id);
    if (!row || row.status !== 'starting') return;
    while ((this.perModel.get(row.model) ?? 0) >= this.o.concurrencyPerModel && !this.closed) await this.ended('slot', 50);
    const claimed = await this.store.claim(id, this.o.instance, Date.now());
    if (claimed) await this.track(this.execute(claimed));
  }

  private track(p: Promise<void>): Promise<void> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
    return p;
  }

  private async execute(row: PredictionRow): Promise<void> {
    const r: Running = { row, ctrl: new AbortController(), tokens: [] };
    this.running.set(row.id, r);
    this.perModel.set(row.model, (this.perModel.get(row.model) ?? 0) + 1);
    let outcome: RunOutcome;
    const started = Date.now();
    const log = new PredictionLog(row.logs);
    const current = (): PredictionRow => ({ ...row, status: 'processing', startedAt: row.startedAt ?? started, output: r.tokens.length ? [...r.tokens] : null, logs: log.text() });
    // Output and logs reach the database at most every progressMs, the first time progressMs after the start: a
    // prediction shorter than that writes only its end.
    let saveTimer: NodeJS.Timeout | undefined;
    let savedAt = started;
    const save = () => {
      saveTimer = undefined;
      savedAt = Date.now();
      void this.store.progress(row.id, row.attempt, r.tokens.length ? [...r.tokens] : null, log.text()).catch(() => undefined);
    };
    const changed = () => (saveTimer ??= setTimeout(save, Math.max(0, savedAt + this.o.progressMs - Date.now())));
    const note = (line: string) => {
      log.add(line);
      changed();
      this.webhooks.event(row, 'logs', current);
    };
    try {
      note(`starting on ${this.o.instance} (attempt ${row.attempt} of ${row.maxAttempts}), ${duration(started - row.createdAt)} after it was created`);
      if (row.deployment) note(`running on dedicated endpoint ${row.deployment} (${row.model})`);
      const cold = this.catalog.coldStart(row.model, row.deployment);
      if (cold) note(cold);
      const payload = taskPayload(row.input, this.catalog.describe(row.model).modality);
      this.webhooks.event(row, 'start', current);
      outcome = await this.runner.run({
        row,
        payload,
        signal: r.ctrl.signal,
        publicUrl: this.o.publicUrl(),
        log: note,
        logProgressMs: this.o.logProgressMs,
        onToken: (t) => {
          r.tokens.push(t);
          this.bus.emit(`token:${row.id}`, t);
          this.webhooks.event(row, 'output', current);
          changed();
        },
      });
    } catch (e) {
      outcome = { status: 'failed', output: null, error: (e as Error).message, usage: undefined, httpStatus: 400 };
    }
    clearTimeout(saveTimer);
    try {
      if (r.why === 'shutdown') {
        await this.store.requeue(row.id, row.attempt, { refund: true, log: `${this.o.instance} shut down while running attempt ${row.attempt}: back in the queue, the attempt not counted` });
        return;
      }
      if (r.why === 'cancel') outcome = { ...outcome, status: 'canceled', output: r.tokens.length ? r.tokens : null, error: null };
      const at = Date.now();
      if (outcome.status === 'failed') log.add(`failed: ${outcome.error ?? 'no reason given'}`);
      if (outcome.status === 'canceled') log.add(`canceled after ${duration(at - started)}`);
      const fields: FinishFields = {
        status: outcome.status,
        output: outcome.output,
        error: outcome.error,
        logs: log.text(),
        metrics: { predict_time: (at - started) / 1000, total_time: (at - row.createdAt) / 1000 },
        completedAt: at,
      };
      const won = await this.store.finish(row.id, { from: 'processing', attempt: row.attempt }, fields, this.o.recordUsage ? this.usageOf(row, outcome, at) : undefined);
      if (won) {
        const admission = this.admissions.get(row.id);
        this.admissions.delete(row.id);
        await admission?.settle({ units: usedUnits(outcome), costUsd: outcome.usage?.costUsd ?? 0 }).catch(() => undefined);
      }
    } catch (e) {
      this.log(`prediction ${row.id}: ${(e as Error).message}`);
    } finally {
      this.webhooks.forget(row.id);
      this.running.delete(row.id);
      this.perModel.set(row.model, (this.perModel.get(row.model) ?? 1) - 1);
      this.ended_(row.id);
      this.bus.emit('end:slot');
      void this.pump();
      // The terminal webhook is due now: deliver it without waiting for the next poll.
      if (row.webhook) void this.webhooks.deliverDue();
    }
  }

  private ended_(id: string): void {
    this.bus.emit(`end:${id}`);
  }

  private usageOf(row: PredictionRow, outcome: RunOutcome, at: number): UsageRecord {
    const u = outcome.usage;
    const metered = meterBody(Buffer.from(JSON.stringify(row.input)), 'application/json');
    return {
      at: new Date(at),
      requestId: row.id,
      tokenId: row.tokenId,
      model: row.model,
      provider: u?.provider ?? 'none',
      task: u?.task ?? '',
      status: outcome.status === 'succeeded' ? 200 : outcome.status === 'canceled' ? 499 : outcome.httpStatus >= 400 ? outcome.httpStatus : 500,
      latencyMs: at - row.createdAt,
      computeMs: u?.computeMs ?? 0,
      inputTokens: u?.inputTokens ?? 0,
      outputTokens: u?.outputTokens ?? 0,
      outputs: u?.outputs ?? 0,
      characters: metered.characters,
      audioSeconds: metered.audioSeconds,
      megapixels: metered.megapixels,
      costUsd: u?.costUsd ?? 0,
    };
  }

  /** Heartbeat for this instance's rows, cancels asked elsewhere, and the recovery of dead instances' rows. */
  private async beat(): Promise<void> {
    if (this.closed) return;
    try {
      const now = Date.now();
      await this.store.heartbeat(this.o.instance, now);
      for (const id of await this.store.cancelRequested(this.o.instance)) {
        const r = this.running.get(id);
        if (r && !r.why) {
          r.why = 'cancel';
          r.ctrl.abort();
        }
      }
      const cutoff = now - this.o.staleMs;
      for (const row of await this.store.stale(cutoff)) {
        if (row.instance === this.o.instance && this.running.has(row.id)) continue;
        if (row.attempt < row.maxAttempts) {
          const line = `${row.instance ?? 'its instance'} stopped while running attempt ${row.attempt}: retrying (attempt ${row.attempt + 1} of ${row.maxAttempts})`;
          if (await this.store.requeue(row.id, row.attempt, { refund: false, heartbeatBefore: cutoff, log: line })) {
            this.log(`prediction ${row.id}: its instance stopped while running it; retrying (attempt ${row.attempt + 1} of ${row.maxAttempts})`);
            if (this.dispatch) await this.dispatch.push(row.id, row.attempt);
          }
          continue;
        }
        const at = Date.now();
        const error = `The instance running this prediction stopped (attempt ${row.attempt} of ${row.maxAttempts}); it is not retried again.`;
        const outcome: RunOutcome = { status: 'failed', output: null, error, usage: undefined, httpStatus: 500 };
        await this.store.finish(
          row.id,
          { from: 'stale', attempt: row.attempt, heartbeatBefore: cutoff },
          { status: 'failed', output: null, error, logs: logged(row.logs, `failed: ${error}`), metrics: { total_time: (at - row.createdAt) / 1000 }, completedAt: at },
          this.o.recordUsage ? this.usageOf(row, outcome, at) : undefined,
        );
      }
      if (this.dispatch) {
        // A prediction stored by an instance that died before handing it to the queue: hand it over again.
        for (const q of await this.store.queued(256)) if (q.createdAt < cutoff) await this.dispatch.push(q.id, q.attempt);
      }
    } catch (e) {
      this.log(`predictions heartbeat: ${(e as Error).message}`);
    }
  }
}

/** Stored logs with one more line, bounded. */
function logged(previous: string, line: string): string {
  const log = new PredictionLog(previous);
  log.add(line);
  return log.text();
}

function usedUnits(o: RunOutcome): number {
  return (o.usage?.inputTokens ?? 0) + (o.usage?.outputTokens ?? 0);
}
