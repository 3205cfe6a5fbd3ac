/**
 * Smoke test of `npm run bench:gateway -- --quick`: the benchmark starts its three servers, every request to every
 * target succeeds, and the JSON result has the fields the report promises. No timing is asserted (the figures
 * depend on the machine).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/paths.ts';

const KEYS = ['direct', 'bare', 'modelhost'] as const;

interface Dist {
  p50: number;
  p99: number;
}

interface Report {
  machine: { node: string; cpus: number; cpuModel: string; note: string };
  modelhost: { commit?: string; providersFile: unknown };
  settings: { requests: number; rounds: number; duration: number; connections: number; upstreamMs: number; quick: boolean };
  auth: { enabled: boolean; note: string };
  metrics: { enabled: boolean; providerLines: string[]; attemptsTotal: number; errorsTotal: number };
  c1: {
    targets: Record<(typeof KEYS)[number], { requests: number; ok: number; errors: number; statuses: Record<string, number>; latencyMs: Dist; rounds: Dist[] }>;
    added: Record<'bare' | 'modelhost', Dist & { roundsMedian: Dist }>;
  };
  c64: {
    targets: Record<(typeof KEYS)[number], { ok: number; reqPerSec: number; errors: number; timeouts: number; non2xx: number; statuses: Record<string, number>; latencyMs: Dist }>;
    shareOfBare: number;
  };
  targets: Record<'addedP50' | 'addedP99' | 'throughputShareOfBare', { pass: boolean; value: number; target: number }>;
}

describe('bench:gateway --quick', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'bench-gateway-test-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('runs all three targets with every request answered 200 and writes the JSON report', () => {
    const res = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'perf', 'gateway.ts'), '--quick', '--out', out], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 150_000,
    });
    expect(res.status, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(res.stdout).toContain('auth and limits: on');
    expect(res.stdout).toMatch(/(PASS|MISS) {2}c=1 added P50/);

    const files = readdirSync(out).filter((f) => /^gateway-.*\.json$/.test(f));
    expect(files).toHaveLength(1);
    const report = JSON.parse(readFileSync(path.join(out, files[0]!), 'utf8')) as Report;

    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(report.machine.node).toBe(process.version);
    expect(typeof report.machine.cpuModel).toBe('string');
    expect(report.settings).toMatchObject({ quick: true, connections: 64, upstreamMs: 0 });
    expect(report.auth.enabled).toBe(true);
    expect(report.metrics.enabled).toBe(true);
    expect(report.metrics.providerLines.some((l) => l.startsWith('modelhost_provider_attempts_total{provider="bench-upstream"}'))).toBe(true);
    expect(report.metrics.errorsTotal).toBe(0);

    for (const key of KEYS) {
      const c1 = report.c1.targets[key];
      expect(c1.requests, key).toBe(report.settings.requests);
      expect(c1.statuses, key).toEqual({ '200': c1.requests });
      expect(c1.ok, key).toBe(c1.requests);
      expect(c1.errors, key).toBe(0);
      expect(c1.rounds, key).toHaveLength(report.settings.rounds);
      expect(c1.latencyMs.p50, key).toBeGreaterThan(0);
      expect(c1.latencyMs.p99, key).toBeGreaterThanOrEqual(c1.latencyMs.p50);

      const c64 = report.c64.targets[key];
      expect(c64.ok, key).toBeGreaterThan(0);
      expect(Object.keys(c64.statuses), key).toEqual(['200']);
      expect(c64.errors + c64.timeouts + c64.non2xx, key).toBe(0);
      expect(c64.reqPerSec, key).toBeGreaterThan(0);
    }
    // modelhost answered every call through the provider: the router counted at least the requests the bench sent.
    const sent = report.c1.targets.modelhost.requests + report.c64.targets.modelhost.ok;
    expect(report.metrics.attemptsTotal).toBeGreaterThanOrEqual(sent);
    for (const key of ['bare', 'modelhost'] as const) {
      expect(Number.isFinite(report.c1.added[key].p50)).toBe(true);
      expect(Number.isFinite(report.c1.added[key].roundsMedian.p99)).toBe(true);
    }
    expect(report.c64.shareOfBare).toBeGreaterThan(0);
    for (const t of Object.values(report.targets)) {
      expect(typeof t.pass).toBe('boolean');
      expect(Number.isFinite(t.value)).toBe(true);
    }
  }, 180_000);
});
