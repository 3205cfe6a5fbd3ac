/**
 * A simulator's fault plan: what goes wrong, how often and how slowly. Every simulator reads the same plan,
 * can have it replaced at run time (`PUT /__sim/plan`), and draws its decisions from a seeded generator so a
 * test run is repeatable.
 */
import { z } from 'zod';

const latency = z
  .object({
    /** Mean time before the answer (sync calls) or the job's run time (async providers), ms. */
    mean: z.number().min(0).default(20),
    /** uniform: mean ± jitter; normal: standard deviation = jitter; fixed: no spread. */
    jitter: z.number().min(0).default(0),
    distribution: z.enum(['uniform', 'normal', 'fixed']).default('uniform'),
  })
  .prefault({});

export const faultPlanSchema = z.object({
  latencyMs: latency,
  /** Share of calls answered with `errorStatus` (5xx by default). */
  errorRate: z.number().min(0).max(1).default(0),
  errorStatus: z.number().int().min(400).max(599).default(500),
  /** Share of calls answered 429. */
  rateLimitRate: z.number().min(0).max(1).default(0),
  /** Retry-After sent with a 429, seconds; null sends a 429 without it. */
  retryAfterSeconds: z.number().min(0).nullable().default(1),
  /** off; `503`: every call answers 503; `reset`: every connection is dropped before an answer. */
  outage: z.enum(['off', '503', 'reset']).default('off'),
  /** Share of calls that get no answer at all (the connection stays open, silent). */
  hangRate: z.number().min(0).max(1).default(0),
  /** Extra wait before the first token of a stream (after the headers), ms. */
  firstTokenDelayMs: z.number().min(0).default(0),
  /** Wait between stream tokens, ms. */
  tokenIntervalMs: z.number().min(0).default(1),
  /** Share of streams cut (connection closed, no completion marker). */
  cutRate: z.number().min(0).max(1).default(0),
  /** Events sent before the cut: 0 cuts before the first byte of the body. */
  cutAfterEvents: z.number().int().min(0).default(2),
  /** Share of answers whose body is malformed (truncated JSON, missing fields). */
  malformedRate: z.number().min(0).max(1).default(0),
  /** How long output file URLs stay downloadable, ms. */
  urlTtlMs: z.number().min(0).default(3_600_000),
  /** Share of async jobs that report completion and then fail (fal: COMPLETED then a 500 result). */
  failAfterCompleteRate: z.number().min(0).max(1).default(0),
  /** Share of async jobs that end `failed` with a model error. */
  jobFailRate: z.number().min(0).max(1).default(0),
  seed: z.number().int().default(1),
});

export type FaultPlan = z.infer<typeof faultPlanSchema>;
export type FaultPlanInput = z.input<typeof faultPlanSchema>;

export function parseFaultPlan(input: unknown): FaultPlan {
  return faultPlanSchema.parse(input ?? {});
}

/** mulberry32: small, fast, good enough to spread faults evenly and repeatably. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One latency draw from the plan, never negative. */
export function drawLatency(plan: FaultPlan, random: () => number): number {
  const { mean, jitter, distribution } = plan.latencyMs;
  if (distribution === 'fixed' || jitter === 0) return mean;
  if (distribution === 'uniform') return Math.max(0, mean + (random() * 2 - 1) * jitter);
  // Box–Muller.
  const u = Math.max(random(), 1e-12);
  const v = random();
  return Math.max(0, mean + jitter * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
}
