import { describe, expect, it } from 'vitest';
import { parseRouterFile } from '../../src/router/config.ts';
import { costOf, expectedUsage } from '../../src/router/cost.ts';
import { orderCandidates } from '../../src/router/policy.ts';
import { percentile, ProviderStats } from '../../src/router/stats.ts';

describe('provider statistics', () => {
  it('computes nearest-rank percentiles over successful calls only', () => {
    const stats = new ProviderStats(60_000, 1000, () => 0);
    for (let i = 1; i <= 100; i++) stats.record('a', 'm', { ms: i, ok: true, reachable: true, cost: 0.01 });
    stats.record('a', 'm', { ms: 5000, ok: false, reachable: false, cost: 0 });
    const s = stats.snapshot('a');
    expect(s.p50Ms).toBe(50);
    expect(s.p95Ms).toBe(95);
    expect(s.p99Ms).toBe(99);
    expect(s.requests).toBe(101);
    expect(s.errorRate).toBeCloseTo(1 / 101);
    expect(s.availability).toBeCloseTo(100 / 101);
    expect(s.costUsd).toBeCloseTo(1);
    expect(stats.snapshot('a', 'm').p50Ms).toBe(50);
    expect(stats.models('a')).toEqual(['m']);
  });

  it('forgets samples older than the window and keeps memory bounded', () => {
    let now = 0;
    const stats = new ProviderStats(1000, 10, () => now);
    for (let i = 0; i < 50; i++) stats.record('a', 'm', { ms: i, ok: true, reachable: true, cost: 0 });
    expect(stats.snapshot('a').requests).toBe(10);
    now = 2000;
    expect(stats.snapshot('a').requests).toBe(0);
    expect(stats.snapshot('a').p50Ms).toBeNull();
    expect(stats.totals.get('a')!.requests).toBe(50);
  });

  it('percentile of nothing is null', () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([7], 99)).toBe(7);
  });
});

describe('cost and policies', () => {
  it('prices every unit a provider bills by', () => {
    expect(costOf({ inputPerMTokens: 1, outputPerMTokens: 2 }, { inputTokens: 1e6, outputTokens: 5e5 })).toBeCloseTo(2);
    expect(costOf({ perMegapixel: 0.025 }, { megapixels: 1.05 })).toBeCloseTo(0.05); // rounded up, as fal bills
    expect(costOf({ perComputeSecond: 0.0014, perRequest: 0.001 }, { computeSeconds: 2 })).toBeCloseTo(0.0038);
    expect(costOf({}, undefined)).toBe(0);
  });

  it('orders by price for cheapest and by measured median for fastest', () => {
    const stats = new ProviderStats(60_000, 100, () => 0);
    for (let i = 0; i < 10; i++) {
      stats.record('slow', 'x/y', { ms: 300, ok: true, reachable: true, cost: 0 });
      stats.record('quick', 'x/y', { ms: 20, ok: true, reachable: true, cost: 0 });
    }
    const candidates = [
      { provider: 'slow', providerModel: 'a', price: { perOutput: 0.003 } },
      { provider: 'quick', providerModel: 'b', price: { perMegapixel: 0.025 } },
      { provider: 'fresh', providerModel: 'c', price: { perRequest: 0.01 } },
    ];
    const call = { api: 'task' as const, task: 'text-to-image', model: 'x/y', body: { inputs: 'a fox', parameters: { width: 512, height: 512 } } };
    expect(expectedUsage(call, 1).megapixels).toBeCloseTo(0.262144);
    expect(orderCandidates('cheapest', candidates, call, stats).map((c) => c.provider)).toEqual(['slow', 'fresh', 'quick']);
    // An unmeasured provider goes first (that is how it gets measured), then by median.
    expect(orderCandidates('fastest', candidates, call, stats).map((c) => c.provider)).toEqual(['fresh', 'quick', 'slow']);
    expect(orderCandidates('preferred', candidates, call, stats)).toBe(candidates);
  });
});

describe('providers file', () => {
  it('names every problem with its path', () => {
    let message = '';
    try {
      parseRouterFile({ providers: [{ name: 'A b', type: 'nope', baseUrl: 'not a url' }], routing: { retries: -1 } });
    } catch (e) {
      message = (e as Error).message;
    }
    for (const path of ['providers.0.name', 'providers.0.type', 'providers.0.baseUrl', 'routing.retries']) expect(message).toContain(path);
  });

  it('rejects a model that names an undefined provider, and duplicate names', () => {
    expect(() => parseRouterFile({ models: [{ id: 'a/b', task: 'conversational', providers: [{ provider: 'ghost' }] }] })).toThrow(
      /a\/b names provider "ghost"/,
    );
    const p = { name: 'x', type: 'replicate', baseUrl: 'http://127.0.0.1:1/v1' };
    expect(() => parseRouterFile({ providers: [p, p] })).toThrow(/used twice/);
    expect(() => parseRouterFile({ providers: [{ ...p, name: 'local' }] })).toThrow(/reserved/);
  });

  it('fills defaults', () => {
    const f = parseRouterFile({});
    expect(f.routing.policy).toBe('preferred');
    expect(f.routing.breaker).toEqual({ failures: 5, cooldownMs: 30_000 });
    expect(f.routing.hedge.enabled).toBe(false);
  });
});
