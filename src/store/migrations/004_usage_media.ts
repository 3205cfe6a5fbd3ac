/**
 * Audio and images get usage columns of their own (seconds, megapixels), so a clip is no longer counted as
 * characters. Existing rows get 0: before this, their media was recorded (wrongly) as characters, and those
 * numbers are left as they were rather than guessed at.
 */
import type { Kysely, Migration } from 'kysely';

export const usageMedia: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('usage').addColumn('audio_seconds', 'double precision', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('usage').addColumn('megapixels', 'double precision', (c) => c.notNull().defaultTo(0)).execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.alterTable('usage').dropColumn('megapixels').execute();
    await db.schema.alterTable('usage').dropColumn('audio_seconds').execute();
  },
};
