/**
 * Predictions as modelhost keeps them and as Replicate's API shows them (README: Predictions and webhooks).
 * A prediction walks `starting` (queued) → `processing` → `succeeded` | `failed` | `canceled`; the terminal
 * write happens once, guarded by the attempt that made it (src/store/predictions.ts).
 */

export const TERMINAL_STATUSES = ['succeeded', 'failed', 'canceled'] as const;
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];
export type PredictionStatus = 'starting' | 'processing' | TerminalStatus;

export const WEBHOOK_EVENTS = ['start', 'output', 'logs', 'completed'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export function isTerminal(status: string): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

/** What runs a prediction: the HF task route of a served model, or a dedicated endpoint. */
export interface PredictionTarget {
  model: string;
  /** Dedicated endpoint name (`/v1/deployments/{owner}/{name}/predictions`). */
  deployment: string | null;
}

export interface PredictionRow {
  id: string;
  /** Who may see it: the token id, or `anonymous:<owner>` for callers without a token. */
  owner: string;
  tokenId: string | null;
  model: string;
  version: string;
  deployment: string | null;
  input: Record<string, unknown>;
  stream: boolean;
  status: PredictionStatus;
  output: unknown;
  error: string | null;
  logs: string;
  metrics: { predict_time?: number; total_time?: number } | null;
  createdAt: number;
  startedAt: number | null;
  completedAt: number | null;
  attempt: number;
  maxAttempts: number;
  instance: string | null;
  heartbeatAt: number | null;
  cancelRequested: boolean;
  webhook: string | null;
  webhookEvents: WebhookEvent[];
  webhookState: 'pending' | 'delivered' | 'failed' | null;
  webhookNextAt: number | null;
  webhookAttempts: number;
}

export interface WebhookAttempt {
  event: string;
  at: number;
  status: number | null;
  error: string | null;
  durationMs: number;
}

/** Replicate's prediction object (GET /v1/predictions/{id}, webhooks, list entries). */
export interface ApiPrediction {
  id: string;
  model: string;
  version: string;
  input: Record<string, unknown>;
  logs: string;
  output: unknown;
  error: string | null;
  status: PredictionStatus;
  data_removed: boolean;
  source: 'api';
  created_at: string;
  started_at?: string;
  completed_at?: string;
  metrics?: { predict_time?: number; total_time?: number };
  deployment?: string;
  webhook?: string;
  webhook_events_filter?: WebhookEvent[];
  urls: { get: string; cancel: string; stream?: string; web?: string };
  /** modelhost's addition, for the owner only: where the terminal webhook stands and every attempt so far. */
  webhook_delivery?: { state: string | null; attempts: WebhookAttempt[] };
}

const iso = (ms: number | null) => (ms === null ? undefined : new Date(ms).toISOString());

/** The API view of a row; `base` is the public URL the `urls` point at. */
export function toApi(row: PredictionRow, base: string, attempts?: WebhookAttempt[]): ApiPrediction {
  const out: ApiPrediction = {
    id: row.id,
    model: row.model,
    version: row.version,
    input: row.input,
    logs: row.logs,
    output: row.output ?? null,
    error: row.error,
    status: row.status,
    data_removed: false,
    source: 'api',
    created_at: new Date(row.createdAt).toISOString(),
    urls: { get: `${base}/v1/predictions/${row.id}`, cancel: `${base}/v1/predictions/${row.id}/cancel` },
  };
  const started = iso(row.startedAt);
  const completed = iso(row.completedAt);
  if (started) out.started_at = started;
  if (completed) out.completed_at = completed;
  if (row.metrics) out.metrics = row.metrics;
  if (row.deployment) out.deployment = row.deployment;
  if (row.stream) out.urls.stream = `${base}/v1/predictions/${row.id}/stream`;
  if (row.webhook) {
    out.webhook = row.webhook;
    out.webhook_events_filter = row.webhookEvents;
  }
  if (attempts) out.webhook_delivery = { state: row.webhookState, attempts };
  return out;
}
