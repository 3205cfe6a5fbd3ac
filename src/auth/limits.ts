/**
 * Admission control per subject (a token, or "anonymous"): requests per minute, concurrent
 * requests, text units (tokens or characters), audio seconds and image megapixels per minute, and a
 * monthly budget, all taken before the call and settled after it (issue 4, scope 3). A request that
 * alone is larger than a per-minute limit can never be admitted: it gets a 413 naming the limit and its
 * size, never a 429 that would tell the caller to retry.
 *
 * - The two per-minute windows are rate-limiter-flexible fixed windows (RateLimiterMemory, or
 *   RateLimiterRedis whose consume is one atomic INCRBY script). Several instances on one Redis and
 *   key prefix therefore share one counter: the limit holds globally, not per replica.
 * - Concurrency slots and budget reservations are reserve-before / settle-after with an expiry
 *   (see `reservations.ts`), so a killed instance frees what it held after `reservationTtlMs`.
 * - All four steps run at once; if any refuses, the steps that succeeded are undone before
 *   `LimitExceededError` is thrown, so a refused request costs the subject nothing.
 *
 * Budget overshoot bound: every admission checks spent + reserved + expected ≤ budget atomically,
 * so the month's spend can exceed the budget only by Σ max(0, actual − expected) over requests
 * admitted before the budget ran out (at most the requests in flight), plus the spend of requests
 * that outlive `reservationTtlMs` (their reservation expired while they ran).
 *
 * @example
 * const limiter = createLimiter({ redis: 'redis://127.0.0.1:6379' });
 * const admission = await limiter.admit(tokenId, tier, { units: text.length, costUsd: 0.001 });
 * try { ... } finally { await admission.settle({ units: used, costUsd: cost }); }
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { ModelhostError } from '../core/errors.ts';
import { NANO_PER_USD, createMemoryReservations, toNano } from './reservations.ts';
import type { ReservationStore } from './reservations.ts';
import { createRedisReservations } from './reservations-redis.ts';
import { unitLimit } from './tiers.ts';
import type { Tier } from './tiers.ts';

export interface RateState {
  limit: number;
  remaining: number;
  resetMs: number;
}

export type LimitKind = 'requests' | 'concurrent' | 'units' | 'budget';

/** How long a refused concurrent request should wait before trying again. */
const CONCURRENT_RETRY_MS = 1_000;
const DEFAULT_RESERVATION_TTL_MS = 10 * 60 * 1000;
/**
 * A refund (reward) that lands after its fixed window has rolled over would credit the next
 * window instead; refunds are skipped when the window ends within this margin.
 */
const REFUND_MARGIN_MS = 250;

const LIMIT_NAMES: Record<LimitKind, string> = { requests: 'Request rate', concurrent: 'Concurrency', units: 'Unit rate', budget: 'Budget' };

/** A limit of the caller's tier is used up: HTTP 429 with Retry-After. */
export class LimitExceededError extends ModelhostError {
  readonly retryAfterMs: number;
  readonly rate?: RateState;
  readonly which: LimitKind;
  readonly tier: string;
  readonly limit: string;

  constructor(which: LimitKind, tier: string, limit: string, retryAfterMs: number, rate?: RateState) {
    const wait = retryAfterSeconds(retryAfterMs);
    super('rate_limited', 429, `${LIMIT_NAMES[which]} limit of tier ${tier} reached: ${limit}. Retry in ${wait} s.`, {
      limit: which,
      retry_after: wait,
    });
    this.which = which;
    this.tier = tier;
    this.limit = limit;
    this.retryAfterMs = retryAfterMs;
    if (rate) this.rate = rate;
  }
}

/** Whole seconds for Retry-After / X-RateLimit-Reset: rounded up, at least 1 while time remains. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

/** The X-RateLimit-* headers for a rate state. */
export function rateLimitHeaders(rate: RateState): Record<string, string> {
  return {
    'X-RateLimit-Limit': String(rate.limit),
    'X-RateLimit-Remaining': String(rate.remaining),
    'X-RateLimit-Reset': String(retryAfterSeconds(rate.resetMs)),
  };
}

/** A request that alone exceeds a per-minute limit of its tier: HTTP 413, since waiting never helps. */
export class RequestTooLargeError extends ModelhostError {
  constructor(tier: string, excess: string[]) {
    super(
      'payload_too_large',
      413,
      `This request alone has ${excess.join(', and ')} of tier ${tier}: it can never be admitted at this tier. ` +
        'Send a smaller input (split it into several calls), or use a token of a tier with a higher limit.',
    );
  }
}

/** What a call is expected to take: text units (tokens or characters, as the tier meters), audio, images, money. */
export interface Expected {
  units: number;
  costUsd: number;
  audioSeconds?: number;
  megapixels?: number;
}

/** Audio is counted in milliseconds and images in pixels: whole points, as the windows need. */
const audioPoints = (seconds: number) => Math.round(seconds * 1000);
const imagePoints = (megapixels: number) => Math.round(megapixels * 1e6);

/** Throws RequestTooLargeError when `expected` alone exceeds one of the tier's per-minute limits. */
export function assertFits(tier: Tier, expected: Expected): void {
  const excess: string[] = [];
  const ul = unitLimit(tier);
  const units = Math.ceil(expected.units);
  if (ul && units > ul.perMinute) {
    excess.push(`${ul.kind === 'tokens' ? 'about ' : ''}${units} ${ul.kind}, more than the ${ul.perMinute} ${ul.kind} per minute`);
  }
  const audio = expected.audioSeconds ?? 0;
  if (tier.audioSecondsPerMinute !== undefined && audioPoints(audio) > audioPoints(tier.audioSecondsPerMinute)) {
    excess.push(`${round(audio)} seconds of audio, more than the ${tier.audioSecondsPerMinute} audio seconds per minute`);
  }
  const mp = expected.megapixels ?? 0;
  if (tier.megapixelsPerMinute !== undefined && imagePoints(mp) > imagePoints(tier.megapixelsPerMinute)) {
    excess.push(`${round(mp)} megapixels of images, more than the ${tier.megapixelsPerMinute} megapixels per minute`);
  }
  if (excess.length > 0) throw new RequestTooLargeError(tier.name, excess);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

export interface Admission {
  /** The requests-per-minute window after this call. */
  rate?: RateState;
  /** After the call: actual units (tokens or characters) and cost; frees the concurrency slot, turns the budget reservation into spend. Idempotent. */
  settle(actual: { units: number; costUsd: number }): Promise<void>;
}

export interface Limiter {
  /** Before the call, atomically: one request from the minute window, a concurrency slot, `expected.units` from the units window, a budget reservation of `expected.costUsd`. Any refusal undoes what this call took, then throws LimitExceededError. */
  admit(subject: string, tier: Tier, expected: Expected): Promise<Admission>;
  /** Budget spent and reserved this month (UTC), for reports. */
  budget(subject: string): Promise<{ spentUsd: number; reservedUsd: number }>;
  close(): Promise<void>;
}

/** The fixed windows: requests, text units, audio milliseconds and image pixels per minute. */
type WindowKind = 'rpm' | 'upm' | 'aspm' | 'mppm';

export interface LimiterOptions {
  /** `redis://...`: limits are global across every instance on this Redis and key prefix. */
  redis?: string;
  /** Prefix of every Redis key (default `mh:limits`). */
  keyPrefix?: string;
  /** How long a concurrency slot or budget reservation survives without a settle (default 10 min). */
  reservationTtlMs?: number;
  /** Clock for the budget month, and for reservation expiry in memory (Redis uses its own clock). */
  now?: () => number;
}

/** What one admission step took; `undo` gives it back. */
interface Step {
  undo?: () => Promise<unknown>;
  refusal?: LimitExceededError;
  rate?: RateState;
  /** Fixed-window steps: when the window this step consumed from ends (Date.now() clock). */
  windowEndsAt?: number;
}

export function createLimiter(opts: LimiterOptions = {}): Limiter {
  const now = opts.now ?? Date.now;
  const ttlMs = opts.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS;
  if (!(ttlMs > 0)) throw new RangeError(`reservationTtlMs must be greater than 0, got ${ttlMs}`);
  const prefix = opts.keyPrefix ?? 'mh:limits';
  const redis = opts.redis
    ? new Redis(opts.redis, { maxRetriesPerRequest: 2, connectTimeout: 2_000, commandTimeout: 5_000 })
    : undefined;
  // Connection errors surface on the commands that fail (and become a 503 there); without a listener ioredis
  // would also print each reconnection attempt as an unhandled error.
  redis?.on('error', () => undefined);
  const store: ReservationStore = redis ? createRedisReservations(redis, prefix) : createMemoryReservations(now);

  // One rate-limiter-flexible instance per (window, limit); tiers with the same limit share it.
  const windows = new Map<string, RateLimiterAbstract>();
  function window(kind: WindowKind, points: number): RateLimiterAbstract {
    const key = `${kind}:${points}`;
    let w = windows.get(key);
    if (!w) {
      const common = { points, duration: 60, keyPrefix: `${prefix}:${kind}` };
      w = redis ? new RateLimiterRedis({ ...common, storeClient: redis }) : new RateLimiterMemory(common);
      windows.set(key, w);
    }
    return w;
  }

  /** Gives `points` back unless the window they came from is over (see REFUND_MARGIN_MS). */
  async function refund(w: RateLimiterAbstract, subject: string, points: number, windowEndsAt: number): Promise<void> {
    if (points > 0 && Date.now() < windowEndsAt - REFUND_MARGIN_MS) await w.reward(subject, points);
  }

  async function consume(kind: WindowKind, subject: string, tier: Tier, limit: number, points: number, label: string): Promise<Step> {
    const w = window(kind, limit);
    try {
      const res = await w.consume(subject, points);
      const windowEndsAt = Date.now() + res.msBeforeNext;
      return {
        undo: () => refund(w, subject, points, windowEndsAt),
        rate: { limit, remaining: res.remainingPoints, resetMs: res.msBeforeNext },
        windowEndsAt,
      };
    } catch (e) {
      if (!(e instanceof RateLimiterRes)) throw e;
      // rate-limiter-flexible counts refused points too. Give them back, so that a refused request
      // (or one larger than the whole window) does not use up the window for everyone after it.
      // A failed refund only leaves the window fuller than it should be; the refusal still stands.
      await refund(w, subject, points, Date.now() + e.msBeforeNext).catch(() => undefined);
      const rate = { limit, remaining: Math.max(0, limit - (e.consumedPoints - points)), resetMs: e.msBeforeNext };
      const which = kind === 'rpm' ? 'requests' : 'units';
      return { refusal: new LimitExceededError(which, tier.name, label, Math.max(1, e.msBeforeNext), kind === 'rpm' ? rate : undefined) };
    }
  }

  async function takeSlot(subject: string, tier: Tier, limit: number, id: string): Promise<Step> {
    if (await store.takeSlot(subject, id, limit, ttlMs)) return { undo: () => store.freeSlot(subject, id) };
    return { refusal: new LimitExceededError('concurrent', tier.name, `${limit} concurrent requests`, CONCURRENT_RETRY_MS) };
  }

  async function reserveBudget(subject: string, tier: Tier, budgetUsd: number, amount: number, id: string, t: number): Promise<Step> {
    const month = monthOf(t);
    const check = await store.reserveBudget(subject, id, amount, toNano(budgetUsd), ttlMs, month);
    if (check.ok) return { undo: () => store.settleBudget(subject, id, amount, 0, month) };
    const used = `${usd(check.spent)} spent, ${usd(check.reserved)} reserved`;
    return { refusal: new LimitExceededError('budget', tier.name, `monthly budget of ${budgetUsd} USD (${used})`, nextMonth(t) - t) };
  }

  return {
    async admit(subject, tier, expected) {
      assertFits(tier, expected);
      const id = randomUUID();
      const units = Math.max(0, Math.ceil(expected.units));
      const amount = toNano(expected.costUsd);
      const t = now();
      const month = monthOf(t);
      const ul = unitLimit(tier);
      const rpm = tier.requestsPerMinute;
      const budgetUsd = tier.monthlyBudgetUsd;
      const skip = Promise.resolve<Step>({});
      const results = await Promise.allSettled([
        rpm === undefined ? skip : consume('rpm', subject, tier, rpm, 1, `${rpm} requests per minute`),
        tier.concurrent === undefined ? skip : takeSlot(subject, tier, tier.concurrent, id),
        ul === undefined ? skip : consume('upm', subject, tier, ul.perMinute, units, `${ul.perMinute} ${ul.kind} per minute`),
        budgetUsd === undefined ? skip : reserveBudget(subject, tier, budgetUsd, amount, id, t),
        tier.audioSecondsPerMinute === undefined || !expected.audioSeconds
          ? skip
          : consume('aspm', subject, tier, audioPoints(tier.audioSecondsPerMinute), audioPoints(expected.audioSeconds), `${tier.audioSecondsPerMinute} audio seconds per minute`),
        tier.megapixelsPerMinute === undefined || !expected.megapixels
          ? skip
          : consume('mppm', subject, tier, imagePoints(tier.megapixelsPerMinute), imagePoints(expected.megapixels), `${tier.megapixelsPerMinute} megapixels per minute`),
      ]);
      const steps = results.map((r) => (r.status === 'fulfilled' ? r.value : {}));
      const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      const refusal = steps.find((s) => s.refusal)?.refusal;
      if (failure || refusal) {
        await Promise.allSettled(steps.map((s) => s.undo?.()));
        if (failure) throw failure.reason;
        throw refusal;
      }
      const [rpmStep, slotStep, unitsStep, budgetStep] = steps;

      let settled: Promise<void> | undefined;
      const admission: Admission = {
        settle(actual) {
          settled ??= (async () => {
            const work: Promise<unknown>[] = [];
            if (slotStep?.undo) work.push(slotStep.undo());
            if (budgetStep?.undo) work.push(store.settleBudget(subject, id, amount, toNano(actual.costUsd), month));
            if (ul && unitsStep?.windowEndsAt !== undefined) {
              const diff = Math.max(0, Math.ceil(actual.units)) - units;
              const w = window('upm', ul.perMinute);
              // Extra units are charged even in a later window; unused ones go back only to theirs.
              if (diff > 0) work.push(w.penalty(subject, diff));
              if (diff < 0) work.push(refund(w, subject, -diff, unitsStep.windowEndsAt));
            }
            const failed = (await Promise.allSettled(work)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
            if (failed) throw failed.reason;
          })();
          return settled;
        },
      };
      if (rpmStep?.rate) admission.rate = rpmStep.rate;
      return admission;
    },

    async budget(subject) {
      const b = await store.budget(subject, monthOf(now()));
      return { spentUsd: b.spent / NANO_PER_USD, reservedUsd: b.reserved / NANO_PER_USD };
    },

    async close() {
      await store.close();
      if (redis) await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** `YYYY-MM` of a time, in UTC. */
/** `YYYY-MM` of a time, UTC; remembered until the month ends (it is asked on every call). */
let monthCache = { from: 0, to: -1, month: '' };
function monthOf(t: number): string {
  if (t >= monthCache.from && t < monthCache.to) return monthCache.month;
  const d = new Date(t);
  const from = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  monthCache = { from, to: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1), month: d.toISOString().slice(0, 7) };
  return monthCache.month;
}

/** Start of the next UTC month. */
function nextMonth(t: number): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

function usd(nano: number): string {
  return `${Math.round(nano / 1e3) / 1e6} USD`;
}
