/**
 * The providers file (`--providers router.yaml`, env MODELHOST_PROVIDERS): which hosted providers exist,
 * where, with which key, which models each serves under which id and price, and how calls are routed.
 * Keys are never written in the file: it names the environment variable that holds each one.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { defaultTimeouts } from '../providers/_base/http.ts';

const timeouts = z
  .object({
    connectMs: z.number().int().min(1),
    firstByteMs: z.number().int().min(1),
    idleMs: z.number().int().min(1),
    totalMs: z.number().int().min(1),
  })
  .partial();

/** Prices in USD. Each applies to the unit it names; the cost of a call is their sum over its usage. */
export const priceSchema = z
  .object({
    perRequest: z.number().min(0),
    inputPerMTokens: z.number().min(0),
    outputPerMTokens: z.number().min(0),
    /** Per image, video or audio file produced. */
    perOutput: z.number().min(0),
    /** Per megapixel produced (fal-style, summed over images). */
    perMegapixel: z.number().min(0),
    /** Per second of compute (Replicate hardware pricing; local compute). */
    perComputeSecond: z.number().min(0),
  })
  .partial();
export type Price = z.infer<typeof priceSchema>;

const policyName = z.enum(['preferred', 'fastest', 'cheapest']);
export type PolicyName = z.infer<typeof policyName>;

const routing = z.object({
  /** How providers are ordered when the caller names none. */
  policy: policyName.default('preferred'),
  /** Extra attempts on the same provider before failing over (retryable failures only). */
  retries: z.number().int().min(0).max(10).default(1),
  /** First backoff; doubled on each retry, with ±20 % jitter. */
  backoffMs: z.number().min(0).default(100),
  /** A Retry-After longer than this fails over at once instead of waiting. */
  maxRetryAfterMs: z.number().min(0).default(2_000),
  timeouts: timeouts.default({}),
  breaker: z
    .object({
      /** Consecutive failures that open a provider's circuit. */
      failures: z.number().int().min(1).default(5),
      /** How long an open circuit refuses calls before one probe is let through. */
      cooldownMs: z.number().int().min(1).default(30_000),
    })
    .prefault({}),
  hedge: z
    .object({
      /** Send a second provider the same non-streaming call when the first is slower than its P95. */
      enabled: z.boolean().default(false),
      /** Floor for the hedge delay (and the delay while a provider has too few samples for a P95). */
      minDelayMs: z.number().min(0).default(50),
    })
    .prefault({}),
  /** Price of local compute per second, for usage and the cheapest policy. */
  localPricePerSecond: z.number().min(0).default(0),
});

const providerEntry = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
  type: z.enum(['hf-inference', 'openai-compatible', 'replicate', 'fal-ai', 'wavespeed']),
  baseUrl: z.url(),
  /** Environment variable holding the key (sent as the provider expects: Bearer or Key). */
  apiKeyEnv: z.string().optional(),
  timeouts: timeouts.default({}),
  options: z.record(z.string(), z.unknown()).default({}),
});

const modelProvider = z.object({
  provider: z.string(),
  /** The provider's id for the model; defaults to the model id. */
  id: z.string().optional(),
  price: priceSchema.default({}),
});

const modelEntry = z.object({
  id: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'an "org/name" id'),
  /** Hugging Face task id (`conversational` for chat models). */
  task: z.string(),
  /** In preferred order. `local` may be listed to place the local engine among them. */
  providers: z.array(modelProvider).min(1),
});

export const routerFileSchema = z.object({
  routing: routing.prefault({}),
  providers: z.array(providerEntry).default([]),
  models: z.array(modelEntry).default([]),
});

export type RouterFile = z.output<typeof routerFileSchema>;
export type ProviderEntry = RouterFile['providers'][number];
export type ModelEntry = RouterFile['models'][number];
export type Routing = RouterFile['routing'];

/** The file's settings merged over the defaults and checked: every problem is named with its path. */
export function parseRouterFile(data: unknown, source = 'providers file'): RouterFile {
  const parsed = routerFileSchema.safeParse(data ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source} is invalid:\n  ${problems.join('\n  ')}`);
  }
  const file = parsed.data;
  const names = new Set<string>(['local']);
  for (const p of file.providers) {
    if (names.has(p.name)) throw new Error(`${source}: provider name "${p.name}" is used twice (or is reserved)`);
    names.add(p.name);
  }
  for (const m of file.models) {
    for (const mp of m.providers) {
      if (!names.has(mp.provider)) throw new Error(`${source}: model ${m.id} names provider "${mp.provider}", which is not defined`);
    }
  }
  return file;
}

export function loadRouterFile(file: string): RouterFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read providers file ${file}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new Error(`providers file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  return parseRouterFile(data, `providers file ${file}`);
}

/** A provider's timeouts: its own over the routing defaults over the built-in ones. */
export function timeoutsFor(file: RouterFile, entry?: ProviderEntry) {
  return { ...defaultTimeouts, ...file.routing.timeouts, ...(entry?.timeouts ?? {}) };
}
