/**
 * The create and update bodies of the endpoints API, in the shape of Hugging Face's Inference Endpoints v2
 * API (docs: ../shared/docs/hf-protocol.md §5), with modelhost's own compute fields: `compute.threads` and
 * `compute.memoryMb` (or an `instanceSize` of x1..x8 that sets both), `compute.scaling.maxConcurrentRequests`
 * and `route.port`. Every problem of a bad body is named at once.
 */
import { z } from 'zod';
import { InputError } from '../core/errors.ts';

export const ENDPOINT_TYPES = ['public', 'protected', 'authenticated', 'private'] as const;
export type EndpointType = (typeof ENDPOINT_TYPES)[number];

/** Instance sizes, as the Hugging Face catalogue names CPU instances: threads and memory of one replica. */
export const INSTANCE_SIZES: Record<string, { threads: number; memoryMb: number }> = {
  x1: { threads: 1, memoryMb: 2048 },
  x2: { threads: 2, memoryMb: 4096 },
  x4: { threads: 4, memoryMb: 8192 },
  x8: { threads: 8, memoryMb: 16384 },
};

const name = z
  .string({ error: 'required: a name of 1 to 32 lowercase letters, digits and hyphens' })
  .regex(/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/, 'must be 1 to 32 lowercase letters, digits and hyphens, starting and ending with a letter or digit');

const scaling = z
  .object({
    minReplica: z.number().int().min(0).max(16).default(1),
    maxReplica: z.number().int().min(1).max(16).default(1),
    /** Minutes without a request before scaling to zero (fractions allowed); only with minReplica 0. */
    scaleToZeroTimeout: z.number().positive().max(7 * 24 * 60).nullish(),
    measure: z
      .object({
        pendingRequests: z.number().positive().max(1000).optional(),
        hardwareUsage: z.number().min(1).max(100).optional(),
      })
      .optional(),
    /** Requests in flight and queued on the endpoint beyond which it answers 429. */
    maxConcurrentRequests: z.number().int().min(1).max(100_000).optional(),
  })
  .refine((s) => s.minReplica <= s.maxReplica, { message: 'minReplica must not exceed maxReplica', path: ['minReplica'] });

const compute = z.object({
  accelerator: z.literal('cpu', { error: 'only "cpu" is available on modelhost' }).default('cpu'),
  instanceType: z.string().default('modelhost-cpu'),
  instanceSize: z.enum(Object.keys(INSTANCE_SIZES) as [string, ...string[]]).default('x1'),
  threads: z.number().int().min(1).max(64).optional(),
  memoryMb: z.number().int().min(128).max(1024 * 1024).optional(),
  scaling: scaling.default({ minReplica: 1, maxReplica: 1 }),
});

const model = z.object({
  repository: z.string({ error: 'required: the id of a model served here (see GET /api/models)' }).min(1, 'must not be empty'),
  revision: z.string().min(1).max(200).default('main'),
  task: z.string().min(1).optional(),
  /** For a model served by the router: the provider that serves it (default: the routing policy). */
  provider: z.string().min(1).optional(),
  framework: z.string().default('onnx'),
  image: z.record(z.string(), z.unknown()).default({ huggingface: {} }),
  env: z.record(z.string(), z.string()).optional(),
});

export const createBody = z.object({
  name,
  type: z.enum(ENDPOINT_TYPES, { error: `must be one of ${ENDPOINT_TYPES.join(', ')}` }).default('protected'),
  accountId: z.string().nullish(),
  provider: z.object({ vendor: z.string().default('modelhost'), region: z.string().default('local') }).default({ vendor: 'modelhost', region: 'local' }),
  compute: compute.default({ accelerator: 'cpu', instanceType: 'modelhost-cpu', instanceSize: 'x1', scaling: { minReplica: 1, maxReplica: 1 } }),
  model,
  route: z.object({ port: z.number().int().min(1).max(65535).optional() }).loose().optional(),
  tags: z.array(z.string()).max(32).default([]),
});

export type CreateBody = z.output<typeof createBody>;

/** A stored endpoint's configuration, with the compute size resolved. */
export interface EndpointSpec {
  name: string;
  type: EndpointType;
  provider: { vendor: string; region: string };
  compute: {
    accelerator: 'cpu';
    instanceType: string;
    instanceSize: string;
    threads: number;
    memoryMb: number;
    scaling: {
      minReplica: number;
      maxReplica: number;
      scaleToZeroTimeout: number | null;
      measure: { pendingRequests: number };
      maxConcurrentRequests: number;
    };
  };
  model: { repository: string; revision: string; task: string; provider?: string; framework: string; image: Record<string, unknown>; env?: Record<string, string> };
  route?: { port?: number };
  tags: string[];
}

/** Hugging Face's default scale-up signal: 1.5 pending requests per replica. */
export const DEFAULT_PENDING_PER_REPLICA = 1.5;
/** Scale-to-zero after an hour without requests when minReplica is 0 and no timeout is given (the HF UI default). */
export const DEFAULT_SCALE_TO_ZERO_MINUTES = 60;

function problems(error: z.ZodError, where: string): string {
  return error.issues.map((i) => `${[where, ...i.path].join('.')}: ${i.message}`).join('; ');
}

/** A create body to a spec; `task` is filled in by the caller from the model when absent. */
export function parseCreate(body: unknown, defaultTask: (repository: string) => string | undefined): EndpointSpec {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new InputError('body: expected a JSON object (the endpoint to create)');
  const parsed = createBody.safeParse(body);
  if (!parsed.success) throw new InputError(`Invalid endpoint: ${problems(parsed.error, 'body')}`);
  const b = parsed.data;
  const size = INSTANCE_SIZES[b.compute.instanceSize]!;
  const s = b.compute.scaling;
  return {
    name: b.name,
    type: b.type,
    provider: b.provider,
    compute: {
      accelerator: 'cpu',
      instanceType: b.compute.instanceType,
      instanceSize: b.compute.instanceSize,
      threads: b.compute.threads ?? size.threads,
      memoryMb: b.compute.memoryMb ?? size.memoryMb,
      scaling: {
        minReplica: s.minReplica,
        maxReplica: s.maxReplica,
        scaleToZeroTimeout: s.scaleToZeroTimeout ?? (s.minReplica === 0 ? DEFAULT_SCALE_TO_ZERO_MINUTES : null),
        measure: { pendingRequests: s.measure?.pendingRequests ?? DEFAULT_PENDING_PER_REPLICA },
        maxConcurrentRequests: s.maxConcurrentRequests ?? 64 * s.maxReplica,
      },
    },
    model: { ...b.model, task: b.model.task ?? defaultTask(b.model.repository) ?? '' },
    ...(b.route ? { route: { port: b.route.port } } : {}),
    tags: b.tags,
  };
}

/** The body a spec came from, so that an update (a partial body) can be merged onto it and parsed again. */
export function toBody(spec: EndpointSpec): Record<string, unknown> {
  return {
    name: spec.name,
    type: spec.type,
    provider: spec.provider,
    compute: spec.compute,
    model: spec.model,
    ...(spec.route ? { route: spec.route } : {}),
    tags: spec.tags,
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** Deep merge of a partial update onto a body: objects merge, everything else replaces. */
export function mergeBody(base: Record<string, unknown>, update: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(update)) out[k] = isPlainObject(v) && isPlainObject(out[k]) ? mergeBody(out[k], v) : v;
  return out;
}

/** A new instance size without explicit threads or memory takes that size's threads and memory. */
export function applyInstanceSize(update: Record<string, unknown>, merged: Record<string, unknown>): void {
  const c = update.compute;
  if (!isPlainObject(c) || typeof c.instanceSize !== 'string' || !isPlainObject(merged.compute)) return;
  if (c.threads === undefined) delete merged.compute.threads;
  if (c.memoryMb === undefined) delete merged.compute.memoryMb;
}

/** Whether replicas must be replaced (rolled) to go from one spec to the other; scaling alone does not. */
export function needsRoll(a: EndpointSpec, b: EndpointSpec): boolean {
  return (
    a.model.repository !== b.model.repository ||
    a.model.revision !== b.model.revision ||
    a.model.task !== b.model.task ||
    a.model.provider !== b.model.provider ||
    JSON.stringify(a.model.env ?? {}) !== JSON.stringify(b.model.env ?? {}) ||
    // A custom server's command, arguments or environment (model.image.custom) run in new processes.
    JSON.stringify(a.model.image ?? {}) !== JSON.stringify(b.model.image ?? {}) ||
    a.compute.threads !== b.compute.threads ||
    a.compute.memoryMb !== b.compute.memoryMb
  );
}
