import { afterEach, describe, expect, it } from 'vitest';
import { postgresStore, sqliteStore, type TestStore } from '../helpers/databases.ts';
import { newPredictionId } from '../../src/predictions/service.ts';
import type { PredictionRow } from '../../src/predictions/types.ts';
import type { UsageRecord } from '../../src/store/types.ts';

/** The queue's guards on both databases: one claim wins, only the current attempt ends it, usage once. */
const backends: Array<[string, () => Promise<TestStore>]> = [
  ['SQLite', sqliteStore],
  ['PostgreSQL', postgresStore],
];

function row(over: Partial<PredictionRow> = {}): PredictionRow {
  return {
    id: newPredictionId(), owner: 'o', tokenId: null, model: 'tiny/m', version: 'tiny/m', deployment: null, input: { prompt: 'x' }, stream: false,
    status: 'starting', output: null, error: null, logs: '', metrics: null, createdAt: Date.now(), startedAt: null, completedAt: null, attempt: 0,
    maxAttempts: 2, instance: null, heartbeatAt: null, cancelRequested: false, webhook: 'http://127.0.0.1:9/h', webhookEvents: ['completed'],
    webhookState: null, webhookNextAt: null, webhookAttempts: 0, ...over,
  };
}

const usage = (id: string): UsageRecord => ({
  at: new Date(), requestId: id, tokenId: null, model: 'tiny/m', provider: 'local', task: 'text-classification', status: 200, latencyMs: 1, computeMs: 1,
  inputTokens: 0, outputTokens: 0, outputs: 0, characters: 1, audioSeconds: 0, megapixels: 0, costUsd: 0,
});

const ended = (at: number) => ({ status: 'succeeded' as const, output: [1], error: null, logs: '', metrics: null, completedAt: at });

describe.each(backends)('predictions store on %s', (_name, open) => {
  let t: TestStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it('lets one of two racing claims win, and only the claimed attempt write the end, with one usage row', async () => {
    t = await open();
    const s = t.store.predictions;
    const r = row();
    await s.insert(r);
    const [a, b] = await Promise.all([s.claim(r.id, 'A', Date.now()), s.claim(r.id, 'B', Date.now())]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
    const claimed = (a ?? b)!;
    expect(claimed.attempt).toBe(1);
    expect(await s.finish(r.id, { from: 'processing', attempt: 2 }, ended(Date.now()), usage(r.id))).toBe(false);
    const at = Date.now();
    expect(await s.finish(r.id, { from: 'processing', attempt: 1 }, ended(at), usage(r.id))).toBe(true);
    expect(await s.finish(r.id, { from: 'processing', attempt: 1 }, ended(at + 5), usage(r.id))).toBe(false);
    const after = (await s.get(r.id))!;
    expect(after).toMatchObject({ status: 'succeeded', completedAt: at, webhookState: 'pending' });
    const rows = await t.store.usage.aggregate({ by: ['model'] });
    expect(rows.reduce((n, u) => n + u.requests, 0)).toBe(1);
  });

  it('retries a stale run once, then fails it; a late end from the dead attempt is refused', async () => {
    t = await open();
    const s = t.store.predictions;
    const r = row();
    await s.insert(r);
    const first = (await s.claim(r.id, 'dead', 1_000))!;
    const stale = await s.stale(Date.now());
    expect(stale.map((x) => x.id)).toEqual([r.id]);
    expect(await s.requeue(r.id, first.attempt, { refund: false, heartbeatBefore: Date.now() })).toBe(true);
    const second = (await s.claim(r.id, 'other', 2_000))!;
    expect(second.attempt).toBe(2);
    // The first run comes back late: it may not end what is now the second run's.
    expect(await s.finish(r.id, { from: 'processing', attempt: 1 }, ended(Date.now()), usage(r.id))).toBe(false);
    const at = Date.now();
    expect(await s.finish(r.id, { from: 'stale', attempt: 2, heartbeatBefore: Date.now() }, { ...ended(at), status: 'failed', error: 'its instance stopped' }, usage(r.id))).toBe(true);
    expect((await s.get(r.id))!).toMatchObject({ status: 'failed', error: 'its instance stopped', attempt: 2 });
  });

  it('leases a due webhook to one caller at a time', async () => {
    t = await open();
    const s = t.store.predictions;
    const r = row();
    await s.insert(r);
    await s.claim(r.id, 'A', Date.now());
    await s.finish(r.id, { from: 'processing', attempt: 1 }, ended(Date.now() - 10));
    const now = Date.now();
    const [x, y] = await Promise.all([s.leaseWebhooks(now, now + 60_000, 10), s.leaseWebhooks(now, now + 60_000, 10)]);
    expect(x.length + y.length).toBe(1);
  });
});
