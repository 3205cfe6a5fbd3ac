/**
 * `modelhost serve --processes 2`, run as a user runs it (a real node:cluster: one primary, two workers on one
 * port), against provider simulators. Every call goes over a fresh connection, so the kernel's round robin sends
 * consecutive calls to different workers: each test shows that state which must be one across the processes
 * (statistics, rate limits, circuit breakers, dedicated endpoints, usage) is one.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastTimeouts, startSim } from '../helpers/router.ts';
import { REPO_ROOT, TEST_MODELS_DIR } from '../helpers/paths.ts';
import { freePort } from '../../perf/lib/server.ts';

const BIN = path.join(REPO_ROOT, 'bin', 'modelhost.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'modelhost-cluster-'));
const dataDir = path.join(dir, 'data');
type Sim = Awaited<ReturnType<typeof startSim>>;
let up: Sim, down: Sim, backup: Sim;
let server: ChildProcess;
let base = '';
let output = '';
let admin = '';
let limited = { id: '', token: '' };
const COOLDOWN_MS = 1500;

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args, '--data-dir', dataDir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`modelhost ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** One call on a connection of its own (no keep-alive), so that it may land on any worker. */
function fresh(method: string, url: string, body?: unknown, token = admin, timeoutMs = 10_000): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      url,
      {
        method,
        agent: false,
        headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer to ${method} ${url} within ${timeoutMs} ms`)));
    req.end(payload);
  });
}

const chat = (model: string) => ({ model, messages: [{ role: 'user', content: 'hi there' }], max_tokens: 4 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pids(n = 12): Promise<Set<number>> {
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    // A connection the primary hands to a worker in the instant it dies is lost (node:cluster's round robin):
    // a client's timeout is what ends it.
    const r = await fresh('GET', `${base}/health`, undefined, admin, 2000).catch(() => undefined);
    if (r?.status === 200) seen.add(r.json.pid as number);
  }
  return seen;
}

async function providers(): Promise<Array<{ name: string; requests: number; errors: number; circuit: { state: string; opens: number; probes: number } }>> {
  const r = await fresh('GET', `${base}/api/providers`);
  expect(r.status).toBe(200);
  return r.json.providers;
}

beforeAll(async () => {
  [up, down, backup] = await Promise.all([startSim('openai-compatible'), startSim('openai-compatible', { outage: '503' }), startSim('openai-compatible')]);
  writeFileSync(
    path.join(dir, 'providers.json'),
    JSON.stringify({
      routing: { retries: 0, timeouts: fastTimeouts, breaker: { failures: 1, cooldownMs: COOLDOWN_MS } },
      providers: [
        { name: 'up', type: 'openai-compatible', baseUrl: up.api },
        { name: 'down', type: 'openai-compatible', baseUrl: down.api },
        { name: 'backup', type: 'openai-compatible', baseUrl: backup.api },
      ],
      models: [
        { id: 'sim/chat', task: 'conversational', providers: [{ provider: 'up' }] },
        { id: 'sim/failover', task: 'conversational', providers: [{ provider: 'down' }, { provider: 'backup' }] },
      ],
    }),
  );
  writeFileSync(path.join(dir, 'tiers.json'), JSON.stringify({ tiers: [{ name: 'anonymous' }, { name: 'free' }, { name: 'unlimited' }, { name: 'small', requestsPerMinute: 20 }] }));
  admin = JSON.parse(cli(['tokens', 'create', '--name', 'ops', '--scopes', 'inference,endpoints,admin', '--tier', 'unlimited', '--json'])).token;
  limited = JSON.parse(cli(['tokens', 'create', '--name', 'small', '--tier', 'small', '--json']));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(
    process.execPath,
    [BIN, 'serve', '--processes', '2', '--port', String(port), '--providers', path.join(dir, 'providers.json'), '--tiers', path.join(dir, 'tiers.json'), '--data-dir', dataDir, '--models-dir', TEST_MODELS_DIR, '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const keep = (c: Buffer) => (output = (output + c.toString()).slice(-5000));
  server.stdout!.on('data', keep);
  server.stderr!.on('data', keep);
  const deadline = Date.now() + 60_000;
  // Ready when both workers answer.
  while ((await pids(6)).size < 2) {
    if (Date.now() > deadline || server.exitCode !== null) throw new Error(`the cluster did not start:\n${output}`);
    await sleep(200);
  }
}, 90_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  await Promise.all([up?.close(), down?.close(), backup?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('serve --processes 2', () => {
  it('spreads calls over both workers, and statistics and metrics add up over them', async () => {
    expect((await pids()).size).toBe(2);
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await fresh('POST', `${base}/v1/chat/completions`, chat('sim/chat'))).status);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(up.sim.stats.requests).toBe(40);
    // Samples reach the primary in batches (every 100 ms).
    await sleep(300);
    // Whichever worker answers, it reports every worker's calls.
    for (let i = 0; i < 4; i++) {
      const list = await providers();
      expect(list.find((p) => p.name === 'up')!.requests).toBe(40);
      const metrics = await fresh('GET', `${base}/metrics`);
      expect(metrics.text).toMatch(/modelhost_provider_attempts_total\{provider="up"\} 40\b/);
      // The console's request log merges every process's.
      const log = await fresh('GET', `${base}/api/console/log?model=sim/chat&limit=5000`);
      expect(log.status).toBe(200);
      expect(log.json.total).toBe(40);
      expect(new Set(log.json.calls.map((c: { id: string }) => c.id)).size).toBe(40);
      const models = await fresh('GET', `${base}/api/console/overview?minutes=5`);
      expect(models.json.kpis.requests).toBeGreaterThanOrEqual(40);
    }
  }, 60_000);

  it('/metrics sums every process: local inference counted wherever it ran, one copy of each process-wide figure', async () => {
    for (let i = 0; i < 6; i++) {
      const r = await fresh('POST', `${base}/models/tiny/bert-sentiment`, { inputs: `great movie ${i}`, options: { wait_for_model: true } });
      expect(r.status).toBe(200);
    }
    for (let i = 0; i < 4; i++) {
      const text = (await fresh('GET', `${base}/metrics`)).text;
      expect(text).toMatch(/^modelhost_engine_items_total 6$/m);
      // Each process loaded the model it was asked for.
      expect(text).toMatch(/^modelhost_models_loaded 2$/m);
      expect(text.match(/^nodejs_version_info\{/gm)).toHaveLength(1);
    }
  }, 60_000);

  it('rate limits hold across the processes: a tier of 20 requests per minute gets exactly 20', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await fresh('POST', `${base}/v1/chat/completions`, chat('sim/chat'), limited.token)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10);
    const refused = await fresh('POST', `${base}/v1/chat/completions`, chat('sim/chat'), limited.token);
    expect(refused.status).toBe(429);
    expect(refused.json.error.message).toMatch(/Request rate limit of tier small/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('circuit breakers are shared: once open, no worker calls the provider; one probe per cool-down over all workers', async () => {
    // The first call fails on "down" (an outage) and fails over; the circuit opens (failures: 1).
    const first = await fresh('POST', `${base}/v1/chat/completions`, chat('sim/failover'));
    expect(first.status).toBe(200);
    expect(first.headers['x-modelhost-provider']).toBe('backup');
    expect(down.sim.stats.requests).toBe(1);
    await sleep(100);
    for (let i = 0; i < 20; i++) {
      const r = await fresh('POST', `${base}/v1/chat/completions`, chat('sim/failover'));
      expect(r.status).toBe(200);
      expect(r.headers['x-modelhost-provider']).toBe('backup');
    }
    // Per-process breakers would have let each other worker try "down" once.
    expect(down.sim.stats.requests).toBe(1);
    for (let i = 0; i < 4; i++) expect((await providers()).find((p) => p.name === 'down')!.circuit.state).toBe('open');

    // After the cool-down, 12 calls at once over both workers: exactly one probe reaches "down".
    await sleep(COOLDOWN_MS + 100);
    const burst = await Promise.all(Array.from({ length: 12 }, () => fresh('POST', `${base}/v1/chat/completions`, chat('sim/failover'))));
    expect(burst.map((r) => r.status)).toEqual(Array(12).fill(200));
    expect(down.sim.stats.requests).toBe(2);
    const circuit = (await providers()).find((p) => p.name === 'down')!.circuit;
    expect(circuit.probes).toBe(1);
    expect(circuit.opens).toBe(2);

    // The provider comes back: the next probe closes the circuit for every worker.
    down.sim.setPlan({ outage: 'off' });
    await sleep(COOLDOWN_MS + 100);
    expect((await fresh('POST', `${base}/v1/chat/completions`, chat('sim/failover'))).headers['x-modelhost-provider']).toBe('down');
    await sleep(100);
    for (let i = 0; i < 6; i++) {
      const r = await fresh('POST', `${base}/v1/chat/completions`, chat('sim/failover'));
      expect(r.headers['x-modelhost-provider']).toBe('down');
    }
  }, 60_000);

  it('dedicated endpoints are managed by one worker and answer through every worker', async () => {
    const created = await fresh('POST', `${base}/api/endpoints/admin`, { name: 'shared', type: 'public', model: { repository: 'tiny/bert-sentiment' } });
    expect(created.status).toBe(200);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const got = await fresh('GET', `${base}/api/endpoints/admin/shared`);
      expect(got.status).toBe(200);
      if (got.json.status.state === 'running') break;
      expect(Date.now()).toBeLessThan(deadline);
      await sleep(200);
    }
    const answers = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const r = await fresh('POST', `${base}/endpoints/shared`, { inputs: 'I love this' }, '');
      expect(r.status).toBe(200);
      answers.add(r.text);
    }
    expect(answers.size).toBe(1);
    for (let i = 0; i < 4; i++) {
      expect((await fresh('GET', `${base}/api/endpoints/admin`)).json.items.map((e: { name: string }) => e.name)).toEqual(['shared']);
      // The managing process's endpoint metrics are in every scrape.
      expect((await fresh('GET', `${base}/metrics`)).text).toMatch(/^modelhost_endpoint_up\{endpoint="shared",state="running"\} 1$/m);
    }
    expect((await fresh('DELETE', `${base}/api/endpoints/admin/shared`)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await fresh('POST', `${base}/endpoints/shared`, { inputs: 'x' }, '')).status).toBe(404);
  }, 90_000);

  it('a worker that dies is replaced, and the shared figures survive it', async () => {
    const before = await pids();
    expect(before.size).toBe(2);
    const victim = [...before][0]!;
    process.kill(victim, 'SIGKILL');
    const deadline = Date.now() + 20_000;
    let now = await pids();
    while (now.has(victim) || now.size < 2) {
      if (Date.now() > deadline) throw new Error(`no new worker after 20 s (pids seen: ${[...now].join(', ')}):\n${output}`);
      await sleep(200);
      now = await pids();
    }
    // The statistics live in the primary: the new worker reports the calls made before it existed.
    for (let i = 0; i < 4; i++) expect((await providers()).find((p) => p.name === 'up')!.requests).toBeGreaterThanOrEqual(40);
    const r = await fresh('POST', `${base}/v1/chat/completions`, chat('sim/chat'));
    expect(r.status).toBe(200);
  }, 60_000);

  it('usage is recorded by every worker, and limits refused are recorded too (after a clean stop)', async () => {
    server.kill('SIGTERM');
    const code = await new Promise((r) => server.once('exit', r));
    expect(code).toBe(0);
    const rows = JSON.parse(cli(['usage', '--by', 'token', '--token', limited.id, '--json'])) as Array<{ requests: number }>;
    // 30 calls + the one refused after them.
    expect(rows.reduce((n, row) => n + row.requests, 0)).toBe(31);
  }, 60_000);
});
