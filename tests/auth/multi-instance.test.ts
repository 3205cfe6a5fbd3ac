import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresDatabase } from '../helpers/databases.ts';
import { REPO_ROOT, TEST_MODELS_DIR } from '../helpers/paths.ts';
import { startSim } from '../helpers/router.ts';

/**
 * Three modelhost processes sharing one PostgreSQL and one Redis behave as one service: limits and budgets
 * hold globally, a revocation made on one is honoured by all within a second, and an instance killed mid-load
 * loses no committed usage and leaves no reservation stuck.
 */
const BIN = path.join(REPO_ROOT, 'bin', 'modelhost.js');
const REDIS = process.env.MODELHOST_TEST_REDIS ?? 'redis://127.0.0.1:6379';
const LID = 'facebook/fasttext-lid-176';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Instance {
  url: string;
  child: ChildProcess;
  pool: Pool;
}

const children: ChildProcess[] = [];
let db: Awaited<ReturnType<typeof postgresDatabase>>;
let files: string;
let sim: Awaited<ReturnType<typeof startSim>>;

function cli(args: string[]) {
  const res = spawnSync(process.execPath, [BIN, ...args, '--database', db.url], { encoding: 'utf8', timeout: 60_000 });
  if (res.status !== 0) throw new Error(res.stderr);
  return res.stdout;
}

function token(name: string, tier: string, scopes = 'inference'): { token: string; id: string } {
  return JSON.parse(cli(['tokens', 'create', '--name', name, '--tier', tier, '--scopes', scopes, '--json']));
}

async function instance(extra: string[] = []): Promise<Instance> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--port', String(port), '--models-dir', TEST_MODELS_DIR, '--data-dir', files, '--database', db.url, '--redis', REDIS,
      '--tiers', path.join(files, 'tiers.json'), '--providers', path.join(files, 'providers.json'), '--preload', LID, '--log-level', 'warn', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (await fetch(`${url}/ready`).then((r) => r.ok, () => false)) return { url, child, pool: new Pool(url, { connections: 128 }) };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`instance did not start: ${stderr}`);
}

async function call(inst: Instance, auth: string, path_ = `/models/${LID}`, body: unknown = { inputs: 'Bonjour tout le monde' }) {
  const res = await inst.pool.request({
    path: path_,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}` },
    body: JSON.stringify(body),
  });
  await res.body.text();
  return { status: res.statusCode, retryAfter: res.headers['retry-after'] };
}

let instances: Instance[] = [];
let admin = '';

beforeAll(async () => {
  db = await postgresDatabase();
  files = mkdtempSync(path.join(tmpdir(), 'mh-multi-'));
  sim = await startSim('openai-compatible');
  writeFileSync(
    path.join(files, 'tiers.json'),
    JSON.stringify({
      tiers: [
        { name: 'anonymous', requestsPerMinute: 1 },
        { name: 'free' },
        { name: 'limited', requestsPerMinute: 600 },
        { name: 'budget', monthlyBudgetUsd: 0.05 },
      ],
    }),
  );
  writeFileSync(
    path.join(files, 'providers.json'),
    JSON.stringify({
      providers: [{ name: 'sim', type: 'openai-compatible', baseUrl: sim.api }],
      models: [{ id: 'paid/chat', task: 'conversational', providers: [{ provider: 'sim', price: { perRequest: 0.001 } }] }],
    }),
  );
  // Migrations are applied once, by whichever instance starts first; the token exists before they start.
  admin = token('bootstrap', 'free', 'admin').token;
  instances = await Promise.all([instance(), instance(), instance()]);
}, 120_000);

afterAll(async () => {
  for (const i of instances) await i.pool.close();
  for (const c of children) c.kill('SIGKILL');
  await sim?.close();
  await db?.cleanup();
});

describe('three instances on one PostgreSQL and one Redis', () => {
  it('hold a 600/minute limit globally: 2,000 concurrent calls over the three, 600 allowed, the rest 429 with Retry-After', async () => {
    const { token: t } = token('burst', 'limited');
    const results = await Promise.all(Array.from({ length: 2000 }, (_, i) => call(instances[i % 3]!, t)));
    const ok = results.filter((r) => r.status === 200).length;
    const limited = results.filter((r) => r.status === 429);
    // Requests in flight cannot add to the count: each one took its point atomically before running.
    expect(Math.abs(ok - 600)).toBeLessThanOrEqual(6);
    expect(ok + limited.length).toBe(2000);
    expect(limited.every((r) => Number(r.retryAfter) > 0)).toBe(true);
  }, 120_000);

  it('hold a budget globally: no overshoot beyond one reservation', async () => {
    const { token: t, id } = token('spender', 'budget');
    const body = { model: 'paid/chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 };
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => call(instances[i % 3]!, t, '/v1/chat/completions', body)));
    const ok = results.filter((r) => r.status === 200).length;
    // 0.05 USD at 0.001 per call: 50 calls, whichever instance served them.
    expect(ok).toBe(50);
    await new Promise((r) => setTimeout(r, 500));
    const usage = JSON.parse(cli(['usage', '--by', 'token', '--token', id, '--json'])) as Array<{ costUsd: number; requests: number }>;
    expect(usage[0]!.costUsd).toBeLessThanOrEqual(0.05 + 0.001 + 1e-9);
    expect(usage[0]!.costUsd).toBeCloseTo(0.05, 6);
  }, 60_000);

  it('honour a revocation made on one instance on every instance within one second', async () => {
    const { token: t, id } = token('to-revoke', 'free');
    for (const i of instances) expect((await call(i, t)).status).toBe(200);
    // Revoked through the admin API of one instance; the others learn it from the shared database.
    const revokedAt = Date.now();
    const res = await fetch(`${instances[1]!.url}/api/tokens/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(204);
    const seen = await Promise.all(
      instances.map(async (i) => {
        for (;;) {
          if ((await call(i, t)).status === 401) return Date.now() - revokedAt;
          await new Promise((r) => setTimeout(r, 20));
        }
      }),
    );
    expect(Math.max(...seen)).toBeLessThan(1000);
  });

  it('an instance killed mid-load loses no committed usage and leaves no reservation stuck', async () => {
    const victim = await instance(['--reservation-ttl', '2']);
    const { token: t, id } = token('victim', 'budget');
    const body = { model: 'paid/chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 };
    for (let i = 0; i < 10; i++) expect((await call(victim, t, '/v1/chat/completions', body)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 600)); // the recorder's batch is committed
    // Slow calls hold reservations when the instance dies.
    sim.sim.setPlan({ latencyMs: { mean: 5000, jitter: 0 } });
    const inflight = Array.from({ length: 20 }, () => call(victim, t, '/v1/chat/completions', body).catch(() => ({ status: 0 })));
    await new Promise((r) => setTimeout(r, 300));
    victim.child.kill('SIGKILL');
    await Promise.all(inflight);
    sim.sim.setPlan({ latencyMs: { mean: 2, jitter: 0 } });
    const usage = JSON.parse(cli(['usage', '--by', 'token', '--token', id, '--json'])) as Array<{ requests: number }>;
    expect(usage[0]!.requests).toBeGreaterThanOrEqual(10);
    // After the reservations expire, the whole remaining budget (0.04) is usable again from another instance.
    await new Promise((r) => setTimeout(r, 2500));
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => call(instances[i % 3]!, t, '/v1/chat/completions', body)));
    expect(results.filter((r) => r.status === 200).length).toBe(40);
  }, 60_000);
});
