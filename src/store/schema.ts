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
  predictions: PredictionsTable;
  prediction_webhook_attempts: PredictionWebhookAttemptsTable;
  prediction_files: PredictionFilesTable;
  prediction_secrets: PredictionSecretsTable;
}

/** Async predictions (migrations/005_predictions.ts); JSON columns are text. */
export interface PredictionsTable {
  id: string;
  owner: string;
  token_id: string | null;
  model: string;
  version: string;
  deployment: string | null;
  input: string;
  stream: number;
  status: string;
  output: string | null;
  error: string | null;
  logs: string;
  metrics: string | null;
  created_at: number | string;
  started_at: number | string | null;
  completed_at: number | string | null;
  attempt: number;
  max_attempts: number;
  instance: string | null;
  heartbeat_at: number | string | null;
  cancel_requested: number;
  webhook: string | null;
  webhook_events: string;
  webhook_state: string | null;
  webhook_next_at: number | string | null;
  webhook_attempts: number;
}

export interface PredictionWebhookAttemptsTable {
  id: Generated<number>;
  prediction_id: string;
  event: string;
  at: number | string;
  status: number | null;
  error: string | null;
  duration_ms: number;
}

export interface PredictionFilesTable {
  id: string;
  prediction_id: string;
  content_type: string;
  bytes: Uint8Array;
  created_at: number | string;
  expires_at: number | string;
}

export interface PredictionSecretsTable {
  name: string;
  value: string;
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
