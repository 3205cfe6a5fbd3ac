import type { Selectable } from 'kysely';
import type { Connection } from './connection.ts';
import type { TokensTable } from './schema.ts';
import type { NewToken, Scope, TokenRow, TokenStore } from './types.ts';
import { toDate, toNumber } from './numbers.ts';

export function tokenStore(conn: Connection): TokenStore {
  const { db } = conn;
  return {
    async create(token: NewToken): Promise<TokenRow> {
      const row: TokenRow = { ...token, createdAt: token.createdAt ?? new Date(), revokedAt: null };
      try {
        await db.insertInto('tokens').values(toColumns(row)).execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw new Error('A token with this id or hash already exists.', { cause: error });
        throw error;
      }
      return row;
    },
    async list() {
      const rows = await db.selectFrom('tokens').selectAll().orderBy('created_at').orderBy('id').execute();
      return rows.map(fromColumns);
    },
    async byHash(hash) {
      const row = await db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
      return row && fromColumns(row);
    },
    async byId(id) {
      const row = await db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
      return row && fromColumns(row);
    },
    async revoke(id, at) {
      const result = await db
        .updateTable('tokens')
        .set({ revoked_at: at.getTime() })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },
    async count() {
      const row = await db.selectFrom('tokens').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      return toNumber(row.n);
    },
  };
}

function toColumns(row: TokenRow): TokensTable {
  return {
    id: row.id,
    name: row.name,
    owner: row.owner,
    scopes: JSON.stringify(row.scopes),
    tier: row.tier,
    hash: row.hash,
    prefix: row.prefix,
    created_at: row.createdAt.getTime(),
    expires_at: row.expiresAt?.getTime() ?? null,
    revoked_at: row.revokedAt?.getTime() ?? null,
  };
}

function fromColumns(row: Selectable<TokensTable>): TokenRow {
  return {
    id: row.id,
    name: row.name,
    owner: row.owner,
    scopes: JSON.parse(row.scopes) as Scope[],
    tier: row.tier,
    hash: row.hash,
    prefix: row.prefix,
    createdAt: toDate(row.created_at) ?? new Date(0),
    expiresAt: toDate(row.expires_at),
    revokedAt: toDate(row.revoked_at),
  };
}

/** PostgreSQL's unique_violation, or SQLite's UNIQUE / PRIMARY KEY constraint codes. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
