/**
 * Usage records and their totals. Days are UTC: `at` is epoch milliseconds, so `at / 86400000` (integer
 * division on both databases, as both operands are integers) is the day number since 1970-01-01 UTC,
 * turned into `YYYY-MM-DD` here. No date function, time zone or session setting is involved.
 */
import { sql, type CompiledQuery, type Insertable, type RawBuilder } from 'kysely';
import type { Connection } from './connection.ts';
import type { UsageTable } from './schema.ts';
import type { UsageGroup, UsageRecord, UsageRow, UsageStore } from './types.ts';
import { toNumber } from './numbers.ts';

const DAY_MS = 86_400_000;

/**
 * Rows per INSERT statement: 16 parameters each keeps a statement far below SQLite's 32,766 and
 * PostgreSQL's 65,535 bound parameters.
 */
const ROWS_PER_STATEMENT = 500;

/** Literal (not bound) so that PostgreSQL sees the same expression in SELECT and GROUP BY. */
const GROUP_EXPRESSIONS: Record<UsageGroup, RawBuilder<unknown>> = {
  token: sql`token_id`,
  model: sql`model`,
  provider: sql`provider`,
  day: sql`at / ${sql.lit(DAY_MS)}`,
};

export function usageStore(conn: Connection): UsageStore {
  const { db } = conn;
  return {
    async insertMany(records) {
      if (records.length === 0) return;
      if (conn.insertRows) {
        const rows = records.map((r) => {
          const c = toColumns(r);
          return USAGE_COLUMNS.map((k) => c[k]);
        });
        return conn.insertRows('usage', USAGE_COLUMNS, rows);
      }
      const statements: CompiledQuery[] = [];
      for (let i = 0; i < records.length; i += ROWS_PER_STATEMENT) {
        const chunk = records.slice(i, i + ROWS_PER_STATEMENT).map(toColumns);
        statements.push(db.insertInto('usage').values(chunk).compile());
      }
      await conn.transaction(statements);
    },

    async aggregate(query) {
      const groups = [...new Set(query.by)];
      let q = db.selectFrom('usage');
      if (query.from) q = q.where('at', '>=', query.from.getTime());
      if (query.to) q = q.where('at', '<', query.to.getTime());
      if (query.tokenId !== undefined) q = q.where('token_id', '=', query.tokenId);
      const rows = await q
        .select([
          ...groups.map((g) => GROUP_EXPRESSIONS[g].as(g)),
          sql`count(*)`.as('requests'),
          sql`sum(case when status >= 400 then 1 else 0 end)`.as('errors'),
          sql`sum(input_tokens)`.as('input_tokens'),
          sql`sum(output_tokens)`.as('output_tokens'),
          sql`sum(outputs)`.as('outputs'),
          sql`sum(characters)`.as('characters'),
          sql`sum(audio_seconds)`.as('audio_seconds'),
          sql`sum(megapixels)`.as('megapixels'),
          sql`sum(compute_ms)`.as('compute_ms'),
          sql`sum(cost_usd)`.as('cost_usd'),
          sql`avg(latency_ms)`.as('avg_latency_ms'),
        ])
        .$if(groups.length > 0, (qb) => qb.groupBy(groups.map((g) => GROUP_EXPRESSIONS[g])))
        .execute();
      return (
        rows
          .map((row) => fromColumns(row as Record<string, unknown>, groups))
          // With no grouping, SQL answers an empty range with one all-zero row; there is nothing to report.
          .filter((row) => row.requests > 0)
          .sort(byDayThenCost)
      );
    },
  };
}

const USAGE_COLUMNS = [
  'at',
  'request_id',
  'token_id',
  'model',
  'provider',
  'task',
  'status',
  'latency_ms',
  'compute_ms',
  'input_tokens',
  'output_tokens',
  'outputs',
  'characters',
  'audio_seconds',
  'megapixels',
  'cost_usd',
] as const;

function toColumns(r: UsageRecord): Insertable<UsageTable> {
  return {
    at: r.at.getTime(),
    request_id: r.requestId,
    token_id: r.tokenId,
    model: r.model,
    provider: r.provider,
    task: r.task,
    status: r.status,
    latency_ms: r.latencyMs,
    compute_ms: r.computeMs,
    input_tokens: r.inputTokens,
    output_tokens: r.outputTokens,
    outputs: r.outputs,
    characters: r.characters,
    audio_seconds: r.audioSeconds,
    megapixels: r.megapixels,
    cost_usd: r.costUsd,
  };
}

function fromColumns(row: Record<string, unknown>, groups: UsageGroup[]): UsageRow {
  const out: UsageRow = {
    requests: toNumber(row.requests),
    errors: toNumber(row.errors),
    inputTokens: toNumber(row.input_tokens),
    outputTokens: toNumber(row.output_tokens),
    outputs: toNumber(row.outputs),
    characters: toNumber(row.characters),
    audioSeconds: toNumber(row.audio_seconds),
    megapixels: toNumber(row.megapixels),
    computeMs: toNumber(row.compute_ms),
    costUsd: toNumber(row.cost_usd),
    avgLatencyMs: toNumber(row.avg_latency_ms),
  };
  for (const g of groups) {
    if (g === 'token') out.token = (row.token as string | null) ?? null;
    else if (g === 'day') out.day = new Date(toNumber(row.day) * DAY_MS).toISOString().slice(0, 10);
    else out[g] = String(row[g]);
  }
  return out;
}

/**
 * Day ascending, then cost descending, then the names, so the order is total. Sorted here rather than
 * in SQL because the two databases order NULL (the anonymous token) differently.
 */
function byDayThenCost(a: UsageRow, b: UsageRow): number {
  return (
    compareText(a.day, b.day) ||
    b.costUsd - a.costUsd ||
    compareText(a.token, b.token) ||
    compareText(a.model, b.model) ||
    compareText(a.provider, b.provider)
  );
}

/** Missing and null (anonymous) sort first. */
function compareText(a: string | null | undefined, b: string | null | undefined): number {
  if (a === b) return 0;
  if (a === undefined || a === null) return -1;
  if (b === undefined || b === null) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
