/**
 * The result format of `modelhost bench` (`--json`) and of the project's own suite (`npm run bench` →
 * bench/results/suite-*.json). Both are stable, versioned by `schema`, and checked with these zod schemas when
 * read back (`modelhost bench compare`, the web console). Add fields only as optional; a change that removes or
 * retypes a field needs a new `schema` version.
 *
 * Units: milliseconds for times, USD for cost, requests per second for throughput.
 */
import { z } from 'zod';

export const BENCH_SCHEMA = 'modelhost-bench/1' as const;
export const SUITE_SCHEMA = 'modelhost-bench-suite/1' as const;

/** Why a request failed. `http_<status>` for HTTP answers outside 2xx; the others for failures without a usable answer. */
export const errorKinds = ['http_4xx', 'http_429', 'http_5xx', 'timeout', 'connection', 'stream_error', 'stream_incomplete', 'invalid_body'] as const;
export const errorKindSchema = z.enum(errorKinds);
export type ErrorKind = z.infer<typeof errorKindSchema>;

/** Latency distribution over a set of requests, from an HDR histogram (3 significant digits, µs resolution). */
export const distributionSchema = z.object({
  count: z.number().int().min(0),
  mean: z.number(),
  stddev: z.number(),
  min: z.number(),
  max: z.number(),
  p50: z.number(),
  p90: z.number(),
  p95: z.number(),
  p99: z.number(),
  p999: z.number(),
});
export type Distribution = z.infer<typeof distributionSchema>;

/** One request as measured: when it was due (ms after the target's start), how long it took, and how it ended. */
export const sampleSchema = z.object({
  /** Scheduled start, ms after the measured phase began. */
  at: z.number(),
  /** Latency, ms: from the scheduled start (open model) or the send (closed model) to the last byte. */
  ms: z.number(),
  /** Time to the first byte of the body, ms, from the same origin as `ms`. */
  firstByteMs: z.number().optional(),
  /** Streams: time to the first event carrying a token. */
  firstTokenMs: z.number().optional(),
  ok: z.boolean(),
  status: z.number().int().optional(),
  error: errorKindSchema.optional(),
  /** Which provider answered (`x-modelhost-provider`), when the target is modelhost. */
  provider: z.string().optional(),
});
export type Sample = z.infer<typeof sampleSchema>;

export const exampleSchema = z.object({
  status: z.number().int().optional(),
  ms: z.number(),
  ok: z.boolean(),
  error: errorKindSchema.optional(),
  contentType: z.string().optional(),
  provider: z.string().optional(),
  /** The body as text (binary answers are summarised), cut at 4 KB. */
  body: z.string(),
  truncated: z.boolean(),
});
export type Example = z.infer<typeof exampleSchema>;

export const costSchema = z.object({
  /** Mean cost of one measured request, USD; null when unknown. */
  perRequestUsd: z.number().nullable(),
  totalUsd: z.number().nullable(),
  /**
   * router: modelhost's own price tables (its `modelhost_provider_cost_usd_total` counters before and after the
   * target ran); local: the local engine without a configured price; flag: `--price`; unknown: none of these.
   */
  source: z.enum(['router', 'local', 'flag', 'unknown']),
  note: z.string().optional(),
});

export const targetResultSchema = z.object({
  /** As given on the command line (or its `label=` prefix). */
  name: z.string(),
  /** What the name was resolved to. */
  kind: z.enum(['local', 'provider', 'policy', 'endpoint', 'url']),
  method: z.literal('POST'),
  url: z.string(),
  api: z.enum(['hf', 'openai']),
  model: z.string().optional(),
  stream: z.boolean(),
  /** Name of the environment variable the token came from (never the token). */
  tokenEnv: z.string().optional(),
  startedAt: z.string(),
  /** Seconds of the measured phase (warm-up excluded). */
  elapsedSeconds: z.number(),
  requests: z.object({ sent: z.number().int(), ok: z.number().int(), failed: z.number().int(), warmup: z.number().int() }),
  errorRate: z.number(),
  /** Failures by kind. */
  errors: z.partialRecord(errorKindSchema, z.number().int()),
  /** Answers by HTTP status (failures without an answer are not here). */
  statuses: z.record(z.string(), z.number().int()),
  /** Latency of successful requests. */
  latencyMs: distributionSchema.nullable(),
  /** Latency of every request, failed ones included. */
  allLatencyMs: distributionSchema.nullable(),
  /** Time to the first byte of the body, successful requests. */
  firstByteMs: distributionSchema.nullable(),
  /** Streams only: time to the first token, successful requests. */
  firstTokenMs: distributionSchema.nullable(),
  /** Open model only: send to last byte, without the wait for the scheduled start (what coordinated omission would report). */
  serviceMs: distributionSchema.nullable().optional(),
  throughput: z.object({
    /** Finished requests (any outcome) per second of the measured phase. */
    requestsPerSecond: z.number(),
    okPerSecond: z.number(),
    /** OpenAI usage or TGI details, when the answers carry them. */
    outputTokensPerSecond: z.number().nullable(),
  }),
  /** Open model: how late the worst request was sent after its scheduled time (the load generator's own lag). */
  maxSendLagMs: z.number().optional(),
  /** Requests per answering provider (`x-modelhost-provider`). */
  providers: z.record(z.string(), z.number().int()),
  cost: costSchema,
  /** Latency histogram of successful requests for charts: bucket upper bounds (ms) and counts. */
  histogram: z.object({ boundsMs: z.array(z.number()), counts: z.array(z.number().int()) }),
  /** Every request (capped at 20,000 per target). */
  samples: z.array(sampleSchema),
  examples: z.array(exampleSchema),
  /** A failure that kept the target from being measured at all (bad URL, missing token). */
  fatal: z.string().optional(),
});
export type TargetResult = z.infer<typeof targetResultSchema>;

export const machineSchema = z.object({
  hostname: z.string(),
  platform: z.string(),
  release: z.string(),
  arch: z.string(),
  cpus: z.number().int(),
  cpuModel: z.string(),
  memGb: z.number(),
  loadavg: z.array(z.number()),
});

export const versionsSchema = z.object({
  modelhost: z.string(),
  /** git commit of the modelhost checkout that ran the bench, when known. */
  commit: z.string().optional(),
  node: z.string(),
  undici: z.string().optional(),
  hdrHistogram: z.string().optional(),
  /** The modelhost server measured (from its `server` header or /health), when the target is modelhost. */
  server: z.string().optional(),
});

export const settingsSchema = z.object({
  requests: z.number().int(),
  concurrency: z.number().int(),
  warmup: z.number().int(),
  /** Requests per second (open model), or null for a closed loop. */
  rate: z.number().nullable(),
  loadModel: z.enum(['closed', 'open']),
  timeoutSeconds: z.number(),
  stream: z.boolean(),
  baseUrl: z.string(),
  model: z.string().optional(),
  task: z.string().optional(),
  api: z.enum(['hf', 'openai']).optional(),
  /** Where the payload came from: `flag`, `file:<path>` or `example:<task>`. */
  payloadSource: z.string(),
  /** The payload (JSON), or a summary for a binary one. */
  payload: z.unknown(),
  /** false: Hugging Face API targets were sent `x-use-cache: false`, so repeated payloads reached the model. */
  useCache: z.boolean().optional(),
  price: z.number().nullable(),
  headers: z.array(z.string()),
  examples: z.number().int(),
});
export type BenchSettings = z.infer<typeof settingsSchema>;

export const benchRunSchema = z.object({
  schema: z.literal(BENCH_SCHEMA),
  kind: z.literal('run'),
  id: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  command: z.string(),
  machine: machineSchema,
  versions: versionsSchema,
  settings: settingsSchema,
  targets: z.array(targetResultSchema),
});
export type BenchRun = z.infer<typeof benchRunSchema>;

/** One figure of the project's own suite (npm run bench), with its target when the issue that made it set one. */
export const suiteFigureSchema = z.object({
  bench: z.enum(['engine', 'gateway', 'cold-start', 'endpoints']),
  name: z.string(),
  value: z.number().nullable(),
  unit: z.string(),
  target: z.string().optional(),
  pass: z.boolean().optional(),
});

export const suiteSchema = z.object({
  schema: z.literal(SUITE_SCHEMA),
  kind: z.literal('suite'),
  startedAt: z.string(),
  finishedAt: z.string(),
  quick: z.boolean(),
  machine: machineSchema,
  versions: versionsSchema,
  /** Result files of each part, relative to the repository root. */
  files: z.record(z.string(), z.string()),
  figures: z.array(suiteFigureSchema),
  coldStart: z.unknown().optional(),
  /** Parts that failed, with the reason. */
  failures: z.array(z.object({ bench: z.string(), error: z.string() })),
});
export type SuiteResult = z.infer<typeof suiteSchema>;
export type SuiteFigure = z.infer<typeof suiteFigureSchema>;

/** Reads a `modelhost bench --json` result; the message names every problem (for `compare`). */
export function parseBenchRun(data: unknown, source = 'result'): BenchRun {
  const parsed = benchRunSchema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source} is not a modelhost bench result (${BENCH_SCHEMA}):\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}
