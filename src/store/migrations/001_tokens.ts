/**
 * API tokens. Times are epoch milliseconds in a `bigint` column (INTEGER affinity on SQLite): the one
 * representation both databases store, compare and divide identically, with no time zone to get wrong.
 * Grouping usage by UTC day is then plain integer division (`at / 86400000`) on both; see ../usage.ts.
 */
import type { Kysely, Migration } from 'kysely';

export const tokens: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('tokens')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('owner', 'text', (c) => c.notNull())
      // JSON text rather than a PostgreSQL array: the same column and parsing on both databases.
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('tier', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull().unique())
      .addColumn('prefix', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('tokens').execute();
  },
};
