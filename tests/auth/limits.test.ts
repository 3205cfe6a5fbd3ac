import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LimitExceededError, RequestTooLargeError, createLimiter, rateLimitHeaders } from '../../src/auth/limits.ts';
import type { Admission, Limiter, LimiterOptions } from '../../src/auth/limits.ts';
import type { Tier } from '../../src/auth/tiers.ts';
import { TEST_REDIS_URL, dropPrefixes, freshPrefix, requireRedis } from './fixtures/redis.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `n` admits at once; returns the admissions and the refusals. */
async function burst(limiter: Limiter, subject: string, tier: Tier, n: number, expected = { units: 0, costUsd: 0 }) {
  const results = await Promise.allSettled(Array.from({ length: n }, () => limiter.admit(subject, tier, expected)));
  const admitted = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  for (const e of refused) expect(e).toBeInstanceOf(LimitExceededError);
  return { admitted, refused: refused as LimitExceededError[] };
}

async function refusal(p: Promise<unknown>): Promise<LimitExceededError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(LimitExceededError);
  return e as LimitExceededError;
}

describe.each([
  { store: 'memory', redis: undefined },
  { store: 'redis', redis: TEST_REDIS_URL },
])('limiter ($store)', ({ store, redis }) => {
  const open: Limiter[] = [];
  const prefixes: string[] = [];
  /** A limiter on a fresh key prefix, closed after the test. */
  function limiter(opts: Omit<LimiterOptions, 'redis' | 'keyPrefix'> = {}): Limiter {
    const keyPrefix = freshPrefix();
    prefixes.push(keyPrefix);
    const l = createLimiter({ ...opts, keyPrefix, ...(redis ? { redis } : {}) });
    open.push(l);
    return l;
  }

  beforeAll(async () => {
    if (store === 'redis') await requireRedis();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((l) => l.close()));
    if (redis) await dropPrefixes(prefixes.splice(0));
  });

  it('admits exactly the requests-per-minute limit out of 100 concurrent admits', async () => {
    const { admitted, refused } = await burst(limiter(), 'tok', { name: 't', requestsPerMinute: 30 }, 100);
    expect(admitted).toHaveLength(30);
    expect(refused).toHaveLength(70);
    for (const e of refused) {
      expect(e.which).toBe('requests');
      expect(e.code).toBe('rate_limited');
      expect(e.status).toBe(429);
      expect(e.retryAfterMs).toBeGreaterThan(0);
      expect(e.retryAfterMs).toBeLessThanOrEqual(60_000);
      expect(e.rate).toMatchObject({ limit: 30, remaining: 0 });
      expect(e.message).toMatch(/^Request rate limit of tier t reached: 30 requests per minute\. Retry in \d+ s\.$/);
    }
  });

  it('reports the minute window for the X-RateLimit headers', async () => {
    const l = limiter();
    const tier = { name: 't', requestsPerMinute: 5 };
    const first = await l.admit('tok', tier, { units: 0, costUsd: 0 });
    expect(first.rate).toMatchObject({ limit: 5, remaining: 4 });
    expect(first.rate?.resetMs).toBeGreaterThan(55_000);
    expect(first.rate?.resetMs).toBeLessThanOrEqual(60_000);
    const second = await l.admit('tok', tier, { units: 0, costUsd: 0 });
    expect(second.rate?.remaining).toBe(3);
    expect(rateLimitHeaders({ limit: 5, remaining: 3, resetMs: 59_001 })).toEqual({
      'X-RateLimit-Limit': '5',
      'X-RateLimit-Remaining': '3',
      'X-RateLimit-Reset': '60',
    });
    // Other subjects have their own window.
    expect((await l.admit('other', tier, { units: 0, costUsd: 0 })).rate?.remaining).toBe(4);
  });

  it('calls no limiter for a tier without limits', async () => {
    const { admitted } = await burst(limiter(), 'tok', { name: 'unlimited' }, 500, { units: 1e9, costUsd: 1e6 });
    expect(admitted).toHaveLength(500);
    expect(admitted[0]?.rate).toBeUndefined();
  });

  it('holds concurrency slots exactly and frees one on settle', async () => {
    const l = limiter();
    const tier = { name: 't', concurrent: 5 };
    const { admitted, refused } = await burst(l, 'tok', tier, 50);
    expect(admitted).toHaveLength(5);
    expect(refused.every((e) => e.which === 'concurrent' && e.retryAfterMs === 1000)).toBe(true);
    await admitted[0]?.settle({ units: 0, costUsd: 0 });
    const again = await burst(l, 'tok', tier, 10);
    expect(again.admitted).toHaveLength(1);
  });

  it('expires concurrency slots and budget reservations that are never settled', async () => {
    let now = Date.UTC(2025, 5, 10);
    // Memory follows the injected clock; Redis expires by its own clock, so it gets a short real TTL.
    const l = redis ? limiter({ reservationTtlMs: 300 }) : limiter({ reservationTtlMs: 60_000, now: () => now });
    const tier = { name: 't', concurrent: 2, monthlyBudgetUsd: 1 };
    await l.admit('tok', tier, { units: 0, costUsd: 0.5 });
    await l.admit('tok', tier, { units: 0, costUsd: 0.5 });
    expect((await refusal(l.admit('tok', tier, { units: 0, costUsd: 0 }))).which).toBe('concurrent');
    expect(await l.budget('tok')).toEqual({ spentUsd: 0, reservedUsd: 1 });
    if (redis) await sleep(450);
    else now += 60_001;
    expect(await l.budget('tok')).toEqual({ spentUsd: 0, reservedUsd: 0 });
    const { admitted } = await burst(l, 'tok', tier, 5, { units: 0, costUsd: 0.5 });
    expect(admitted).toHaveLength(2);
  });

  it('never admits more than the budget allows under a concurrent burst', async () => {
    const now = Date.UTC(2025, 0, 31, 23, 0); // one hour before the month ends
    const l = limiter({ now: () => now });
    const tier = { name: 'paid', monthlyBudgetUsd: 1 };
    const { admitted, refused } = await burst(l, 'tok', tier, 50, { units: 0, costUsd: 0.1 });
    expect(admitted).toHaveLength(10);
    expect(await l.budget('tok')).toEqual({ spentUsd: 0, reservedUsd: 1 });
    const e = refused[0];
    expect(e?.which).toBe('budget');
    expect(e?.retryAfterMs).toBe(3_600_000);
    expect(e?.message).toMatch(/^Budget limit of tier paid reached: monthly budget of 1 USD \(0 USD spent, 1 USD reserved\)\. Retry in 3600 s\.$/);
    await Promise.all(admitted.map((a) => a.settle({ units: 0, costUsd: 0.1 })));
    expect(await l.budget('tok')).toEqual({ spentUsd: 1, reservedUsd: 0 });
    expect((await refusal(l.admit('tok', tier, { units: 0, costUsd: 0 }))).which).toBe('budget');
  });

  it('overshoots the budget by no more than (actual - expected) of the requests in flight', async () => {
    const l = limiter();
    const tier = { name: 't', monthlyBudgetUsd: 2 };
    const expected = 0.05;
    const actual = 0.08;
    let inFlight = 0;
    let maxInFlight = 0;
    let admittedCount = 0;
    // 8 parallel clients, 40 attempts each: admit, work a little, settle above the estimate.
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 40; i++) {
          let a: Admission;
          try {
            a = await l.admit('tok', tier, { units: 0, costUsd: expected });
          } catch (e) {
            expect((e as LimitExceededError).which).toBe('budget');
            continue;
          }
          admittedCount++;
          maxInFlight = Math.max(maxInFlight, ++inFlight);
          await sleep(Math.random() * 5);
          inFlight--;
          await a.settle({ units: 0, costUsd: actual });
        }
      }),
    );
    const { spentUsd, reservedUsd } = await l.budget('tok');
    expect(reservedUsd).toBe(0);
    expect(spentUsd).toBeCloseTo(admittedCount * actual, 9);
    expect(spentUsd).toBeGreaterThan(tier.monthlyBudgetUsd - actual); // the budget was used, not refused early
    expect(spentUsd - tier.monthlyBudgetUsd).toBeLessThanOrEqual(maxInFlight * (actual - expected) + 1e-9);
  });

  it('undoes the minute window, slot and units when the budget refuses', async () => {
    const l = limiter();
    const tier = { name: 't', requestsPerMinute: 10, concurrent: 1, charactersPerMinute: 1000, monthlyBudgetUsd: 0.1 };
    const e = await refusal(l.admit('tok', tier, { units: 1000, costUsd: 0.2 }));
    expect(e.which).toBe('budget');
    expect(await l.budget('tok')).toEqual({ spentUsd: 0, reservedUsd: 0 });
    // The refused call took nothing: a full-size call still fits every window and the one slot.
    const a = await l.admit('tok', tier, { units: 1000, costUsd: 0.1 });
    expect(a.rate?.remaining).toBe(9);
  });

  it('undoes the minute window and budget when the concurrency limit refuses', async () => {
    const l = limiter();
    const tier = { name: 't', requestsPerMinute: 10, concurrent: 1, monthlyBudgetUsd: 1 };
    const held = await l.admit('tok', tier, { units: 0, costUsd: 0.3 });
    expect((await refusal(l.admit('tok', tier, { units: 0, costUsd: 0.3 }))).which).toBe('concurrent');
    expect(await l.budget('tok')).toEqual({ spentUsd: 0, reservedUsd: 0.3 });
    await held.settle({ units: 0, costUsd: 0.25 });
    const next = await l.admit('tok', tier, { units: 0, costUsd: 0.3 });
    expect(next.rate?.remaining).toBe(8);
    expect(await l.budget('tok')).toEqual({ spentUsd: 0.25, reservedUsd: 0.3 });
  });

  it('takes expected units at admit and adjusts them to the actual units on settle', async () => {
    const l = limiter();
    const tier = { name: 't', charactersPerMinute: 1000 };
    const first = await l.admit('tok', tier, { units: 600, costUsd: 0 });
    const e = await refusal(l.admit('tok', tier, { units: 600, costUsd: 0 }));
    expect(e.which).toBe('units');
    expect(e.message).toMatch(/1000 characters per minute/);
    await first.settle({ units: 100, costUsd: 0 }); // 500 given back: 100 used
    const second = await l.admit('tok', tier, { units: 600, costUsd: 0 }); // 700 used
    await second.settle({ units: 900, costUsd: 0 }); // 300 more charged: 1000 used
    expect((await refusal(l.admit('tok', tier, { units: 1, costUsd: 0 }))).which).toBe('units');
  });

  it('refuses a request larger than a whole per-minute window with a 413, never a 429, and takes nothing', async () => {
    const l = limiter();
    const tier = { name: 't', tokensPerMinute: 1000, audioSecondsPerMinute: 20, megapixelsPerMinute: 4, requestsPerMinute: 2 };
    for (const [expected, names] of [
      [{ units: 5000, costUsd: 0 }, /about 5000 tokens, more than the 1000 tokens per minute/],
      [{ units: 0, costUsd: 0, audioSeconds: 30 }, /30 seconds of audio, more than the 20 audio seconds per minute/],
      [{ units: 0, costUsd: 0, megapixels: 12.5 }, /12\.5 megapixels of images, more than the 4 megapixels per minute/],
    ] as const) {
      const e = await l.admit('tok', tier, expected).then(() => undefined, (err: unknown) => err);
      expect(e).toBeInstanceOf(RequestTooLargeError);
      expect((e as RequestTooLargeError).status).toBe(413);
      expect((e as Error).message).toMatch(names);
      expect((e as Error).message).not.toMatch(/retry/i);
    }
    // Nothing was taken: the request window still has both of its requests, the units window all its tokens.
    await expect(l.admit('tok', tier, { units: 1000, costUsd: 0 })).resolves.toBeDefined();
    await expect(l.admit('tok', tier, { units: 0, costUsd: 0, audioSeconds: 20, megapixels: 4 })).resolves.toBeDefined();
  });

  it('meters audio seconds and megapixels in windows of their own', async () => {
    const l = limiter();
    const tier = { name: 't', audioSecondsPerMinute: 20, megapixelsPerMinute: 1 };
    await l.admit('tok', tier, { units: 0, costUsd: 0, audioSeconds: 10 });
    await l.admit('tok', tier, { units: 0, costUsd: 0, audioSeconds: 10, megapixels: 0.6 });
    const e = await refusal(l.admit('tok', tier, { units: 0, costUsd: 0, audioSeconds: 0.5 }));
    expect(e.status).toBe(429);
    expect(e.message).toMatch(/20 audio seconds per minute/);
    expect((await refusal(l.admit('tok', tier, { units: 0, costUsd: 0, megapixels: 0.5 }))).message).toMatch(/1 megapixels per minute/);
    // Text is not charged against either window.
    await expect(l.admit('tok', tier, { units: 100_000, costUsd: 0, megapixels: 0.4 })).resolves.toBeDefined();
  });

  it('settles once however often settle is called', async () => {
    const l = limiter();
    const tier = { name: 't', concurrent: 2, charactersPerMinute: 1000, monthlyBudgetUsd: 1 };
    const a = await l.admit('tok', tier, { units: 100, costUsd: 0.1 });
    const b = await l.admit('tok', tier, { units: 100, costUsd: 0.1 });
    await Promise.all([a.settle({ units: 300, costUsd: 0.2 }), a.settle({ units: 300, costUsd: 0.2 })]);
    await a.settle({ units: 300, costUsd: 0.2 });
    expect(await l.budget('tok')).toEqual({ spentUsd: 0.2, reservedUsd: 0.1 });
    // b still holds its slot (a's repeated settles freed only a's): one more fits, two do not.
    const { admitted } = await burst(l, 'tok', tier, 2, { units: 0, costUsd: 0 });
    expect(admitted).toHaveLength(1);
    await b.settle({ units: 100, costUsd: 0.1 });
    // Units used: 300 (a, once) + 100 (b) = 400, so 600 fit and 601 do not.
    expect((await refusal(l.admit('tok', tier, { units: 601, costUsd: 0 }))).which).toBe('units');
    await expect(l.admit('tok', tier, { units: 600, costUsd: 0 })).resolves.toBeDefined();
  });
});
