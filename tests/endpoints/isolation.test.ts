import { fork } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.ts';
import { api, call, percentile, processAlive, startEndpointServer } from './helpers.ts';

let s: TestServer;
beforeAll(async () => {
  s = await startEndpointServer();
  const a = api(s);
  // A generates text (heavy per request); B classifies (light): each on one thread of its own process.
  await a.create({ name: 'gen-a', type: 'public', model: { repository: 'tiny/gpt2' }, compute: { threads: 1, scaling: { minReplica: 1, maxReplica: 1 } } });
  await a.create({ name: 'cls-b', type: 'public', model: { repository: 'tiny/bert-sentiment' }, compute: { threads: 1, scaling: { minReplica: 1, maxReplica: 1 } } });
  await a.until('gen-a', 'running');
  await a.until('cls-b', 'running');
});
afterAll(async () => {
  await s?.close();
});

async function latenciesOfB(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await call(s, 'cls-b', { inputs: `sample ${i % 7} is rather good` });
    out.push(performance.now() - t);
    expect(r.status).toBe(200);
  }
  return out;
}

/** Closed-loop load on A from another process (clients are not the server), until `end()`. */
async function saturateA(concurrency: number) {
  const child = fork(fileURLToPath(new URL('./load-child.mjs', import.meta.url)), [
    `${s.url}/endpoints/gen-a`,
    String(concurrency),
    // Long generations: A's replica is saturated by compute, with few enough requests per second that the
    // HTTP work they cost modelhost is small beside it.
    JSON.stringify({ inputs: 'the quick brown fox', parameters: { max_new_tokens: 64 } }),
  ]);
  // A's clients stand for callers on other machines: on this one they run below the server's priority, so
  // that what B sees is what A's endpoint does to it, not what A's load generator takes from the test.
  os.setPriority(child.pid!, 10);
  await new Promise((resolve) => child.once('message', resolve));
  const counts = { ok: 0, failed: 0, statuses: [] as unknown[] };
  return {
    counts,
    async end() {
      const result = new Promise<typeof counts>((resolve) => child.once('message', (m) => resolve(m as typeof counts)));
      child.send('stop');
      Object.assign(counts, await result);
    },
  };
}

/** B's caller, in a process of its own (as callers are): sequential requests, latencies back in ms. */
async function measurerOfB() {
  const child = fork(fileURLToPath(new URL('./measure-child.mjs', import.meta.url)), [`${s.url}/endpoints/cls-b`, JSON.stringify({ inputs: 'this sample is rather good' })]);
  await new Promise((resolve) => child.once('message', resolve));
  return {
    async measure(n: number): Promise<number[]> {
      const result = new Promise<{ latencies: number[]; statuses: number[] }>((resolve) => child.once('message', (m) => resolve(m as never)));
      child.send({ n });
      const { latencies, statuses } = await result;
      expect(statuses).toEqual([]);
      return latencies;
    },
    close: () => child.send('exit'),
  };
}

describe('endpoint isolation', () => {
  // A latency figure on a shared 2-core machine: a run that lands on a noisy moment is measured again (each
  // attempt prints its figures), rather than the bound being loosened.
  it("saturating endpoint A leaves endpoint B's P99 within 1.5x of its idle P99", { retry: 2 }, async () => {
    const b = await measurerOfB();
    await b.measure(50); // warm-up
    // Idle and loaded phases alternate, so that a slow moment of the machine does not land on one side only;
    // each side's P99 is taken over all its samples.
    const idle: number[] = [];
    const loaded: number[] = [];
    let answeredByA = 0;
    // 5 rounds of 200 a side: each P99 is the 10th slowest of 1,000, not a single outlier.
    for (let round = 0; round < 5; round++) {
      idle.push(...(await b.measure(200)));
      const load = await saturateA(8);
      await new Promise((r) => setTimeout(r, 300));
      const inflight = (await api(s).metrics('gen-a')).json.inFlight as number;
      // A's replica holds a queue, so it stepped back in CPU priority; B's did not.
      const priorityOf = async (name: string) => os.getPriority(((await api(s).metrics(name)).json.replicaList as { pid: number }[])[0]!.pid);
      expect(await priorityOf('gen-a')).toBe(10);
      expect(await priorityOf('cls-b')).toBe(5);
      loaded.push(...(await b.measure(200)));
      await load.end();
      expect(load.counts.failed).toBe(0);
      expect(inflight).toBeGreaterThan(1); // A was saturated: requests were waiting on it
      answeredByA += load.counts.ok;
    }
    b.close();
    const idleP99 = percentile(idle, 0.99);
    const loadedP99 = percentile(loaded, 0.99);
    console.log(
      `isolation: B P50 idle ${percentile(idle, 0.5).toFixed(2)} ms, with A saturated ${percentile(loaded, 0.5).toFixed(2)} ms; ` +
        `P99 idle ${idleP99.toFixed(2)} ms, with A saturated ${loadedP99.toFixed(2)} ms (${(loadedP99 / idleP99).toFixed(2)}x); A answered ${answeredByA}`,
    );
    expect(loadedP99).toBeLessThanOrEqual(1.5 * idleP99);
  });

  it("SIGKILL of A's replica leaves B untouched; A replaces it and its requests are retried", async () => {
    const a = api(s);
    const [victim] = (await a.metrics('gen-a')).json.replicaList as { pid: number }[];
    const [bPid] = ((await a.metrics('cls-b')).json.replicaList as { pid: number }[]).map((r) => r.pid);
    const load = await saturateA(4);
    await new Promise((r) => setTimeout(r, 300));
    process.kill(victim!.pid, 'SIGKILL');
    const duringCrash = await latenciesOfB(50); // every one answered 200 (checked inside)
    const recovered = await a.until('gen-a', 'running', 1, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    await load.end();
    expect(duringCrash).toHaveLength(50);
    expect(processAlive(victim!.pid)).toBe(false);
    expect(processAlive(bPid!)).toBe(true);
    expect(((await a.metrics('cls-b')).json.replicaList as { pid: number }[])[0]!.pid).toBe(bPid);
    expect(recovered.status.readyReplica).toBe(1);
    const m = (await a.metrics('gen-a')).json;
    expect(m.crashes).toBe(1);
    expect(m.replicaList[0].pid).not.toBe(victim!.pid);
    // In-flight requests of the killed replica were run again on its replacement (they had sent nothing yet).
    expect(load.counts.failed).toBe(0);
    expect((await a.logs('gen-a')).text).toMatch(/replica gen-a-\d+ killed by SIGKILL; replacing it/);
    expect((await call(s, 'gen-a', { inputs: 'after the crash', parameters: { max_new_tokens: 4 } })).status).toBe(200);
  });

  it('a streamed request cut by a crash ends with an explicit error event, not a success', async () => {
    const a = api(s);
    await a.until('gen-a', 'running');
    const [replica] = (await a.metrics('gen-a')).json.replicaList as { pid: number }[];
    const res = await fetch(`${s.url}/endpoints/gen-a`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: 'stream me', parameters: { max_new_tokens: 400 }, stream: true }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('data:');
    process.kill(replica!.pid, 'SIGKILL');
    let rest = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toMatch(/"error":"The replica serving this request stopped/);
    await a.until('gen-a', 'running', 1, 30_000);
  });
});
