/**
 * One row per call. `at` is epoch milliseconds (see 001_tokens.ts). `token_id` has no foreign key on
 * purpose: usage is an audit log written in batches, and one record naming an unknown token must not
 * roll back the whole batch; anonymous calls are NULL. Money is double precision (sums of fractions of
 * a cent; exact decimal is not needed for reporting and would come back as strings from PostgreSQL).
 */
import type { Kysely, Migration } from 'kysely';
import { isPostgres } from './dialect.ts';

export const usage: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('usage')
      .addColumn('id', isPostgres(db) ? 'bigint' : 'integer', (c) =>
        // SQLite's `integer primary key` is the rowid: auto-assigned with no extra index.
        isPostgres(db) ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey(),
      )
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('request_id', 'text', (c) => c.notNull())
      .addColumn('token_id', 'text')
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('task', 'text', (c) => c.notNull())
      .addColumn('status', 'integer', (c) => c.notNull())
      .addColumn('latency_ms', 'double precision', (c) => c.notNull())
      .addColumn('compute_ms', 'double precision', (c) => c.notNull())
      .addColumn('input_tokens', 'bigint', (c) => c.notNull())
      .addColumn('output_tokens', 'bigint', (c) => c.notNull())
      .addColumn('outputs', 'integer', (c) => c.notNull())
      .addColumn('characters', 'bigint', (c) => c.notNull())
      .addColumn('cost_usd', 'double precision', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('usage_at').on('usage').column('at').execute();
    await db.schema.createIndex('usage_token_at').on('usage').columns(['token_id', 'at']).execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('usage').execute();
  },
};
