import { PostgresAdapter, type Kysely } from 'kysely';

/** The few DDL spellings that differ between the two databases are chosen by asking the adapter. */
export function isPostgres(db: Kysely<unknown>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
