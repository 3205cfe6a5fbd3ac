/**
 * Opens modelhost's database: SQLite under the data directory by default, PostgreSQL when `database` is a
 * `postgres://` URL (several instances sharing it). Migrations are applied before the store is returned.
 */
import type { Connection } from './connection.ts';
import { migrate } from './migrate.ts';
import { openPostgres } from './postgres.ts';
import { openSqlite } from './sqlite.ts';
import { resolveTarget } from './target.ts';
import { tokenStore } from './tokens.ts';
import type { Store, StoreOptions } from './types.ts';
import { usageStore } from './usage.ts';
import { endpointStore } from './endpoints.ts';
import { predictionStore } from './predictions.ts';

export type { Store, StoreOptions } from './types.ts';

export async function openStore(opts: StoreOptions): Promise<Store> {
  const target = resolveTarget(opts);
  const conn: Connection = target.kind === 'postgres' ? await openPostgres(target.url) : openSqlite(target.file);
  try {
    await migrate(conn);
  } catch (error) {
    await conn.close().catch(() => undefined);
    throw error;
  }
  return { kind: conn.kind, tokens: tokenStore(conn), usage: usageStore(conn), endpoints: endpointStore(conn), predictions: predictionStore(conn), claimEndpoints: () => conn.claim('endpoints'), close: () => conn.close() };
}
