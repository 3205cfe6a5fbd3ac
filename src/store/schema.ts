/**
 * Table shapes as Kysely sees them. Times are epoch milliseconds (see migrations/001_tokens.ts for why);
 * PostgreSQL hands `bigint` and aggregates back as strings, hence `number | string` where that happens.
 */
import type { Generated } from 'kysely';

export interface TokensTable {
  id: string;
  name: string;
  owner: string;
  /** JSON array of scopes. */
  scopes: string;
  tier: string;
  hash: string;
  prefix: string;
  created_at: number | string;
  expires_at: number | string | null;
  revoked_at: number | string | null;
}

export interface UsageTable {
  id: Generated<number>;
  at: number | string;
  request_id: string;
  token_id: string | null;
  model: string;
  provider: string;
  task: string;
  status: number;
  latency_ms: number;
  compute_ms: number;
  input_tokens: number;
  output_tokens: number;
  outputs: number;
  characters: number;
  audio_seconds: Generated<number>;
  megapixels: Generated<number>;
  cost_usd: number;
}

export interface Database {
  tokens: TokensTable;
  usage: UsageTable;
  endpoints: EndpointsTable;
}

export interface EndpointsTable {
  name: string;
  namespace: string;
  spec: string;
  active_spec: string | null;
  state: string;
  message: string;
  created_at: number | string;
  created_by: string;
  updated_at: number | string;
  updated_by: string;
}
