/**
 * What the rest of modelhost asks of persistence: tokens and usage records. One implementation over Kysely
 * runs on SQLite (the embedded default) and PostgreSQL (several instances sharing one database).
 */
import type { PredictionStore } from './predictions.ts';

export type Scope = 'inference' | 'endpoints' | 'admin';
export const SCOPES: readonly Scope[] = ['inference', 'endpoints', 'admin'];

export interface TokenRow {
  id: string;
  name: string;
  owner: string;
  scopes: Scope[];
  tier: string;
  /** SHA-256 of the token, hex: the token itself is never stored. */
  hash: string;
  /** The token's first characters (`mh_ab12`), shown in listings so a person can tell tokens apart. */
  prefix: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export type NewToken = Omit<TokenRow, 'createdAt' | 'revokedAt'> & { createdAt?: Date };

export interface UsageRecord {
  at: Date;
  requestId: string;
  /** null for anonymous calls. */
  tokenId: string | null;
  model: string;
  provider: string;
  /** Task or API (`conversational`, `text-classification`, `embeddings`, ...). */
  task: string;
  status: number;
  latencyMs: number;
  /** Time spent computing (engine) or waiting on the provider. */
  computeMs: number;
  inputTokens: number;
  outputTokens: number;
  /** Files produced (images, audio). */
  outputs: number;
  /** Characters of text input (the unit of character-based limits). */
  characters: number;
  /** Seconds of audio input. */
  audioSeconds: number;
  /** Megapixels of image input. */
  megapixels: number;
  costUsd: number;
}

export type UsageGroup = 'token' | 'model' | 'provider' | 'day';

export interface UsageQuery {
  by: UsageGroup[];
  /** Inclusive lower bound on `at`. */
  from?: Date;
  /** Exclusive upper bound on `at`. */
  to?: Date;
  tokenId?: string;
}

export interface UsageRow {
  /** Present when grouped by it; `null` token = anonymous. */
  token?: string | null;
  model?: string;
  provider?: string;
  /** `YYYY-MM-DD` in UTC. */
  day?: string;
  requests: number;
  /** Calls answered with status ≥ 400. */
  errors: number;
  inputTokens: number;
  outputTokens: number;
  outputs: number;
  characters: number;
  audioSeconds: number;
  megapixels: number;
  computeMs: number;
  costUsd: number;
  avgLatencyMs: number;
}

export interface TokenStore {
  create(token: NewToken): Promise<TokenRow>;
  list(): Promise<TokenRow[]>;
  byHash(hash: string): Promise<TokenRow | undefined>;
  byId(id: string): Promise<TokenRow | undefined>;
  /** Marks the token revoked; false when there is no such token or it was already revoked. */
  revoke(id: string, at: Date): Promise<boolean>;
  count(): Promise<number>;
}

export interface UsageStore {
  /** One transaction: either every record is committed or none. */
  insertMany(records: UsageRecord[]): Promise<void>;
  aggregate(query: UsageQuery): Promise<UsageRow[]>;
}

/** A dedicated endpoint as stored; `spec` and `activeSpec` are opaque JSON to the store. */
export interface EndpointRow {
  name: string;
  namespace: string;
  spec: unknown;
  activeSpec: unknown | null;
  state: string;
  message: string;
  createdAt: Date;
  createdBy: string;
  updatedAt: Date;
  updatedBy: string;
}

export interface EndpointStore {
  /** Throws an error whose `code` is 'conflict' when the name is taken. */
  create(row: EndpointRow): Promise<void>;
  /** Replaces everything but the name and creation fields. */
  save(row: EndpointRow): Promise<void>;
  get(name: string): Promise<EndpointRow | undefined>;
  list(namespace?: string): Promise<EndpointRow[]>;
  delete(name: string): Promise<boolean>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly tokens: TokenStore;
  readonly usage: UsageStore;
  readonly endpoints: EndpointStore;
  /** Async predictions: the durable queue, webhook deliveries, output files (src/store/predictions.ts). */
  readonly predictions: PredictionStore;
  /** Whether this instance manages dedicated endpoints: on a shared PostgreSQL, only the first one started does. */
  claimEndpoints(): Promise<boolean>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** `postgres://...` for PostgreSQL; a file path, `sqlite:<path>` or undefined for SQLite. */
  database?: string;
  /** Where the default SQLite file lives (`<dataDir>/modelhost.db`). */
  dataDir: string;
}
