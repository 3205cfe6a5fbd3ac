import { afterEach, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/simulate/harness.ts';
import { closedPort, fastTimeouts, startRouted, startSim } from '../helpers/router.ts';
import { postJson, type TestServer } from '../helpers/server.ts';

type Sim = Simulator & { api: string };
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

async function sims(n: number, plans: object[] = []): Promise<Sim[]> {
  const list: Sim[] = [];
  for (let i = 0; i < n; i++) {
    const s = await startSim('openai-compatible', plans[i] ?? {});
    open.push(s);
    list.push(s);
  }
  return list;
}

async function routed(file: unknown): Promise<TestServer> {
  const server = await startRouted(file);
  open.unshift(server);
  return server;
}

const body = (model: string) => ({ model, messages: [{ role: 'user', content: 'hi there' }], max_tokens: 4 });

/** Runs `total` calls with `concurrency` in flight; returns the statuses. */
async function load(total: number, concurrency: number, call: (i: number) => Promise<number>): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) statuses.push(await call(next++));
    }),
  );
  return statuses;
}

describe('router reliability', () => {
  it('three providers, one down and one failing 30% of calls: 2,000 requests, zero client-visible errors', async () => {
    const [flaky, healthy] = await sims(2, [{ errorRate: 0.3, errorStatus: 503, seed: 7 }, {}]);
    const dead = await closedPort();
    const server = await routed({
      routing: { retries: 1, backoffMs: 5, timeouts: fastTimeouts, breaker: { failures: 5, cooldownMs: 1000 } },
      providers: [
        { name: 'down', type: 'openai-compatible', baseUrl: `${dead}/v1` },
        { name: 'flaky', type: 'openai-compatible', baseUrl: flaky!.api },
        { name: 'healthy', type: 'openai-compatible', baseUrl: healthy!.api },
      ],
      models: [{ id: 'sim/chat', task: 'conversational', providers: [{ provider: 'down' }, { provider: 'flaky' }, { provider: 'healthy' }] }],
    });
    const served: Record<string, number> = {};
    const statuses = await load(2000, 32, async () => {
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body('sim/chat')),
      });
      await res.arrayBuffer();
      const p = res.headers.get('x-modelhost-provider') ?? '?';
      served[p] = (served[p] ?? 0) + 1;
      return res.status;
    });
    expect(statuses.length).toBe(2000);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // The flaky provider still carries most calls; the healthy one catches what it drops.
    expect(served.flaky).toBeGreaterThan(1500);
    expect(served.healthy).toBeGreaterThan(50);
    expect(served.down ?? 0).toBe(0);
    const stats = (await (await fetch(`${server.url}/api/providers`)).json()) as { providers: Array<{ name: string; circuit: { state: string; opens: number } }> };
    expect(stats.providers.find((p) => p.name === 'down')!.circuit.opens).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('circuit breaker: during an outage the provider gets at most one probe per cool-down, and comes back after', async () => {
    const [down, backup] = await sims(2, [{ outage: '503' }, {}]);
    const cooldownMs = 300;
    const failures = 3;
    const server = await routed({
      routing: { retries: 0, timeouts: fastTimeouts, breaker: { failures, cooldownMs } },
      providers: [
        { name: 'down', type: 'openai-compatible', baseUrl: down!.api },
        { name: 'backup', type: 'openai-compatible', baseUrl: backup!.api },
      ],
      models: [{ id: 'sim/chat', task: 'conversational', providers: [{ provider: 'down' }, { provider: 'backup' }] }],
    });
    const outageMs = 3000;
    const until = Date.now() + outageMs;
    const concurrency = 4;
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < until) statuses.push((await postJson(`${server.url}/v1/chat/completions`, body('sim/chat'))).status);
      }),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    const probes = down!.sim.stats.requests;
    // Calls in flight when the circuit opened, plus one probe per cool-down.
    expect(probes).toBeLessThanOrEqual(failures + concurrency + Math.ceil(outageMs / cooldownMs) + 1);
    expect(statuses.length).toBeGreaterThan(probes * 5);
    down!.sim.setPlan({ outage: 'off' });
    await new Promise((r) => setTimeout(r, cooldownMs + 50));
    const after = await postJson(`${server.url}/v1/chat/completions`, body('sim/chat'));
    expect(after.headers.get('x-modelhost-provider')).toBe('down');
    const stats = (await (await fetch(`${server.url}/api/providers`)).json()) as { providers: Array<{ name: string; circuit: { state: string } }> };
    expect(stats.providers.find((p) => p.name === 'down')!.circuit.state).toBe('closed');
  }, 30_000);

  it('all circuits open: 503 that says so', async () => {
    const [x] = await sims(1, [{ outage: '503' }]);
    const server = await routed({
      routing: { retries: 0, timeouts: fastTimeouts, breaker: { failures: 1, cooldownMs: 60_000 } },
      providers: [{ name: 'x', type: 'openai-compatible', baseUrl: x!.api }],
      models: [{ id: 'sim/chat', task: 'conversational', providers: [{ provider: 'x' }] }],
    });
    expect((await postJson(`${server.url}/v1/chat/completions`, body('sim/chat'))).status).toBe(502);
    const res = await postJson(`${server.url}/v1/chat/completions`, body('sim/chat'));
    expect(res.status).toBe(503);
    expect(res.json.error.message).toMatch(/circuit/);
    expect(x!.sim.stats.requests).toBe(1);
  });

  it('hedging: a second provider is asked after the first is late; the first answer wins', async () => {
    const [slow, quick] = await sims(2, [{ latencyMs: { mean: 800, jitter: 0 } }, { latencyMs: { mean: 5, jitter: 0 } }]);
    const server = await routed({
      routing: { retries: 0, timeouts: { ...fastTimeouts, firstByteMs: 5000 }, hedge: { enabled: true, minDelayMs: 50 } },
      providers: [
        { name: 'slow', type: 'openai-compatible', baseUrl: slow!.api },
        { name: 'quick', type: 'openai-compatible', baseUrl: quick!.api },
      ],
      models: [{ id: 'sim/chat', task: 'conversational', providers: [{ provider: 'slow' }, { provider: 'quick' }] }],
    });
    const started = Date.now();
    const res = await postJson(`${server.url}/v1/chat/completions`, body('sim/chat'));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-modelhost-provider')).toBe('quick');
    expect(Date.now() - started).toBeLessThan(600);
    expect(slow!.sim.stats.requests).toBe(1);
    // The loser is cancelled: its connection closes before it answers.
    await new Promise((r) => setTimeout(r, 100));
    expect(slow!.sim.stats.abandoned).toBe(1);
  });

  it('hedging: a primary that fails sends the hedge at once; both failing moves on to the third provider', async () => {
    const [bad, worse, good] = await sims(3, [{ errorRate: 1 }, { errorRate: 1 }, {}]);
    const server = await routed({
      routing: { retries: 0, timeouts: fastTimeouts, hedge: { enabled: true, minDelayMs: 2000 } },
      providers: [
        { name: 'bad', type: 'openai-compatible', baseUrl: bad!.api },
        { name: 'worse', type: 'openai-compatible', baseUrl: worse!.api },
        { name: 'good', type: 'openai-compatible', baseUrl: good!.api },
      ],
      models: [{ id: 'sim/chat', task: 'conversational', providers: [{ provider: 'bad' }, { provider: 'worse' }, { provider: 'good' }] }],
    });
    const started = Date.now();
    const res = await postJson(`${server.url}/v1/chat/completions`, body('sim/chat'));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-modelhost-provider')).toBe('good');
    expect(Date.now() - started).toBeLessThan(1500);
    expect([bad!.sim.stats.requests, worse!.sim.stats.requests, good!.sim.stats.requests]).toEqual([1, 1, 1]);
  });

  it('fastest and cheapest policies pick by measured latency and by price', async () => {
    const [slow, quick] = await sims(2, [{ latencyMs: { mean: 60, jitter: 0 } }, { latencyMs: { mean: 2, jitter: 0 } }]);
    const server = await routed({
      routing: { retries: 0, timeouts: fastTimeouts },
      providers: [
        { name: 'slow', type: 'openai-compatible', baseUrl: slow!.api },
        { name: 'quick', type: 'openai-compatible', baseUrl: quick!.api },
      ],
      models: [
        {
          id: 'sim/chat',
          task: 'conversational',
          providers: [
            { provider: 'slow', price: { inputPerMTokens: 0.1, outputPerMTokens: 0.1 } },
            { provider: 'quick', price: { inputPerMTokens: 5, outputPerMTokens: 5 } },
          ],
        },
      ],
    });
    for (let i = 0; i < 3; i++) {
      await postJson(`${server.url}/v1/chat/completions`, body('sim/chat:slow'));
      await postJson(`${server.url}/v1/chat/completions`, body('sim/chat:quick'));
    }
    expect((await postJson(`${server.url}/v1/chat/completions`, body('sim/chat:fastest'))).headers.get('x-modelhost-provider')).toBe('quick');
    expect((await postJson(`${server.url}/v1/chat/completions`, body('sim/chat:cheapest'))).headers.get('x-modelhost-provider')).toBe('slow');
    expect((await postJson(`${server.url}/v1/chat/completions`, body('sim/chat'))).headers.get('x-modelhost-provider')).toBe('slow');
  });
});
