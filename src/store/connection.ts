import type { CompiledQuery, Kysely } from 'kysely';
import type { Database } from './schema.ts';

/** What the token and usage stores need from either backend. */
export interface Connection {
  readonly kind: 'sqlite' | 'postgres';
  readonly db: Kysely<Database>;
  /** Runs the statements in one write transaction: all commit or none do. */
  transaction(queries: readonly CompiledQuery[]): Promise<void>;
  /**
   * Inserts rows of one table in one transaction, when the backend has a faster way than compiled statements
   * (SQLite: one prepared statement run per row). Absent: use `transaction`.
   */
  insertRows?(table: string, columns: readonly string[], rows: readonly unknown[][]): Promise<void>;
  /**
   * Runs one compiled statement: its rows (a SELECT, or `RETURNING`) and how many rows it changed (with
   * `RETURNING`: the rows it returned). Not for statements that must share a transaction. SQLite runs
   * it on a cached prepared statement instead of Kysely's driver, which prepares every statement anew and
   * queues for its connection (several times slower on the predictions queue's per-prediction statements).
   */
  query(q: CompiledQuery): Promise<{ rows: Record<string, unknown>[]; changes: number }>;
  /**
   * Runs `work` while no other instance on this database can write (SQLite: `BEGIN IMMEDIATE`, rolled
   * back if `work` throws). PostgreSQL needs nothing here: Kysely's migrator takes an advisory lock.
   */
  exclusive(work: () => Promise<void>): Promise<void>;
  /**
   * Claims a role only one instance may hold (managing dedicated endpoints) for as long as this connection
   * lives; false when another instance holds it. SQLite is one instance's file: always true.
   */
  claim(role: string): Promise<boolean>;
  close(): Promise<void>;
}
