/**
 * Three modelhost "instances" (separate processes, fixtures/limits-worker.ts) on one Redis and key
 * prefix must behave as one limiter: the issue 4 acceptance test for global limits and budgets,
 * and for reservations left behind by an instance killed with SIGKILL.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLimiter } from '../../src/auth/limits.ts';
import type { Tier } from '../../src/auth/tiers.ts';
import { TEST_REDIS_URL, dropPrefixes, freshPrefix, requireRedis } from './fixtures/redis.ts';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'limits-worker.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Instance {
  child: ChildProcess;
  call<T>(command: Record<string, unknown>): Promise<T>;
}

const children: ChildProcess[] = [];
const prefixes: string[] = [];

async function startInstance(prefix: string, ttlMs = 600_000): Promise<Instance> {
  if (!prefixes.includes(prefix)) prefixes.push(prefix);
  const child = fork(WORKER, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, MODELHOST_TEST_REDIS: TEST_REDIS_URL, LIMITS_PREFIX: prefix, LIMITS_TTL_MS: String(ttlMs) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once('message', (m: { ready: boolean; error?: string }) => (m.ready ? resolve() : reject(new Error(`instance failed to start: ${m.error}`))));
    child.once('exit', (code) => reject(new Error(`instance exited with ${code} before it was ready`)));
  });
  return {
    child,
    call<T>(command: Record<string, unknown>) {
      return new Promise<T>((resolve, reject) => {
        child.once('message', (m: { ok: boolean; result?: T; error?: string }) => (m.ok ? resolve(m.result as T) : reject(new Error(m.error))));
        child.send(command);
      });
    },
  };
}

const startInstances = (prefix: string, ttlMs?: number) => Promise.all([0, 1, 2].map(() => startInstance(prefix, ttlMs)));

interface BurstResult {
  admitted: number;
  refused: number;
  minRetryAfterMs: number;
  which: string[];
}

describe('limits across three instances on one Redis', () => {
  beforeAll(requireRedis);
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await dropPrefixes(prefixes.splice(0));
  });

  it('admits 600 of 2,000 concurrent requests against a 600/min tier, the rest with a retry time', async () => {
    const instances = await startInstances(freshPrefix());
    const tier: Tier = { name: 'shared', requestsPerMinute: 600 };
    const results = await Promise.all(
      instances.map((inst, i) =>
        inst.call<BurstResult>({ op: 'burst', subject: 'tok', tier, n: i === 0 ? 666 : 667, expected: { units: 0, costUsd: 0 } }),
      ),
    );
    const admitted = results.reduce((s, r) => s + r.admitted, 0);
    const refused = results.reduce((s, r) => s + r.refused, 0);
    // The issue allows 1%, but the count is exact: every instance consumes through the same
    // RateLimiterRedis key, whose consume is one Lua script (SET NX EX + INCRBY) that Redis runs
    // atomically, so the 2,000 calls see the distinct counter values 1..2,000 and exactly those
    // ≤ 600 pass. Refunds of refused calls only lower the counter back towards the admitted count,
    // never below it, so they cannot let a 601st call in. Only a window ending mid-burst (60 s
    // fixed window) could admit more, and the burst takes well under a second.
    expect(Math.abs(admitted - 600)).toBeLessThanOrEqual(6);
    expect(admitted).toBe(600);
    expect(refused).toBe(1400);
    for (const r of results) {
      expect(r.which).toEqual(['requests']);
      expect(r.minRetryAfterMs).toBeGreaterThan(0);
    }
  });

  it('reserves a budget globally: 2,000 concurrent requests fit exactly what the budget covers', async () => {
    const prefix = freshPrefix();
    const instances = await startInstances(prefix);
    const tier: Tier = { name: 'paid', monthlyBudgetUsd: 5 };
    const results = await Promise.all(
      instances.map((inst, i) =>
        inst.call<BurstResult>({ op: 'burst', subject: 'tok', tier, n: i === 0 ? 666 : 667, expected: { units: 0, costUsd: 0.01 } }),
      ),
    );
    expect(results.reduce((s, r) => s + r.admitted, 0)).toBe(500);
    for (const r of results) expect(r.which).toEqual(['budget']);
    const reader = createLimiter({ redis: TEST_REDIS_URL, keyPrefix: prefix });
    try {
      expect(await reader.budget('tok')).toEqual({ spentUsd: 0, reservedUsd: 5 });
    } finally {
      await reader.close();
    }
  });

  it('overshoots a shared budget by no more than (actual - expected) of the requests in flight', async () => {
    const prefix = freshPrefix();
    const instances = await startInstances(prefix);
    const budget = 3;
    const tier: Tier = { name: 'paid', monthlyBudgetUsd: budget };
    const expected = 0.01;
    const actual = 0.015;
    const results = await Promise.all(
      instances.map((inst) =>
        inst.call<{ admitted: number; maxInFlight: number }>({
          op: 'run',
          subject: 'tok',
          tier,
          clients: 10,
          attempts: 40,
          expected: { units: 0, costUsd: expected },
          actualUsd: actual,
        }),
      ),
    );
    const reader = createLimiter({ redis: TEST_REDIS_URL, keyPrefix: prefix });
    try {
      const { spentUsd, reservedUsd } = await reader.budget('tok');
      const admitted = results.reduce((s, r) => s + r.admitted, 0);
      const inFlight = results.reduce((s, r) => s + r.maxInFlight, 0);
      expect(reservedUsd).toBe(0);
      expect(spentUsd).toBeCloseTo(admitted * actual, 9);
      expect(spentUsd).toBeGreaterThan(budget - actual);
      // The bound in src/auth/limits.ts: at most (actual - expected) per request in flight.
      expect(spentUsd - budget).toBeLessThanOrEqual(inFlight * (actual - expected) + 1e-9);
    } finally {
      await reader.close();
    }
  });

  it('frees the slots and reservations of an instance killed with SIGKILL once their TTL passes', async () => {
    const prefix = freshPrefix();
    const ttlMs = 1_500;
    const [victim, survivor] = await Promise.all([startInstance(prefix, ttlMs), startInstance(prefix, ttlMs)]);
    if (!victim || !survivor) throw new Error('instances did not start');
    const tier: Tier = { name: 't', concurrent: 10, monthlyBudgetUsd: 1 };
    const expected = { units: 0, costUsd: 0.1 };
    const held = await victim.call<BurstResult>({ op: 'burst', subject: 'tok', tier, n: 10, expected });
    const heldAt = Date.now();
    expect(held.admitted).toBe(10);
    victim.child.kill('SIGKILL');
    await new Promise((r) => victim.child.once('exit', r));

    const blocked = await survivor.call<BurstResult>({ op: 'burst', subject: 'tok', tier, n: 5, expected });
    expect(blocked.admitted).toBe(0);
    expect(blocked.which).toEqual(['concurrent']);
    const reader = createLimiter({ redis: TEST_REDIS_URL, keyPrefix: prefix });
    try {
      expect(await reader.budget('tok')).toEqual({ spentUsd: 0, reservedUsd: 1 });
      await sleep(heldAt + ttlMs + 100 - Date.now());
      expect(await reader.budget('tok')).toEqual({ spentUsd: 0, reservedUsd: 0 });
      const freed = await survivor.call<BurstResult>({ op: 'burst', subject: 'tok', tier, n: 12, expected });
      expect(freed.admitted).toBe(10);
    } finally {
      await reader.close();
    }
  });
});
