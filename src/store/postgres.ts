/** The shared backend: several modelhost instances on one PostgreSQL. */
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { Connection } from './connection.ts';
import type { Database } from './schema.ts';
import { redactSecrets, redactUrl } from './redact.ts';

const CONNECT_TIMEOUT_MS = 5_000;

export async function openPostgres(url: string): Promise<Connection> {
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, application_name: 'modelhost' });
  // An idle client that loses its server emits 'error' on the pool; unhandled, that would kill the
  // process. The next query gets a fresh client or fails with its own error, which is what callers see.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw unreachable(url, error);
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let closed: Promise<void> | undefined;
  // Session-level advisory locks live as long as the client that took them: those clients are kept out of the
  // pool until close, and a crashed instance's locks go with its connection.
  const holders: pg.PoolClient[] = [];
  return {
    kind: 'postgres',
    db,
    transaction: (queries) =>
      db.transaction().execute(async (trx) => {
        for (const q of queries) await trx.executeQuery(q);
      }),
    query: async (q) => {
      const r = await db.executeQuery<Record<string, unknown>>(q);
      return { rows: r.rows, changes: Number(r.numAffectedRows ?? BigInt(r.rows.length)) };
    },
    exclusive: (work) => work(),
    async claim(role) {
      const client = await pool.connect();
      const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtext($1)) as ok', [`modelhost:${role}`]);
      if (rows[0]?.ok) {
        holders.push(client);
        return true;
      }
      client.release();
      return false;
    },
    close: () =>
      (closed ??= (async () => {
        for (const c of holders.splice(0)) c.release();
        await db.destroy();
      })()),
  };
}

function unreachable(url: string, error: unknown): Error {
  const code = (error as { code?: unknown } | null)?.code;
  // Node reports a refused localhost connection as an AggregateError with an empty message.
  const reason = redactSecrets((error instanceof Error && error.message) || String(code ?? error), url);
  return new Error(`Cannot connect to PostgreSQL at ${redactUrl(url)}: ${reason}. ${nextStep(code)}`, { cause: error });
}

function nextStep(code: unknown): string {
  switch (code) {
    case '28P01':
    case '28000':
      return 'Check the user name and password in the --database URL.';
    case '3D000':
      return 'Create the database (createdb <name>) or fix its name in the --database URL.';
    default:
      return (
        'Check that PostgreSQL is running and that host and port in the --database URL are right, ' +
        'or leave --database out to use the embedded SQLite database.'
      );
  }
}
