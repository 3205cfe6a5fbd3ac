/**
 * Async predictions (issue 17): the prediction itself (the durable queue: `status` 'starting' is queued, a
 * 'processing' row names the instance running it and when that instance last said it was alive), one row per
 * webhook delivery attempt (shown to the prediction's owner), output files served under signed URLs, and
 * the secrets every instance on the database must share (webhook signing per owner, file URL signing).
 * Times are epoch milliseconds (see 001_tokens.ts).
 */
import type { Kysely, Migration } from 'kysely';
import { isPostgres } from './dialect.ts';

export const predictions: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('predictions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('owner', 'text', (c) => c.notNull())
      .addColumn('token_id', 'text')
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('deployment', 'text')
      .addColumn('input', 'text', (c) => c.notNull())
      .addColumn('stream', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('output', 'text')
      .addColumn('error', 'text')
      .addColumn('logs', 'text', (c) => c.notNull())
      .addColumn('metrics', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('started_at', 'bigint')
      .addColumn('completed_at', 'bigint')
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('max_attempts', 'integer', (c) => c.notNull())
      .addColumn('instance', 'text')
      .addColumn('heartbeat_at', 'bigint')
      .addColumn('cancel_requested', 'integer', (c) => c.notNull())
      .addColumn('webhook', 'text')
      .addColumn('webhook_events', 'text', (c) => c.notNull())
      // The terminal event's delivery: null (no webhook), 'pending', 'delivered' or 'failed'.
      .addColumn('webhook_state', 'text')
      .addColumn('webhook_next_at', 'bigint')
      .addColumn('webhook_attempts', 'integer', (c) => c.notNull())
      .execute();
    // The queue reads queued rows oldest first; the recovery sweep reads running rows by heartbeat.
    await db.schema.createIndex('predictions_status_created').on('predictions').columns(['status', 'created_at']).execute();
    await db.schema.createIndex('predictions_owner_created').on('predictions').columns(['owner', 'created_at']).execute();
    await db.schema.createIndex('predictions_webhook_due').on('predictions').columns(['webhook_state', 'webhook_next_at']).execute();

    await db.schema
      .createTable('prediction_webhook_attempts')
      .addColumn('id', isPostgres(db) ? 'bigint' : 'integer', (c) => (isPostgres(db) ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey()))
      .addColumn('prediction_id', 'text', (c) => c.notNull())
      .addColumn('event', 'text', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('status', 'integer')
      .addColumn('error', 'text')
      .addColumn('duration_ms', 'double precision', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('prediction_webhook_attempts_prediction').on('prediction_webhook_attempts').column('prediction_id').execute();

    await db.schema
      .createTable('prediction_files')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('prediction_id', 'text', (c) => c.notNull())
      .addColumn('content_type', 'text', (c) => c.notNull())
      .addColumn('bytes', isPostgres(db) ? 'bytea' : 'blob', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('prediction_files_expires').on('prediction_files').column('expires_at').execute();

    await db.schema
      .createTable('prediction_secrets')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<unknown>) {
    for (const t of ['prediction_secrets', 'prediction_files', 'prediction_webhook_attempts', 'predictions']) await db.schema.dropTable(t).execute();
  },
};
