import { describe, expect, it } from 'vitest';
import { RequestLog, type LoggedCall } from '../../src/ui/server/request-log.ts';

const call = (i: number, extra: Partial<LoggedCall> = {}): LoggedCall => ({
  at: 1_700_000_000_000 + i,
  id: `r${i}`,
  method: 'POST',
  path: '/models/tiny/m',
  model: 'tiny/m',
  kind: 'inference',
  status: 200,
  ms: i,
  provider: 'local',
  token: '',
  ...extra,
});

describe('request log', () => {
  it('keeps the last 5,000 calls in order and the last 1,000 latencies per model', () => {
    const log = new RequestLog();
    for (let i = 0; i < 5_100; i++) log.add(call(i));
    const calls = log.calls;
    expect(calls).toHaveLength(5_000);
    expect(calls[0]!.id).toBe('r100');
    expect(calls.at(-1)!.id).toBe('r5099');
    const latency = log.modelLatency('tiny/m');
    expect(latency.samples).toBe(1_000);
    // The samples are the last 1,000 (ms 4100..5099): their median is 4599 or 4600.
    expect(latency.p50).toBeGreaterThanOrEqual(4_599);
    expect(latency.p50).toBeLessThanOrEqual(4_600);
    expect(log.counts.get('tiny/m')).toEqual({ requests: 5_100, errors: 0 });
  });

  it('counts errors and keeps their latencies out of the percentiles', () => {
    const log = new RequestLog();
    log.add(call(1, { status: 500, ms: 9_999 }));
    log.add(call(2, { ms: 5 }));
    expect(log.counts.get('tiny/m')).toEqual({ requests: 2, errors: 1 });
    expect(log.modelLatency('tiny/m')).toMatchObject({ p50: 5, samples: 1 });
    expect(log.calls.map((c) => c.status)).toEqual([500, 200]);
  });

  it('merges the logs of several processes: calls in time order, counts and minutes summed, the same as one log of all calls', () => {
    const a = new RequestLog();
    const b = new RequestLog();
    const one = new RequestLog();
    for (let i = 0; i < 300; i++) {
      const c = call(i * 1000, { status: i % 10 === 0 ? 500 : 200, model: i % 3 === 0 ? 'tiny/x' : 'tiny/m' });
      (i % 2 === 0 ? a : b).add(c);
      one.add(c);
    }
    // Through JSON, as the processes send them.
    const merged = RequestLog.merge([JSON.parse(JSON.stringify(a.export())), JSON.parse(JSON.stringify(b.export()))]);
    expect(merged.calls.map((c) => c.id)).toEqual(one.calls.map((c) => c.id));
    expect([...merged.counts].sort()).toEqual([...one.counts].sort());
    expect([...merged.lastUsed].sort()).toEqual([...one.lastUsed].sort());
    const now = 1_700_000_000_000 + 300 * 1000;
    const sum = (log: RequestLog) => log.series(10, now).map((m) => [m.minute, m.ok, m.serverErrors, m.latencies.length]);
    expect(sum(merged)).toEqual(sum(one));
    expect(merged.modelLatency('tiny/x').samples).toBe(one.modelLatency('tiny/x').samples);
    expect(merged.modelLatency('tiny/m').p95).toBe(one.modelLatency('tiny/m').p95);
  });
});
