/**
 * A prediction's one usage record is written only if none exists for its request id yet (src/store/predictions.ts,
 * `usageIfFinished`); without an index that check reads the whole usage table, once per finished prediction.
 */
import type { Kysely, Migration } from 'kysely';

export const usageRequestId: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.createIndex('usage_request_id').on('usage').column('request_id').execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropIndex('usage_request_id').execute();
  },
};
