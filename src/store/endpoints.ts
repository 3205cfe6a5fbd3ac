import type { Selectable } from 'kysely';
import type { Connection } from './connection.ts';
import { toNumber } from './numbers.ts';
import type { EndpointsTable } from './schema.ts';
import { isUniqueViolation } from './tokens.ts';
import type { EndpointRow, EndpointStore } from './types.ts';

export class EndpointConflictError extends Error {
  readonly code = 'conflict';
}

export function endpointStore(conn: Connection): EndpointStore {
  const { db } = conn;
  return {
    async create(row) {
      try {
        await db.insertInto('endpoints').values(toColumns(row)).execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw new EndpointConflictError(`An endpoint named ${row.name} already exists`, { cause: error });
        throw error;
      }
    },
    async save(row) {
      const { name: _name, created_at: _c, created_by: _b, ...rest } = toColumns(row);
      await db.updateTable('endpoints').set(rest).where('name', '=', row.name).execute();
    },
    async get(name) {
      const row = await db.selectFrom('endpoints').selectAll().where('name', '=', name).executeTakeFirst();
      return row && fromColumns(row);
    },
    async list(namespace) {
      let q = db.selectFrom('endpoints').selectAll();
      if (namespace !== undefined) q = q.where('namespace', '=', namespace);
      return (await q.orderBy('created_at').orderBy('name').execute()).map(fromColumns);
    },
    async delete(name) {
      const result = await db.deleteFrom('endpoints').where('name', '=', name).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
}

function toColumns(row: EndpointRow): EndpointsTable {
  return {
    name: row.name,
    namespace: row.namespace,
    spec: JSON.stringify(row.spec),
    active_spec: row.activeSpec === null ? null : JSON.stringify(row.activeSpec),
    state: row.state,
    message: row.message,
    created_at: row.createdAt.getTime(),
    created_by: row.createdBy,
    updated_at: row.updatedAt.getTime(),
    updated_by: row.updatedBy,
  };
}

function fromColumns(row: Selectable<EndpointsTable>): EndpointRow {
  return {
    name: row.name,
    namespace: row.namespace,
    spec: JSON.parse(row.spec) as unknown,
    activeSpec: row.active_spec === null ? null : (JSON.parse(row.active_spec) as unknown),
    state: row.state,
    message: row.message,
    createdAt: new Date(toNumber(row.created_at)),
    createdBy: row.created_by,
    updatedAt: new Date(toNumber(row.updated_at)),
    updatedBy: row.updated_by,
  };
}
