import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.ts';
import { api, call, startEndpointServer } from './helpers.ts';

let s: TestServer;
beforeAll(async () => {
  s = await startEndpointServer();
});
afterAll(async () => {
  await s?.close();
});

describe('endpoint autoscaling', () => {
  it('adds replicas when pending requests per replica exceed the target, and removes them when idle', async () => {
    const a = api(s);
    await a.create({
      name: 'elastic',
      type: 'public',
      model: { repository: 'tiny/gpt2' },
      compute: { scaling: { minReplica: 1, maxReplica: 2, measure: { pendingRequests: 1 } } },
    });
    await a.until('elastic', 'running');
    let stop = false;
    let failures = 0;
    const loops = Array.from({ length: 6 }, async () => {
      while (!stop) {
        const r = await call(s, 'elastic', { inputs: 'scale me', parameters: { max_new_tokens: 24 } });
        if (r.status !== 200) failures++;
      }
    });
    const scaled = await a.until('elastic', 'running', 2, 30_000);
    stop = true;
    await Promise.all(loops);
    expect(scaled.status.targetReplica).toBe(2);
    expect(failures).toBe(0);
    expect((await a.logs('elastic')).text).toMatch(/scaling up: .* pending requests for 1 replica/);
    // Idle: back to the minimum after scaleDownAfter (1.5 s in tests), never below it.
    await expect.poll(async () => (await a.get('elastic')).json.status.readyReplica, { timeout: 20_000, interval: 200 }).toBe(1);
    expect((await a.logs('elastic')).text).toMatch(/scaling down: removing replica/);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await a.get('elastic')).json.status.readyReplica).toBe(1);
    // Prometheus and JSON metrics report the endpoint.
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/modelhost_endpoint_requests_total\{endpoint="elastic",status="200"\} [1-9]/);
    expect(metrics).toMatch(/modelhost_endpoint_request_duration_seconds_bucket\{le="\+Inf",endpoint="elastic"\} [1-9]/);
    expect(metrics).toMatch(/modelhost_endpoint_replicas\{endpoint="elastic",state="ready"\} 1/);
    expect(metrics).toMatch(/modelhost_endpoint_cold_starts_total\{endpoint="elastic"\} 1/);
    expect(metrics).toContain('modelhost_endpoint_queue_depth{endpoint="elastic"} 0');
    expect(metrics).toMatch(/modelhost_endpoint_cold_start_seconds_count\{endpoint="elastic"\} 1/);
    const json = (await a.metrics('elastic')).json;
    expect(json.requests.total).toBeGreaterThan(5);
    expect(json.requests.errors).toBe(0);
    expect(json.latencySeconds.p95).toBeGreaterThan(0);
    expect(json.replicas).toMatchObject({ ready: 1, starting: 0 });
    expect(json.replicaSeconds).toBeGreaterThan(0);
  });

  it('a lower maxReplica applies at once; a higher minReplica starts replicas without a roll', async () => {
    const a = api(s);
    await a.create({ name: 'resized', type: 'public', model: { repository: 'tiny/bert-sentiment' }, compute: { scaling: { minReplica: 2, maxReplica: 3 } } });
    await a.until('resized', 'running', 2);
    const before = ((await a.metrics('resized')).json.replicaList as { pid: number }[]).map((r) => r.pid);
    await a.update('resized', { compute: { scaling: { minReplica: 3 } } });
    await a.until('resized', 'running', 3);
    const grown = ((await a.metrics('resized')).json.replicaList as { pid: number }[]).map((r) => r.pid);
    expect(grown).toEqual(expect.arrayContaining(before)); // the running replicas were kept
    await a.update('resized', { compute: { scaling: { minReplica: 1, maxReplica: 1 } } });
    await expect.poll(async () => (await a.get('resized')).json.status.readyReplica, { timeout: 15_000, interval: 100 }).toBe(1);
    expect((await call(s, 'resized', { inputs: 'still here' })).status).toBe(200);
    await a.remove('resized');
  });

  it('wakes a scaled-to-zero endpoint with no failed request, and reports the cold start', async () => {
    const a = api(s);
    await a.create({ name: 'wake', type: 'public', model: { repository: 'tiny/bert-sentiment' }, compute: { scaling: { minReplica: 0, maxReplica: 1 } } });
    await a.until('wake', 'running');
    await a.action('wake', 'scale-to-zero');
    await a.until('wake', 'scaledToZero');
    const started = performance.now();
    const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => call(s, 'wake', { inputs: `burst ${i}` }, { 'x-scale-up-timeout': '30' })));
    const firstAnswerMs = performance.now() - started;
    expect(burst.map((r) => r.status)).toEqual(Array(10).fill(200));
    console.log(`scale-from-zero: 10 concurrent requests all answered ${firstAnswerMs.toFixed(0)} ms after the wake`);
    const json = (await a.metrics('wake')).json;
    expect(json.coldStarts.count).toBe(2);
    expect(json.coldStarts.recentSeconds[1]).toBeGreaterThan(0);
  });
});
