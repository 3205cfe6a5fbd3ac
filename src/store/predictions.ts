/**
 * The predictions queue and its records on either database. Every state change is one conditional UPDATE, so
 * instances racing for the same row (claims, the recovery sweep, a cancel, a late finish) never both win:
 * - a claim moves `starting` → `processing` and bumps `attempt`;
 * - only the attempt that is current may write the terminal state (`finish`), and the same transaction adds
 *   the prediction's one usage record only if that write happened (usage is then exact across crashes);
 * - the terminal write also marks its webhook `pending`, so a crash right after it cannot lose the delivery.
 * The statements every prediction runs (insert, claim, get, progress, finish) are plain SQL on `conn.query`, SQLite's
 * cached prepared statements, rather than built and prepared anew by Kysely each time: submissions per second and
 * the queue's overhead are bound by them.
 */
import { sql, type CompiledQuery, type Selectable } from 'kysely';
import type { Connection } from './connection.ts';
import { toDate, toNumber } from './numbers.ts';
import type { PredictionsTable } from './schema.ts';
import type { UsageRecord } from './types.ts';
import type { PredictionRow, PredictionStatus, WebhookAttempt, WebhookEvent } from '../predictions/types.ts';

export interface FinishFields {
  status: 'succeeded' | 'failed' | 'canceled';
  output: unknown;
  error: string | null;
  logs: string;
  metrics: PredictionRow['metrics'];
  completedAt: number;
}

/** Which rows `finish` may end: the running attempt (`processing`), or a queued one (a cancel before it ran). */
export type FinishGuard = { from: 'processing'; attempt: number } | { from: 'starting' } | { from: 'stale'; attempt: number; heartbeatBefore: number };

export interface StoredFile {
  id: string;
  predictionId: string;
  contentType: string;
  bytes: Uint8Array;
  expiresAt: number;
}

export interface PredictionStore {
  insert(row: PredictionRow): Promise<void>;
  get(id: string): Promise<PredictionRow | undefined>;
  /** Newest first; `before` is the last row of the previous page. */
  list(owner: string, limit: number, before?: { createdAt: number; id: string }): Promise<PredictionRow[]>;
  /** Queued rows, oldest first. */
  queued(limit: number): Promise<{ id: string; model: string; attempt: number; createdAt: number }[]>;
  /** `starting` → `processing` for this instance; the claimed row, or undefined when another got it first. */
  claim(id: string, instance: string, now: number): Promise<PredictionRow | undefined>;
  heartbeat(instance: string, now: number): Promise<void>;
  /** Output and logs while it runs (only the current attempt writes). */
  progress(id: string, attempt: number, output: unknown, logs: string): Promise<void>;
  /** Writes the terminal state once; true when this call made it. `usage` is inserted in the same transaction. */
  finish(id: string, guard: FinishGuard, fields: FinishFields, usage?: UsageRecord): Promise<boolean>;
  requestCancel(id: string): Promise<void>;
  /** This instance's running rows whose cancel was asked for (possibly through another instance). */
  cancelRequested(instance: string): Promise<string[]>;
  /** Running rows whose instance has not said it is alive since `before`. */
  stale(before: number): Promise<PredictionRow[]>;
  /** Back to the queue: a stale row to retry, or this instance's own rows when it shuts down cleanly. */
  requeue(id: string, attempt: number, opts: { refund: boolean; heartbeatBefore?: number; log?: string }): Promise<boolean>;
  /** Terminal webhooks due now; each is leased until `until` by this call so another instance skips it. */
  leaseWebhooks(now: number, until: number, limit: number): Promise<PredictionRow[]>;
  /** `null`: no terminal event is due after all (the filter leaves `completed` out). */
  settleWebhook(id: string, state: 'pending' | 'delivered' | 'failed' | null, nextAt: number | null): Promise<void>;
  addAttempt(predictionId: string, attempt: WebhookAttempt): Promise<void>;
  attempts(predictionId: string): Promise<WebhookAttempt[]>;
  putFile(file: StoredFile, now: number): Promise<void>;
  getFile(id: string): Promise<StoredFile | undefined>;
  deleteExpiredFiles(now: number): Promise<number>;
  /** The shared secret `name`, made by `make` the first time any instance asks. */
  secret(name: string, make: () => string): Promise<string>;
}

export function predictionStore(conn: Connection, opts: { recordUsage: boolean } = { recordUsage: true }): PredictionStore {
  const { db } = conn;
  // Submissions that arrive together are written together: one transaction (SQLite: one prepared statement run
  // per row) instead of one commit each, which is what bounds submissions per second.
  let batch: { rows: PredictionsTable[]; done: Promise<void> } | undefined;
  const flush = async (rows: PredictionsTable[]) => {
    if (conn.insertRows) return conn.insertRows('predictions', PREDICTION_COLUMNS, rows.map((r) => PREDICTION_COLUMNS.map((c) => r[c])));
    await db.insertInto('predictions').values(rows).execute();
  };
  return {
    insert(row) {
      if (!batch) {
        const rows: PredictionsTable[] = [];
        const done = new Promise<void>((resolve, reject) =>
          setImmediate(() => {
            batch = undefined;
            flush(rows).then(resolve, reject);
          }),
        );
        batch = { rows, done };
      }
      batch.rows.push(toColumns(row));
      return batch.done;
    },
    async get(id) {
      const { rows } = await conn.query(sql`select * from predictions where id = ${id}`.compile(db));
      return rows[0] && fromColumns(rows[0] as Selectable<PredictionsTable>);
    },
    async list(owner, limit, before) {
      let q = db.selectFrom('predictions').selectAll().where('owner', '=', owner);
      if (before) {
        q = q.where((eb) =>
          eb.or([eb('created_at', '<', before.createdAt), eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)])]),
        );
      }
      const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map(fromColumns);
    },
    async queued(limit) {
      const { rows } = await conn.query(
        sql`select id, model, attempt, created_at from predictions where status = 'starting' order by created_at, id limit ${limit}`.compile(db),
      );
      return rows.map((r) => ({ id: String(r.id), model: String(r.model), attempt: toNumber(r.attempt), createdAt: toNumber(r.created_at) }));
    },
    async claim(id, instance, now) {
      const { rows } = await conn.query(
        sql`update predictions set status = 'processing', attempt = attempt + 1, instance = ${instance}, heartbeat_at = ${now},
          started_at = coalesce(started_at, ${now}) where id = ${id} and status = 'starting' returning *`.compile(db),
      );
      return rows[0] && fromColumns(rows[0] as Selectable<PredictionsTable>);
    },
    async heartbeat(instance, now) {
      await db.updateTable('predictions').set({ heartbeat_at: now }).where('instance', '=', instance).where('status', '=', 'processing').execute();
    },
    async progress(id, attempt, output, logs) {
      const json = output === undefined || output === null ? null : JSON.stringify(output);
      await conn.query(sql`update predictions set output = ${json}, logs = ${logs} where id = ${id} and attempt = ${attempt} and status = 'processing'`.compile(db));
    },
    async finish(id, guard, fields, usage) {
      let update = db
        .updateTable('predictions')
        .set((eb) => ({
          status: fields.status,
          output: fields.output === undefined || fields.output === null ? null : JSON.stringify(fields.output),
          error: fields.error,
          logs: fields.logs,
          metrics: fields.metrics ? JSON.stringify(fields.metrics) : null,
          completed_at: fields.completedAt,
          instance: null,
          webhook_state: eb.case().when('webhook', 'is not', null).then('pending').else(null).end(),
          webhook_next_at: eb.case().when('webhook', 'is not', null).then(fields.completedAt).else(null).end(),
        }))
        .where('id', '=', id)
        .where('status', '=', guard.from === 'starting' ? 'starting' : 'processing');
      if (guard.from !== 'starting') update = update.where('attempt', '=', guard.attempt);
      if (guard.from === 'stale') update = update.where('heartbeat_at', '<', guard.heartbeatBefore);
      const queries: CompiledQuery[] = [update.compile()];
      if (usage && opts.recordUsage) queries.push(usageIfFinished(id, fields.completedAt, usage).compile(db));
      await conn.transaction(queries);
      const { rows } = await conn.query(sql`select status, completed_at from predictions where id = ${id}`.compile(db));
      const after = rows[0];
      return after?.status === fields.status && toNumber(after.completed_at) === fields.completedAt;
    },
    async requestCancel(id) {
      await db.updateTable('predictions').set({ cancel_requested: 1 }).where('id', '=', id).where('status', 'in', ['starting', 'processing']).execute();
    },
    async cancelRequested(instance) {
      const rows = await db.selectFrom('predictions').select('id').where('instance', '=', instance).where('status', '=', 'processing').where('cancel_requested', '=', 1).execute();
      return rows.map((r) => r.id);
    },
    async stale(before) {
      const rows = await db.selectFrom('predictions').selectAll().where('status', '=', 'processing').where('heartbeat_at', '<', before).limit(500).execute();
      return rows.map(fromColumns);
    },
    async requeue(id, attempt, { refund, heartbeatBefore, log }) {
      // The line why goes at the end of the logs (the next attempt bounds their size when it writes them).
      const line = log === undefined ? undefined : `${log.replace(/\n/g, ' ')}\n`;
      let q = db
        .updateTable('predictions')
        .set((eb) => ({
          status: 'starting',
          instance: null,
          heartbeat_at: null,
          attempt: refund ? eb('attempt', '-', 1) : eb('attempt', '+', 0),
          ...(line ? { logs: sql<string>`logs || ${line}` } : {}),
        }))
        .where('id', '=', id)
        .where('status', '=', 'processing')
        .where('attempt', '=', attempt);
      if (heartbeatBefore !== undefined) q = q.where('heartbeat_at', '<', heartbeatBefore);
      const r = await q.executeTakeFirst();
      return r.numUpdatedRows === 1n;
    },
    async leaseWebhooks(now, until, limit) {
      const due = await db
        .selectFrom('predictions')
        .select('id')
        .where('webhook_state', '=', 'pending')
        .where('webhook_next_at', '<=', now)
        .orderBy('webhook_next_at')
        .limit(limit)
        .execute();
      const leased: PredictionRow[] = [];
      for (const { id } of due) {
        const r = await db
          .updateTable('predictions')
          .set((eb) => ({ webhook_next_at: until, webhook_attempts: eb('webhook_attempts', '+', 1) }))
          .where('id', '=', id)
          .where('webhook_state', '=', 'pending')
          .where('webhook_next_at', '<=', now)
          .executeTakeFirst();
        if (r.numUpdatedRows !== 1n) continue;
        const row = await this.get(id);
        if (row) leased.push(row);
      }
      return leased;
    },
    async settleWebhook(id, state, nextAt) {
      await db.updateTable('predictions').set({ webhook_state: state, webhook_next_at: nextAt }).where('id', '=', id).execute();
    },
    async addAttempt(predictionId, a) {
      await db
        .insertInto('prediction_webhook_attempts')
        .values({ prediction_id: predictionId, event: a.event, at: a.at, status: a.status, error: a.error, duration_ms: a.durationMs })
        .execute();
    },
    async attempts(predictionId) {
      const rows = await db.selectFrom('prediction_webhook_attempts').selectAll().where('prediction_id', '=', predictionId).orderBy('id').execute();
      return rows.map((r) => ({ event: r.event, at: toNumber(r.at), status: r.status, error: r.error, durationMs: r.duration_ms }));
    },
    async putFile(file, now) {
      await db
        .insertInto('prediction_files')
        .values({ id: file.id, prediction_id: file.predictionId, content_type: file.contentType, bytes: file.bytes, created_at: now, expires_at: file.expiresAt })
        .execute();
    },
    async getFile(id) {
      const r = await db.selectFrom('prediction_files').selectAll().where('id', '=', id).executeTakeFirst();
      return r && { id: r.id, predictionId: r.prediction_id, contentType: r.content_type, bytes: new Uint8Array(r.bytes), expiresAt: toNumber(r.expires_at) };
    },
    async deleteExpiredFiles(now) {
      const r = await db.deleteFrom('prediction_files').where('expires_at', '<=', now).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
    async secret(name, make) {
      await db.insertInto('prediction_secrets').values({ name, value: make() }).onConflict((oc) => oc.column('name').doNothing()).execute();
      const row = await db.selectFrom('prediction_secrets').select('value').where('name', '=', name).executeTakeFirstOrThrow();
      return row.value;
    },
  };
}

/**
 * The usage record, inserted only if the terminal write of this transaction happened (the row now carries this
 * completion time) and none exists yet. Casts: PostgreSQL cannot type bare parameters in a SELECT list.
 */
function usageIfFinished(id: string, completedAt: number, u: UsageRecord) {
  return sql`insert into usage (at, request_id, token_id, model, provider, task, status, latency_ms, compute_ms, input_tokens, output_tokens, outputs, characters, audio_seconds, megapixels, cost_usd)
    select cast(${u.at.getTime()} as bigint), cast(${u.requestId} as text), cast(${u.tokenId} as text), cast(${u.model} as text), cast(${u.provider} as text),
      cast(${u.task} as text), cast(${u.status} as integer), cast(${u.latencyMs} as double precision), cast(${u.computeMs} as double precision),
      cast(${u.inputTokens} as bigint), cast(${u.outputTokens} as bigint), cast(${u.outputs} as integer), cast(${u.characters} as bigint),
      cast(${u.audioSeconds} as double precision), cast(${u.megapixels} as double precision), cast(${u.costUsd} as double precision)
    where exists (select 1 from predictions where id = ${id} and completed_at = ${completedAt})
      and not exists (select 1 from usage where request_id = ${u.requestId})`;
}

const PREDICTION_COLUMNS = [
  'id',
  'owner',
  'token_id',
  'model',
  'version',
  'deployment',
  'input',
  'stream',
  'status',
  'output',
  'error',
  'logs',
  'metrics',
  'created_at',
  'started_at',
  'completed_at',
  'attempt',
  'max_attempts',
  'instance',
  'heartbeat_at',
  'cancel_requested',
  'webhook',
  'webhook_events',
  'webhook_state',
  'webhook_next_at',
  'webhook_attempts',
] as const satisfies readonly (keyof PredictionsTable)[];

function toColumns(r: PredictionRow): PredictionsTable {
  return {
    id: r.id,
    owner: r.owner,
    token_id: r.tokenId,
    model: r.model,
    version: r.version,
    deployment: r.deployment,
    input: JSON.stringify(r.input),
    stream: r.stream ? 1 : 0,
    status: r.status,
    output: r.output === undefined || r.output === null ? null : JSON.stringify(r.output),
    error: r.error,
    logs: r.logs,
    metrics: r.metrics ? JSON.stringify(r.metrics) : null,
    created_at: r.createdAt,
    started_at: r.startedAt,
    completed_at: r.completedAt,
    attempt: r.attempt,
    max_attempts: r.maxAttempts,
    instance: r.instance,
    heartbeat_at: r.heartbeatAt,
    cancel_requested: r.cancelRequested ? 1 : 0,
    webhook: r.webhook,
    webhook_events: JSON.stringify(r.webhookEvents),
    webhook_state: r.webhookState,
    webhook_next_at: r.webhookNextAt,
    webhook_attempts: r.webhookAttempts,
  };
}

const num = (v: unknown) => (v === null || v === undefined ? null : toNumber(v));

function fromColumns(r: Selectable<PredictionsTable>): PredictionRow {
  return {
    id: r.id,
    owner: r.owner,
    tokenId: r.token_id,
    model: r.model,
    version: r.version,
    deployment: r.deployment,
    input: JSON.parse(r.input) as Record<string, unknown>,
    stream: toNumber(r.stream) === 1,
    status: r.status as PredictionStatus,
    output: r.output === null ? null : (JSON.parse(r.output) as unknown),
    error: r.error,
    logs: r.logs,
    metrics: r.metrics === null ? null : (JSON.parse(r.metrics) as PredictionRow['metrics']),
    createdAt: toNumber(r.created_at),
    startedAt: num(r.started_at),
    completedAt: num(r.completed_at),
    attempt: toNumber(r.attempt),
    maxAttempts: toNumber(r.max_attempts),
    instance: r.instance,
    heartbeatAt: toDate(r.heartbeat_at)?.getTime() ?? null,
    cancelRequested: toNumber(r.cancel_requested) === 1,
    webhook: r.webhook,
    webhookEvents: JSON.parse(r.webhook_events) as WebhookEvent[],
    webhookState: r.webhook_state as PredictionRow['webhookState'],
    webhookNextAt: num(r.webhook_next_at),
    webhookAttempts: toNumber(r.webhook_attempts),
  };
}
