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
});
