/**
 * Tiers: named sets of limits a token is served under (issue 4, scope 3). A limit left out is
 * unlimited. The tiers file is `{ tiers: [ { name, ... } ] }` in YAML or JSON; `parseTiers` checks
 * it with zod and names every problem, `loadTiersFile` reads and parses a file.
 *
 * A tier meters text in tokens or in characters, not both: the limiter keeps one text-units window per
 * subject, and `unitLimit(tier)` tells the caller which unit to count. Audio (seconds) and images
 * (megapixels) have windows of their own, so a clip is never charged as characters.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export interface Tier {
  name: string;
  requestsPerMinute?: number;
  concurrent?: number;
  tokensPerMinute?: number;
  charactersPerMinute?: number;
  /** Seconds of input audio per minute. */
  audioSecondsPerMinute?: number;
  /** Megapixels of input images per minute. */
  megapixelsPerMinute?: number;
  monthlyBudgetUsd?: number;
}

/**
 * Built-in tiers, lowest first. `anonymous` is for callers without a token where the operator allows them
 * (`serve --anonymous-tier anonymous`); `unlimited` has no limits at all. The owner on a loopback-only server
 * with no token yet is not served under any of these: see OWNER_TIER.
 */
export const defaultTiers: Tier[] = [
  { name: 'anonymous', requestsPerMinute: 60, concurrent: 2, charactersPerMinute: 100_000, monthlyBudgetUsd: 1 },
  { name: 'free', requestsPerMinute: 120, concurrent: 4, charactersPerMinute: 500_000, monthlyBudgetUsd: 5 },
  { name: 'pro', requestsPerMinute: 1_200, concurrent: 16, charactersPerMinute: 5_000_000, monthlyBudgetUsd: 100 },
  { name: 'unlimited' },
];

/**
 * The tier of the owner: calls to a server that listens on loopback only and has no token yet. No limits
 * (a local server never limits the person running it); usage is still recorded.
 */
export const OWNER_TIER: Tier = Object.freeze({ name: 'owner' });

/** A tier with no limit at all: nothing to take before a call or settle after it. */
export function hasNoLimits(t: Tier): boolean {
  return (
    t.requestsPerMinute === undefined &&
    t.concurrent === undefined &&
    t.tokensPerMinute === undefined &&
    t.charactersPerMinute === undefined &&
    t.audioSecondsPerMinute === undefined &&
    t.megapixelsPerMinute === undefined &&
    t.monthlyBudgetUsd === undefined
  );
}

const perMinute = z.number().int('must be a whole number').positive('must be greater than 0');

const tierSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'must start with a letter or digit and use only letters, digits, "_", "-" and "."'),
    requestsPerMinute: perMinute.optional(),
    concurrent: perMinute.optional(),
    tokensPerMinute: perMinute.optional(),
    charactersPerMinute: perMinute.optional(),
    audioSecondsPerMinute: z.number().positive('must be greater than 0').finite().optional(),
    megapixelsPerMinute: z.number().positive('must be greater than 0').finite().optional(),
    monthlyBudgetUsd: z.number().nonnegative('must be 0 or more').finite().optional(),
  })
  .strict()
  .refine((t) => t.tokensPerMinute === undefined || t.charactersPerMinute === undefined, {
    message: 'set tokensPerMinute or charactersPerMinute, not both (a tier meters one kind of unit)',
  });

const tiersFileSchema = z.object({ tiers: z.array(tierSchema).min(1, 'must list at least one tier') }).strict();

/** Validates a parsed tiers file; throws one error that lists every problem with its path. */
export function parseTiers(data: unknown, source = 'tiers file'): Tier[] {
  const parsed = tiersFileSchema.safeParse(data ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source} is invalid:\n  ${problems.join('\n  ')}`);
  }
  const seen = new Set<string>();
  const duplicates = parsed.data.tiers.map((t) => t.name).filter((n) => (seen.has(n) ? true : (seen.add(n), false)));
  if (duplicates.length > 0) throw new Error(`${source}: tier name used twice: ${[...new Set(duplicates)].join(', ')}`);
  return parsed.data.tiers;
}

/** Reads a tiers file (`.json` as JSON, anything else as YAML) and validates it. */
export function loadTiersFile(path: string): Tier[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read tiers file ${path}: ${(e as Error).message}`);
  }
  const kind = path.endsWith('.json') ? 'JSON' : 'YAML';
  let data: unknown;
  try {
    data = kind === 'JSON' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new Error(`tiers file ${path} is not valid ${kind}: ${(e as Error).message}`);
  }
  return parseTiers(data, `tiers file ${path}`);
}

/** The units window of a tier: which unit the caller should count, and how many per minute. */
export function unitLimit(tier: Tier): { kind: 'tokens' | 'characters'; perMinute: number } | undefined {
  if (tier.tokensPerMinute !== undefined) return { kind: 'tokens', perMinute: tier.tokensPerMinute };
  if (tier.charactersPerMinute !== undefined) return { kind: 'characters', perMinute: tier.charactersPerMinute };
  return undefined;
}
