/** Brings the schema up to date at start; a database already at the latest version is left untouched. */
import { Migrator } from 'kysely';
import type { Connection } from './connection.ts';
import { migrationProvider } from './migrations/index.ts';

export async function migrate(conn: Connection): Promise<void> {
  const migrator = new Migrator({ db: conn.db, provider: migrationProvider });
  // Check before locking: a restart on an up-to-date database then never blocks other instances' writes.
  const pending = (await migrator.getMigrations()).filter((m) => !m.executedAt);
  if (pending.length === 0) return;
  await conn.exclusive(async () => {
    // Re-read under the lock: another instance may have applied them meanwhile (then this is a no-op).
    const { error, results } = await migrator.migrateToLatest();
    if (error !== undefined) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown migration';
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`Database migration ${failed} failed: ${reason}. The database was left at its previous version.`, {
        cause: error,
      });
    }
  });
}
