/** The embedded backend: one SQLite file in WAL mode, so readers never wait for the writer. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type CompiledQuery } from 'kysely';
import type { Connection } from './connection.ts';
import { claimFile } from './claim-file.ts';
import type { Database } from './schema.ts';

/** How long a writer waits for another process's write to finish before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5_000;

/** Exclusive sections per file within this process (see `exclusive`). */
const exclusiveChains = new Map<string, Promise<void>>();

export function openSqlite(file: string): Connection {
  const raw = openFile(file);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
  const releases: (() => void)[] = [];
  // better-sqlite3 is synchronous: a transaction run in one call cannot interleave with another
  // connection in this process, and other processes wait on busy_timeout. An async transaction would
  // hold the lock across awaits, and a second connection in the same process would then block the
  // event loop in its busy wait, starving the first: a deadlock until the timeout.
  // Usage batches and the predictions queue repeat the same few statement texts: prepare each text once.
  const prepared = new Map<string, BetterSqlite3.Statement>();
  const statement = (text: string) => {
    let st = prepared.get(text);
    if (!st) {
      if (prepared.size >= 64) prepared.clear();
      prepared.set(text, (st = raw.prepare(text)));
    }
    return st;
  };
  const writeAll = raw.transaction((queries: readonly CompiledQuery[]) => {
    for (const q of queries) statement(q.sql).run(q.parameters as unknown[]);
  });
  const insertAll = raw.transaction((st: BetterSqlite3.Statement, rows: readonly unknown[][]) => {
    for (const row of rows) st.run(row);
  });
  let closed: Promise<void> | undefined;
  return {
    kind: 'sqlite',
    db,
    transaction: async (queries) => {
      // IMMEDIATE takes the write lock up front, so waiting happens in busy_timeout, not as an error later.
      writeAll.immediate(queries);
    },
    insertRows: async (table, columns, rows) => {
      // Names come from the code, never from input; quoted anyway.
      const text = `INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
      insertAll.immediate(statement(text), rows);
    },
    query: async (q) => {
      const st = statement(q.sql);
      const params = q.parameters as unknown[];
      if (st.reader) {
        const rows = st.all(params) as Record<string, unknown>[];
        return { rows, changes: rows.length };
      }
      return { rows: [], changes: st.run(params).changes };
    },
    exclusive: (work) => exclusive(file, raw, work),
    // Two processes started on one data directory must not both run the endpoints' replicas.
    async claim(role) {
      if (file === ':memory:') return true;
      const release = claimFile(`${file}.${role}.lock`);
      if (release) releases.push(release);
      return release !== undefined;
    },
    close: () =>
      (closed ??= (async () => {
        for (const release of releases.splice(0)) release();
        await db.destroy();
      })()),
  };
}

function openFile(file: string): BetterSqlite3.Database {
  try {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    const raw = new BetterSqlite3(file);
    // busy_timeout first: switching to WAL needs a lock another process may hold for a moment.
    raw.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    raw.pragma('journal_mode = WAL');
    raw.pragma('foreign_keys = ON');
    // NORMAL is durable across process crashes in WAL mode; only power loss can drop the last commits.
    raw.pragma('synchronous = NORMAL');
    return raw;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Cannot open the SQLite database ${file}: ${reason}. Check that the folder exists and is writable ` +
        '(or choose another with --data-dir), or pass --database postgres://... to use PostgreSQL.',
      { cause: error },
    );
  }
}

/**
 * BEGIN IMMEDIATE keeps other processes out; within this process the sections are also chained, because
 * a second connection's BEGIN IMMEDIATE would block the event loop the first one needs to finish.
 */
async function exclusive(file: string, raw: BetterSqlite3.Database, work: () => Promise<void>): Promise<void> {
  const key = path.resolve(file);
  const previous = exclusiveChains.get(key) ?? Promise.resolve();
  const mine = previous.then(async () => {
    raw.exec('BEGIN IMMEDIATE');
    try {
      await work();
      raw.exec('COMMIT');
    } catch (error) {
      if (raw.inTransaction) raw.exec('ROLLBACK');
      throw error;
    }
  });
  const settled = mine.catch(() => undefined);
  exclusiveChains.set(key, settled);
  try {
    await mine;
  } finally {
    if (exclusiveChains.get(key) === settled) exclusiveChains.delete(key);
  }
}
