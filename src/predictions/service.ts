/**
 * Async predictions (README: Predictions and webhooks): submission (checked whole before anything is stored,
 * tiers applied here so a limited caller gets 429 at submit), reading, listing, waiting and cancel. Running
 * them is workers.ts; the durable state is src/store/predictions.ts.
 */
import { randomFillSync } from 'node:crypto';
import { ModelhostError } from '../core/errors.ts';
import type { Principal } from '../auth/guard.ts';
import type { InputModality } from '../core/tasks/index.ts';
import type { PredictionStore } from '../store/predictions.ts';
import type { UsageRecord } from '../store/types.ts';
import { checkTarget, TargetRefusedError } from './address-guard.ts';
import { parseCreate, PredictionInputError, taskPayload, type TaskPayload } from './input.ts';
import { isTerminal, type PredictionRow, type WebhookAttempt } from './types.ts';
import type { Workers } from './workers.ts';

/** Who is asking: predictions belong to the token that made them. */
export interface Caller {
  tokenId: string | null;
  /** The token's owner (the namespace of its dedicated endpoints). */
  owner: string;
  /** The authenticated caller (absent with `--auth off`): its tier is applied at submit. */
  principal?: Principal;
}

export function ownerKey(c: Caller): string {
  return c.tokenId ?? `anonymous:${c.owner}`;
}

export interface ModelView {
  modality: InputModality;
  task: string;
}

/** What is served here, as predictions need to know it. */
export interface Catalog {
  /** A served model's task and input modality; throws 404 when no such model is served. */
  describe(model: string): ModelView;
  /** A dedicated endpoint the caller may use, and its model; throws 404/403 otherwise. */
  deployment(owner: string, name: string, caller: Caller): ModelView & { model: string };
  /** A line for the logs when a call of this model (or dedicated endpoint) must first wait for it to start. */
  coldStart(model: string, deployment: string | null): string | undefined;
}

/** Generation models stream their tokens (`urls.stream`), as Replicate's language models do. */
const STREAMED_TASKS = new Set(['text-generation']);

/** A tier's admission at submit (src/auth/limits.ts), settled when the prediction ends. */
export interface Admission {
  settle(actual: { units: number; costUsd: number }): Promise<void>;
}
export type Admit = (caller: Caller, model: string, payload: TaskPayload) => Promise<Admission>;

export class PredictionNotFoundError extends ModelhostError {
  constructor(id: string) {
    super('model_not_found', 404, `No prediction ${id.slice(0, 64)} (or it belongs to another token).`);
  }
}

export interface CreateArgs {
  caller: Caller;
  /** From the path: `/v1/models/{owner}/{name}/predictions`. */
  model?: string;
  /** From the path: `/v1/deployments/{owner}/{name}/predictions`. */
  deployment?: { owner: string; name: string };
  body: unknown;
}

export interface ServiceOptions {
  store: PredictionStore;
  catalog: Catalog;
  workers: Workers;
  admit?: Admit;
  allowPrivateTargets: boolean;
  /** Retries after an instance died while running one, plus the first run. */
  maxAttempts: number;
  /** How often `wait` re-reads a prediction that runs on another instance. */
  pollMs: number;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** Random bytes for ids, drawn 4 KiB at a time: one call into the CSPRNG per ~150 ids, not one per id. */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

/** Replicate-style ids: 26 characters of lowercase base32. */
export function newPredictionId(): string {
  if (poolAt + 26 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  let id = '';
  for (let i = poolAt; i < poolAt + 26; i++) id += ALPHABET[pool[i]! & 31];
  poolAt += 26;
  return id;
}

export class PredictionService {
  constructor(private readonly o: ServiceOptions) {}

  async create(args: CreateArgs): Promise<PredictionRow> {
    const req = parseCreate(args.body);
    let model: string;
    let view: ModelView;
    let deployment: string | null = null;
    if (args.deployment) {
      ({ model, ...view } = this.o.catalog.deployment(args.deployment.owner, args.deployment.name, args.caller));
      deployment = args.deployment.name;
    } else {
      const named = args.model ?? req.model;
      if (!named) throw new PredictionInputError('Name the model: "version" (or "model") in the body, or POST /v1/models/{owner}/{name}/predictions.');
      model = named;
      view = this.o.catalog.describe(model);
    }
    const modality = view.modality;
    const payload = taskPayload(req.input, modality);
    if (payload.fetch) await this.checkUrl(new URL(payload.fetch), `input.${modality}`);
    if (req.webhook) await this.checkUrl(req.webhook, 'webhook');
    const admission = this.o.admit ? await this.o.admit(args.caller, model, payload) : undefined;
    const now = Date.now();
    const row: PredictionRow = {
      id: newPredictionId(),
      owner: ownerKey(args.caller),
      tokenId: args.caller.tokenId,
      model,
      version: req.version ?? model,
      deployment,
      input: req.input,
      stream: req.stream || STREAMED_TASKS.has(view.task),
      status: 'starting',
      output: null,
      error: null,
      logs: '',
      metrics: null,
      createdAt: now,
      startedAt: null,
      completedAt: null,
      attempt: 0,
      maxAttempts: this.o.maxAttempts,
      instance: null,
      heartbeatAt: null,
      cancelRequested: false,
      webhook: req.webhook?.toString() ?? null,
      webhookEvents: req.webhookEvents,
      webhookState: null,
      webhookNextAt: null,
      webhookAttempts: 0,
    };
    try {
      await this.o.store.insert(row);
    } catch (e) {
      await admission?.settle({ units: 0, costUsd: 0 }).catch(() => undefined);
      throw e;
    }
    if (admission) this.o.workers.holdAdmission(row.id, admission);
    await this.o.workers.submitted(row);
    return row;
  }

  private async checkUrl(url: URL, field: string): Promise<void> {
    try {
      await checkTarget(url, this.o.allowPrivateTargets);
    } catch (e) {
      if (e instanceof TargetRefusedError) throw new PredictionInputError(`${field}: ${e.message}; modelhost does not send requests there`);
      throw e;
    }
  }

  /** The caller's prediction, or 404 (also for someone else's). */
  async get(id: string, caller: Caller): Promise<PredictionRow> {
    const row = await this.o.store.get(id);
    if (!row || row.owner !== ownerKey(caller)) throw new PredictionNotFoundError(id);
    return row;
  }

  /** A prediction by id whoever owns it (the stream URL is its own credential). */
  peek(id: string): Promise<PredictionRow | undefined> {
    return this.o.store.get(id);
  }

  attempts(id: string): Promise<WebhookAttempt[]> {
    return this.o.store.attempts(id);
  }

  ownerOf(caller: Caller): string {
    return ownerKey(caller);
  }

  async list(caller: Caller, limit: number, cursor?: string): Promise<{ rows: PredictionRow[]; next?: string }> {
    const before = cursor ? decodeCursor(cursor) : undefined;
    const rows = await this.o.store.list(ownerKey(caller), limit + 1, before);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { rows: page, ...(rows.length > limit && last ? { next: encodeCursor(last) } : {}) };
  }

  /** Holds until the prediction ends or `ms` pass; answers it as it then is. */
  async wait(row: PredictionRow, ms: number): Promise<PredictionRow> {
    const deadline = Date.now() + ms;
    let current = row;
    while (!isTerminal(current.status) && Date.now() < deadline) {
      await this.o.workers.ended(row.id, Math.min(this.o.pollMs, deadline - Date.now()));
      current = (await this.o.store.get(row.id)) ?? current;
    }
    return current;
  }

  /** Cancels a queued or running prediction; a finished one is answered unchanged. */
  async cancel(id: string, caller: Caller): Promise<PredictionRow> {
    const row = await this.get(id, caller);
    if (isTerminal(row.status)) return row;
    await this.o.workers.cancel(row);
    return this.wait(row, 5_000);
  }

  /** Usage of a prediction that never ran here (canceled while queued): recorded once, with no compute. */
  static queuedUsage(row: PredictionRow, at: number): UsageRecord {
    return {
      at: new Date(at),
      requestId: row.id,
      tokenId: row.tokenId,
      model: row.model,
      provider: 'none',
      task: '',
      status: 499,
      latencyMs: at - row.createdAt,
      computeMs: 0,
      inputTokens: 0,
      outputTokens: 0,
      outputs: 0,
      characters: 0,
      audioSeconds: 0,
      megapixels: 0,
      costUsd: 0,
    };
  }
}

function encodeCursor(row: PredictionRow): string {
  return Buffer.from(`${row.createdAt}:${row.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  const m = /^(\d+):([a-z2-7]{1,64})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new PredictionInputError('cursor: not a cursor this server gave out');
  return { createdAt: Number(m[1]), id: m[2]! };
}
