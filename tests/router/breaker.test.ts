import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/router/breaker.ts';

describe('circuit breaker', () => {
  it('opens after N consecutive failures, not after N failures with successes between', () => {
    const b = new CircuitBreaker(3, 1000, () => 0);
    b.failure();
    b.failure();
    b.success();
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
    b.failure();
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toBe(false);
  });

  it('lets exactly one probe through per cool-down during a 60 s outage', () => {
    let now = 0;
    const b = new CircuitBreaker(5, 10_000, () => now);
    let sent = 0;
    // A caller every 100 ms for 60 s; the provider fails every call.
    for (now = 0; now < 60_000; now += 100) {
      if (b.tryAcquire()) {
        sent++;
        b.failure();
      }
    }
    // 5 calls open it; then one probe at each of 10 s, 20 s, ..., 50 s after the opening.
    expect(b.probes).toBeLessThanOrEqual(6);
    expect(sent).toBe(5 + b.probes);
    expect(b.probes).toBeGreaterThanOrEqual(5);
  });

  it('refuses everyone else while the probe is out, and closes when it succeeds', () => {
    let now = 0;
    const b = new CircuitBreaker(1, 100, () => now);
    b.failure();
    now = 150;
    expect(b.state).toBe('half-open');
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    b.success();
    expect(b.state).toBe('closed');
    expect(b.tryAcquire()).toBe(true);
  });

  it('re-opens for a whole cool-down when the probe fails', () => {
    let now = 0;
    const b = new CircuitBreaker(1, 100, () => now);
    b.failure();
    now = 100;
    expect(b.tryAcquire()).toBe(true);
    b.failure();
    now = 199;
    expect(b.tryAcquire()).toBe(false);
    now = 200;
    expect(b.tryAcquire()).toBe(true);
    expect(b.opens).toBe(2);
  });

  it('frees the probe slot when the probe is abandoned', () => {
    let now = 0;
    const b = new CircuitBreaker(1, 100, () => now);
    b.failure();
    now = 100;
    expect(b.tryAcquire()).toBe(true);
    b.release();
    expect(b.tryAcquire()).toBe(true);
  });
});
