/**
 * Dedicated endpoints: what each is (its spec as JSON, the body it was created from, resolved) and where its
 * lifecycle stands, so that after a restart every endpoint returns to its state. `active_spec` is what the
 * replicas run when it differs from `spec` (an update in progress or failed).
 */
import type { Kysely, Migration } from 'kysely';

export const endpoints: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('endpoints')
      // Names are unique across namespaces: an endpoint is reached at /endpoints/{name}.
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('active_spec', 'text')
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_by', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('endpoints_namespace').on('endpoints').column('namespace').execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('endpoints').execute();
  },
};
